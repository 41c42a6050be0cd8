"""One collection on disk: ``<collection dir>/points.sqlite`` plus checkpoint ``.npy`` files.

The invariants this module keeps (read them before changing anything below):

1. SQLite rows are the truth. Every point lives whole in ``points`` (+ ``dense``/``other``
   for its vectors); a checkpoint is only a cache of dense vectors and can always be rebuilt
   from the rows. So a bad checkpoint costs time on reopen, never data.
2. One ``write`` = one SQLite transaction = one new sequence number. In-memory counters change
   only after COMMIT succeeded; any exception (a payload json can't encode, a bad vector, a
   KeyboardInterrupt) rolls the transaction back and leaves the store as it was.
3. A checkpoint is published by one transaction that names its files and the sequence-number
   watermark they cover. Files are durable (fsync + rename + directory fsync) before that
   transaction, which itself is synced (``synchronous=FULL`` for it); old files are deleted
   only after it. Files no transaction names are garbage and are swept on open.
4. The set of live offsets always comes from ``points``. Checkpoint rows of offsets deleted
   or rewritten after the watermark are masked out (``present=False``) on load.

5. Every row of ``points``, ``dense`` and ``other`` carries a CRC-32 of its values (``crc``),
   written with the row and verified whenever the row is read (``load``); a mismatch is
   ``StorageCorrupted`` naming the file and the row. ``points.crc`` is the CRC-32 of the
   payload text started from a 32-bit mix of offset, id and seq (``_row_seeds``);
   ``dense.crc`` / ``other.crc`` the CRC-32 of the encoded vector bytes started from a mix of
   offset and layout id (``_SEED_MUL``). So a changed value, a row moved to another offset or
   a changed type byte all fail the check. The column was added after
   format 1 shipped: it is added on open when missing, and a NULL ``crc`` (a row written
   before) is not checked; such rows get a CRC when they are next written.

Schema (``PRAGMA user_version = 1``)::

    state(id=1, seq, next_offset, watermark, generation, config)   -- one row
    points(offset INTEGER PRIMARY KEY, ext_id, payload TEXT, seq, crc)
    dense(offset INTEGER PRIMARY KEY, layout, data BLOB, crc)      -- dense 1-D vectors
    other(offset INTEGER PRIMARY KEY, layout, data BLOB, crc)      -- multivectors, sparse
    layouts(id INTEGER PRIMARY KEY, spec TEXT UNIQUE, first_seq)   -- see _vector_codec
    checkpoint(name TEXT PRIMARY KEY, rows, file, size, crc, present_file, present_size, present_crc)
    blobs(key TEXT PRIMARY KEY, file, size, crc, watermark)        -- derived files (HNSW graphs)

``blobs`` (added after format 1 shipped) is created on open when missing. Each row names a
``blob-*.bin`` file published like a checkpoint (durable file first, then the synced row, old
file deleted last) with the sequence-number watermark its contents reflect.

``ext_id`` holds an int id as a signed 64-bit value (ids >= 2**63 are stored minus 2**64 and
restored on load) or a UUID as TEXT; the column's type tells which. ``payload`` is compact
JSON text (``ensure_ascii``, so lone surrogates survive too).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sqlite3
import threading
import uuid
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import EngineError, StorageCorrupted, Unsupported
from ._files import fsync_dir, read_npy, write_npy
from ._vector_codec import LayoutRegistry, decode_group, layout_spec, parse_spec
from .base import CollectionStore, LoadedPoints, PointRecord

log = logging.getLogger("local_engine.storage")

FORMAT_VERSION = 1
DB_NAME = "points.sqlite"
_TWO64 = 2**64
_TWO63 = 2**63


def _make_payload_encoder() -> Callable[[Any], str]:
    """Compact, ASCII-only JSON (lone surrogates survive SQLite's UTF-8). Uses the C encoder
    directly when it matches the stdlib's output: ``JSONEncoder.encode`` rebuilds it per call,
    which costs about as much as encoding a small payload.
    """
    slow = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    try:
        from json.encoder import c_make_encoder, encode_basestring_ascii

        fast_iter = c_make_encoder(None, slow.default, encode_basestring_ascii, None, ":", ",", False, False, True)

        def fast(obj: Any) -> str:
            return "".join(fast_iter(obj, 0))

        sample = {"a": [1, 1.0, -0.0, 2**70, float("nan"), "\u00e9\ud800", None, True, {"b": []}]}
        if fast(sample) == slow.encode(sample):
            return fast
    except Exception:  # pragma: no cover - another Python implementation
        pass
    return slow.encode  # pragma: no cover


_encode_payload = _make_payload_encoder()
_MIN_CHECKPOINT_ROWS = 10_000  # wants_checkpoint(): rows written since > max(this, fraction * live)
_CHECKPOINT_FRACTION = 0.2
_LOAD_CHUNK = 262_144  # offsets per chunk of _load_points
_MAX_OFFSET = 2**63 - 1
# One chunk of ``points`` as JSON array bodies, one per column. All four aggregates consume the
# same rows in the same order, so the columns stay aligned whatever that order is.
# One chunk of ``points`` as one text per column. All aggregates consume the same rows in the
# same order, so the columns stay aligned whatever that order is. Payloads are separated by \x1e
# (JSON text never holds a raw control character), so Python can cut them apart for their CRCs.
_ROW_SEP = "\x1e"
_POINTS_CHUNK_SQL = f"""
SELECT count(*), group_concat(offset), group_concat(id_json), group_concat(seq),
       group_concat(payload, '{_ROW_SEP}'), group_concat(ifnull(crc, -1))
FROM (
    SELECT offset, seq, payload, crc,
           CASE typeof(ext_id) WHEN 'integer' THEN ext_id ELSE json_quote(ext_id) END AS id_json
    FROM points WHERE offset >= ? AND offset < ?
)
"""
_NO_CRC = -1  # a NULL crc: a row written before rows had CRCs (not checked)
# A vector row's CRC-32 starts from (offset * _SEED_MUL + layout) mod 2**32 instead of 0, so it also
# covers where the row sits and how it is cut (an odd multiplier: distinct offsets, distinct seeds).
_SEED_MUL = 0x9E3779B1
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
# A point row's CRC-32 is that of its payload text started from a 32-bit mix of its offset, id
# and seq (``_row_seeds``): any change of one of them changes the start, hence the CRC. An int id
# enters as its stored signed 64-bit value, a UUID as the CRC-32 of its text with bit 40 set.
_MIX_OFF, _MIX_ID, _MIX_SEQ = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_UUID_KEY = 1 << 40


def _state_crc(seq: int, next_offset: int, watermark: int, generation: int, live: int, config: str) -> int:
    """CRC-32 of the state row: the counters, the live point count and the config text."""
    return zlib.crc32(f"{seq},{next_offset},{watermark},{generation},{live},{config}".encode("utf-8", "surrogatepass"))


def _row_seeds(offsets: np.ndarray, keys: np.ndarray, seqs: np.ndarray) -> np.ndarray:
    """The CRC start of each point row (int64 arrays in, uint64 out); ``_write`` computes the
    same per row with Python ints: x = off*A ^ key*B ^ seq*C (mod 2**64), folded to 32 bits."""
    u = np.uint64
    with np.errstate(over="ignore"):
        x = (offsets.astype(u) * u(_MIX_OFF)) ^ (keys.astype(u) * u(_MIX_ID)) ^ (seqs.astype(u) * u(_MIX_SEQ))
    return (x ^ (x >> u(32))) & u(_U32)

_SCHEMA = """
CREATE TABLE state(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    watermark INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    config TEXT NOT NULL,
    live INTEGER,
    crc INTEGER
);
CREATE TABLE points(offset INTEGER PRIMARY KEY, ext_id NOT NULL, payload TEXT NOT NULL, seq INTEGER NOT NULL, crc INTEGER);
CREATE TABLE dense(offset INTEGER PRIMARY KEY, layout INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER);
CREATE TABLE other(offset INTEGER PRIMARY KEY, layout INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER);
CREATE TABLE layouts(id INTEGER PRIMARY KEY, spec TEXT NOT NULL UNIQUE, first_seq INTEGER NOT NULL);
CREATE TABLE checkpoint(
    name TEXT PRIMARY KEY, rows INTEGER NOT NULL,
    file TEXT NOT NULL, size INTEGER NOT NULL, crc INTEGER NOT NULL,
    present_file TEXT NOT NULL, present_size INTEGER NOT NULL, present_crc INTEGER NOT NULL
);
""" + """
CREATE TABLE blobs(
    key TEXT PRIMARY KEY, file TEXT NOT NULL, size INTEGER NOT NULL, crc INTEGER NOT NULL, watermark INTEGER NOT NULL
);
"""
_BLOBS_TABLE = (
    "CREATE TABLE IF NOT EXISTS blobs(key TEXT PRIMARY KEY, file TEXT NOT NULL, size INTEGER NOT NULL,"
    " crc INTEGER NOT NULL, watermark INTEGER NOT NULL)"
)

_CORRUPTION_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
# Vacuum (docs/durability.md): when more than this fraction of the file's pages are free (and at
# least _VACUUM_MIN_PAGES), the free pages are given back to the file system.
_VACUUM_FRACTION = 0.25
_VACUUM_MIN_PAGES = 256


@contextmanager
def sqlite_errors(db_path: Path) -> Iterator[None]:
    """Turn SQLite's corruption errors into ``StorageCorrupted`` naming the database file."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        name = getattr(e, "sqlite_errorname", "")
        if name in _CORRUPTION_CODES or type(e) is sqlite3.DatabaseError:
            raise StorageCorrupted(f"database file {db_path} is corrupted: {e}") from e
        if isinstance(e, sqlite3.OperationalError) and str(e).startswith("Could not decode to UTF-8"):
            # a damaged TEXT value: Python's sqlite3 cannot even return it
            raise StorageCorrupted(f"database file {db_path} is corrupted: {e}") from e
        raise


def connect(db_path: Path, *, create: bool, synchronous: str) -> sqlite3.Connection:
    """Open a SQLite file in WAL mode, autocommit (transactions are explicit BEGIN/COMMIT)."""
    if not create and not db_path.exists():
        raise StorageCorrupted(f"database file {db_path} is missing")
    new = create and (not db_path.exists() or db_path.stat().st_size == 0)
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        with sqlite_errors(db_path):
            if new:  # only effective before the first table (and before WAL writes the header)
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":  # pragma: no cover - e.g. a file system without shared memory
                raise Unsupported(f"SQLite WAL journal mode is not available for {db_path} (got {mode!r})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteCollectionStore(CollectionStore):
    """The ``CollectionStore`` of path mode. Thread-safe (one lock); see the module docstring."""

    def __init__(self, directory: Path, *, create_with_config: dict[str, Any] | None = None) -> None:
        self.directory = directory
        self.db_path = directory / DB_NAME
        self._lock = threading.RLock()
        create = create_with_config is not None
        self._conn: sqlite3.Connection | None = connect(self.db_path, create=create, synchronous="NORMAL")
        try:
            with sqlite_errors(self.db_path):
                if create:
                    self._create_schema(create_with_config)
                self._read_state()
            self._sweep_files()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # -- opening ------------------------------------------------------------------------------
    def _create_schema(self, config: dict[str, Any]) -> None:
        conn = self._db()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            text = json.dumps(config)
            conn.execute(
                "INSERT INTO state(id, seq, next_offset, watermark, generation, config, live, crc)"
                " VALUES (1, 0, 0, 0, 0, ?, 0, ?)",
                (text, _state_crc(0, 0, 0, 0, 0, text)),
            )
            conn.execute(f"PRAGMA user_version={FORMAT_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("PRAGMA synchronous=NORMAL")
        fsync_dir(self.directory)

    def _read_state(self) -> None:
        conn = self._db()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != FORMAT_VERSION:
            if version > FORMAT_VERSION:
                raise Unsupported(f"{self.db_path} uses storage format {version}; this engine reads format {FORMAT_VERSION}")
            raise StorageCorrupted(f"database file {self.db_path} has no collection schema (format {version})")
        if "crc" not in {r[1] for r in conn.execute("PRAGMA table_info(state)")}:  # written before state had a CRC
            conn.execute("ALTER TABLE state ADD COLUMN live INTEGER")
            conn.execute("ALTER TABLE state ADD COLUMN crc INTEGER")
        row = conn.execute(
            "SELECT seq, next_offset, watermark, generation, live, config, crc FROM state WHERE id = 1"
        ).fetchone()
        if row is None:
            raise StorageCorrupted(f"database file {self.db_path} has no state row")
        self._seq, self._next_offset, self._watermark, self._generation, self._live, self._config_text, crc = row
        if crc is None:   # an older store: count the points once and start checking from now on
            self._live = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            self._set_state(conn, self._seq, self._next_offset, self._watermark, self._generation, self._live,
                            self._config_text)
        elif not isinstance(self._config_text, str) or crc != _state_crc(
                self._seq, self._next_offset, self._watermark, self._generation, self._live, self._config_text):
            raise StorageCorrupted(f"database file {self.db_path} is corrupted: the state row failed its CRC-32 check")
        self._layouts = LayoutRegistry()
        for lid, spec, first_seq in conn.execute("SELECT id, spec, first_seq FROM layouts"):
            try:
                self._layouts.add(parse_spec(lid, spec), first_seq)
            except (ValueError, TypeError, IndexError) as e:
                raise StorageCorrupted(f"database file {self.db_path} has an unreadable vector layout {lid}: {e}") from None
        self._checkpoint: dict[str, tuple] = {
            r[0]: r[1:] for r in conn.execute(
                "SELECT name, rows, file, size, crc, present_file, present_size, present_crc FROM checkpoint"
            )
        }
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs'").fetchone() is None:
            conn.execute(_BLOBS_TABLE)  # a store written before blobs existed
        for table in ("points", "dense", "other"):  # a store written before rows had CRCs
            if "crc" not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN crc INTEGER")
        self._blobs: dict[str, tuple] = {
            r[0]: r[1:] for r in conn.execute("SELECT key, file, size, crc, watermark FROM blobs")
        }
        # Rows counts for wants_checkpoint(); computed lazily (load() fills them for free).
        self._live_rows: int | None = None
        self._tail_rows: int | None = None

    def _sweep_files(self) -> None:
        """Delete checkpoint files no committed transaction names (left by a crash)."""
        keep = {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal"}
        for rec in self._checkpoint.values():
            keep.add(rec[1])
            keep.add(rec[4])
        keep.update(rec[0] for rec in self._blobs.values())
        for entry in os.listdir(self.directory):
            if entry not in keep and (entry.startswith(("ckpt-", "blob-")) or entry.endswith(".tmp")):
                try:
                    os.remove(self.directory / entry)
                except OSError:  # pragma: no cover - best effort
                    log.warning("could not remove stale checkpoint file %s", self.directory / entry)

    def _set_state(self, conn: sqlite3.Connection, seq: int, next_offset: int, watermark: int, generation: int,
                   live: int, config: str) -> None:
        """Write the state row with its CRC (the caller keeps memory in step after COMMIT)."""
        conn.execute(
            "UPDATE state SET seq = ?, next_offset = ?, watermark = ?, generation = ?, live = ?, config = ?, crc = ?"
            " WHERE id = 1",
            (seq, next_offset, watermark, generation, live, config,
             _state_crc(seq, next_offset, watermark, generation, live, config)),
        )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise EngineError(f"collection storage {self.directory} is closed")
        return self._conn

    # -- config ---------------------------------------------------------------------------------
    def save_config(self, config: dict[str, Any]) -> None:
        text = json.dumps(config)
        with self._lock, sqlite_errors(self.db_path):
            self._set_state(self._db(), self._seq, self._next_offset, self._watermark, self._generation, self._live, text)
            self._config_text = text

    def load_config(self) -> dict[str, Any]:
        with self._lock:
            self._db()
            text = self._config_text   # read and CRC-checked with the state row on open
        try:
            config = json.loads(text)
        except (ValueError, TypeError) as e:
            raise StorageCorrupted(f"database file {self.db_path} holds an unreadable collection config: {e}") from None
        if not isinstance(config, dict):
            raise StorageCorrupted(f"database file {self.db_path} holds an unreadable collection config")
        return config

    # -- writing --------------------------------------------------------------------------------
    def write(self, upserts: Sequence[PointRecord], deletes: Sequence[int], seq: int | None = None) -> None:
        if not isinstance(upserts, (list, tuple)):
            upserts = list(upserts)
        if len(upserts) == 0 and len(deletes) == 0:
            return
        with self._lock, sqlite_errors(self.db_path):
            self._write(upserts, deletes, seq)

    def _write(self, upserts: Sequence[PointRecord], deletes: Sequence[int], seq: int | None) -> None:
        conn = self._db()
        seq = self._seq + 1 if seq is None or seq <= self._seq else int(seq)
        next_offset = self._next_offset
        offsets = [int(u.offset) for u in upserts]
        if len(set(offsets)) != len(offsets):  # the same offset twice: the last one wins
            last = {off: u for off, u in zip(offsets, upserts)}
            upserts, offsets = list(last.values()), list(last)
        if offsets and min(offsets) < 0:
            raise ValueError("offsets must be non-negative")
        reused = [o for o in offsets if o < next_offset]
        dense_rows: list[tuple] = []
        other_rows: list[tuple] = []
        layouts = self._layouts
        layouts.begin(seq)

        def point_rows() -> Iterator[tuple]:
            # Encoding happens while the INSERT runs, inside the transaction: an exception here
            # aborts it and the ROLLBACK below undoes the rows already inserted.
            encode_payload = _encode_payload
            encode_vectors = layouts.encode
            crc32 = zlib.crc32
            for off, p in zip(offsets, upserts):
                ext_id = p.ext_id
                if ext_id.__class__ is not str and not (ext_id.__class__ is int and 0 <= ext_id < _TWO63):
                    ext_id = _int_id(ext_id)
                payload = encode_payload(p.payload) if p.payload else "{}"
                if p.vectors:
                    dense_lid, dense_data, other_lid, other_data = encode_vectors(p.vectors)
                    if dense_lid is not None:
                        dense_rows.append((off, dense_lid, dense_data, crc32(dense_data, (off * _SEED_MUL + dense_lid) & _U32)))
                    if other_lid is not None:
                        other_rows.append((off, other_lid, other_data, crc32(other_data, (off * _SEED_MUL + other_lid) & _U32)))
                key = ext_id if ext_id.__class__ is int else crc32(ext_id.encode()) | _UUID_KEY
                x = ((off * _MIX_OFF) ^ ((key & _U64) * _MIX_ID) ^ (seq * _MIX_SEQ)) & _U64
                yield off, ext_id, payload, seq, crc32(payload.encode(), (x ^ (x >> 32)) & _U32)

        existing = 0
        conn.execute("BEGIN")
        try:
            if reused:
                reused_json = json.dumps(reused)
                existing = conn.execute(
                    "SELECT COUNT(*) FROM points WHERE offset IN (SELECT value FROM json_each(?))", (reused_json,)
                ).fetchone()[0]
                conn.execute("DELETE FROM dense WHERE offset IN (SELECT value FROM json_each(?))", (reused_json,))
                conn.execute("DELETE FROM other WHERE offset IN (SELECT value FROM json_each(?))", (reused_json,))
            if offsets:
                conn.executemany("INSERT OR REPLACE INTO points(offset, ext_id, payload, seq, crc) VALUES (?,?,?,?,?)", point_rows())
            if dense_rows:
                conn.executemany("INSERT INTO dense(offset, layout, data, crc) VALUES (?,?,?,?)", dense_rows)
            if other_rows:
                conn.executemany("INSERT INTO other(offset, layout, data, crc) VALUES (?,?,?,?)", other_rows)
            if layouts.pending:
                conn.executemany(
                    "INSERT INTO layouts(id, spec, first_seq) VALUES (?,?,?)",
                    [(lid, layout_spec(layouts.layouts[lid].entries), seq) for lid in layouts.pending],
                )
            deleted = 0
            if len(deletes):
                deletes_json = json.dumps([int(o) for o in deletes])
                deleted = conn.execute(
                    "DELETE FROM points WHERE offset IN (SELECT value FROM json_each(?))", (deletes_json,)
                ).rowcount
                conn.execute("DELETE FROM dense WHERE offset IN (SELECT value FROM json_each(?))", (deletes_json,))
                conn.execute("DELETE FROM other WHERE offset IN (SELECT value FROM json_each(?))", (deletes_json,))
            new_next = max(next_offset, max(offsets) + 1) if offsets else next_offset
            new_live = self._live + len(offsets) - existing - deleted
            self._set_state(conn, seq, new_next, self._watermark, self._generation, new_live, self._config_text)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if self._stored_seq() != seq:
                layouts.rollback()
                raise
            # Interrupted (KeyboardInterrupt) right after COMMIT returned: the batch is on disk,
            # so memory must follow before the exception goes on.
            self._committed(seq, new_next, len(offsets), None)
            self._live = self._db().execute("SELECT live FROM state WHERE id = 1").fetchone()[0]
            raise
        self._committed(seq, new_next, len(offsets), len(offsets) - existing - deleted)
        self._live = new_live
        if deleted:
            self._maybe_vacuum(full=False)

    def _maybe_vacuum(self, *, full: bool) -> None:
        """Give free pages back to the file system once they exceed _VACUUM_FRACTION of the file.

        A store created with ``auto_vacuum=INCREMENTAL`` (every store since this was added) runs
        ``PRAGMA incremental_vacuum``, which only moves pages from the end of the file into free
        slots. An older store (``auto_vacuum=NONE``) is switched by one full ``VACUUM`` when
        ``full`` (at a checkpoint). Both are ordinary transactions: a crash leaves the old or the
        new file, never a mix. Then the WAL is checkpointed so the main file really shrinks.
        Failures are logged, never raised: the write that triggered this has committed.
        """
        conn = self._db()
        try:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free < _VACUUM_MIN_PAGES or free <= _VACUUM_FRACTION * conn.execute("PRAGMA page_count").fetchone()[0]:
                return
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                conn.executescript("PRAGMA incremental_vacuum;")  # executescript steps it to the end
            elif full:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("VACUUM")
            else:
                return
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:  # pragma: no cover - e.g. a full disk; retried next time
            log.warning("vacuum of %s failed: %s", self.db_path, e)

    def _stored_seq(self) -> int | None:
        try:
            return self._db().execute("SELECT seq FROM state WHERE id = 1").fetchone()[0]
        except Exception:
            return None

    def _committed(self, seq: int, next_offset: int, written: int, live_delta: int | None) -> None:
        self._seq = seq
        self._next_offset = next_offset
        if live_delta is None:  # unknown: recount when next needed
            self._live_rows = self._tail_rows = None
        elif self._live_rows is not None:
            self._live_rows += live_delta
            self._tail_rows += written

    # -- checkpoints ----------------------------------------------------------------------------
    def _ensure_counts(self) -> None:
        if self._live_rows is None:
            conn = self._db()
            self._live_rows = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            self._tail_rows = conn.execute("SELECT COUNT(*) FROM points WHERE seq > ?", (self._watermark,)).fetchone()[0]

    def wants_checkpoint(self) -> bool:
        with self._lock, sqlite_errors(self.db_path):
            self._ensure_counts()
            return self._tail_rows > max(_MIN_CHECKPOINT_ROWS, _CHECKPOINT_FRACTION * self._live_rows)

    def checkpoint(self, dense: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Save ``dense`` as the new checkpoint covering every write that has returned so far.

        The caller must pass matrices that reflect exactly those writes (the collection
        serialises writes and calls this between them). Nothing is done when nothing was
        written since the last checkpoint and it covers the same names and row counts.
        """
        with self._lock, sqlite_errors(self.db_path):
            conn = self._db()
            shapes = {}
            for name, (matrix, present) in dense.items():
                if matrix.ndim != 2 or present.shape != (matrix.shape[0],):
                    raise ValueError(f"checkpoint of {name!r}: expected matrix[rows, dim] and present[rows]")
                shapes[name] = matrix.shape[0]
            if self._seq == self._watermark and {n: r[0] for n, r in self._checkpoint.items()} == shapes:
                return
            generation = self._generation + 1
            records = {}
            for i, (name, (matrix, present)) in enumerate(dense.items()):
                base = f"ckpt-{generation:08d}-{i:03d}"
                size, crc = write_npy(self.directory / f"{base}.npy", matrix)
                psize, pcrc = write_npy(self.directory / f"{base}.present.npy", np.asarray(present, dtype=bool))
                records[name] = (matrix.shape[0], f"{base}.npy", size, crc, f"{base}.present.npy", psize, pcrc)
            fsync_dir(self.directory)
            old = self._checkpoint
            conn.execute("PRAGMA synchronous=FULL")  # this commit must survive power loss: old files go next
            try:
                conn.execute("BEGIN")
                try:
                    conn.execute("DELETE FROM checkpoint")
                    conn.executemany(
                        "INSERT INTO checkpoint(name, rows, file, size, crc, present_file, present_size, present_crc)"
                        " VALUES (?,?,?,?,?,?,?,?)",
                        [(name, *rec) for name, rec in records.items()],
                    )
                    self._set_state(conn, self._seq, self._next_offset, self._seq, generation, self._live, self._config_text)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    for rec in records.values():
                        _remove_quietly(self.directory / rec[1], self.directory / rec[4])
                    raise
            finally:
                conn.execute("PRAGMA synchronous=NORMAL")
            self._checkpoint = records
            self._watermark = self._seq
            self._generation = generation
            self._tail_rows = 0
            for rec in old.values():
                _remove_quietly(self.directory / rec[1], self.directory / rec[4])
            self._maybe_vacuum(full=True)

    def _drop_checkpoint(self) -> None:
        """Forget the checkpoint (it failed verification); the rows still hold every vector."""
        conn = self._db()
        conn.execute("BEGIN")
        try:
            conn.execute("DELETE FROM checkpoint")
            self._set_state(conn, self._seq, self._next_offset, 0, self._generation, self._live, self._config_text)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        for rec in self._checkpoint.values():
            _remove_quietly(self.directory / rec[1], self.directory / rec[4])
        self._checkpoint = {}
        self._watermark = 0

    def _read_checkpoint_into(self, out: list) -> None:
        """``_read_checkpoint`` for a helper thread: appends ("ok", dense) or ("error", exception)."""
        try:
            out.append(("ok", self._read_checkpoint()))
        except BaseException as e:  # re-raised (or, if corrupted, handled) on the loading thread
            out.append(("error", e))

    def _read_checkpoint(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, (rows, file, size, crc, pfile, psize, pcrc) in self._checkpoint.items():
            matrix = read_npy(self.directory / file, size, crc)
            present = read_npy(self.directory / pfile, psize, pcrc)
            if matrix.ndim != 2 or matrix.shape[0] != rows or present.shape != (rows,) or present.dtype != bool:
                raise StorageCorrupted(f"checkpoint file {self.directory / file} does not have the recorded shape")
            out[name] = (matrix, present)
        return out

    # -- blobs ----------------------------------------------------------------------------------
    def save_blob(self, key: str, parts: Sequence[Any]) -> None:
        with self._lock, sqlite_errors(self.db_path):
            conn = self._db()
            name = f"blob-{uuid.uuid4().hex[:16]}.bin"
            path = self.directory / name
            size, crc = _write_parts(path, parts)
            fsync_dir(self.directory)
            conn.execute("PRAGMA synchronous=FULL")  # the old file goes next: this row must survive power loss
            try:
                conn.execute("BEGIN")
                try:
                    conn.execute(
                        "INSERT OR REPLACE INTO blobs(key, file, size, crc, watermark) VALUES (?,?,?,?,?)",
                        (key, name, size, crc, self._seq),
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    _remove_quietly(path)
                    raise
            finally:
                conn.execute("PRAGMA synchronous=NORMAL")
            old = self._blobs.get(key)
            self._blobs[key] = (name, size, crc, self._seq)
            if old is not None:
                _remove_quietly(self.directory / old[0])

    def blob_keys(self) -> list[str]:
        with self._lock:
            return list(self._blobs)

    def load_blob(self, key: str) -> tuple[np.ndarray, int] | None:
        # The file is read and verified without the lock, so a reopen can prefetch blobs on
        # another thread while load() runs; a blob file is only deleted by save/drop_blob.
        with self._lock:
            rec = self._blobs.get(key)
        if rec is None:
            return None
        name, size, crc, watermark = rec
        try:
            return _read_verified(self.directory / name, size, crc), watermark
        except StorageCorrupted as e:
            log.warning("%s; forgetting blob %r (it is rebuilt from the points)", e.message, key)
            with self._lock, sqlite_errors(self.db_path):
                if self._conn is not None and self._blobs.get(key) == rec:  # closed: a failed open's prefetch
                    self._forget_blob(key)
            return None

    def drop_blob(self, key: str) -> None:
        with self._lock, sqlite_errors(self.db_path):
            if key in self._blobs:
                self._forget_blob(key)

    def _forget_blob(self, key: str) -> None:
        self._db().execute("DELETE FROM blobs WHERE key = ?", (key,))
        rec = self._blobs.pop(key)
        _remove_quietly(self.directory / rec[0])

    # -- loading --------------------------------------------------------------------------------
    def load(self) -> LoadedPoints:
        with self._lock, sqlite_errors(self.db_path):
            return self._load()

    def _load(self) -> LoadedPoints:
        conn = self._db()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a load creates ~10 objects per point and no cycles; collections only cost time
        try:
            return self._load_unchecked(conn)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _load_unchecked(self, conn: sqlite3.Connection) -> LoadedPoints:
        # The checkpoint files are read (and CRC-checked) on a helper thread while SQLite reads
        # the point rows: both release the GIL for most of their work.
        checkpoint: list = []
        reader = None
        if self._checkpoint:
            reader = threading.Thread(target=self._read_checkpoint_into, args=(checkpoint,), name="checkpoint-read")
            reader.start()
        try:
            offsets, ext_ids, seqs, payloads = self._load_points(conn)
        finally:
            if reader is not None:
                reader.join()
        if len(offsets) != self._live:   # e.g. a damaged schema pointing the table at another page
            raise StorageCorrupted(
                f"database file {self.db_path} is corrupted: it holds {len(offsets)} point rows, "
                f"its state row says {self._live}"
            )

        dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if checkpoint:
            kind, value = checkpoint[0]
            if kind == "ok":
                dense = value
            elif isinstance(value, StorageCorrupted):
                log.warning("%s; ignoring the checkpoint and rebuilding the vectors from %s", value.message, self.db_path)
                self._drop_checkpoint()
            else:
                raise value
        watermark = self._watermark if dense else 0
        is_tail = seqs > watermark
        self._live_rows = len(offsets)
        self._tail_rows = int((seqs > self._watermark).sum())
        rows_of = {name: m.shape[0] for name, (m, _) in dense.items()}

        def keep_for(group_offsets: np.ndarray) -> Callable[[str], "np.ndarray | None"]:
            """Which rows of a layout group to return for a vector name."""
            if not dense:
                return lambda name: None
            tail = is_tail[np.searchsorted(offsets, group_offsets)]

            def keep(name: str) -> np.ndarray | None:
                rows = rows_of.get(name)
                return None if rows is None else tail | (group_offsets >= rows)

            return keep

        vectors: dict[str, dict[int, Any]] = {}
        # Dense rows: all of them without a checkpoint; with one, only those it does not cover:
        # rows written after the watermark, rows beyond its matrices, names it does not hold.
        if not dense:
            dense_rows = conn.execute("SELECT offset, layout, data, crc FROM dense").fetchall()
        else:
            wanted = offsets[is_tail | (offsets >= min(rows_of.values()))]
            uncovered = [
                lid for lid, layout in self._layouts.layouts.items()
                if self._layouts.first_seq[lid] <= watermark and any(e[1] not in rows_of for e in layout.entries)
            ]
            sql = "SELECT offset, layout, data, crc FROM dense WHERE offset IN (SELECT value FROM json_each(?))"
            if uncovered:
                sql += f" OR layout IN ({','.join(str(int(x)) for x in uncovered)})"
            dense_rows = conn.execute(sql, (json.dumps(wanted.tolist()),)).fetchall()
        self._decode_rows(self._verified_vector_rows(dense_rows, "dense"), keep_for, vectors)
        del dense_rows
        other_rows = conn.execute("SELECT offset, layout, data, crc FROM other").fetchall()
        self._decode_rows(self._verified_vector_rows(other_rows, "other"), keep_for, vectors)

        # A checkpoint row is valid only for a live offset not rewritten after the watermark.
        for matrix, present in dense.values():
            valid = np.zeros(len(present), dtype=bool)
            valid[offsets[(offsets < len(present)) & ~is_tail]] = True
            present &= valid
        return LoadedPoints(
            offsets=offsets, ext_ids=ext_ids, payloads=payloads, vectors=vectors, dense=dense,
            next_offset=self._next_offset, seqs=seqs,
        )

    def _load_points(self, conn: sqlite3.Connection) -> tuple[np.ndarray, list, np.ndarray, list]:
        """Read ``points`` in offset order, verifying each row's CRC: SQLite concatenates each column
        of a chunk into one text, so Python parses a few JSON texts per chunk instead of a tuple
        per row, and checksums the rows with ``map`` over the cut texts (no Python loop).
        """
        offsets: list[int] = []
        ids: list = []
        seqs: list[int] = []
        payloads: list = []
        lo, step = 0, _LOAD_CHUNK
        while lo < self._next_offset:
            hi = lo + step if lo + step < self._next_offset else _MAX_OFFSET
            try:
                count, offs_txt, ids_txt, seqs_txt, pays_txt, crcs_txt = conn.execute(_POINTS_CHUNK_SQL, (lo, hi)).fetchone()
            except sqlite3.DataError:  # "string or blob too big": huge payloads, take fewer rows
                if step == 1:
                    raise
                step = max(1, step // 4)
                continue
            except sqlite3.OperationalError as e:  # e.g. "JSON cannot hold BLOB values": a damaged row
                raise StorageCorrupted(f"database file {self.db_path} holds unreadable point rows: {e}") from None
            if count:
                try:
                    offs_c = json.loads(f"[{offs_txt}]")
                    ids_c = json.loads(f"[{ids_txt}]")
                    seqs_c = json.loads(f"[{seqs_txt}]")
                    pays_c = json.loads(f"[{pays_txt.replace(_ROW_SEP, ',')}]")
                except ValueError as e:
                    raise StorageCorrupted(f"database file {self.db_path} holds unreadable point rows: {e}") from None
                self._verify_point_rows(offs_c, ids_c, seqs_c, pays_txt, crcs_txt)
                offsets += offs_c
                ids += ids_c
                seqs += seqs_c
                payloads += pays_c
            lo = hi
        if not (len(offsets) == len(ids) == len(seqs) == len(payloads)):
            raise StorageCorrupted(f"database file {self.db_path} holds inconsistent point rows")
        offs = np.array(offsets, dtype=np.int64)
        ext_ids = [x + _TWO64 if x.__class__ is int and x < 0 else x for x in ids]
        seq_arr = np.array(seqs, dtype=np.int64)
        if len(offs) > 1 and not bool(np.all(offs[1:] > offs[:-1])):  # never expected; cheap to guard
            order = np.argsort(offs, kind="stable")
            offs, seq_arr = offs[order], seq_arr[order]
            ext_ids = [ext_ids[i] for i in order.tolist()]
            payloads = [payloads[i] for i in order.tolist()]
        return offs, ext_ids, seq_arr, payloads

    def _verify_point_rows(self, offsets: list, ids: list, seqs: list, pays_txt: str, crcs_txt: str) -> None:
        """Check each row's CRC-32 (see ``_row_seeds``) against ``crcs_txt`` (-1: a row written
        before rows had CRCs, not checked); numpy and ``map``, no Python loop per row."""
        count = len(offsets)
        pays = pays_txt.encode("utf-8", "surrogatepass").split(_ROW_SEP.encode())
        with warnings.catch_warnings():   # a damaged text: numpy warns and stops early
            warnings.simplefilter("ignore")
            expected = np.fromstring(crcs_txt, dtype=np.int64, sep=",")
        if not (len(pays) == len(ids) == len(seqs) == len(expected) == count):
            raise StorageCorrupted(f"database file {self.db_path} holds unreadable point rows")
        try:
            keys = np.array(ids, dtype=np.int64)
        except (ValueError, TypeError, OverflowError):  # UUIDs among the ids
            crc32 = zlib.crc32
            keys = np.array([x if x.__class__ is int else crc32(x.encode()) | _UUID_KEY for x in ids], dtype=np.int64)
        seeds = _row_seeds(np.array(offsets, dtype=np.int64), keys, np.array(seqs, dtype=np.int64))
        actual = np.fromiter(map(zlib.crc32, pays, seeds.tolist()), dtype=np.int64, count=count)
        bad = np.flatnonzero((actual != expected) & (expected != _NO_CRC))
        if len(bad):
            raise StorageCorrupted(
                f"database file {self.db_path} is corrupted: the point row at offset {offsets[bad[0]]} "
                "failed its CRC-32 check"
            )

    def _verified_vector_rows(self, rows: list[tuple], table: str) -> list[tuple]:
        """``(offset, layout, data, crc)`` rows after checking each row's CRC (``StorageCorrupted``
        naming the row otherwise); one ``map`` over the rows, no Python loop."""
        if not rows:
            return rows
        offs, lids, blobs, expected = zip(*rows)
        try:
            seeds = ((np.array(offs, dtype=np.int64) * _SEED_MUL + np.array(lids, dtype=np.int64)) & _U32).tolist()
            actual = tuple(map(zlib.crc32, blobs, seeds))
        except (TypeError, ValueError, OverflowError):  # a value of the wrong type: a damaged row
            actual = None
        if actual == expected:
            return rows
        for i, (off, lid, data, crc) in enumerate(rows):
            if data.__class__ is not bytes or off.__class__ is not int or lid.__class__ is not int:
                raise StorageCorrupted(
                    f"database file {self.db_path} is corrupted: the {table} vector row at offset {off} is unreadable"
                )
            if crc is not None and (actual is None or actual[i] != crc):
                raise StorageCorrupted(
                    f"database file {self.db_path} is corrupted: the {table} vector row at offset {off} "
                    f"failed its CRC-32 check"
                )
        return rows

    def _decode_rows(self, rows: list[tuple], keep_for, out: dict[str, dict[int, Any]]) -> None:
        """Decode ``(offset, layout, data, crc)`` rows, one numpy pass per layout."""
        if not rows:
            return
        offs_t, lids_t, blobs_t, _ = zip(*rows)
        offsets = np.array(offs_t, dtype=np.int64)
        if lids_t.count(lids_t[0]) == len(lids_t):  # the usual case: one layout
            groups = [(lids_t[0], offsets, blobs_t)]
        else:
            lids = np.array(lids_t, dtype=np.int64)
            order = np.argsort(lids, kind="stable")
            bounds = np.flatnonzero(np.diff(lids[order])) + 1
            groups = []
            for idx in np.split(order, bounds):
                groups.append((int(lids[idx[0]]), offsets[idx], [blobs_t[i] for i in idx.tolist()]))
        for lid, group_offsets, blobs in groups:
            layout = self._layouts.layouts.get(lid)
            if layout is None:
                raise StorageCorrupted(f"database file {self.db_path} references unknown vector layout {lid}")
            try:
                decode_group(layout, group_offsets, blobs, keep_for(group_offsets), out)
            except ValueError as e:
                raise StorageCorrupted(f"database file {self.db_path}: {e}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def sequence(self) -> int:
        """The sequence number of the last committed write (0 for a fresh collection)."""
        return self._seq

    @property
    def watermark(self) -> int:
        """The sequence number the current checkpoint covers (0 when there is none)."""
        return self._watermark


def _int_id(value: Any) -> int:
    value = int(value)
    if not 0 <= value < _TWO64:
        raise ValueError(f"point id {value} is outside [0, 2**64)")
    return value - _TWO64 if value >= _TWO63 else value


def _write_parts(path: Path, parts: Sequence[Any]) -> tuple[int, int]:
    """Write the concatenation of ``parts`` durably to ``path`` (temp file, fsync, rename).
    Returns ``(size, crc32)``; the caller fsyncs the directory."""
    tmp = path.with_name(path.name + ".tmp")
    size, crc = 0, 0
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                view = memoryview(part).cast("B")
                crc = zlib.crc32(view, crc)
                f.write(view)
                size += view.nbytes
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return size, crc


def _read_verified(path: Path, size: int, crc: int) -> np.ndarray:
    """The bytes of ``path`` (a uint8 array) after checking its size and CRC-32
    (``StorageCorrupted`` otherwise)."""
    try:
        actual = os.path.getsize(path)
    except OSError as e:
        raise StorageCorrupted(f"blob file {path} is missing ({e.strerror})") from None
    if actual != size:
        raise StorageCorrupted(f"blob file {path} has {actual} bytes, expected {size} (truncated?)")
    buf = np.empty(size, dtype=np.uint8)   # not bytearray: zero-filling 1 GB costs ~0.5 s
    try:
        with open(path, "rb") as f:
            complete = f.readinto(memoryview(buf)) == size
    except OSError as e:  # e.g. removed between the size check and the open
        raise StorageCorrupted(f"blob file {path} could not be read ({e.strerror})") from None
    if not complete:
        raise StorageCorrupted(f"blob file {path} could not be read completely")
    if zlib.crc32(buf) != crc:
        raise StorageCorrupted(f"blob file {path} failed its CRC-32 check")
    return buf


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass
        except OSError:  # pragma: no cover - best effort; swept on next open
            log.warning("could not remove old checkpoint file %s", p)
