"""Distance matrix: a sample of points and, per sampled point, its nearest other sampled points.

``sample`` points (random) are drawn among those matching the filter and holding the vector; fewer
than two give an empty answer. Samples are listed by id (integer ids first, then UUIDs, as the
official client does), and each row holds the ``limit`` nearest *other* samples with their Qdrant
scores (best first per the distance; ties: lower position first). Scores are exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vectors import top_k
from .access import VectorAccess


def _id_key(pid: Any) -> tuple:
    return (pid, 0) if isinstance(pid, str) else ("", pid)


def distance_matrix(collection: Any, flt: Any, sample: int, limit: int, using: str | None):
    """(ids, rows): ``rows[i]`` is a list of (column index, score)."""
    access = VectorAccess(collection, using or "")
    with collection._lock:
        candidates = np.flatnonzero(collection.filter_mask(flt) & access.present())
        if len(candidates) > sample:
            candidates = np.random.default_rng().choice(candidates, size=sample, replace=False)
        if len(candidates) < 2:
            return [], []
        ext = collection._ext_ids
        candidates = np.asarray(sorted(candidates.tolist(), key=lambda o: _id_key(ext[o])), dtype=np.int64)
        ids = [ext[o] for o in candidates.tolist()]
        rows = []
        for i, off in enumerate(candidates.tolist()):
            others = np.delete(np.arange(len(candidates)), i)
            scores = access.scores(access.prepare(access.vector(off)), candidates[others])
            order = top_k(scores, limit, "Dot" if access.higher_is_better else "Euclid")
            rows.append([(int(others[j]), float(scores[j])) for j in order.tolist()])
    return ids, rows
