"""Path-mode storage (``local_engine.storage.sqlite``): real files, real SQLite, real processes.

No mocks: every test writes to a temporary folder and reads back through a fresh
``SqliteStorage``, the way ``QdrantClient(path=...)`` reopens. Figures for ingestion and
reopen speed come from the ``slow``-marked benchmark at the end (run with ``-s`` to see them).
"""

from __future__ import annotations

import logging
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import local_engine
from local_engine.errors import AlreadyExists, NotFound, StorageCorrupted, StorageLocked
from local_engine.storage.base import LoadedPoints, PointRecord, SparseVec
from local_engine.storage.sqlite import SqliteStorage

IMPORT_ROOT = str(Path(local_engine.__file__).parent.parent)


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def storage(data_dir: Path):
    s = SqliteStorage(data_dir)
    yield s
    s.close()


def reopen(storage: SqliteStorage) -> SqliteStorage:
    storage.close()
    return SqliteStorage(storage.path)


def materialise(loaded: LoadedPoints) -> dict[int, tuple]:
    """{offset: (ext_id, payload, {name: value})} as the collection would rebuild it."""
    out = {}
    for i, off in enumerate(loaded.offsets.tolist()):
        vecs = {}
        for name, (matrix, present) in loaded.dense.items():
            if off < len(present) and present[off]:
                vecs[name] = matrix[off]
        for name, values in loaded.vectors.items():
            if off in values:
                vecs[name] = values[off]
        out[off] = (loaded.ext_ids[i], loaded.payloads[i], vecs)
    return out


def same_value(a, b) -> bool:
    if isinstance(a, SparseVec) or isinstance(b, SparseVec):
        return (
            isinstance(a, SparseVec) and isinstance(b, SparseVec)
            and same_value(np.asarray(a.indices), np.asarray(b.indices))
            and same_value(np.asarray(a.values), np.asarray(b.values))
        )
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_matches(loaded: LoadedPoints, model: dict[int, PointRecord]) -> None:
    got = materialise(loaded)
    assert sorted(got) == sorted(model)
    assert loaded.offsets.dtype == np.int64 and list(loaded.offsets) == sorted(model)
    for off, rec in model.items():
        ext_id, payload, vecs = got[off]
        assert type(ext_id) is type(rec.ext_id) and ext_id == rec.ext_id, off
        assert payload == rec.payload, off
        assert sorted(vecs) == sorted(rec.vectors), off
        for name, value in rec.vectors.items():
            assert same_value(vecs[name], value), (off, name)


def dense_point(off: int, dim: int = 4, **payload) -> PointRecord:
    return PointRecord(off, off, dict(payload), {"": np.arange(dim, dtype=np.float32) + off})


def dense_matrices(model: dict[int, PointRecord], names: list[str], rows: int) -> dict:
    """The matrices a collection would hand to checkpoint() for ``model``."""
    out = {}
    for name in names:
        dim = next(len(r.vectors[name]) for r in model.values() if name in r.vectors)
        matrix = np.zeros((rows, dim), dtype=np.float32)
        present = np.zeros(rows, dtype=bool)
        for off, rec in model.items():
            if name in rec.vectors and off < rows:
                matrix[off] = rec.vectors[name]
                present[off] = True
        out[name] = (matrix, present)
    return out


def the_dir(storage: SqliteStorage, name: str) -> Path:
    return storage.open_collection(name).directory


# -- round trips ---------------------------------------------------------------------------------
IDS = [0, 1, 2**63 - 1, 2**63, 2**64 - 1, str(uuid.UUID(int=0)), str(uuid.uuid4()), str(uuid.UUID(int=2**128 - 1))]

PAYLOADS = [
    {},
    {"int": 1, "float": 1.0, "neg_zero": -0.0, "big": 2**70, "neg_big": -(2**65), "f": 0.1 + 0.2},
    {"unicode": "é 漢字 😀", "lone_surrogate": "\ud800", "esc": 'quote " back \\ nl \n tab \t'},
    {"nested": {"a": [1, 2.5, {"b": None, "c": [True, False]}], "empty": {}, "list": []}},
    {"inf": float("inf"), "e": 1e300, "tiny": 5e-324},
]


def all_kinds_point(off: int, ext_id) -> PointRecord:
    rng = np.random.default_rng(off)
    vectors = {
        "": rng.random(5, dtype=np.float32),
        "half": rng.random(3).astype(np.float16),
        "bytes": rng.integers(0, 256, 6).astype(np.uint8),
        "big_endian": rng.random(2).astype(">f4"),
        "multi": rng.random((3, 4), dtype=np.float32),
        "sparse": SparseVec(np.array([1, 7, 4_000_000_000], np.uint32), rng.random(3, dtype=np.float32)),
        "empty_sparse": SparseVec(np.zeros(0, np.uint32), np.zeros(0, np.float32)),
    }
    if off % 2:  # any subset of the vector names
        for name in ("half", "multi", "sparse"):
            del vectors[name]
    if off % 3 == 0:
        vectors["multi_rows_vary"] = rng.random((1 + off % 5, 2), dtype=np.float32)
    return PointRecord(off, ext_id, PAYLOADS[off % len(PAYLOADS)], vectors)


def test_every_id_payload_and_vector_kind_round_trips(storage: SqliteStorage) -> None:
    store = storage.create_collection("kinds", {"params": {"x": 1}})
    model = {off: all_kinds_point(off, ext_id) for off, ext_id in enumerate(IDS)}
    model[20] = PointRecord(20, 20, {"no": "vectors"}, {})
    store.write(list(model.values()), [])
    assert_matches(store.load(), model)
    storage = reopen(storage)
    try:
        store = storage.open_collection("kinds")
        loaded = store.load()
        assert_matches(loaded, model)
        assert loaded.next_offset == 21
        assert store.load_config() == {"params": {"x": 1}}
        # Floats, ints and NaN keep their type exactly.
        ints = loaded.payloads[1]
        assert type(ints["int"]) is int and type(ints["float"]) is float and ints["big"] == 2**70
        assert math.copysign(1, ints["neg_zero"]) == -1
    finally:
        storage.close()


def test_nan_payload_round_trips(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    store.write([PointRecord(0, 0, {"x": float("nan")}, {})], [])
    storage = reopen(storage)
    try:
        assert math.isnan(storage.open_collection("c").load().payloads[0]["x"])
    finally:
        storage.close()


def test_upsert_replaces_the_whole_row(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    first = PointRecord(3, 3, {"a": 1, "b": 2}, {
        "": np.ones(4, np.float32), "s": SparseVec(np.array([1], np.uint32), np.array([1.0], np.float32)),
        "m": np.ones((2, 2), np.float32),
    })
    store.write([first], [])
    second = PointRecord(3, str(uuid.UUID(int=3)), {"c": 3}, {"": np.zeros(4, np.float32)})
    store.write([second], [])
    assert_matches(store.load(), {3: second})
    storage = reopen(storage)
    try:
        assert_matches(storage.open_collection("c").load(), {3: second})
    finally:
        storage.close()


def test_same_offset_twice_in_one_batch_keeps_the_last(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    a = PointRecord(0, 0, {"v": 1}, {"s": SparseVec(np.array([1], np.uint32), np.array([1.0], np.float32))})
    b = PointRecord(0, 0, {"v": 2}, {"": np.ones(2, np.float32)})
    store.write([a, b], [])
    assert_matches(store.load(), {0: b})


def test_deletes(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i, k=i) for i in range(10)}
    store.write(list(model.values()), [])
    store.write([], np.array([2, 9, 42]))  # numpy offsets are fine; 42 never existed
    del model[2], model[9]
    storage = reopen(storage)
    try:
        loaded = storage.open_collection("c").load()
        assert_matches(loaded, model)
        assert loaded.next_offset == 10  # the deleted highest offset stays used
    finally:
        storage.close()


def test_load_reads_points_in_chunks_that_fit_sqlite_string_limit(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i, text=f"{i:04d}" + "x" * 1000) for i in range(300)}
    store.write(list(model.values()), [])
    storage = reopen(storage)
    try:
        store = storage.open_collection("c")
        # SQLite's own limit on a string's length (1e9 bytes by default), lowered so that one
        # concatenated chunk of 300 payloads (~300 KB) no longer fits in it.
        store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 50_000)
        assert_matches(store.load(), model)
    finally:
        storage.close()


def test_sequence_numbers_increase_per_write(storage: SqliteStorage, data_dir: Path) -> None:
    store = storage.create_collection("c", {})
    store.write([dense_point(0)], [])
    store.write([dense_point(1), dense_point(2)], [])
    store.write([], [])  # nothing to do: no transaction
    store.write([dense_point(0)], [1])
    assert store.sequence == 3
    db = store.db_path
    storage.close()
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT offset, seq FROM points"))
    assert rows == {0: 3, 2: 2}


# -- checkpoints ----------------------------------------------------------------------------------
def test_checkpoint_tail_and_deletes_after_it(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    rng = np.random.default_rng(1)
    model = {
        i: PointRecord(i, i, {"i": i}, {
            "": rng.random(8, dtype=np.float32),
            "b": rng.random(3, dtype=np.float32),
            "s": SparseVec(np.array([i], np.uint32), np.array([0.5], np.float32)),
        })
        for i in range(100)
    }
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, ["", "b"], 100))
    assert store.watermark == store.sequence

    # After the checkpoint: new rows, a rewrite that drops vector "b", deletes.
    tail = {i: PointRecord(i, i, {"t": i}, {"": rng.random(8, dtype=np.float32)}) for i in range(100, 120)}
    store.write(list(tail.values()), [])
    model.update(tail)
    model[5] = PointRecord(5, 5, {"rewritten": True}, {"": np.full(8, 5, np.float32)})
    store.write([model[5]], [7, 10, 110])
    for off in (7, 10, 110):
        del model[off]

    storage = reopen(storage)
    try:
        loaded = storage.open_collection("c").load()
        assert_matches(loaded, model)
        assert set(loaded.dense) == {"", "b"}
        # Only rows written after the watermark come back as individual dense values.
        assert set(loaded.vectors[""]) == {5} | (set(range(100, 120)) - {110})
        assert "b" not in loaded.vectors
        assert len(loaded.vectors["s"]) == len([r for r in model.values() if "s" in r.vectors])
        matrix_b, present_b = loaded.dense["b"]
        assert not present_b[5] and not present_b[7] and not present_b[10] and present_b[6]
    finally:
        storage.close()


def test_checkpoint_that_covers_only_some_names(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: PointRecord(i, i, {}, {"": np.full(2, i, np.float32), "other": np.full(3, -i, np.float32)}) for i in range(30)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 20))  # one name, and fewer rows than exist
    storage = reopen(storage)
    try:
        loaded = storage.open_collection("c").load()
        assert_matches(loaded, model)
        assert set(loaded.vectors["other"]) == set(range(30))
        assert set(loaded.vectors[""]) == set(range(20, 30))
    finally:
        storage.close()


def test_checkpoint_replaces_files_and_skips_when_nothing_changed(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i) for i in range(10)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 10))
    first = sorted(p.name for p in store.directory.glob("ckpt-*"))
    store.checkpoint(dense_matrices(model, [""], 10))  # nothing written since: no new files
    assert sorted(p.name for p in store.directory.glob("ckpt-*")) == first
    model[10] = dense_point(10)
    store.write([model[10]], [])
    store.checkpoint(dense_matrices(model, [""], 11))
    second = sorted(p.name for p in store.directory.glob("ckpt-*"))
    assert len(second) == 2 and not set(first) & set(second)  # fresh names, old files deleted
    storage = reopen(storage)
    try:
        loaded = storage.open_collection("c").load()
        assert_matches(loaded, model)
        assert loaded.vectors == {}
    finally:
        storage.close()


def test_wants_checkpoint_after_enough_rows(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    store.write([PointRecord(i, i, {}, {}) for i in range(10_000)], [])
    assert not store.wants_checkpoint()  # 10,000 is not more than max(10,000, 20 % of 10,000)
    store.write([PointRecord(10_000, 10_000, {}, {})], [])
    assert store.wants_checkpoint()
    store.checkpoint({})
    assert not store.wants_checkpoint()
    storage = reopen(storage)
    try:
        store = storage.open_collection("c")
        assert not store.wants_checkpoint()
        store.write([PointRecord(i, i, {"again": 1}, {}) for i in range(10_001)], [])  # rewrites count too
        assert store.wants_checkpoint()
    finally:
        storage.close()


def test_stale_checkpoint_files_are_swept_on_open(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i) for i in range(5)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 5))
    directory = store.directory
    # What a crash between writing new checkpoint files and publishing them leaves behind:
    (directory / "ckpt-99999999-000.npy").write_bytes(b"half written")
    (directory / "ckpt-99999999-000.npy.tmp").write_bytes(b"half written")
    storage = reopen(storage)
    try:
        assert_matches(storage.open_collection("c").load(), model)
        assert not (directory / "ckpt-99999999-000.npy").exists()
        assert not (directory / "ckpt-99999999-000.npy.tmp").exists()
        assert len(list(directory.glob("ckpt-*"))) == 2
    finally:
        storage.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_checkpoint_is_detected_and_rebuilt_from_rows(
    storage: SqliteStorage, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i, dim=16) for i in range(50)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 50))
    matrix_file = next(p for p in store.directory.glob("ckpt-*.npy") if not p.name.endswith(".present.npy"))
    storage.close()
    if damage == "flip":
        raw = bytearray(matrix_file.read_bytes())
        raw[-7] ^= 0x40
        matrix_file.write_bytes(bytes(raw))
    elif damage == "truncate":
        matrix_file.write_bytes(matrix_file.read_bytes()[:-100])
    else:
        matrix_file.unlink()
    storage = SqliteStorage(storage.path)
    try:
        store = storage.open_collection("c")
        with caplog.at_level(logging.WARNING, logger="local_engine.storage"):
            loaded = store.load()
        assert str(matrix_file) in caplog.text and "rebuilding" in caplog.text
        assert_matches(loaded, model)
        assert loaded.dense == {} and len(loaded.vectors[""]) == 50  # every vector from the rows
        assert store.watermark == 0  # the bad checkpoint is forgotten; the next one replaces it
        store.checkpoint(dense_matrices(model, [""], 50))
        storage = reopen(storage)
        assert_matches(storage.open_collection("c").load(), model)
    finally:
        storage.close()


# -- SQLite corruption ------------------------------------------------------------------------------
def test_corrupted_collection_database_raises_storage_corrupted(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    store.write([dense_point(i) for i in range(100)], [])
    db = store.db_path
    storage.close()
    raw = bytearray(db.read_bytes())
    raw[:100] = b"\x07" * 100  # the header: no longer a SQLite file
    db.write_bytes(bytes(raw))
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted) as info:
            storage.open_collection("c").load()
        assert str(db) in info.value.message
    finally:
        storage.close()


def test_corrupted_pages_raise_storage_corrupted(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    store.write([dense_point(i, dim=64, text="x" * 50) for i in range(2000)], [])
    db = store.db_path
    storage.close()
    raw = bytearray(db.read_bytes())
    page, noise = 4096, random.Random(0)
    for start in range(3 * page, len(raw), 5 * page):  # scribble over b-tree page headers
        raw[start : start + 64] = noise.randbytes(64)
    db.write_bytes(bytes(raw))
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted) as info:
            storage.open_collection("c").load()
        assert str(db) in info.value.message
    finally:
        storage.close()


def _tamper(db: Path, sql: str, *args) -> None:
    """Change a value behind the store's back, the way a flipped bit inside a row would."""
    conn = sqlite3.connect(db)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", [
    "UPDATE points SET payload = '{\"text\":\"y\"}' WHERE offset = 7",      # another payload
    "UPDATE points SET ext_id = 8 WHERE offset = 7",                            # another id
    "UPDATE points SET seq = seq + 1 WHERE offset = 7",                         # another sequence number
    "UPDATE dense SET data = zeroblob(16) WHERE offset = 7",                    # another vector
    "UPDATE dense SET offset = 1007 WHERE offset = 7",                          # a vector row moved
    "UPDATE other SET data = zeroblob(length(data)) WHERE offset = 7",          # another multivector
    "UPDATE points SET crc = crc + 1 WHERE offset = 7",                         # the checksum itself
])
def test_a_changed_row_value_fails_its_crc(storage: SqliteStorage, damage: str) -> None:
    store = storage.create_collection("c", {})
    points = [dense_point(i, text="x") for i in range(20)]
    for p in points:
        p.vectors["multi"] = np.ones((2, 3), np.float32) * p.offset
    store.write(points, [])
    db = store.db_path
    storage.close()
    _tamper(db, damage)
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted) as info:
            storage.open_collection("c").load()
        assert str(db) in info.value.message and "offset 7 " in info.value.message.replace("1007", "7")
        assert "CRC-32" in info.value.message
    finally:
        storage.close()


@pytest.mark.parametrize("damage, message", [
    ("UPDATE state SET watermark = watermark + 1", "state row failed its CRC-32 check"),   # stale checkpoint rows served
    ("UPDATE state SET config = '{}'", "state row failed its CRC-32 check"),
    ("DELETE FROM points WHERE offset = 3", "holds 19 point rows, its state row says 20"),  # a row (or a table) gone
])
def test_a_changed_state_row_or_a_lost_point_row_is_detected(storage: SqliteStorage, damage: str, message: str) -> None:
    store = storage.create_collection("c", {"x": 1})
    model = {i: dense_point(i) for i in range(20)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 20))
    store.write([dense_point(5, text="after the checkpoint")], [])
    db = store.db_path
    storage.close()
    _tamper(db, damage)
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted, match=message):
            storage.open_collection("c").load()
    finally:
        storage.close()


def test_a_vector_row_a_checkpoint_covers_is_checked_once_it_is_read(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i) for i in range(30)}
    store.write(list(model.values()), [])
    store.checkpoint(dense_matrices(model, [""], 30))
    db, directory = store.db_path, store.directory
    storage.close()
    _tamper(db, "UPDATE dense SET data = zeroblob(16) WHERE offset = 3")
    storage = SqliteStorage(storage.path)
    try:
        assert_matches(storage.open_collection("c").load(), model)   # served from the checkpoint
    finally:
        storage.close()
    for f in directory.glob("ckpt-*.present.npy"):
        f.unlink()   # the checkpoint is dropped: the rows are read, and the damaged one fails
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted, match="dense vector row at offset 3 failed its CRC-32 check"):
            storage.open_collection("c").load()
    finally:
        storage.close()


def test_rows_of_a_store_without_crcs_load_unchecked_and_get_one_when_rewritten(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: all_kinds_point(i, i) for i in range(10)}
    store.write(list(model.values()), [])
    db = store.db_path
    storage.close()
    conn = sqlite3.connect(db)   # what a store written before rows had CRCs looks like
    for table in ("points", "dense", "other", "state"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN crc")
    conn.execute("ALTER TABLE state DROP COLUMN live")
    conn.commit()
    conn.close()
    storage = SqliteStorage(storage.path)
    try:
        store = storage.open_collection("c")
        assert_matches(store.load(), model)
        model[3] = all_kinds_point(3, 3)
        model[3].payload = {"rewritten": True}
        model[11] = all_kinds_point(11, 11)
        store.write([model[3], model[11]], [])
    finally:
        storage.close()
    conn = sqlite3.connect(db)
    for table in ("points", "dense", "other"):
        with_crc = {o for (o,) in conn.execute(f"SELECT offset FROM {table} WHERE crc IS NOT NULL")}
        assert with_crc == {o for (o,) in conn.execute(f"SELECT offset FROM {table}")} & {3, 11}, table
    conn.close()
    _tamper(db, "UPDATE points SET payload = '{\"rewritten\":false}' WHERE offset = 3")
    storage = SqliteStorage(storage.path)
    try:
        with pytest.raises(StorageCorrupted, match="offset 3 failed its CRC-32"):
            storage.open_collection("c").load()
    finally:
        storage.close()


def test_corrupted_root_database_raises_and_releases_the_lock(data_dir: Path) -> None:
    SqliteStorage(data_dir).close()
    (data_dir / "storage.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageCorrupted) as info:
        SqliteStorage(data_dir)
    assert "storage.sqlite" in info.value.message
    with pytest.raises(StorageCorrupted):  # not StorageLocked: the failed open let go
        SqliteStorage(data_dir)


# -- the owner lock ---------------------------------------------------------------------------------
def test_second_opener_in_the_same_process_is_locked_out(storage: SqliteStorage, data_dir: Path) -> None:
    with pytest.raises(StorageLocked) as info:
        SqliteStorage(data_dir)
    assert str(data_dir) in info.value.message and "another client instance" in info.value.message
    storage.close()
    SqliteStorage(data_dir).close()  # released by close()


def test_second_opener_in_another_process_is_locked_out(storage: SqliteStorage, data_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from local_engine.errors import StorageLocked
        from local_engine.storage.sqlite import SqliteStorage
        try:
            SqliteStorage({str(data_dir)!r}).close()
        except StorageLocked as e:
            print("LOCKED", e.message)
            sys.exit(0)
        print("OPENED")
        """
    )
    result = _run_python(code)
    assert result.stdout.startswith("LOCKED") and str(data_dir) in result.stdout, result.stderr
    storage.close()
    result = _run_python(code)
    assert result.stdout.startswith("OPENED"), result.stderr


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=IMPORT_ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


# -- collections, aliases, config -------------------------------------------------------------------
NAMES = ["plain", "../escape", "a/b\\c", "", "ünïcødé 漢字", "CON", "x" * 300, ".", "with\nnewline"]


def test_collection_names_are_arbitrary_and_never_paths(storage: SqliteStorage, data_dir: Path) -> None:
    for i, name in enumerate(NAMES):
        storage.create_collection(name, {"i": i}).write([dense_point(0, tag=name)], [])
    storage = reopen(storage)
    try:
        assert storage.collection_names() == NAMES
        for i, name in enumerate(NAMES):
            store = storage.open_collection(name)
            assert store.load_config() == {"i": i}
            assert store.load().payloads == [{"tag": name}]
            assert store.directory.parent == data_dir / "collections"
        assert len(os.listdir(data_dir / "collections")) == len(NAMES)
        with pytest.raises(AlreadyExists):
            storage.create_collection("plain", {})
        with pytest.raises(NotFound):
            storage.open_collection("missing")
    finally:
        storage.close()


def test_drop_and_reopen(storage: SqliteStorage, data_dir: Path) -> None:
    storage.create_collection("a", {}).write([dense_point(0)], [])
    storage.create_collection("b", {}).write([dense_point(0)], [])
    storage.drop_collection("a")
    storage.drop_collection("never existed")
    assert storage.collection_names() == ["b"]
    assert len(os.listdir(data_dir / "collections")) == 1
    storage = reopen(storage)
    try:
        assert storage.collection_names() == ["b"]
        store = storage.create_collection("a", {"new": True})  # same name, fresh directory
        assert store.load().offsets.size == 0 and store.load_config() == {"new": True}
    finally:
        storage.close()


def test_crash_mid_drop_or_mid_create_leaves_no_half_collection(storage: SqliteStorage, data_dir: Path) -> None:
    storage.create_collection("dropped", {}).write([dense_point(0)], [])
    storage.create_collection("kept", {}).write([dense_point(0)], [])
    dropped_dir = the_dir(storage, "dropped")
    storage.close()
    # A crash right after the root row was deleted, before the directory was removed:
    with sqlite3.connect(data_dir / "storage.sqlite") as conn:
        conn.execute("DELETE FROM collections WHERE name = 'dropped'")
    conn.close()
    # A crash mid-create: the directory exists, no root row names it.
    half = data_dir / "collections" / "c-half-created"
    half.mkdir()
    (half / "points.sqlite").write_bytes(b"")
    storage = SqliteStorage(data_dir)
    try:
        assert storage.collection_names() == ["kept"]
        assert not dropped_dir.exists() and not half.exists()
        assert storage.open_collection("kept").load().offsets.tolist() == [0]
    finally:
        storage.close()


def test_aliases_and_config_persist(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {"v": 1})
    store.save_config({"v": 2, "nested": {"hnsw": {"m": 16}}, "f": 1.0})
    storage.save_aliases({"alias one": "c", "ünï": "c"})
    storage.save_aliases({"alias two": "c"})
    storage = reopen(storage)
    try:
        assert storage.load_aliases() == {"alias two": "c"}
        config = storage.open_collection("c").load_config()
        assert config == {"v": 2, "nested": {"hnsw": {"m": 16}}, "f": 1.0} and type(config["f"]) is float
    finally:
        storage.close()


def test_store_can_be_used_from_another_thread(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    errors = []

    def work() -> None:
        try:
            store.write([dense_point(i) for i in range(10)], [3])
            storage.save_aliases({"a": "c"})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == []
    assert store.load().offsets.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9]


# -- atomicity ---------------------------------------------------------------------------------------
class Unserialisable:
    pass


def test_interrupted_write_leaves_the_store_unchanged(storage: SqliteStorage) -> None:
    store = storage.create_collection("c", {})
    model = {i: dense_point(i, k=i) for i in range(10)}
    store.write(list(model.values()), [])
    seq = store.sequence
    # A batch that rewrites, adds (with a never-seen vector layout) and deletes, and fails on its
    # last point, after the earlier rows were already inserted inside the transaction.
    bad = [
        PointRecord(1, 1, {"rewritten": True}, {"": np.zeros(4, np.float32)}),
        PointRecord(10, 10, {}, {"half": np.ones(3, np.float16), "s": SparseVec(np.array([2], np.uint32), np.ones(1, np.float32))}),
        PointRecord(11, 11, {"oops": Unserialisable()}, {}),
    ]
    with pytest.raises(TypeError):
        store.write(bad, [2, 3])
    bad_vector = [PointRecord(12, 12, {}, {"": np.ones(4, np.float32)}), PointRecord(13, 13, {}, {"": [1.0, 2.0]})]
    with pytest.raises(TypeError):
        store.write(bad_vector, [4])
    assert store.sequence == seq
    loaded = store.load()
    assert_matches(loaded, model)
    assert loaded.next_offset == 10
    # The same layout, now written for real, must be registered properly (not half-remembered).
    good = PointRecord(10, 10, {}, {"half": np.ones(3, np.float16)})
    store.write([good], [])
    model[10] = good
    storage = reopen(storage)
    try:
        assert_matches(storage.open_collection("c").load(), model)
    finally:
        storage.close()


CRASH_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from local_engine.storage.base import PointRecord
    from local_engine.storage.sqlite import SqliteStorage

    path, B, DIM = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    storage = SqliteStorage(path)
    store = storage.create_collection("crash", {})
    matrix = np.zeros((200_000, DIM), np.float32)
    present = np.zeros(200_000, bool)
    i = 0
    while True:
        ups = [
            PointRecord(i * B + k, i * B + k, {"batch": i, "k": k, "text": "t" * k},
                        {"": np.full(DIM, i * 1000 + k, np.float32)})
            for k in range(B)
        ]
        deletes = [(i - 1) * B] if i else []
        store.write(ups, deletes)
        for u in ups:
            matrix[u.offset] = u.vectors[""]
            present[u.offset] = True
        present[deletes] = False
        print(i, flush=True)          # acknowledged: write() returned
        if i % 7 == 6:
            rows = (i + 1) * B
            store.checkpoint({"": (matrix[:rows], present[:rows])})
        i += 1
    """
)


def test_sigkill_at_random_moments_keeps_every_acknowledged_batch(tmp_path: Path) -> None:
    B, DIM = 20, 16
    rng = random.Random(os.getpid())
    env = dict(os.environ, PYTHONPATH=IMPORT_ROOT)
    for round_no in range(4):
        path = tmp_path / f"crash{round_no}"
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(path), str(B), str(DIM)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        first = proc.stdout.readline()
        assert first.strip() == "0", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        # Read through proc.stdout (not communicate(), which reads the raw pipe and would skip
        # lines readline() already buffered).
        rest, errors = proc.stdout.read(), proc.stderr.read()
        proc.wait(timeout=30)
        acked = [int(line) for line in (first + rest).split()]
        last_ack = acked[-1]
        assert acked == list(range(last_ack + 1)), errors

        storage = SqliteStorage(path)
        try:
            loaded = storage.open_collection("crash").load()
        finally:
            storage.close()
        got = materialise(loaded)
        batches = {payload["batch"] for _, payload, _ in got.values()}
        m = max(batches)
        assert batches == set(range(m + 1)), f"a batch is missing in the middle (acknowledged up to {last_ack})"
        assert last_ack <= m <= last_ack + 1, (last_ack, m)  # at most the unacknowledged one in flight
        for j in range(m + 1):
            for k in range(B):
                off = j * B + k
                if k == 0 and j < m:
                    assert off not in got, f"batch {j + 1} committed but its delete is missing"
                    continue
                ext_id, payload, vecs = got[off]  # KeyError = a partial batch
                assert ext_id == off and payload == {"batch": j, "k": k, "text": "t" * k}
                assert same_value(vecs[""], np.full(DIM, j * 1000 + k, np.float32)), (j, k)
        assert len(got) == m * (B - 1) + B


# -- measured figures ------------------------------------------------------------------------------
@pytest.mark.slow
def test_benchmark_ingest_and_reopen(tmp_path: Path) -> None:
    """Prints ingest points/s (batches of 64 and 1,000) and reopen times for 100k x 128-d.

    python -m pytest compat_tests/test_sqlite_storage.py -m slow -s
    """
    n, dim = 100_000, 128
    vectors = np.random.default_rng(0).random((n, dim), dtype=np.float32)
    lines = []
    for batch in (64, 1000):
        records = [
            [PointRecord(i, i, {"group": i % 100, "text": f"point number {i}"}, {"": vectors[i]}) for i in range(lo, min(lo + batch, n))]
            for lo in range(0, n, batch)
        ]
        path = tmp_path / f"bench{batch}"
        storage = SqliteStorage(path)
        store = storage.create_collection("bench", {})
        start, cpu = time.perf_counter(), time.process_time()
        for chunk in records:
            store.write(chunk, [])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        lines.append(
            f"ingest, batches of {batch:>5}: {n / elapsed:>9,.0f} points/s wall, {n / cpu:>9,.0f} points/s of CPU time"
        )
        storage.close()
        del records
    for label in ("without checkpoint", "with checkpoint"):
        storage = SqliteStorage(path)
        store = storage.open_collection("bench")
        if label == "with checkpoint":
            start = time.perf_counter()
            store.checkpoint({"": (vectors, np.ones(n, bool))})
            lines.append(f"checkpoint of {n:,} x {dim}: {time.perf_counter() - start:.2f} s")
            storage = reopen(storage)
        best = math.inf
        for _ in range(3):
            storage.close()
            start = time.perf_counter()
            storage = SqliteStorage(path)
            loaded = storage.open_collection("bench").load()
            best = min(best, time.perf_counter() - start)
        storage.close()
        assert len(loaded.offsets) == n
        lines.append(f"reopen {n:,} x {dim} {label}: {best * 1000:.0f} ms (best of 3)")
    print("\n" + "\n".join(lines))
