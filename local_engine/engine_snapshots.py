"""Qdrant's snapshot operations, mixed into ``Engine`` (``class Engine(SnapshotOperations)``).

Method names are the OpenAPI operation ids; ``docs/snapshots.md`` describes the behaviour. The
rules this module keeps:

* **Create** copies the collection under its lock only for the moment of the copy
  (``snapshots.capture_collection``); the file is written after the lock is released, under a
  temporary name, its ``.checksum`` (SHA-256 hex) is written next, and only then is it renamed
  to its final name. A listed snapshot is always complete and always has its checksum.
* **Recover** validates the whole file first (``SnapshotReader``) and checks it against the
  existing collection; then it builds the new collection completely in a *staged* store that
  no name points at; then it swaps it in with one atomic step (one root-database transaction
  in path mode, ``Storage.replace_collection``). Any failure before that step leaves the old
  collection exactly as it was and throws the staged store away.
* Files live in ``Storage.snapshots_path()``: ``<path>/snapshots/`` in path mode, a temporary
  directory deleted on close in memory mode. Collection snapshots go in a sub-directory per
  collection, full-storage snapshots in the folder itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

import numpy as np

from sdk import models

from .collection import Collection
from .errors import BadRequest, NotFound
from .index.maintainer import blob_key
from .snapshots import SnapshotReader, SnapshotWriter, capture_collection
from .snapshots._tar import TarOut
from .snapshots.format import CHECKSUM_SUFFIX, SNAPSHOT_SUFFIX
from .snapshots.reader import SnapshotContents
from .snapshots.writer import schema_json
from .storage._files import fsync_dir
from .storage.base import CollectionStore, LoadedPoints, PointRecord, SparseVec

log = logging.getLogger("local_engine.snapshots")

FULL_SNAPSHOT_PREFIX = "full-snapshot"
_PRIORITIES = tuple(p.value for p in models.SnapshotPriority)
_NAME_LOCK = threading.Lock()        # reserving snapshot file names (see _reserve)
_WRITE_BATCH = 4096                  # points per storage write while building a recovered collection
_DOWNLOAD_CHUNK = 1 << 20


class SnapshotOperations:
    """create/list/delete/get/recover snapshots of collections and of the whole storage.

    Uses ``Engine``'s ``_lock``, ``_collections``, ``_aliases``, ``_storage`` and ``_get``.
    """

    # -- collection snapshots ------------------------------------------------------------------------
    def create_snapshot(self, collection_name: str, body: Any = None) -> models.SnapshotDescription:
        """Write a snapshot of the collection (an alias names its collection) and describe it."""
        collection = self._get(collection_name)
        with self._lock:
            aliases = [a for a, c in self._aliases.items() if c == collection.name]
        view = capture_collection(collection, aliases)
        directory = self._collection_snapshots_dir(collection.name)
        stem = f"{_fs_name(collection.name)}-{self._storage.peer_id()}-{_stamp(view.created_at)}"
        final = _write_snapshot_file(directory, stem, SnapshotWriter(view).write_file)
        return _describe(final)

    def list_snapshots(self, collection_name: str) -> list[models.SnapshotDescription]:
        collection = self._get(collection_name)
        return _list(self._collection_snapshots_dir(collection.name, create=False))

    def delete_snapshot(self, collection_name: str, snapshot_name: str) -> bool:
        path = self.get_snapshot(collection_name, snapshot_name)
        _remove_snapshot(path)
        return True

    def get_snapshot(self, collection_name: str, snapshot_name: str) -> Path:
        """The path of a snapshot file (the REST server streams it; the client copies it)."""
        collection = self._get(collection_name)
        path = _existing(self._collection_snapshots_dir(collection.name, create=False), snapshot_name)
        if path is None:
            raise NotFound(f"Not found: Collection {json.dumps(collection.name)} snapshot {snapshot_name} not found")
        return path

    def recover_from_snapshot(self, collection_name: str, body: models.SnapshotRecover) -> bool:
        """Recover from ``body.location``: a ``file://`` URL, an ``http(s)://`` URL or a local path."""
        if not isinstance(body, models.SnapshotRecover):
            body = models.SnapshotRecover.model_validate(body)
        _check_priority(body.priority)
        checksum = _check_checksum(body.checksum)
        with self._locate(body.location, body.api_key) as path:
            return self._recover(collection_name, path, checksum)

    def recover_from_uploaded_snapshot(self, collection_name: str, body: Any,
                                       priority: Any = None, checksum: str | None = None) -> bool:
        """Recover from an uploaded file. ``body`` is the multipart field ``snapshot`` of
        ``POST /collections/{name}/snapshots/upload``: bytes, a file path or a binary file object."""
        _check_priority(priority)
        checksum = _check_checksum(checksum)
        with self._uploaded(body) as path:
            return self._recover(collection_name, path, checksum)

    # -- full-storage snapshots ----------------------------------------------------------------------
    def create_full_snapshot(self, body: Any = None) -> models.SnapshotDescription:
        """A tar of one snapshot file per collection plus ``config.json`` (collections and aliases)."""
        root = self._storage.snapshots_path()
        now = datetime.now(timezone.utc)
        with self._lock:
            collections = dict(self._collections)
            aliases = dict(self._aliases)
        peer = self._storage.peer_id()

        def write(tmp: Path) -> tuple[int, str]:
            staging = Path(tempfile.mkdtemp(prefix=".full-", dir=root))
            try:
                mapping: dict[str, str] = {}
                for i, (name, collection) in enumerate(collections.items()):
                    view = capture_collection(collection, [a for a, c in aliases.items() if c == name])
                    file_name = f"{_fs_name(name)}-{peer}-{_stamp(view.created_at)}{SNAPSHOT_SUFFIX}"
                    if file_name in mapping.values():
                        file_name = f"{_fs_name(name)}-{peer}-{_stamp(view.created_at)}-{i}{SNAPSHOT_SUFFIX}"
                    SnapshotWriter(view).write_file(staging / file_name)
                    mapping[name] = file_name
                    del view
                config = {
                    "collections_mapping": mapping,
                    "collections_aliases": {a: c for a, c in aliases.items() if c in mapping},
                }
                with open(tmp, "wb") as f:
                    tar = TarOut(f, now.timestamp())
                    tar.add_buffers("config.json", [json.dumps(config, indent=1).encode()])
                    for file_name in mapping.values():
                        tar.add_file(file_name, staging / file_name)
                    checksum = tar.finish()
                    f.flush()
                    os.fsync(f.fileno())
                return tar.size, checksum
            finally:
                shutil.rmtree(staging, ignore_errors=True)

        final = _write_snapshot_file(root, f"{FULL_SNAPSHOT_PREFIX}-{_stamp(now)}", write)
        return _describe(final)

    def list_full_snapshots(self) -> list[models.SnapshotDescription]:
        return _list(self._storage.snapshots_path())

    def delete_full_snapshot(self, snapshot_name: str) -> bool:
        _remove_snapshot(self.get_full_snapshot(snapshot_name))
        return True

    def get_full_snapshot(self, snapshot_name: str) -> Path:
        path = _existing(self._storage.snapshots_path(), snapshot_name)
        if path is None:
            raise NotFound(f"Not found: Full storage snapshot {snapshot_name} not found")
        return path

    # -- recovery ---------------------------------------------------------------------------------------
    def _recover(self, collection_name: str, path: Path, checksum: str | None) -> bool:
        from .engine import _check_name

        if checksum is not None:
            actual = _sha256_file(path)
            if actual != checksum:
                raise BadRequest(f"Wrong input: Snapshot checksum mismatch: expected {checksum}, got {actual}")
        contents = SnapshotReader(path).read()
        with self._lock:
            target = self._recovery_target(collection_name)
            self._check_compatible(target, contents)
        _check_name(target)
        saved = {
            "config": contents.config.model_dump(mode="json"),
            "payload_schema": {f: schema_json(s) for f, s in contents.payload_schema.items()},
        }
        staged = self._storage.stage_collection(saved)
        committed = False
        try:
            collection = _build_collection(target, contents, staged)
            with self._lock:
                if self._recovery_target(collection_name) != target:
                    raise BadRequest(f"Wrong input: `{collection_name}` changed while the snapshot was being recovered")
                old = self._check_compatible(target, contents)
                aliases = self._restored_aliases(target, contents.aliases)
                with old._lock if old is not None else contextlib.nullcontext():
                    self._storage.replace_collection(target, staged, aliases)
                    committed = True
                    self._collections[target] = collection
                    self._aliases = aliases
                    if old is not None:
                        old._store = _ReplacedStore(target)   # a write still queued on it fails clearly
        except BaseException:
            if not committed:
                self._storage.discard_staged_collection(staged)
            raise
        return True

    def _recovery_target(self, name: str) -> str:
        """The collection a recovery into ``name`` replaces: an alias names its collection (as in Qdrant)."""
        if name not in self._collections and name in self._aliases:
            return self._aliases[name]
        return name

    def _check_compatible(self, target: str, contents: SnapshotContents) -> Collection | None:
        existing = self._collections.get(target)
        if existing is None:
            return None
        ours = _vectors_json(existing.config)
        theirs = _vectors_json(contents.config)
        if ours != theirs:
            raise BadRequest(
                "Wrong input: Snapshot is not compatible with existing collection: "
                f"Collection vectors: {json.dumps(ours)} Snapshot Vectors: {json.dumps(theirs)}"
            )
        if existing.config.params.shard_number != contents.config.params.shard_number:
            raise BadRequest(
                "Wrong input: Snapshot is not compatible with existing collection: Collection shard number: "
                f"{existing.config.params.shard_number} Snapshot shard number: {contents.config.params.shard_number}"
            )
        return existing

    def _restored_aliases(self, target: str, snapshot_aliases: list[str]) -> dict[str, str]:
        """The alias table after recovery: the aliases of ``target`` are exactly the snapshot's,
        except a name that now belongs to a collection or to an alias of another collection (left
        alone, with a warning)."""
        aliases = {a: c for a, c in self._aliases.items() if c != target}
        for alias in snapshot_aliases:
            if alias == target:
                continue
            holder = aliases.get(alias)
            if alias in self._collections or holder is not None:
                log.warning("snapshot alias %r of %r not restored: the name is taken by %r", alias, target,
                            alias if alias in self._collections else holder)
                continue
            aliases[alias] = target
        return aliases

    # -- where files come from and go ------------------------------------------------------------------
    def _collection_snapshots_dir(self, name: str, create: bool = True) -> Path:
        directory = self._storage.snapshots_path() / _fs_name(name)
        if create:
            directory.mkdir(exist_ok=True)
        return directory

    @contextlib.contextmanager
    def _locate(self, location: str, api_key: str | None) -> Iterator[Path]:
        parsed = urlparse(location)
        scheme = parsed.scheme.lower()
        if scheme in ("http", "https"):
            with self._download(location, api_key) as path:
                yield path
            return
        if scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise BadRequest("Wrong input: Invalid snapshot URI, file path must be absolute or on localhost")
            path = Path(url2pathname(parsed.path))
        elif scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # a plain path (or C:\...)
            path = Path(location).expanduser()
        else:
            raise BadRequest(f"Wrong input: URL {location} with scheme {parsed.scheme} is not supported")
        if not path.is_file():
            raise BadRequest(f"Wrong input: Snapshot file {str(path)!r} does not exist")
        yield path

    @contextlib.contextmanager
    def _download(self, url: str, api_key: str | None) -> Iterator[Path]:
        import httpx

        headers = {"api-key": api_key} if api_key else {}
        fd, name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=self._storage.snapshots_path())
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                try:
                    timeout = httpx.Timeout(30.0, read=300.0)
                    with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
                        if response.status_code != 200:
                            raise BadRequest(
                                f"Wrong input: Failed to download snapshot from {_redact(url)}: HTTP {response.status_code}"
                            )
                        for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                            f.write(chunk)
                except httpx.HTTPError as e:
                    raise BadRequest(f"Wrong input: Failed to download snapshot from {_redact(url)}: {e}") from None
            yield path
        finally:
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _uploaded(self, snapshot: Any) -> Iterator[Path]:
        if isinstance(snapshot, (str, os.PathLike)):
            path = Path(snapshot)
            if not path.is_file():
                raise BadRequest(f"Wrong input: Snapshot file {str(path)!r} does not exist")
            yield path
            return
        if not isinstance(snapshot, (bytes, bytearray, memoryview)) and not hasattr(snapshot, "read"):
            raise BadRequest("Wrong input: the uploaded snapshot must be bytes, a file path or a binary file object")
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self._storage.snapshots_path())
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                if hasattr(snapshot, "read"):
                    shutil.copyfileobj(snapshot, f, _DOWNLOAD_CHUNK)
                else:
                    f.write(snapshot)
            yield path
        finally:
            path.unlink(missing_ok=True)


# -- building the recovered collection -------------------------------------------------------------------
def _build_collection(name: str, contents: SnapshotContents, store: CollectionStore) -> Collection:
    """A complete collection from ``contents`` on the staged ``store`` (written and made durable
    first in path mode). Points keep their offsets, so the snapshot's HNSW graphs (labels are
    offsets) load as they are instead of being rebuilt; a very sparse collection (mostly
    deleted offsets) is compacted instead and its graphs are rebuilt."""
    n = contents.points_count
    offsets, size, graphs = contents.offsets, contents.next_offset, contents.graphs
    if size > 2 * n + 1024:
        offsets, size, graphs = np.arange(n, dtype=np.int64), n, {}
    identity = size == n
    dense = {}
    for vname, (matrix, present) in contents.dense.items():
        if identity:
            dense[vname] = (matrix, present)
        else:  # scatter the rows to their offsets
            full = np.zeros((size, matrix.shape[1]), dtype=matrix.dtype)
            full_present = np.zeros(size, dtype=bool)
            full[offsets] = matrix
            full_present[offsets] = present
            dense[vname] = (full, full_present)
    others = {vname: _other_values(parts) for vname, parts in contents.others.items()}   # row -> value
    if store.persistent:
        ids, payloads = contents.ids, contents.payloads
        rows = list(contents.dense.items())
        offs = offsets.tolist()
        for start in range(0, n, _WRITE_BATCH):
            records = []
            for i in range(start, min(n, start + _WRITE_BATCH)):
                vectors = {vname: matrix[i] for vname, (matrix, present) in rows if present[i]}
                for vname, values in others.items():
                    if i in values:
                        vectors[vname] = values[i]
                records.append(PointRecord(offs[i], ids[i], payloads[i], vectors))
            store.write(records, [])
        for vname, blob in graphs.items():
            store.save_blob(blob_key(vname), [blob])
        # Saves the matrices for a fast reopen, and commits with synchronous=FULL, which makes
        # every row written above durable before the swap points the name at this store.
        store.checkpoint(dense)
    collection = Collection(name, contents.config, _SeededStore(store, graphs))
    collection.payload_schema = dict(contents.payload_schema)
    collection.load(LoadedPoints(
        offsets=offsets, ext_ids=contents.ids, payloads=contents.payloads, dense=dense, next_offset=size,
        vectors={vname: {int(offsets[i]): v for i, v in values.items()} for vname, values in others.items()},
        seqs=np.zeros(n, dtype=np.int64),   # nothing was written after the graphs were taken
    ))
    collection._store = store   # the seeded view was only for loading the graphs
    return collection


class _SeededStore(CollectionStore):
    """The staged store, as ``Collection.load`` sees it: it also serves the snapshot's graphs,
    in memory mode too, so the index loader restores them instead of building new ones."""

    persistent = True

    def __init__(self, store: CollectionStore, graphs: dict[str, bytearray]) -> None:
        self._inner = store
        self._graphs = {blob_key(k): v for k, v in graphs.items()}

    def load_blob(self, key: str) -> tuple[bytearray, int] | None:
        blob = self._graphs.get(key)
        return None if blob is None else (blob, 0)

    def save_config(self, config: dict[str, Any]) -> None:
        self._inner.save_config(config)

    def load_config(self) -> dict[str, Any]:
        return self._inner.load_config()

    def write(self, upserts: Any, deletes: Any, seq: Any = None) -> None:
        self._inner.write(upserts, deletes, seq)

    @property
    def sequence(self) -> int:
        return self._inner.sequence

    def load(self) -> LoadedPoints:
        return self._inner.load()


class _ReplacedStore(CollectionStore):
    """Put on a collection that recovery replaced: writes that were waiting for it fail clearly."""

    persistent = True

    def __init__(self, name: str) -> None:
        self._message = (
            f"Not found: Collection `{name}` was replaced by a snapshot recovery while this write "
            "was waiting; retry it on the recovered collection"
        )

    def save_config(self, config: dict[str, Any]) -> None:
        raise NotFound(self._message)

    def load_config(self) -> dict[str, Any]:
        raise NotFound(self._message)

    def write(self, upserts: Any, deletes: Any, seq: Any = None) -> None:
        raise NotFound(self._message)

    def load(self) -> LoadedPoints:
        raise NotFound(self._message)


# -- files ----------------------------------------------------------------------------------------------------
def _fs_name(name: str) -> str:
    """A collection name as a file-name part: as is (like Qdrant) except ``%`` and a leading dot
    are escaped (so ``.``/``..`` stay inside the folder and the mapping stays one-to-one), and
    very long names are shortened with a hash."""
    name = name.replace("%", "%25")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name.encode("utf-8", "surrogatepass")) > 160:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        while len(name.encode("utf-8", "surrogatepass")) > 120:
            name = name[:-1]
        name = name + "~" + digest
    return name


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def _write_snapshot_file(directory: Path, stem: str, write) -> Path:
    """Reserve ``<stem>.snapshot`` (``<stem>-<n>.snapshot`` if taken: several snapshots in one
    second never overwrite each other), write it under a temporary name with ``write(tmp)``,
    write its ``.checksum``, then rename it into place."""
    directory.mkdir(parents=True, exist_ok=True)
    with _NAME_LOCK:
        n = 0
        while True:
            name = f"{stem}{SNAPSHOT_SUFFIX}" if n == 0 else f"{stem}-{n}{SNAPSHOT_SUFFIX}"
            final, tmp = directory / name, directory / f"{name}.tmp"
            if not final.exists():
                try:
                    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                    break
                except FileExistsError:
                    pass
            n += 1
    checksum_path = directory / f"{name}{CHECKSUM_SUFFIX}"
    try:
        _, checksum = write(tmp)
        # As Qdrant does: the checksum file exists before the snapshot appears under its name.
        with open(checksum_path, "w") as f:
            f.write(checksum)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if not final.exists():
            checksum_path.unlink(missing_ok=True)
        raise
    return final


def _existing(directory: Path, snapshot_name: str) -> Path | None:
    if (not isinstance(snapshot_name, str) or not snapshot_name.endswith(SNAPSHOT_SUFFIX)
            or "/" in snapshot_name or "\\" in snapshot_name or "\0" in snapshot_name or snapshot_name.startswith(".")):
        return None
    path = directory / snapshot_name
    return path if path.is_file() else None


def _remove_snapshot(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + CHECKSUM_SUFFIX).unlink(missing_ok=True)


def _list(directory: Path) -> list[models.SnapshotDescription]:
    try:
        names = [e for e in os.listdir(directory) if e.endswith(SNAPSHOT_SUFFIX) and not e.startswith(".")]
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        try:
            out.append(_describe(directory / name))
        except FileNotFoundError:  # deleted meanwhile
            continue
    out.sort(key=lambda d: (d.creation_time or "", d.name))
    return out


def _describe(path: Path) -> models.SnapshotDescription:
    """Qdrant's SnapshotDescription: name, creation time (UTC, seconds), size, checksum."""
    st = path.stat()
    created = datetime.fromtimestamp(int(st.st_mtime), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        checksum = path.with_name(path.name + CHECKSUM_SUFFIX).read_text().strip() or None
    except OSError:
        checksum = None
    return models.SnapshotDescription(name=path.name, creation_time=created, size=st.st_size, checksum=checksum)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_DOWNLOAD_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()




# -- parameters -------------------------------------------------------------------------------------------------
def _check_priority(priority: Any) -> None:
    """``priority`` only chooses the source of truth between replicas; one node has none, so any
    valid value is accepted and changes nothing (docs/snapshots.md)."""
    if priority is None or isinstance(priority, models.SnapshotPriority):
        return
    if str(priority) not in _PRIORITIES:
        raise BadRequest(
            f"Wrong input: unknown snapshot priority {priority!r}; expected one of {', '.join(_PRIORITIES)}"
        )


def _check_checksum(checksum: str | None) -> str | None:
    if checksum is None:
        return None
    value = str(checksum).strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise BadRequest(f"Wrong input: checksum must be a SHA-256 hex digest (64 hex characters), got {checksum!r}")
    return value


def _other_values(parts: dict) -> dict[int, Any]:
    """Row -> stored value (``SparseVec`` or multivector matrix) of a snapshot's sparse or
    multivector name."""
    indptr = parts["indptr"]
    out: dict[int, Any] = {}
    for i in np.flatnonzero(parts["present"]).tolist():
        lo, hi = int(indptr[i]), int(indptr[i + 1])
        if parts["kind"] == "sparse":
            out[i] = SparseVec(parts["indices"][lo:hi].copy(), parts["values"][lo:hi].copy())
        else:
            out[i] = parts["data"][lo:hi].copy()
    return out


def _vectors_json(config: models.CollectionConfig) -> Any:
    vectors = config.params.vectors
    if vectors is None:
        return {}
    if isinstance(vectors, dict):
        return {k: v.model_dump(mode="json", exclude_none=True) for k, v in vectors.items()}
    return vectors.model_dump(mode="json", exclude_none=True)


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password or parsed.username:
        return parsed._replace(netloc=parsed.hostname + (f":{parsed.port}" if parsed.port else "")).geturl()
    return url
