"""Storage for ":memory:" collections: keeps nothing, loads nothing."""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import CollectionStore, LoadedPoints, PointRecord, Storage


class MemoryCollectionStore(CollectionStore):
    persistent = False

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def save_config(self, config: dict[str, Any]) -> None:
        self._config = config

    def load_config(self) -> dict[str, Any]:
        return self._config

    def write(self, upserts: Sequence[PointRecord], deletes: Sequence[int], seq: int | None = None) -> None:
        return None

    def load(self) -> LoadedPoints:
        return LoadedPoints(offsets=np.zeros(0, dtype=np.int64), ext_ids=[], payloads=[])


class MemoryStorage(Storage):
    def __init__(self) -> None:
        self._aliases: dict[str, str] = {}
        self._snapshots_dir: Path | None = None   # a temp directory, made on first use
        self._snapshots_lock = threading.Lock()
        self._peer_id = random.getrandbits(52)

    def collection_names(self) -> list[str]:
        return []

    def create_collection(self, name: str, config: dict[str, Any]) -> CollectionStore:
        return MemoryCollectionStore(config)

    def open_collection(self, name: str) -> CollectionStore:  # pragma: no cover - nothing persisted
        raise KeyError(name)

    def drop_collection(self, name: str) -> None:
        return None

    def save_aliases(self, aliases: dict[str, str]) -> None:
        self._aliases = dict(aliases)

    def load_aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    # -- snapshots: files live in a temp directory owned by this storage, deleted on close ------
    def snapshots_path(self) -> Path:
        with self._snapshots_lock:
            if self._snapshots_dir is None:
                self._snapshots_dir = Path(tempfile.mkdtemp(prefix="qdrant-sdk-snapshots-"))
            return self._snapshots_dir

    def peer_id(self) -> int:
        return self._peer_id

    def stage_collection(self, config: dict[str, Any]) -> CollectionStore:
        return MemoryCollectionStore(config)

    def replace_collection(self, name: str, staged: CollectionStore, aliases: dict[str, str]) -> None:
        self._aliases = dict(aliases)

    def close(self) -> None:
        with self._snapshots_lock:
            if self._snapshots_dir is not None:
                shutil.rmtree(self._snapshots_dir, ignore_errors=True)
                self._snapshots_dir = None
