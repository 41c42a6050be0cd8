"""Path mode storage: ``QdrantClient(path=...)`` keeps everything in one folder, in SQLite.

Layout of the folder (docs/storage.md tells the whole story)::

    <path>/
      .lock                      flock()ed by the one process that owns the folder
      storage.sqlite             root: collection name -> directory, the alias table
      collections/
        c-<32 hex>/              one per collection; the name is random, never the collection's
          points.sqlite          points, payloads, vectors, config, checkpoint records
          ckpt-<gen>-<i>.npy     checkpoint of one dense vector name (+ .present.npy)
      snapshots/                 snapshot files (docs/snapshots.md): <collection>/*.snapshot, full-*.snapshot

Durability choice: every database runs in WAL mode. Collection databases use
``synchronous=NORMAL``: a ``write()`` that returned is in the WAL file (in the OS page cache at
least) and survives the process being killed at any moment, SIGKILL included; a write
interrupted part-way leaves no trace. On *power loss* (or a kernel crash) the most recent
writes since the last WAL sync may be lost, but the database rolls back to a consistent
earlier state, never a half-applied batch. The root database, checkpoint publication,
collection creation and dropping use ``synchronous=FULL`` plus directory fsyncs, so those rare
operations are durable against power loss as well.

Crash safety of the directory operations:

* create: the collection directory and its database are written first, then the root row is
  committed. A crash in between leaves a directory no root row names; it is swept on open.
* drop: the root row is deleted (committed, synced) first, then the directory is removed. A
  crash in between leaves the same kind of orphan, swept the same way. A dropped collection
  can never reopen half-deleted.
* replace (snapshot recovery): the new collection is built in a staged directory no root row
  names, then one root transaction points the name at it (and sets the alias table); the old
  directory is removed after that. A crash before the commit leaves the old collection and an
  orphan; after it, the new collection and an orphan. Both orphans are swept on open.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, EngineError, NotFound, StorageCorrupted, Unsupported
from ._files import OwnerLock, fsync_dir
from ._sqlite_collection import SqliteCollectionStore, connect, sqlite_errors
from .base import CollectionStore, Storage

__all__ = ["SqliteStorage", "SqliteCollectionStore"]

log = logging.getLogger("local_engine.storage")

ROOT_DB = "storage.sqlite"
COLLECTIONS_DIR = "collections"
SNAPSHOTS_DIR = "snapshots"
ROOT_FORMAT_VERSION = 1


class SqliteStorage(Storage):
    """The ``Storage`` of path mode. Opening takes the folder's owner lock (``StorageLocked``
    if another client instance holds it); ``close()`` releases it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self.path.mkdir(parents=True, exist_ok=True)
        self._owner = OwnerLock(self.path)
        self._lock = threading.RLock()
        self._stores: dict[str, SqliteCollectionStore] = {}
        self._peer_id: int | None = None
        self.root_db = self.path / ROOT_DB
        self._collections_dir = self.path / COLLECTIONS_DIR
        try:
            self._collections_dir.mkdir(exist_ok=True)
            self._conn: sqlite3.Connection | None = connect(self.root_db, create=True, synchronous="FULL")
            with sqlite_errors(self.root_db):
                self._init_root()
                self._sweep_orphans()
        except BaseException:
            if getattr(self, "_conn", None) is not None:
                self._conn.close()
            self._owner.release()
            raise

    def _init_root(self) -> None:
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE IF NOT EXISTS collections(name TEXT PRIMARY KEY, dir TEXT NOT NULL UNIQUE)")
            conn.execute("CREATE TABLE IF NOT EXISTS aliases(alias TEXT PRIMARY KEY, collection TEXT NOT NULL)")
            conn.execute(f"PRAGMA user_version={ROOT_FORMAT_VERSION}")
            conn.execute("COMMIT")
        elif version > ROOT_FORMAT_VERSION:
            raise Unsupported(f"{self.root_db} uses storage format {version}; this engine reads format {ROOT_FORMAT_VERSION}")

    def _sweep_orphans(self) -> None:
        """Remove collection directories no root row names (a crash mid-create or mid-drop)."""
        known = {d for (d,) in self._conn.execute("SELECT dir FROM collections")}
        for entry in os.listdir(self._collections_dir):
            if entry not in known:
                log.info("removing orphaned collection directory %s", self._collections_dir / entry)
                shutil.rmtree(self._collections_dir / entry, ignore_errors=True)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise EngineError(f"storage {self.path} is closed")
        return self._conn

    def _dir_of(self, name: str) -> Path | None:
        row = self._db().execute("SELECT dir FROM collections WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._collections_dir / row[0]

    # -- collections ----------------------------------------------------------------------------
    def collection_names(self) -> list[str]:
        with self._lock, sqlite_errors(self.root_db):
            return [n for (n,) in self._db().execute("SELECT name FROM collections ORDER BY rowid")]

    def create_collection(self, name: str, config: dict[str, Any]) -> CollectionStore:
        with self._lock, sqlite_errors(self.root_db):
            if self._dir_of(name) is not None:
                raise AlreadyExists(f"Wrong input: Collection `{name}` already exists!")
            dirname = f"c-{uuid.uuid4().hex}"
            directory = self._collections_dir / dirname
            directory.mkdir()
            fsync_dir(self._collections_dir)
            store = None
            try:
                store = SqliteCollectionStore(directory, create_with_config=config)
                self._db().execute("INSERT INTO collections(name, dir) VALUES (?, ?)", (name, dirname))
            except BaseException:
                if store is not None:
                    store.close()
                shutil.rmtree(directory, ignore_errors=True)
                raise
            self._stores[name] = store
            return store

    def open_collection(self, name: str) -> CollectionStore:
        with self._lock, sqlite_errors(self.root_db):
            store = self._stores.get(name)
            if store is not None and not store.closed:
                return store
            directory = self._dir_of(name)
            if directory is None:
                raise NotFound(f"Collection `{name}` doesn't exist!")
            if not directory.is_dir():
                raise StorageCorrupted(f"collection directory {directory} of collection {name!r} is missing")
            store = SqliteCollectionStore(directory)
            self._stores[name] = store
            return store

    def drop_collection(self, name: str) -> None:
        with self._lock, sqlite_errors(self.root_db):
            directory = self._dir_of(name)
            store = self._stores.pop(name, None)
            if store is not None:
                store.close()
            if directory is None:
                return
            self._db().execute("DELETE FROM collections WHERE name = ?", (name,))  # committed + synced
            shutil.rmtree(directory, ignore_errors=True)
            fsync_dir(self._collections_dir)

    # -- aliases --------------------------------------------------------------------------------
    def save_aliases(self, aliases: dict[str, str]) -> None:
        with self._lock, sqlite_errors(self.root_db):
            conn = self._db()
            conn.execute("BEGIN")
            try:
                conn.execute("DELETE FROM aliases")
                conn.executemany("INSERT INTO aliases(alias, collection) VALUES (?, ?)", list(aliases.items()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def load_aliases(self) -> dict[str, str]:
        with self._lock, sqlite_errors(self.root_db):
            return dict(self._db().execute("SELECT alias, collection FROM aliases ORDER BY rowid"))

    # -- snapshots ------------------------------------------------------------------------------
    def snapshots_path(self) -> Path:
        path = self.path / SNAPSHOTS_DIR
        path.mkdir(exist_ok=True)
        return path

    def peer_id(self) -> int:
        """A random number made once per folder and kept in the root database's ``meta`` table."""
        with self._lock, sqlite_errors(self.root_db):
            if self._peer_id is None:
                conn = self._db()
                conn.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value)")
                row = conn.execute("SELECT value FROM meta WHERE key = 'peer_id'").fetchone()
                if row is None:
                    value = random.getrandbits(52)
                    conn.execute("INSERT INTO meta(key, value) VALUES ('peer_id', ?)", (value,))
                    row = (value,)
                self._peer_id = int(row[0])
            return self._peer_id

    def stage_collection(self, config: dict[str, Any]) -> CollectionStore:
        with self._lock:
            self._db()
            directory = self._collections_dir / f"c-{uuid.uuid4().hex}"
            directory.mkdir()
            try:
                return SqliteCollectionStore(directory, create_with_config=config)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise

    def replace_collection(self, name: str, staged: CollectionStore, aliases: dict[str, str]) -> None:
        """One root transaction (``synchronous=FULL``) points ``name`` at the staged directory and
        rewrites the alias table; the old directory is removed afterwards. The caller makes the
        staged store durable first (a checkpoint commits with ``synchronous=FULL``)."""
        if not isinstance(staged, SqliteCollectionStore):
            raise TypeError(f"expected a store from stage_collection(), got {type(staged).__name__}")
        with self._lock, sqlite_errors(self.root_db):
            conn = self._db()
            old_dir = self._dir_of(name)
            fsync_dir(self._collections_dir)
            conn.execute("BEGIN")
            try:
                if old_dir is None:
                    conn.execute("INSERT INTO collections(name, dir) VALUES (?, ?)", (name, staged.directory.name))
                else:
                    conn.execute("UPDATE collections SET dir = ? WHERE name = ?", (staged.directory.name, name))
                conn.execute("DELETE FROM aliases")
                conn.executemany("INSERT INTO aliases(alias, collection) VALUES (?, ?)", list(aliases.items()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            old = self._stores.pop(name, None)
            self._stores[name] = staged
            if old is not None:
                old.close()
            if old_dir is not None:
                shutil.rmtree(old_dir, ignore_errors=True)
                fsync_dir(self._collections_dir)

    def discard_staged_collection(self, staged: CollectionStore) -> None:
        staged.close()
        directory = getattr(staged, "directory", None)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every collection store and the root database, then release the folder lock."""
        with self._lock:
            if self._conn is None:
                return
            try:
                for store in self._stores.values():
                    store.close()
                self._stores.clear()
                self._conn.close()
            finally:
                self._conn = None
                self._owner.release()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> "SqliteStorage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten close() must not keep the folder locked
        try:
            self.close()
        except Exception:
            pass
