"""Snapshots in every client mode: create/list/delete, download, recover (path, file://, http://,
upload), full-storage snapshots, point-in-time under concurrent writes, cross-mode round trips,
and every bad snapshot leaving the existing collection exactly as it was.

Tests use the public client API. Where a test needs the built-in engine in this process
(monkeypatching it, reading its files), it says so and skips for remote modes; where a remote
mode lacks server support for an operation, ``_remote_support`` skips naming what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import math
import os
import re
import tarfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from sdk import (
    AsyncQdrantClient, BadRequestError, NotFoundError, QdrantClient,
    models,
)

LOCAL_ENGINES = ("memory", "path")
NAME_RE = re.compile(r"^(?P<c>.+)-(?P<peer>\d+)-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d(-\d+)?\.snapshot$")
U1 = str(uuid.UUID(int=0x1234))
U2 = "6f1e6d1c-7a4e-4f45-9d3a-0c8f2b5f2a11"


# -- helpers -------------------------------------------------------------------------------------------
def _is_local(factory: Any) -> bool:
    return factory.mode.split("-")[0] in LOCAL_ENGINES


def _local_only(factory: Any, why: str) -> None:
    if not _is_local(factory):
        pytest.skip(f"needs the built-in engine in this process: {why}")


@contextlib.contextmanager
def _remote_support(factory: Any, what: str):
    """Marks a step that goes through the server's snapshot endpoints in remote modes. Every mode
    supports every snapshot operation, so nothing is caught here: a failure fails the test."""
    yield


def _engine_of(client: Any) -> Any:
    """The in-process engine behind a local-mode client (sync, or async via conftest's SyncDriver)."""
    inner = getattr(client, "_client", client)
    transport = inner._transport
    return getattr(transport, "_sync", transport)._engine


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _populate(client: Any, name: str = "c") -> None:
    """A collection using most of what a snapshot must keep."""
    client.create_collection(
        name,
        vectors_config={
            "img": models.VectorParams(size=4, distance=models.Distance.COSINE),
            "txt": models.VectorParams(size=3, distance=models.Distance.EUCLID),
        },
        hnsw_config=models.HnswConfigDiff(m=24),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=777),
        metadata={"owner": "snapshots", "n": 3},
    )
    rng = np.random.default_rng(7)
    points = []
    ids: list = list(range(1, 21)) + [2**63 + 5, 2**64 - 1, U1, U2]
    for k, pid in enumerate(ids):
        vec: dict = {"img": rng.normal(size=4).astype(np.float32).tolist()}
        if k % 3:
            vec["txt"] = rng.normal(size=3).astype(np.float32).tolist()
        payload = {"k": k, "city": ["Berlin", "Paris", "Oslo"][k % 3], "nested": {"a": [1, {"b": k}], "t": "é✓"}}
        if k % 5 == 0:
            payload = {}
        points.append(models.PointStruct(id=pid, vector=vec, payload=payload))
    points.append(models.PointStruct(id=99, vector={"txt": [0.5, 0.25, 0.125]}, payload={"only": "txt"}))
    client.upsert(name, points=points)
    client.create_payload_index(name, "city", models.KeywordIndexParams(type="keyword", is_tenant=True))
    client.create_payload_index(name, "k", models.PayloadSchemaType.INTEGER)
    client.update_collection_aliases([
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name, alias_name=f"{name}-alias")),
    ])
    _forget_snapshots(client, name)


def _forget_snapshots(client: Any, name: Optional[str] = None) -> None:
    """Remote modes share one server, whose snapshot files outlive deleted collections (as in
    Qdrant): start from none."""
    if name is None:
        for d in client.list_full_snapshots():
            client.delete_full_snapshot(d.name)
    else:
        for d in client.list_snapshots(name):
            client.delete_snapshot(name, d.name)


def _mutate(client: Any, name: str = "c") -> None:
    """Change everything _populate made, without touching the vectors config."""
    client.upsert(name, points=[models.PointStruct(id=1000, vector={"img": [1, 0, 0, 0]}, payload={"new": True})])
    client.delete(name, models.PointIdsList(points=[1, 2, U1]))
    client.overwrite_payload(name, {"changed": 1}, points=[3, 4])
    client.set_payload(name, {"extra": [1, 2]}, points=models.Filter())
    client.delete_payload_index(name, "city")
    client.create_payload_index(name, "changed", models.PayloadSchemaType.INTEGER)
    client.update_collection(name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5), metadata={"n": None})
    client.update_collection_aliases([
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=f"{name}-alias")),
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name, alias_name="other-alias")),
    ])


def _state(client: Any, name: str = "c") -> dict:
    """Everything observable about a collection, point for point (vectors compared exactly)."""
    points, offset = client.scroll(name, limit=100_000, with_payload=True, with_vectors=True)
    assert offset is None
    info = client.get_collection(name)
    return {
        "points": [(p.id, p.payload, p.vector) for p in points],
        "count": info.points_count,
        "config": info.config.model_dump(mode="json"),
        "schema": {k: v.model_dump(mode="json") for k, v in info.payload_schema.items()},
        "aliases": sorted((a.alias_name, a.collection_name) for a in client.get_aliases().aliases),
        "search": [
            (h.id, h.score) for h in client.query_points(name, query=[0.1, 0.2, 0.3, 0.4], using="img", limit=5).points
        ],
    }


def _without_index_params(state: dict) -> dict:
    return {**state, "schema": {k: {**v, "params": None} for k, v in state["schema"].items()}}


def _download(factory: Any, client: Any, collection: str, snapshot: str, target: Path) -> Path:
    with _remote_support(factory, "get_snapshot (binary download, GET /collections/{c}/snapshots/{name})"):
        client.download_snapshot(collection, snapshot, target)
    return target


def _upload(factory: Any, client: Any, collection: str, path: Path, **kwargs: Any) -> Any:
    with _remote_support(factory, "recover_from_uploaded_snapshot (multipart POST .../snapshots/upload)"):
        return client.upload_snapshot(collection, path, **kwargs)


def _snapshot_file(factory: Any, client: Any, tmp_path: Path, name: str = "c") -> tuple[models.SnapshotDescription, Path]:
    desc = client.create_snapshot(name)
    return desc, _download(factory, client, name, desc.name, tmp_path / desc.name)


# -- create / list / delete ----------------------------------------------------------------------------
def test_create_list_download_delete(client, client_factory, tmp_path):
    _populate(client)
    assert client.list_snapshots("c") == []
    desc = client.create_snapshot("c")
    assert isinstance(desc, models.SnapshotDescription)
    m = NAME_RE.match(desc.name)
    assert m and m.group("c") == "c", desc.name
    datetime.fromisoformat(desc.creation_time)
    assert re.fullmatch(r"[0-9a-f]{64}", desc.checksum)
    assert desc.size > 0

    file = _download(client_factory, client, "c", desc.name, tmp_path / "copy.snapshot")
    assert file.stat().st_size == desc.size
    assert _sha256(file) == desc.checksum
    with tarfile.open(file, "r:") as tar:  # a plain tar, manifest first
        assert tar.getnames()[0] == "manifest.json"

    second = client.create_snapshot("c-alias")  # an alias names its collection
    assert second.name != desc.name  # same second: a suffix, never an overwrite
    assert NAME_RE.match(second.name).group("c") == "c"
    listed = client.list_snapshots("c")
    assert {d.name for d in listed} == {desc.name, second.name}
    assert {d.name: d.checksum for d in listed}[desc.name] == desc.checksum

    assert client.delete_snapshot("c", desc.name) is True
    assert [d.name for d in client.list_snapshots("c")] == [second.name]
    with pytest.raises(NotFoundError):
        client.delete_snapshot("c", desc.name)
    with pytest.raises(NotFoundError):
        _download(client_factory, client, "c", desc.name, tmp_path / "gone.snapshot")
    with pytest.raises(NotFoundError):
        client.list_snapshots("nope")
    with pytest.raises(NotFoundError):
        client.create_snapshot("nope")


def test_snapshot_files_and_checksums_on_disk(path_client_factory):
    client = path_client_factory.open()
    _populate(client)
    desc = client.create_snapshot("c")
    folder = Path(path_client_factory.path) / "snapshots" / "c"
    file = folder / desc.name
    assert file.is_file()
    assert (folder / (desc.name + ".checksum")).read_text() == _sha256(file) == desc.checksum
    assert sorted(os.listdir(folder)) == sorted([desc.name, desc.name + ".checksum"])  # no temp files left
    client.delete_snapshot("c", desc.name)
    assert os.listdir(folder) == []
    # Snapshots and the peer id in their names survive reopening.
    again = client.create_snapshot("c")
    client.close()
    client = path_client_factory.open()
    assert [d.name for d in client.list_snapshots("c")] == [again.name]
    assert NAME_RE.match(client.create_snapshot("c").name).group("peer") == NAME_RE.match(again.name).group("peer")


def test_memory_mode_snapshots_live_in_a_temp_dir_removed_on_close():
    from local_engine import Engine

    engine = Engine()
    engine.create_collection("c", models.CreateCollection(vectors=models.VectorParams(size=2, distance="Dot")))
    path = engine.get_snapshot("c", engine.create_snapshot("c").name)
    root = path.parent.parent
    assert path.is_file() and root.is_dir()
    engine.close()
    assert not root.exists()


# -- round trips -----------------------------------------------------------------------------------------
def test_round_trip_restores_points_config_indexes_aliases(client, client_factory, tmp_path):
    _populate(client)
    before = _state(client)
    _, file = _snapshot_file(client_factory, client, tmp_path)
    _mutate(client)
    assert _state(client) != before
    assert _upload(client_factory, client, "c", file) is True
    assert _state(client) == before


def test_recover_from_file_url_and_plain_path(client, client_factory, tmp_path):
    _local_only(client_factory, "recovers from a path on this machine")
    _populate(client)
    before = _state(client)
    desc, file = _snapshot_file(client_factory, client, tmp_path)
    _mutate(client)
    assert client.recover_snapshot("c", location=file.as_uri(), checksum=desc.checksum) is True
    assert _state(client) == before
    _mutate(client)
    assert client.recover_snapshot("c", location=str(file), priority=models.SnapshotPriority.REPLICA) is True
    assert _state(client) == before
    # Into a new name: the collection is created from the snapshot; its alias follows it.
    client.delete_collection("c")
    assert client.recover_snapshot("copy", location=file.as_uri(), priority="no_sync") is True
    restored = _state(client, "copy")
    assert restored["points"] == before["points"] and restored["config"] == before["config"]
    assert restored["aliases"] == [("c-alias", "copy")]


def test_recover_into_alias_name_replaces_its_collection(client, client_factory, tmp_path):
    _populate(client)
    before = _state(client)
    _, file = _snapshot_file(client_factory, client, tmp_path)
    client.delete(collection_name="c", points_selector=models.PointIdsList(points=[5, 6]))
    _upload(client_factory, client, "c-alias", file)
    assert [c.name for c in client.get_collections().collections] == ["c"]
    assert _state(client) == before


def test_snapshot_alias_taken_by_another_collection_is_left_alone(client, client_factory, tmp_path):
    _populate(client)
    _, file = _snapshot_file(client_factory, client, tmp_path)
    client.create_collection("d", vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.update_collection_aliases([
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="c-alias")),
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="d", alias_name="c-alias")),
    ])
    _upload(client_factory, client, "c", file)
    assert ("c-alias", "d") in _state(client)["aliases"]


def test_cross_mode_memory_to_path_and_back(tmp_path):
    mem = QdrantClient(":memory:")
    _populate(mem)
    before = _state(mem)
    desc = mem.create_snapshot("c")
    file = Path(mem.download_snapshot("c", desc.name, tmp_path / desc.name))
    mem.close()

    with QdrantClient(path=str(tmp_path / "db")) as disk:
        assert disk.recover_snapshot("c", location=file.as_uri(), checksum=desc.checksum)
        assert _state(disk) == before
    with QdrantClient(path=str(tmp_path / "db")) as disk:  # reopened: same data, no snapshot needed
        # Reopening a path forgets payload index *params* (engine.py restores the saved schema as
        # plain types), with or without snapshots; everything else must be identical.
        assert _without_index_params(_state(disk)) == _without_index_params(before)
        back = disk.create_snapshot("c")
        back_file = Path(disk.download_snapshot("c", back.name, tmp_path / "back.snapshot"))

    async def into_async_memory() -> dict:
        async with AsyncQdrantClient(":memory:") as amem:
            assert await amem.recover_snapshot("c", location=str(back_file))
            points, _ = await amem.scroll("c", limit=1000, with_payload=True, with_vectors=True)
            return {"points": [(p.id, p.payload, p.vector) for p in points]}

    import asyncio

    assert asyncio.run(into_async_memory())["points"] == before["points"]


def test_every_mode_restores_a_memory_snapshot_and_memory_restores_theirs(client, client_factory, tmp_path):
    """The same file restores across modes (memory -> this mode -> memory)."""
    with QdrantClient(":memory:") as mem:
        _populate(mem)
        before = _state(mem)
        desc = mem.create_snapshot("c")
        file = Path(mem.download_snapshot("c", desc.name, tmp_path / desc.name))
    assert _upload(client_factory, client, "c", file, checksum=desc.checksum)
    assert _state(client) == before
    (tmp_path / "theirs").mkdir()
    _, theirs = _snapshot_file(client_factory, client, tmp_path / "theirs")
    with QdrantClient(":memory:") as mem:
        assert mem.upload_snapshot("c", theirs)
        assert _state(mem) == before


def test_local_payload_edge_values_round_trip(client, client_factory, tmp_path):
    _local_only(client_factory, "NaN and lone surrogates do not survive JSON on the wire")
    client.create_collection("c", vectors_config=models.VectorParams(size=2, distance="Dot"))
    odd = {"nan": float("nan"), "inf": float("inf"), "big": 2**70, "one": 1, "onef": 1.0, "sur": "\ud800x", "e": []}
    client.upsert("c", points=[models.PointStruct(id=1, vector=[1, 2], payload=odd), models.PointStruct(id=2, vector=[3, 4])])
    _, file = _snapshot_file(client_factory, client, tmp_path)
    client.delete("c", models.PointIdsList(points=[1, 2]))
    client.recover_snapshot("c", location=str(file))
    got = {r.id: r.payload for r in client.retrieve("c", [1, 2])}
    assert math.isnan(got[1]["nan"]) and got[1]["inf"] == math.inf and got[1]["sur"] == "\ud800x"
    assert type(got[1]["one"]) is int and type(got[1]["onef"]) is float and got[1]["big"] == 2**70
    assert got[2] == {}


def test_empty_collection_round_trip(client, client_factory, tmp_path):
    client.create_collection("e", vectors_config=models.VectorParams(size=3, distance="Euclid"))
    _, file = _snapshot_file(client_factory, client, tmp_path, "e")
    client.upsert("e", points=[models.PointStruct(id=1, vector=[1, 2, 3])])
    _upload(client_factory, client, "e", file)
    assert client.count("e").count == 0
    client.upsert("e", points=[models.PointStruct(id=1, vector=[1, 2, 3])])  # still writable
    assert client.count("e").count == 1


# -- HNSW graphs travel in the snapshot ----------------------------------------------------------------------
def _graph_collection(client: Any, name: str = "g", deletes: bool = True) -> np.ndarray:
    """1,000 x 16 clustered vectors with thresholds low enough that a graph is built and searched;
    some points deleted, so offsets have holes."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((20, 16)).astype(np.float32)
    data = (centres[rng.integers(0, 20, 1000)] + 0.3 * rng.standard_normal((1000, 16))).astype(np.float32)
    client.create_collection(
        name, vectors_config=models.VectorParams(size=16, distance="Cosine"),
        hnsw_config=models.HnswConfigDiff(full_scan_threshold=10, m=8),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=20),
    )
    client.upload_collection(name, data, payload=[{"i": i} for i in range(1000)], ids=range(1000), batch_size=250)
    if deletes:
        client.delete(name, models.PointIdsList(points=list(range(0, 1000, 7))))
    return data


def _graph_answers(client: Any, data: np.ndarray, name: str = "g") -> list:
    return [[(h.id, h.score) for h in client.query_points(name, query=data[i], limit=10).points] for i in range(0, 1000, 97)]


@pytest.mark.parametrize("deletes", [False, True])
def test_hnsw_graphs_are_restored_not_rebuilt(client, client_factory, tmp_path, deletes):
    data = _graph_collection(client, deletes=deletes)
    info = client.get_collection("g")
    assert info.indexed_vectors_count == info.points_count > 0
    answers = _graph_answers(client, data)
    points = _state_points(client, "g")
    desc, file = _snapshot_file(client_factory, client, tmp_path, "g")
    with tarfile.open(file, "r:") as tar:
        assert "index/hnsw-0.bin" in tar.getnames()
    client.delete("g", models.Filter())
    _upload(client_factory, client, "g", file)
    assert client.get_collection("g").indexed_vectors_count == info.indexed_vectors_count
    assert _graph_answers(client, data) == answers
    assert _state_points(client, "g") == points
    if _is_local(client_factory):
        stats = _engine_of(client)._collections["g"]._indexes.stats
        assert stats["builds"] == 0 and stats["loaded"] == 1 and stats["reapplied"] == 0
    if client_factory.mode.startswith("path"):  # the graph was saved with the recovered collection
        client_factory.close_all()
        reopened = client_factory.open()
        assert _graph_answers(reopened, data) == answers
        assert _engine_of(reopened)._collections["g"]._indexes.stats["builds"] == 0


def _state_points(client: Any, name: str) -> list:
    points, _ = client.scroll(name, limit=100_000, with_payload=True, with_vectors=True)
    return [(p.id, p.payload, p.vector) for p in points]


def test_a_bad_graph_file_is_rebuilt_not_fatal(tmp_path):
    """Graphs are a cache: one that does not load (here: built with other parameters) is rebuilt."""
    with QdrantClient(":memory:") as mem:
        data = _graph_collection(mem)
        answers = _graph_answers(mem, data)
        desc = mem.create_snapshot("g")
        file = Path(mem.download_snapshot("g", desc.name, tmp_path / "g.snapshot"))

    def other_m(config: bytes) -> bytes:
        cfg = json.loads(config)
        cfg["hnsw_config"]["m"] = 12
        return json.dumps(cfg).encode()

    bad = _rewrite_entry(file, tmp_path / "tmp.snapshot", "config.json", other_m)
    bad = _rewrite_manifest(bad, tmp_path / "m12.snapshot", lambda m: m["entries"]["config.json"].update(
        size=len(_entry_bytes(bad, "config.json")), sha256=hashlib.sha256(_entry_bytes(bad, "config.json")).hexdigest()))
    with QdrantClient(":memory:") as mem:
        mem.recover_snapshot("g", location=str(bad))
        assert mem.get_collection("g").config.hnsw_config.m == 12
        stats = _engine_of(mem)._collections["g"]._indexes.stats
        assert stats["builds"] == 1 and stats["loaded"] == 0
        assert [a[0][0] for a in _graph_answers(mem, data)] == [a[0][0] for a in answers]


def _entry_bytes(file: Path, name: str) -> bytes:
    with tarfile.open(file, "r:") as tar:
        return tar.extractfile(name).read()


# -- point in time ----------------------------------------------------------------------------------------
def _batch(b: int, size: int) -> list[models.PointStruct]:
    # One upsert = one atomic batch: its points, plus the ledger point 0 saying it was applied.
    rng = np.random.default_rng(b)
    pts = [models.PointStruct(id=1 + b * size + i, vector=rng.normal(size=4).tolist(), payload={"batch": b})
           for i in range(size)]
    pts.append(models.PointStruct(id=0, vector=[0.0, 0.0, 0.0, 1.0], payload={"last": b}))
    return pts


def _check_consistent(client: Any, name: str, size: int) -> int:
    points, _ = client.scroll(name, limit=1_000_000, with_payload=True)
    ledger = [p for p in points if p.id == 0]
    batches: dict[int, int] = {}
    for p in points:
        if p.id != 0:
            batches[p.payload["batch"]] = batches.get(p.payload["batch"], 0) + 1
    last = ledger[0].payload["last"] if ledger else -1
    assert all(n == size for n in batches.values()), "a batch is half present"
    assert sorted(batches) == list(range(last + 1)), "batches present are not exactly those the ledger names"
    return last


@pytest.mark.parametrize("graph", [False, True], ids=["no-graph", "graph"])
def test_snapshot_is_point_in_time_while_writes_continue(client, client_factory, tmp_path, graph):
    """A thread keeps upserting batches while snapshots are taken. With ``graph``, batches are
    large enough that their HNSW insertions run on the index's helper thread."""
    size = 300 if graph else 40
    client.create_collection(
        "c", vectors_config=models.VectorParams(size=4, distance="Euclid"),
        hnsw_config=models.HnswConfigDiff(m=8, ef_construct=32),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1 if graph else 0),
    )
    stop = threading.Event()
    started = threading.Event()
    errors: list[BaseException] = []

    if client_factory.mode.endswith("async"):
        # The async facade on its own event loop: writer and snapshotter are concurrent tasks.
        import asyncio

        aclient, loop = client._client, client._loop

        async def writer_task() -> int:
            b = 0
            while not stop.is_set():
                await aclient.upsert("c", points=_batch(b, size))
                b += 1
                started.set()
                await asyncio.sleep(0)
            return b

        async def main() -> list:
            task = asyncio.ensure_future(writer_task())
            while not started.is_set():
                await asyncio.sleep(0.001)
            descs = []
            for _ in range(5):
                descs.append(await aclient.create_snapshot("c"))
                await asyncio.sleep(0.005)
            stop.set()
            await task
            return descs

        descs = loop.run_until_complete(main())
    else:
        def writer() -> None:
            b = 0
            try:
                while not stop.is_set():
                    client.upsert("c", points=_batch(b, size))
                    b += 1
                    started.set()
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                started.set()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert started.wait(30)
            descs = []
            for _ in range(5):
                descs.append(client.create_snapshot("c"))
                time.sleep(0.005)
        finally:
            stop.set()
            thread.join()
        assert not errors, errors

    seen = []
    for i, desc in enumerate(descs):
        file = _download(client_factory, client, "c", desc.name, tmp_path / f"{i}.snapshot")
        _upload(client_factory, client, f"check{i}", file)
        seen.append(_check_consistent(client, f"check{i}", size))
        info = client.get_collection(f"check{i}")
        assert info.indexed_vectors_count == (info.points_count if graph else 0)
    assert seen == sorted(seen) and seen[0] >= 0
    _check_consistent(client, "c", size)


# -- bad snapshots: an error, and the existing collection unchanged ----------------------------------------
def _qdrant_native_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in {
            "version.info": b"1.19.0",
            "config.json": b'{"params": {}}',
            "0/shard_config.json": b'{"type": "Local"}',
            "0/segments/5b7a.tar": b"\0" * 1024,
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _evil_tar(path: Path, member: str = "../evil", link: bool = False) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
        info = tarfile.TarInfo(member)
        if link:
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return path


def _rewrite_entry(src: Path, dst: Path, entry: str, change) -> Path:
    """Copy a snapshot archive, replacing one entry's bytes (the manifest is kept as it was)."""
    with tarfile.open(src, "r:") as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()
            if m.name == entry:
                data = change(data)
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
    return dst


def _memory_snapshot(tmp_path: Path, build, name: str = "c") -> tuple[models.SnapshotDescription, Path]:
    """A snapshot file made by a fresh ":memory:" client (so the upload side of remote modes is
    tested even where the server cannot serve downloads yet)."""
    with QdrantClient(":memory:") as mem:
        build(mem)
        desc = mem.create_snapshot(name)
        return desc, Path(mem.download_snapshot(name, desc.name, tmp_path / desc.name))


@pytest.fixture
def populated(client, client_factory, tmp_path):
    """``c`` populated then mutated, and a snapshot file of ``c`` as populated."""
    _populate(client)
    desc, file = _memory_snapshot(tmp_path, _populate)
    _mutate(client)
    return client, desc, file


def _assert_unchanged(client: Any, before: dict, factory: Any, tmp_path: Path) -> None:
    assert _state(client) == before
    assert client.count("c").count == before["count"]
    if factory.mode.startswith("path"):
        assert not list((Path(factory.path) / "snapshots").glob("**/.upload-*")), "temporary upload left behind"
        assert not (Path(factory.path) / "evil").exists() and not (tmp_path / "evil").exists()


def test_wrong_checksum_is_refused(populated, client_factory, tmp_path):
    client, desc, file = populated
    before = _state(client)
    wrong = "0" * 64
    with pytest.raises(BadRequestError, match="checksum mismatch"):
        _upload(client_factory, client, "c", file, checksum=wrong)
    if _is_local(client_factory):
        with pytest.raises(BadRequestError, match="checksum mismatch"):
            client.recover_snapshot("c", location=file.as_uri(), checksum=wrong)
        with pytest.raises(BadRequestError, match="SHA-256"):
            client.recover_snapshot("c", location=str(file), checksum="not-a-checksum")
    _assert_unchanged(client, before, client_factory, tmp_path)
    assert _upload(client_factory, client, "c", file, checksum=desc.checksum.upper())  # hex case does not matter


@pytest.mark.parametrize("cut", ["header", "half", "last-byte", "end-marker"])
def test_truncated_file_is_refused(populated, client_factory, tmp_path, cut):
    client, desc, file = populated
    before = _state(client)
    data = file.read_bytes()
    with tarfile.open(file, "r:") as tar:
        last = tar.getmembers()[-1]
    size = {
        "header": 100,
        "half": len(data) // 2,
        "last-byte": last.offset_data + last.size - 1,          # the last entry loses its last byte
        "end-marker": last.offset_data + -(-last.size // 512) * 512,   # every entry whole, no end blocks
    }[cut]
    bad = tmp_path / "truncated.snapshot"
    bad.write_bytes(data[:size])
    with pytest.raises(BadRequestError, match="[Ii]nvalid snapshot"):
        _upload(client_factory, client, "c", bad)
    _assert_unchanged(client, before, client_factory, tmp_path)


def test_corrupt_entry_after_a_valid_manifest_is_refused(populated, client_factory, tmp_path):
    client, desc, file = populated
    before = _state(client)

    def flip(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1])

    bad = _rewrite_entry(file, tmp_path / "flipped.snapshot", "vectors/dense-0.npy", flip)
    with pytest.raises(BadRequestError, match="SHA-256"):
        _upload(client_factory, client, "c", bad)
    _assert_unchanged(client, before, client_factory, tmp_path)


def test_foreign_files_are_refused(populated, client_factory, tmp_path):
    client, desc, file = populated
    before = _state(client)
    with pytest.raises(BadRequestError, match="Qdrant-native snapshot"):
        _upload(client_factory, client, "c", _qdrant_native_tar(tmp_path / "native.snapshot"))
    junk = tmp_path / "junk.snapshot"
    junk.write_bytes(b"this is not a tar archive at all" * 100)
    with pytest.raises(BadRequestError, match="not an uncompressed tar"):
        _upload(client_factory, client, "c", junk)
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(BadRequestError, match="manifest.json is missing"):
        _upload(client_factory, client, "c", other)
    _assert_unchanged(client, before, client_factory, tmp_path)


@pytest.mark.parametrize("member,link,message", [
    ("../evil", False, "escapes the target directory"),
    ("points/../../evil", False, "escapes the target directory"),
    ("/tmp/evil", False, "absolute path"),
    ("evil-link", True, "is a link"),
])
def test_unsafe_archive_entries_are_refused(populated, client_factory, tmp_path, member, link, message):
    client, desc, file = populated
    before = _state(client)
    with pytest.raises(BadRequestError, match=message):
        _upload(client_factory, client, "c", _evil_tar(tmp_path / "evil.snapshot", member, link))
    _assert_unchanged(client, before, client_factory, tmp_path)


def test_incompatible_existing_collection_is_refused(client, client_factory, tmp_path):
    def small(c: Any) -> None:
        c.create_collection("small", vectors_config=models.VectorParams(size=2, distance="Dot"))
        c.upsert("small", points=[models.PointStruct(id=1, vector=[1, 2], payload={"s": 1})])

    _, file = _memory_snapshot(tmp_path, small, "small")
    client.create_collection("c", vectors_config=models.VectorParams(size=3, distance="Dot"))
    client.upsert("c", points=[models.PointStruct(id=7, vector=[1, 2, 3])])
    points_before = client.scroll("c", with_vectors=True)[0]
    with pytest.raises(BadRequestError, match="Snapshot is not compatible with existing collection"):
        _upload(client_factory, client, "c", file)
    assert client.scroll("c", with_vectors=True)[0] == points_before
    client.create_collection("dist", vectors_config=models.VectorParams(size=2, distance="Cosine"))
    with pytest.raises(BadRequestError, match="not compatible"):
        _upload(client_factory, client, "dist", file)
    assert client.count("dist").count == 0


def test_priority_is_validated(populated, client_factory, tmp_path):
    client, desc, file = populated
    with pytest.raises(BadRequestError):
        client.recover_snapshot("c", location=file.as_uri(), priority="most-important")
    with pytest.raises(BadRequestError):
        _upload(client_factory, client, "c", file, priority="most-important")
    for p in ("no_sync", "snapshot", models.SnapshotPriority.REPLICA):
        assert _upload(client_factory, client, "c", file, priority=p)


def test_missing_location_and_unknown_scheme(client, client_factory, tmp_path):
    client.create_collection("c", vectors_config=models.VectorParams(size=2, distance="Dot"))
    with pytest.raises(BadRequestError, match="does not exist"):
        client.recover_snapshot("c", location=(tmp_path / "nope.snapshot").as_uri())
    with pytest.raises(BadRequestError, match="not supported"):
        client.recover_snapshot("c", location="ftp://example.com/x.snapshot")


# -- atomic replace ----------------------------------------------------------------------------------------------
def _collection_dirs(factory: Any) -> list[str]:
    return sorted(os.listdir(Path(factory.path) / "collections"))


@pytest.mark.parametrize("where", ["build", "swap"])
def test_failure_half_way_leaves_the_old_collection(populated, client_factory, tmp_path, monkeypatch, where):
    _local_only(client_factory, "monkeypatches the in-process engine to fail half-way")
    import local_engine.engine_snapshots as es
    from local_engine.collection import Collection

    client, desc, file = populated
    before = _state(client)
    dirs_before = _collection_dirs(client_factory) if client_factory.mode.startswith("path") else None

    if where == "build":
        real_load = Collection.load

        def load_then_fail(self, loaded):  # storage already holds every point; memory half built
            real_load(self, loaded)
            raise RuntimeError("simulated failure while building the recovered collection")

        monkeypatch.setattr(Collection, "load", load_then_fail)
    else:
        storage_cls = type(_engine_of(client)._storage)

        def fail_swap(self, name, staged, aliases):
            raise RuntimeError("simulated failure at the swap")

        monkeypatch.setattr(storage_cls, "replace_collection", fail_swap)
    with pytest.raises(Exception, match="simulated failure"):
        client.recover_snapshot("c", location=str(file))
    monkeypatch.undo()
    assert _state(client) == before
    if dirs_before is not None:
        assert _collection_dirs(client_factory) == dirs_before, "the staged directory was not discarded"
        client_factory.close_all()
        reopened = client_factory.open()
        assert _state(reopened) == before
        assert reopened.recover_snapshot("c", location=str(file))


def test_crash_during_recovery_keeps_old_collection_after_reopen(path_client_factory, tmp_path, monkeypatch):
    """A crash (no cleanup at all) after the staged collection was written: reopening finds the
    old collection, and the orphaned staged directory is swept."""
    import local_engine.engine_snapshots as es
    from local_engine.storage.sqlite import SqliteStorage

    client = path_client_factory.open()
    _populate(client)
    desc, file = _snapshot_file(path_client_factory, client, tmp_path)
    _mutate(client)
    before = _state(client)
    dirs_before = _collection_dirs(path_client_factory)

    def crash(self, name, staged, aliases):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(SqliteStorage, "replace_collection", crash)
    monkeypatch.setattr(SqliteStorage, "discard_staged_collection", lambda self, staged: staged.close())
    with pytest.raises(KeyboardInterrupt):
        client.recover_snapshot("c", location=str(file))
    monkeypatch.undo()
    assert len(_collection_dirs(path_client_factory)) == len(dirs_before) + 1  # the orphan
    path_client_factory.close_all()
    reopened = path_client_factory.open()
    assert _collection_dirs(path_client_factory) == dirs_before
    assert _state(reopened) == before


def test_write_waiting_on_a_replaced_collection_fails_clearly():
    from local_engine import Engine, NotFound

    engine = Engine()
    engine.create_collection("c", models.CreateCollection(vectors=models.VectorParams(size=2, distance="Dot")))
    old = engine._collections["c"]
    snap = engine.get_snapshot("c", engine.create_snapshot("c").name)
    engine.recover_from_snapshot("c", models.SnapshotRecover(location=str(snap)))
    assert engine._collections["c"] is not old
    with pytest.raises(NotFound, match="replaced by a snapshot recovery"):
        old.upsert(models.PointsList(points=[models.PointStruct(id=1, vector=[1, 2])]), 1)
    engine.close()


# -- full-storage snapshots ----------------------------------------------------------------------------------------
def test_full_snapshot_create_list_download_delete(client, client_factory, tmp_path):
    _populate(client)
    client.create_collection("other", vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert("other", points=[models.PointStruct(id=1, vector=[1, 2], payload={"x": 1})])
    before = _state(client)
    _forget_snapshots(client)
    desc = client.create_full_snapshot()
    assert desc.name.startswith("full-snapshot-") and desc.name.endswith(".snapshot")
    assert re.fullmatch(r"[0-9a-f]{64}", desc.checksum)
    assert [d.name for d in client.list_full_snapshots()] == [desc.name]
    file = tmp_path / desc.name
    with _remote_support(client_factory, "get_full_snapshot (binary download, GET /snapshots/{name})"):
        client.download_full_snapshot(desc.name, file)
    assert _sha256(file) == desc.checksum and file.stat().st_size == desc.size

    with tarfile.open(file, "r:") as tar:
        config = json.loads(tar.extractfile("config.json").read())
        assert set(config["collections_mapping"]) == {"c", "other"}
        assert config["collections_aliases"] == {"c-alias": "c"}
        inner = tmp_path / "inner.snapshot"
        inner.write_bytes(tar.extractfile(config["collections_mapping"]["c"]).read())
    _mutate(client)
    _upload(client_factory, client, "c", inner)  # the inner files are ordinary collection snapshots
    assert _state(client) == before

    second = client.create_full_snapshot()
    assert second.name != desc.name
    assert client.delete_full_snapshot(desc.name) is True
    assert [d.name for d in client.list_full_snapshots()] == [second.name]
    with pytest.raises(NotFoundError):
        client.delete_full_snapshot(desc.name)
    assert client.list_snapshots("c") == []  # full snapshots do not add collection snapshots


# -- http(s) ----------------------------------------------------------------------------------------------------------
class _FileServer:
    """Serves one directory on 127.0.0.1 and records the api-key headers it saw."""

    def __init__(self, root: Path) -> None:
        seen = self.api_keys = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):
                seen.append(self.headers.get("api-key"))
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_recover_from_http_url(populated, client_factory, tmp_path):
    if os.environ.get("QDRANT_URL"):
        pytest.skip("a Qdrant server elsewhere cannot reach this test's 127.0.0.1 file server")
    client, desc, file = populated
    before_mutation = _state(client)
    server = _FileServer(file.parent)
    try:
        url = f"{server.url}/{file.name}"
        assert client.recover_snapshot("c", location=url, api_key="secret", checksum=desc.checksum) is True
        assert server.api_keys == ["secret"]
        restored = _state(client)
        assert restored != before_mutation and ("c-alias", "c") in restored["aliases"]
        with pytest.raises(BadRequestError, match="Failed to download snapshot"):
            client.recover_snapshot("c", location=f"{server.url}/missing.snapshot")
        assert _state(client) == restored
    finally:
        server.close()
    if client_factory.mode.startswith("path"):
        assert not list((Path(client_factory.path) / "snapshots").glob(".download-*")), "download left behind"


# -- measured figures (docs/snapshots.md) -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("graph", [False, True], ids=["no-graph", "graph"])
@pytest.mark.parametrize("engine", ["memory", "path"])
def test_measure_100k_x_128(request, tmp_path, engine, graph):
    """Prints create/recover times and file size; run with ``-m slow -s``."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("measurement only: run with -m slow -s")
    n, dim = 100_000, 128
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    kwargs = {"location": ":memory:"} if engine == "memory" else {"path": str(tmp_path / "db")}
    with QdrantClient(**kwargs) as client:
        client.create_collection(
            "m", vectors_config=models.VectorParams(size=dim, distance="Dot"),
            optimizers_config=None if graph else models.OptimizersConfigDiff(indexing_threshold=0),
        )
        client.upload_collection("m", vectors, payload=({"group": i % 100, "text": f"point number {i}"} for i in range(n)),
                                 ids=range(n), batch_size=1000)
        assert client.get_collection("m").indexed_vectors_count == (n if graph else 0)
        t0 = time.perf_counter()
        desc = client.create_snapshot("m")
        t_create = time.perf_counter() - t0
        file = Path(client.download_snapshot("m", desc.name, tmp_path / "m.snapshot"))
        client.delete("m", models.PointIdsList(points=list(range(10))))
        t0 = time.perf_counter()
        client.recover_snapshot("m", location=str(file), checksum=desc.checksum)
        t_recover = time.perf_counter() - t0
        assert client.count("m").count == n
        assert client.retrieve("m", [12345], with_vectors=True)[0].vector == vectors[12345].tolist()
        assert client.get_collection("m").indexed_vectors_count == (n if graph else 0)
    print(f"\n[{engine}, {request.node.callspec.id}] 100k x 128: create {t_create:.2f} s, "
          f"recover {t_recover:.2f} s, file {desc.size / 1e6:.1f} MB, load average {os.getloadavg()[0]:.1f}")


# -- the client surface ---------------------------------------------------------------------------------------------
SNAPSHOT_METHODS = [
    "create_snapshot", "list_snapshots", "delete_snapshot", "recover_snapshot",
    "create_full_snapshot", "list_full_snapshots", "delete_full_snapshot",
]


@pytest.mark.parametrize("name", SNAPSHOT_METHODS)
def test_signatures_follow_qdrant_client(name):
    import inspect

    official = pytest.importorskip("qdrant_client")
    for ours_cls, theirs_cls in ((QdrantClient, official.QdrantClient), (AsyncQdrantClient, official.AsyncQdrantClient)):
        ours, theirs = inspect.signature(getattr(ours_cls, name)), inspect.signature(getattr(theirs_cls, name))
        assert list(ours.parameters) == list(theirs.parameters)
        for pname, param in theirs.parameters.items():
            assert ours.parameters[pname].default == param.default, pname
        assert inspect.iscoroutinefunction(getattr(ours_cls, name)) == (ours_cls is AsyncQdrantClient)


def test_extra_methods_do_not_shadow_qdrant_client_names():
    official = pytest.importorskip("qdrant_client")
    for extra in ("download_snapshot", "download_full_snapshot", "upload_snapshot"):
        assert hasattr(QdrantClient, extra) and hasattr(AsyncQdrantClient, extra)
        assert not hasattr(official.QdrantClient, extra), f"qdrant-client now has {extra}: follow its signature"


# -- the reader on hand-made archives -----------------------------------------------------------------------------
def _rewrite_manifest(src: Path, dst: Path, change) -> Path:
    with tarfile.open(src, "r:") as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()
            if m.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
    return dst


def _add_entry(src: Path, dst: Path, name: str, data: bytes, listed: bool) -> Path:
    with tarfile.open(src, "r:") as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            payload = tin.extractfile(m).read()
            if m.name == "manifest.json" and listed:
                manifest = json.loads(payload)
                manifest["entries"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                payload = json.dumps(manifest).encode()
            m.size = len(payload)
            tout.addfile(m, io.BytesIO(payload))
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
    return dst


@pytest.mark.parametrize("case,error", [
    ("newer-version", "newer than this engine reads"),
    ("other-format", "names format"),
    ("unknown-vector-kind", "of kind 'hologram'"),
    ("wrong-count", "must both hold"),
    ("extra-entry", "not listed in the manifest"),
    ("unused-entry", "not used by anything"),
    ("duplicate-entry", "appears twice"),
    ("index-slot", None),
])
def test_reader_refuses_what_it_cannot_restore(tmp_path, case, error):
    from local_engine.snapshots import SnapshotReader
    from local_engine.errors import EngineError

    _, file = _memory_snapshot(tmp_path, _populate)
    out = tmp_path / f"{case}.snapshot"
    if case == "newer-version":
        _rewrite_manifest(file, out, lambda m: m.update(version=99))
    elif case == "other-format":
        _rewrite_manifest(file, out, lambda m: m.update(format="something-else"))
    elif case == "unknown-vector-kind":
        _rewrite_manifest(file, out, lambda m: m["vectors"]["img"].update(kind="hologram"))
    elif case == "wrong-count":
        _rewrite_manifest(file, out, lambda m: m.update(points_count=m["points_count"] + 1))
    elif case == "extra-entry":
        _add_entry(file, out, "points/extra.json", b"[]", listed=False)
    elif case == "unused-entry":
        _add_entry(file, out, "points/extra.json", b"[]", listed=True)
    elif case == "duplicate-entry":
        _add_entry(file, out, "config.json", b"{}", listed=False)
    else:  # index files listed in `indexes` are verified and, in version 1, not loaded
        data = b"graph bytes"
        _add_entry(file, tmp_path / "tmp.snapshot", "index/hnsw-0/graph.bin", data, listed=True)
        _rewrite_manifest(tmp_path / "tmp.snapshot", out,
                          lambda m: m.update(indexes=[{"kind": "hnsw", "vector": "img", "files": ["index/hnsw-0/graph.bin"]}]))
    if error is None:
        assert SnapshotReader(out).read().points_count == 25
        return
    with pytest.raises(EngineError, match=error):
        SnapshotReader(out).read()


# -- the storage seam recovery uses -----------------------------------------------------------------------------------
def test_sqlite_storage_replace_collection_is_one_switch(tmp_path):
    from local_engine.storage.base import PointRecord
    from local_engine.storage.sqlite import SqliteStorage

    cfg = {"config": {"x": 1}, "payload_schema": {}}
    storage = SqliteStorage(tmp_path / "db")
    old = storage.create_collection("c", cfg)
    old.write([PointRecord(0, 1, {"v": "old"}, {})], [])
    storage.save_aliases({"a": "c"})
    old_dirs = set(os.listdir(tmp_path / "db" / "collections"))

    staged = storage.stage_collection({"config": {"x": 2}, "payload_schema": {}})
    staged.write([PointRecord(0, 2, {"v": "new"}, {})], [])
    assert storage.collection_names() == ["c"] and storage.open_collection("c") is old  # not visible yet
    discarded = storage.stage_collection(cfg)
    storage.discard_staged_collection(discarded)
    assert set(os.listdir(tmp_path / "db" / "collections")) == old_dirs | {staged.directory.name}

    storage.replace_collection("c", staged, {"b": "c"})
    assert old.closed
    assert set(os.listdir(tmp_path / "db" / "collections")) == {staged.directory.name}
    assert storage.open_collection("c") is staged
    storage.close()
    storage = SqliteStorage(tmp_path / "db")
    try:
        assert storage.collection_names() == ["c"]
        assert storage.load_aliases() == {"b": "c"}
        store = storage.open_collection("c")
        assert store.load_config()["config"] == {"x": 2}
        assert store.load().payloads == [{"v": "new"}]
        assert storage.peer_id() == storage.peer_id() > 0
        storage.replace_collection("fresh", storage.stage_collection(cfg), {})  # a new name is created
        assert storage.collection_names() == ["c", "fresh"]
    finally:
        storage.close()


def test_memory_storage_replace_collection_sets_aliases():
    from local_engine.storage.memory import MemoryStorage

    storage = MemoryStorage()
    staged = storage.stage_collection({"config": {}})
    assert not staged.persistent
    storage.replace_collection("c", staged, {"a": "c"})
    assert storage.load_aliases() == {"a": "c"}
    storage.close()
