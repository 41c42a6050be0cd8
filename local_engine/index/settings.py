"""Index settings of one dense vector name, resolved from the collection config.

Qdrant measures its thresholds in kilobytes of vector data ("1 KB = 1 vector of 256
float32 dimensions"), so the number of points they stand for depends on the dimension:
``points = KB * 1024 / (dim * 4)``. Per-vector ``hnsw_config`` (``VectorParams.hnsw_config``)
overrides the collection's field by field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .hnsw import HnswParams

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCT = 100
DEFAULT_FULL_SCAN_KB = 10_000
DEFAULT_INDEXING_KB = 10_000


@dataclass(frozen=True)
class IndexSettings:
    """How one vector name is indexed and searched."""

    dim: int
    params: HnswParams | None       # None: no graph (m = 0)
    indexing_kb: int                # build the graph once the vectors reach this size; 0 = never
    full_scan_kb: int               # below this (filtered) candidate size, exact scoring is allowed
    threads: int                    # hnswlib insertion threads

    @property
    def ef_default(self) -> int:
        """Search-time ef when the query sets none: Qdrant uses ef_construct."""
        return self.params.ef_construct if self.params else DEFAULT_EF_CONSTRUCT

    @property
    def full_scan_points(self) -> int:
        return _points(self.full_scan_kb, self.dim)

    def wants_graph(self, vectors: int) -> bool:
        """True when ``vectors`` stored vectors of this name call for a graph."""
        if self.params is None or self.indexing_kb <= 0:
            return False
        return vectors * self.dim * 4 >= self.indexing_kb * 1024


def _points(kb: int, dim: int) -> int:
    return kb * 1024 // (dim * 4)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def resolve(config: Any, vector_params: Any, distance: str, dim: int) -> IndexSettings:
    """Settings of one vector name from a ``CollectionConfig`` and its ``VectorParams``."""
    hnsw = config.hnsw_config
    override = _get(vector_params, "hnsw_config")

    def pick(name: str, default: int) -> int:
        value = _get(override, name)
        if value is None:
            value = _get(hnsw, name)
        return default if value is None else int(value)

    m = pick("m", DEFAULT_M)
    ef_construct = max(4, pick("ef_construct", DEFAULT_EF_CONSTRUCT))
    full_scan_kb = pick("full_scan_threshold", DEFAULT_FULL_SCAN_KB)
    threads = pick("max_indexing_threads", 0)
    indexing_kb = _get(config.optimizer_config, "indexing_threshold")
    indexing_kb = DEFAULT_INDEXING_KB if indexing_kb is None else int(indexing_kb)
    params = HnswParams(dim, distance, m, ef_construct) if m > 0 else None
    return IndexSettings(
        dim=dim,
        params=params,
        indexing_kb=indexing_kb,
        full_scan_kb=full_scan_kb,
        threads=min(threads, os.cpu_count() or 1) if threads > 0 else (os.cpu_count() or 1),
    )
