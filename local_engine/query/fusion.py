"""Fusion of prefetch results: reciprocal rank fusion and distribution-based score fusion.

A source is the (offsets, scores) answer of one prefetch, best first. Both fusions order
their output larger-first, and points of equal fused score keep the order in which they first
appeared across the sources (source 0 first) — a stable sort, as Qdrant's fusion and the
official client's local mode do.

* RRF: a point at 0-based position ``pos`` of a source with weight ``w`` gets
  ``1 / ((pos + 1) / w + k - 1)`` (0 when ``w <= 0``); ``k`` defaults to 2.
* DBSF: each source is normalised with its mean ± 3 standard deviations (sample variance) —
  ``(s - (mean - 3sd)) / 6sd`` — a one-point or constant source gives 0.5; the normalised
  scores of a point are summed. Scores are taken as given: a source ordered smaller-first
  (Euclid) is normalised as is.
"""

from __future__ import annotations

import numpy as np

from ..errors import BadRequest

DEFAULT_RRF_K = 2

Source = tuple  # (offsets: np.ndarray, scores: np.ndarray)


def _stable_top(order_keys: dict, limit: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.fromiter(order_keys.keys(), dtype=np.int64, count=len(order_keys))
    scores = np.fromiter(order_keys.values(), dtype=np.float64, count=len(order_keys))
    order = np.argsort(-scores, kind="stable")[:limit]
    return offsets[order], scores[order]


def rrf(sources: list[Source], limit: int, k: int | None = None, weights: list | None = None):
    if weights is not None and len(weights) != len(sources):
        raise BadRequest(
            f"Wrong input: RRF weights must match the number of prefetches: {len(weights)} weights, {len(sources)} prefetches"
        )
    k = DEFAULT_RRF_K if k is None else k
    if k < 1:
        raise BadRequest(f"Wrong input: rrf k value {k} is invalid. Must be 1 or larger.")
    fused: dict[int, float] = {}
    for i, (offsets, _) in enumerate(sources):
        w = 1.0 if weights is None else float(weights[i])
        for pos, off in enumerate(offsets.tolist()):
            score = 0.0 if w <= 0 else 1.0 / ((pos + 1.0) / w + k - 1.0)
            fused[off] = fused.get(off, 0.0) + score
    return _stable_top(fused, limit)


def dbsf(sources: list[Source], limit: int):
    fused: dict[int, float] = {}
    for offsets, scores in sources:
        n = len(offsets)
        if n == 0:
            continue
        values = np.asarray(scores, dtype=np.float64)
        if n == 1:
            normalised = np.full(1, 0.5)
        else:
            mean = values.sum() / n
            variance = ((values - mean) ** 2).sum() / (n - 1)
            if variance == 0:
                normalised = np.full(n, 0.5)
            else:
                sd = variance**0.5
                low, high = mean - 3 * sd, mean + 3 * sd
                normalised = (values - low) / (high - low)
        for off, s in zip(offsets.tolist(), normalised.tolist()):
            fused[off] = fused.get(off, 0.0) + s
    return _stable_top(fused, limit)
