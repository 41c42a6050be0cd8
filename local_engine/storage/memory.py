"""Storage for ":memory:" collections: keeps nothing, loads nothing."""

from __future__ import annotations

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

    def write(self, upserts: Sequence[PointRecord], deletes: Sequence[int]) -> None:
        return None

    def load(self) -> LoadedPoints:
        return LoadedPoints(offsets=np.zeros(0, dtype=np.int64), ext_ids=[], payloads=[])


class MemoryStorage(Storage):
    def __init__(self) -> None:
        self._aliases: dict[str, str] = {}

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
