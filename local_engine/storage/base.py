"""The storage seam: what a collection asks of its persistence layer.

Two implementations: ``MemoryStorage`` (nothing is written) and ``SqliteStorage`` (path mode).
The rules every implementation keeps:

* ``CollectionStore.write`` is atomic and durable when it returns: after a crash either the
  whole batch is visible on reopen or none of it is.
* The in-memory collection is the read path; storage is only written to and loaded from.
* Offsets are the collection's internal row numbers. A point keeps its offset while it lives;
  storage never invents or reorders offsets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass
class SparseVec:
    """A sparse vector: sorted unique ``indices`` (uint32) with their ``values`` (float32)."""

    indices: np.ndarray
    values: np.ndarray


# A stored vector value: a dense 1-D array, a 2-D multivector, or a sparse vector.
VectorValue = "np.ndarray | SparseVec"


@dataclass
class PointRecord:
    offset: int
    ext_id: int | str                      # canonical id (see local_engine.ids)
    payload: dict[str, Any]                # {} when the point has no payload
    vectors: dict[str, Any]                # vector name ("" = unnamed) -> VectorValue


@dataclass
class LoadedPoints:
    """Everything needed to rebuild a collection's in-memory state, ordered by offset."""

    offsets: np.ndarray                    # int64, the live offsets, ascending
    ext_ids: list                          # aligned with offsets
    payloads: list[dict[str, Any]]         # aligned with offsets
    vectors: dict[str, dict[int, Any]] = field(default_factory=dict)   # name -> {offset: value}
    # Dense matrices restored from a checkpoint: name -> (matrix[rows, dim], present[rows]) covering
    # offsets [0, rows). Entries of ``vectors`` override rows of the matrix.
    dense: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    next_offset: int = 0                   # first never-used offset
    # Sequence number of the write that last wrote each point (aligned with offsets), so a cache
    # saved at watermark W (an index blob) knows which points changed after it. None: unknown.
    seqs: np.ndarray | None = None


class CollectionStore(ABC):
    #: False when nothing is written (memory mode): callers may skip building records.
    persistent: bool = True

    @abstractmethod
    def save_config(self, config: dict[str, Any]) -> None:
        """Persist the collection's config (a JSON-serialisable dict) atomically."""

    @abstractmethod
    def load_config(self) -> dict[str, Any]:
        ...

    @abstractmethod
    def write(self, upserts: Sequence[PointRecord], deletes: Sequence[int], seq: int | None = None) -> None:
        """Atomically apply one batch: insert/replace ``upserts`` (whole points), remove ``deletes``.

        The batch gets a new sequence number: ``seq`` when given and above ``sequence`` (the
        collection passes its operation id, which becomes the points' version), else
        ``sequence + 1``. Sequence numbers only grow, across reopens too."""

    @property
    def sequence(self) -> int:
        """The sequence number of the last committed write (0 when nothing is kept)."""
        return 0

    @abstractmethod
    def load(self) -> LoadedPoints:
        ...

    def wants_checkpoint(self) -> bool:
        """True when enough was written since the last checkpoint that reopening would be slow."""
        return False

    def checkpoint(self, dense: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Save dense matrices (name -> (matrix[rows, dim], present[rows])) for a fast reopen."""

    # Blobs: derived data (an HNSW graph) cached next to the points, keyed by name. Like a
    # checkpoint, a blob is only a cache: losing it costs a rebuild, never data.
    def save_blob(self, key: str, parts: Sequence[Any]) -> None:
        """Durably replace blob ``key`` with the concatenation of ``parts`` (bytes-like objects),
        recording the current sequence number as its watermark: the caller guarantees the blob
        reflects every write that has returned."""

    def load_blob(self, key: str) -> tuple[np.ndarray, int] | None:
        """``(contents as uint8 array, watermark)`` of blob ``key`` after verifying it, or None
        when there is none or it is damaged (then it is forgotten, with a warning). May be
        called from another thread while ``load`` runs."""
        return None

    def blob_keys(self) -> list[str]:
        """Keys of the saved blobs."""
        return []

    def drop_blob(self, key: str) -> None:
        """Forget blob ``key`` (no error when there is none)."""

    def close(self) -> None:
        ...


class Storage(ABC):
    """The root: a set of collections and the alias table."""

    @abstractmethod
    def collection_names(self) -> list[str]:
        ...

    @abstractmethod
    def create_collection(self, name: str, config: dict[str, Any]) -> CollectionStore:
        ...

    @abstractmethod
    def open_collection(self, name: str) -> CollectionStore:
        ...

    @abstractmethod
    def drop_collection(self, name: str) -> None:
        ...

    @abstractmethod
    def save_aliases(self, aliases: dict[str, str]) -> None:
        ...

    @abstractmethod
    def load_aliases(self) -> dict[str, str]:
        ...

    # -- snapshots (docs/snapshots.md) ----------------------------------------------------------
    # Recovery builds the new collection in a *staged* store no name points at, then swaps it in
    # with one atomic ``replace_collection``; until that call the old collection is untouched,
    # after it the old store is gone. A crash in between leaves only an unnamed store, which
    # the storage discards (path mode sweeps such directories on open).

    def snapshots_path(self) -> Path:
        """The folder snapshot files of this storage live in (created on first use)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep snapshot files")

    def peer_id(self) -> int:
        """A number that names this storage in snapshot file names; stable for its lifetime."""
        raise NotImplementedError(f"{type(self).__name__} has no peer id")

    def stage_collection(self, config: dict[str, Any]) -> CollectionStore:
        """A new, empty store that no collection name points at yet."""
        raise NotImplementedError(f"{type(self).__name__} cannot stage collections")

    def replace_collection(self, name: str, staged: CollectionStore, aliases: dict[str, str]) -> None:
        """Atomically point ``name`` at ``staged`` (creating or replacing the collection) and set the
        alias table to ``aliases``. The previous store of ``name``, if any, is closed and removed."""
        raise NotImplementedError(f"{type(self).__name__} cannot replace collections")

    def discard_staged_collection(self, staged: CollectionStore) -> None:
        """Throw away a staged store that was never passed to ``replace_collection``."""
        staged.close()

    def close(self) -> None:
        ...
