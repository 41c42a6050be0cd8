"""``SnapshotReader``: validate a snapshot file completely, then hand back its contents.

Nothing is unpacked to disk and nothing in the engine is touched here: the caller gets a
``SnapshotContents`` only when every check passed, in this order:

1. it is a plain tar archive, and every entry name is safe (no absolute path, no ``..``, no
   backslash) and every entry is a regular file (no links, devices, FIFOs);
2. ``manifest.json`` is there and names our format (a Qdrant server's own snapshot, with its
   ``version.info`` and segment files, is recognised and refused with a message saying so);
   its version is one this engine reads;
3. the archive holds exactly the entries the manifest lists, each with the listed size and
   SHA-256 (so a truncated or altered file is caught before anything is parsed);
4. every entry parses: the config is a valid collection config of vector kinds this engine
   has, ids are valid and unique, payloads are objects, the vector matrices have the dtype,
   shape and row count the manifest and config say, and hold only finite values.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from sdk import models

from ..errors import Unsupported
from . import format as fmt
from .format import InvalidSnapshot

_MAX_MANIFEST = 64 << 20
_MAX_NPY_HEADER = 1 << 16
_READ_CHUNK = 8 << 20
_SCHEMA = TypeAdapter(models.PayloadFieldSchema)


@dataclass
class SnapshotContents:
    """A validated snapshot, ready to load (see ``SnapshotReader``)."""

    collection: str                             # the name it was taken from
    created_at: str
    config: models.CollectionConfig
    payload_schema: dict[str, Any]              # field -> PayloadSchemaType | *IndexParams
    aliases: list[str]
    ids: list
    payloads: list[dict]
    dense: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)   # row-aligned
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row -> offset
    next_offset: int = 0
    graphs: dict[str, bytearray] = field(default_factory=dict)   # vector name -> HNSW graph file
    # sparse / multivector names: name -> {"kind", "present", "indptr", ...} row-aligned (format.py)
    others: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def points_count(self) -> int:
        return len(self.ids)


def _bad(message: str) -> InvalidSnapshot:
    return InvalidSnapshot(f"Invalid snapshot: {message}")


class SnapshotReader:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- 1. the archive --------------------------------------------------------------------------
    def read(self) -> SnapshotContents:
        try:
            tar = tarfile.open(self.path, mode="r:")
        except FileNotFoundError:
            raise InvalidSnapshot(f"Snapshot file {self.path} does not exist") from None
        except (tarfile.TarError, EOFError, OSError) as e:
            raise _bad(f"the file is not an uncompressed tar archive ({e})") from None
        with tar:
            try:
                members = tar.getmembers()
            except (tarfile.TarError, EOFError, OSError) as e:
                raise _bad(f"the archive is truncated or damaged ({e})") from None
            self._check_end_marker(members)
            by_name = self._check_members(members)
            manifest = self._manifest(tar, by_name)
            data = self._verified_entries(tar, by_name, manifest)
        return self._parse(manifest, data)

    def _check_end_marker(self, members: list[tarfile.TarInfo]) -> None:
        """A complete tar ends with two zero blocks after the last entry; a file cut anywhere, even
        in that padding, is refused (entries cut short are caught by their sizes and checksums)."""
        end = 0
        if members:
            last = members[-1]
            end = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        with open(self.path, "rb") as f:
            f.seek(end)
            marker = f.read(2 * tarfile.BLOCKSIZE)
        if len(marker) < 2 * tarfile.BLOCKSIZE or marker.count(0) != len(marker):
            raise _bad("the archive has no end-of-archive marker; the file is truncated")

    def _check_members(self, members: list[tarfile.TarInfo]) -> dict[str, tarfile.TarInfo]:
        by_name: dict[str, tarfile.TarInfo] = {}
        for m in members:
            fmt.check_member_name(m.name)
            if m.issym() or m.islnk():
                raise _bad(f"archive entry {m.name!r} is a link; snapshots hold only regular files")
            if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                raise _bad(f"archive entry {m.name!r} is a device or FIFO; snapshots hold only regular files")
            if m.name in by_name:
                raise _bad(f"archive entry {m.name!r} appears twice")
            by_name[m.name] = m
        return by_name

    # -- 2. the manifest --------------------------------------------------------------------------
    def _manifest(self, tar: tarfile.TarFile, by_name: dict[str, tarfile.TarInfo]) -> dict[str, Any]:
        member = by_name.get(fmt.MANIFEST)
        if member is None:
            if fmt.looks_qdrant_native(list(by_name)):
                raise InvalidSnapshot(
                    "This is a Qdrant-native snapshot (a Qdrant server's binary segment files with "
                    "version.info), which the built-in engine cannot read. Restore it into a Qdrant "
                    "server instead, or copy the points over with a client (scroll + upsert)."
                )
            raise _bad("manifest.json is missing; this is not a snapshot written by qdrant-sdk")
        if not member.isreg() or member.size > _MAX_MANIFEST:
            raise _bad("manifest.json is not a regular file of a sensible size")
        manifest = self._json(fmt.MANIFEST, self._read(tar, member))
        if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT_NAME:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise _bad(f"manifest.json names format {found!r}, not {fmt.FORMAT_NAME!r}")
        version = manifest.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _bad(f"manifest.json has an invalid format version {version!r}")
        if version > fmt.FORMAT_VERSION:
            raise Unsupported(
                f"Snapshot format version {version} is newer than this engine reads "
                f"(version {fmt.FORMAT_VERSION}); upgrade qdrant-sdk to restore it"
            )
        entries = manifest.get("entries")
        if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and _is_size(e.get("size")) and _is_sha256(e.get("sha256")) for e in entries.values()
        ):
            raise _bad("manifest.json has no valid `entries` table")
        return manifest

    # -- 3. sizes and checksums -------------------------------------------------------------------
    def _verified_entries(self, tar: tarfile.TarFile, by_name: dict[str, tarfile.TarInfo],
                          manifest: dict[str, Any]) -> dict[str, bytearray]:
        entries: dict[str, dict] = manifest["entries"]
        present = set(by_name) - {fmt.MANIFEST}
        missing = sorted(set(entries) - present)
        if missing:
            raise _bad(f"archive entry {missing[0]!r} listed in the manifest is missing (truncated file?)")
        extra = sorted(present - set(entries))
        if extra:
            raise _bad(f"unexpected archive entry {extra[0]!r} (not listed in the manifest)")
        data: dict[str, bytearray] = {}
        for name, expected in entries.items():
            member = by_name[name]
            if not member.isreg():
                raise _bad(f"archive entry {name!r} is not a regular file")
            if member.size != expected["size"]:
                raise _bad(f"archive entry {name!r} has {member.size} bytes, the manifest says {expected['size']}")
            buf = self._read(tar, member)
            if hashlib.sha256(buf).hexdigest() != expected["sha256"].lower():
                raise _bad(f"archive entry {name!r} fails its SHA-256 check (the file is damaged)")
            data[name] = buf
        return data

    def _read(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytearray:
        buf = bytearray(member.size)
        view = memoryview(buf)
        try:
            f = tar.extractfile(member)
            got = 0
            while got < member.size:
                n = f.readinto(view[got : got + _READ_CHUNK])
                if not n:
                    break
                got += n
        except (tarfile.TarError, EOFError, OSError) as e:
            raise _bad(f"archive entry {member.name!r} could not be read; the file is truncated or damaged ({e})") from None
        if got != member.size:
            raise _bad(f"archive entry {member.name!r} is truncated")
        return buf

    # -- 4. contents --------------------------------------------------------------------------------
    def _parse(self, manifest: dict[str, Any], data: dict[str, bytearray]) -> SnapshotContents:
        used = {fmt.CONFIG, fmt.PAYLOAD_INDEX, fmt.ALIASES, fmt.IDS, fmt.PAYLOADS, fmt.OFFSETS}
        for name in sorted(used):
            if name not in data:
                raise _bad(f"required entry {name!r} is missing")
        try:
            config = models.CollectionConfig.model_validate(self._json(fmt.CONFIG, data[fmt.CONFIG]))
        except ValidationError as e:
            raise _bad(f"config.json is not a valid collection config: {e}") from None
        params = _vector_params(config)
        sparse_params = dict(config.params.sparse_vectors or {})

        n = manifest.get("points_count")
        if not _is_size(n):
            raise _bad("manifest.json has no valid `points_count`")
        ids = self._json(fmt.IDS, data.pop(fmt.IDS))
        payloads = self._json(fmt.PAYLOADS, data.pop(fmt.PAYLOADS))
        if not isinstance(ids, list) or not isinstance(payloads, list) or not len(ids) == len(payloads) == n:
            raise _bad(f"points/ids.json and points/payloads.json must both hold {n} entries")
        _check_ids(ids)
        if not all(type(p) is dict for p in payloads):
            raise _bad("points/payloads.json holds a payload that is not a JSON object")
        next_offset = manifest.get("next_offset")
        if not _is_size(next_offset) or next_offset < n:
            raise _bad("manifest.json has no valid `next_offset`")
        offsets = _npy(fmt.OFFSETS, data[fmt.OFFSETS], np.dtype("<i8"), (n,))
        if n and (offsets[0] < 0 or offsets[-1] >= next_offset or not bool(np.all(offsets[1:] > offsets[:-1]))):
            raise _bad("points/offsets.npy must hold strictly increasing offsets below `next_offset`")

        vectors = manifest.get("vectors")
        if not isinstance(vectors, dict) or set(vectors) != set(params) | set(sparse_params):
            names = sorted(vectors) if isinstance(vectors, dict) else vectors
            raise _bad(f"manifest vectors {names!r} do not match the config's vector names "
                       f"{sorted(set(params) | set(sparse_params))!r}")
        dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        others: dict[str, dict[str, Any]] = {}
        for name, desc in vectors.items():
            kind = desc.get("kind") if isinstance(desc, dict) else None
            if kind not in ("dense", "sparse", "multi"):
                raise Unsupported(f"Snapshot vector {name!r} is of kind {kind!r}, which this engine version cannot load")
            expected = "sparse" if name in sparse_params else "multi" if params[name].multivector_config else "dense"
            if kind != expected:
                raise _bad(f"vector {name!r} is a {kind} vector in the manifest but a {expected} one in the config")
            if kind != "dense":
                others[name] = _read_other(name, kind, desc, data, used, n, params.get(name), sparse_params.get(name))
                continue
            entry, present_entry = desc.get("data"), desc.get("present")
            if entry not in data or present_entry not in data:
                raise _bad(f"the files of vector {name!r} are missing")
            used.update((entry, present_entry))
            dim = params[name].size
            matrix = _npy(entry, data[entry], _datatype(params[name]), (n, dim))
            present = _npy(present_entry, data[present_entry], np.dtype(bool), (n,))
            if matrix.dtype.kind == "f" and not np.isfinite(matrix[present]).all():
                raise _bad(f"{entry} holds non-finite vector values")
            matrix[~present] = 0
            dense[name] = (matrix, present)

        indexes = manifest.get("indexes", [])
        if not isinstance(indexes, list):
            raise _bad("manifest.json has an invalid `indexes` list")
        graphs: dict[str, bytearray] = {}
        for index in indexes:  # a cache: verified (checksums above); kinds this version does not know are not loaded
            files = index.get("files") if isinstance(index, dict) else None
            if not isinstance(files, list) or not all(isinstance(f, str) and f.startswith(fmt.INDEX_DIR) for f in files) \
                    or not set(files) <= set(data):
                raise _bad("manifest.json lists an index without valid `files` under index/")
            used.update(files)
            if index.get("kind") == "hnsw" and index.get("vector") in params and len(files) == 1:
                graphs[index["vector"]] = data[files[0]]
        unused = sorted(set(data) - used - {fmt.IDS, fmt.PAYLOADS})
        if unused:
            raise _bad(f"archive entry {unused[0]!r} is not used by anything the manifest describes")

        schema_json = self._json(fmt.PAYLOAD_INDEX, data[fmt.PAYLOAD_INDEX])
        if not isinstance(schema_json, dict):
            raise _bad("payload_index.json must be a JSON object")
        try:
            schema = {str(k): _SCHEMA.validate_python(v) for k, v in schema_json.items()}
        except ValidationError as e:
            raise _bad(f"payload_index.json holds an invalid field schema: {e}") from None
        aliases = self._json(fmt.ALIASES, data[fmt.ALIASES])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases) \
                or len(set(aliases)) != len(aliases):
            raise _bad("aliases.json must be a list of distinct alias names")
        return SnapshotContents(
            collection=str(manifest.get("collection", "")), created_at=str(manifest.get("created_at", "")),
            config=config, payload_schema=schema, aliases=aliases, ids=ids, payloads=payloads, dense=dense,
            offsets=offsets, next_offset=next_offset, graphs=graphs, others=others, manifest=manifest,
        )

    @staticmethod
    def _json(name: str, buf: bytes | bytearray) -> Any:
        try:
            return json.loads(buf)
        except (ValueError, UnicodeDecodeError) as e:
            raise _bad(f"{name} is not valid JSON ({e})") from None


# -- helpers ----------------------------------------------------------------------------------------------
def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _vector_params(config: models.CollectionConfig) -> dict[str, models.VectorParams]:
    vectors = config.params.vectors
    params = {} if vectors is None else (dict(vectors) if isinstance(vectors, dict) else {"": vectors})
    for name, p in params.items():
        datatype = getattr(p.datatype, "value", p.datatype)
        if datatype not in (None, "float32", "float16", "uint8"):
            raise Unsupported(f"The snapshot's vector {name!r} has datatype {datatype}, which this engine version cannot load")
    return params


_DTYPES = {"float32": "<f4", "float16": "<f2", "uint8": "|u1"}


def _datatype(params: Any) -> np.dtype:
    """The stored dtype of a dense vector or multivector name."""
    return np.dtype(_DTYPES[getattr(params.datatype, "value", params.datatype) or "float32"])


def _read_other(name: str, kind: str, desc: dict, data: dict, used: set, n: int, params: Any,
                sparse_params: Any) -> dict[str, Any]:
    """The row-aligned parts of a sparse or multivector name, checked for consistency."""
    parts = ("present", "indptr", "indices", "values") if kind == "sparse" else ("present", "indptr", "data")
    entries = {part: desc.get(part) for part in parts}
    if not all(e in data for e in entries.values()):
        raise _bad(f"the files of vector {name!r} are missing")
    used.update(entries.values())
    present = _npy(entries["present"], data[entries["present"]], np.dtype(bool), (n,))
    indptr = _npy(entries["indptr"], data[entries["indptr"]], np.dtype("<i8"), (n + 1,))
    if indptr[0] != 0 or not bool(np.all(np.diff(indptr) >= 0)) or bool((np.diff(indptr)[~present] != 0).any()):
        raise _bad(f"{entries['indptr']} does not describe the rows of vector {name!r}")
    total = int(indptr[-1])
    out: dict[str, Any] = {"kind": kind, "present": present, "indptr": indptr}
    if kind == "sparse":
        index = getattr(sparse_params, "index", None)
        vdt = "<f2" if getattr(getattr(index, "datatype", None), "value", None) == "float16" else "<f4"
        out["indices"] = _npy(entries["indices"], data[entries["indices"]], np.dtype("<u4"), (total,))
        out["values"] = _npy(entries["values"], data[entries["values"]], np.dtype(vdt), (total,))
        if not np.isfinite(out["values"]).all():
            raise _bad(f"{entries['values']} holds non-finite values")
        for i in np.flatnonzero(np.diff(indptr) > 1).tolist():   # sorted, unique within a row
            row = out["indices"][indptr[i]:indptr[i + 1]]
            if not bool(np.all(row[1:] > row[:-1])):
                raise _bad(f"{entries['indices']} holds a row whose indices are not sorted and unique")
    else:
        if bool((np.diff(indptr)[present] == 0).any()):
            raise _bad(f"{entries['indptr']} holds an empty multivector")
        out["data"] = _npy(entries["data"], data[entries["data"]], _datatype(params), (total, params.size))
        if out["data"].dtype.kind == "f" and not np.isfinite(out["data"]).all():
            raise _bad(f"{entries['data']} holds non-finite vector values")
    return out


def _check_ids(ids: list) -> None:
    if all(type(i) is int for i in ids):
        if ids and (min(ids) < 0 or max(ids) >= 2**64):
            raise _bad("points/ids.json holds an id outside the unsigned 64-bit range")
    else:
        for i in ids:
            if type(i) is int:
                if not 0 <= i < 2**64:
                    raise _bad(f"points/ids.json holds an id outside the unsigned 64-bit range: {i}")
            elif type(i) is str:
                try:
                    canonical = str(uuid.UUID(i))
                except ValueError:
                    canonical = None
                if canonical != i:
                    raise _bad(f"points/ids.json holds an invalid point id {i!r}")
            else:
                raise _bad(f"points/ids.json holds an invalid point id {i!r}")
    if len(set(ids)) != len(ids):
        raise _bad("points/ids.json holds the same id twice")


def _npy(name: str, buf: bytearray, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    head = io.BytesIO(bytes(buf[:_MAX_NPY_HEADER]))
    try:
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(head)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(head)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as e:
        raise _bad(f"{name} is not a valid .npy file ({e})") from None
    if got_dtype != dtype or fortran or tuple(got_shape) != shape:
        raise _bad(
            f"{name} holds {got_dtype}{list(got_shape)}{' (Fortran order)' if fortran else ''}, expected {dtype}{list(shape)}"
        )
    count = int(np.prod(shape)) if shape else 1
    offset = head.tell()
    if len(buf) != offset + count * dtype.itemsize:
        raise _bad(f"{name} has {len(buf) - offset} data bytes, expected {count * dtype.itemsize}")
    return np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(shape)
