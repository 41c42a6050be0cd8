"""How the query package reads one vector name of a collection.

The query variants need four things of a vector name: which points hold it, the stored vector
of one point (point ids used as query inputs), Qdrant scores of a prepared query against some
offsets, and the *raw* similarity Qdrant's core uses inside recommend / discover / context /
feedback / MMR scoring, where larger is always better:

    Cosine, Dot  -> the score itself
    Euclid       -> -(squared distance)
    Manhattan    -> -(L1 distance)

The collection's ``vector_store(using)`` is the contract (dense, sparse and multivectors alike);
until a collection offers it, the dense store (``_dense_for``) has the same four methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class VectorAccess:
    def __init__(self, collection: Any, using: str) -> None:
        getter = getattr(collection, "vector_store", None)
        self.store = getter(using) if getter is not None else collection._dense_for(using)
        self.using = using
        self.distance = getattr(self.store, "distance", "Dot")
        higher = getattr(self.store, "higher_is_better", None)
        if callable(higher):
            higher = higher()
        self.higher_is_better = bool(higher) if higher is not None else self.distance in ("Cosine", "Dot")
        self.size = collection.size

    def present(self) -> np.ndarray:
        return self.store.present_mask(self.size)

    def vector(self, offset: int) -> Any:
        return self.store.get(offset)

    def prepare(self, query: Any) -> Any:
        return self.store.prepare_query(query)

    def scores(self, prepared: Any, offsets: np.ndarray) -> np.ndarray:
        return np.asarray(self.store.scores(prepared, offsets), dtype=np.float64)

    def raw(self, prepared: Any, offsets: np.ndarray) -> np.ndarray:
        """Core-internal similarity (larger is better) of ``prepared`` against ``offsets``."""
        s = self.scores(prepared, offsets)
        if self.distance == "Euclid":
            return -(s * s)
        if self.distance == "Manhattan":
            return -s
        return s
