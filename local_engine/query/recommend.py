"""Scores of the example-based query variants: recommend, discover, context, relevance feedback.

All of them score a candidate by the *raw* similarity (``VectorAccess.raw``: larger is better,
Euclid as minus the squared distance) to some example vectors, and their results are ordered
larger-first whatever the distance (QDRANT_REFERENCE.md §6):

* recommend ``average_vector`` is not scored here: it becomes one nearest search with the
  vector ``avg(pos) + avg(pos) - avg(neg)`` (``average_vector``; sparse: per index; multivectors:
  the rows of the positives and the negated rows of the negatives);
* ``best_score``: ``sigm(max_pos)`` if ``max_pos > max_neg`` else ``-sigm(max_neg)``;
* ``sum_scores``: ``sum(pos) - sum(neg)``;
* discover: ``sum over pairs of sign(sim(pos) - sim(neg)) + sigm(sim(target))``;
* context: ``sum over pairs of fast_sigmoid(min(sim(pos) - sim(neg) - eps, 0))``;
* naive relevance feedback: ``a * sim(target) + sum over ordered pairs (i, j) with
  confidence = s_i - s_j > 0 of confidence^b * c * (sim(v_i) - sim(v_j))``.

``fast_sigmoid(x) = x / (1 + |x|)``, ``sigm(x) = (fast_sigmoid(x) + 1) / 2`` (Qdrant's core).
"""

from __future__ import annotations

from itertools import permutations
from typing import Any, Callable

import numpy as np

from ..errors import BadRequest

EPSILON = 1.1920929e-7   # f32::EPSILON, as core subtracts it in context scoring


def fast_sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        out = x / (1.0 + np.abs(x))
    return np.where(np.isfinite(x), out, x)


def scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (fast_sigmoid(x) + 1.0)


Raw = Callable[[Any], np.ndarray]   # example vector -> raw similarity to every candidate


def _is_sparse(v: Any) -> bool:
    return hasattr(v, "indices") and hasattr(v, "values")


def _sparse_average(vectors: list) -> dict:
    total: dict[int, float] = {}
    for v in vectors:
        for i, x in zip(list(v.indices), list(v.values)):
            total[int(i)] = total.get(int(i), 0.0) + float(x)
    return {i: x / len(vectors) for i, x in total.items()}


def average_vector(positive: list, negative: list) -> Any:
    if not positive:
        raise BadRequest("Wrong input: Positive list is empty (average_vector needs at least one positive example)")
    if _is_sparse(positive[0]):
        from sdk import models

        pos = _sparse_average(positive)
        if negative:
            neg = _sparse_average(negative)
            pos = {i: pos.get(i, 0.0) * 2 - neg.get(i, 0.0) for i in sorted(set(pos) | set(neg))}
        keys = sorted(pos)
        return models.SparseVector(indices=keys, values=[pos[i] for i in keys])
    if isinstance(positive[0], np.ndarray) and positive[0].ndim == 2 or (
            isinstance(positive[0], list) and positive[0] and isinstance(positive[0][0], (list, np.ndarray))):
        # multivectors: the positives' rows and the negatives' rows negated, concatenated (Qdrant)
        rows = [np.asarray(r, dtype=np.float32) for m in positive for r in m]
        rows += [-np.asarray(r, dtype=np.float32) for m in negative for r in m]
        return np.stack(rows)
    pos = np.mean(np.stack([np.asarray(v, dtype=np.float64) for v in positive]), axis=0)
    if not negative:
        return pos.astype(np.float32)
    neg = np.mean(np.stack([np.asarray(v, dtype=np.float64) for v in negative]), axis=0)
    return (pos + pos - neg).astype(np.float32)


def best_score(raw: Raw, positive: list, negative: list, n: int) -> np.ndarray:
    def best(examples: list) -> np.ndarray:
        if not examples:
            return np.full(n, -np.inf, dtype=np.float32)
        return np.max(np.stack([raw(v) for v in examples]).astype(np.float32), axis=0)

    pos, neg = best(positive), best(negative)
    return np.where(pos > neg, scaled_sigmoid(pos), -scaled_sigmoid(neg))


def sum_scores(raw: Raw, positive: list, negative: list, n: int) -> np.ndarray:
    def total(examples: list) -> np.ndarray:
        if not examples:
            return np.zeros(n, dtype=np.float32)
        return np.sum(np.stack([raw(v) for v in examples]).astype(np.float32), axis=0)

    return total(positive) - total(negative)


def discover(raw: Raw, target: Any, pairs: list, n: int) -> np.ndarray:
    ranks = np.zeros(n, dtype=np.float64)
    for positive, negative in pairs:
        ranks += np.sign(raw(positive) - raw(negative))
    return ranks + scaled_sigmoid(raw(target).astype(np.float32))


def context(raw: Raw, pairs: list, n: int) -> np.ndarray:
    total = np.zeros(n, dtype=np.float32)
    for positive, negative in pairs:
        diff = (raw(positive) - raw(negative) - EPSILON).astype(np.float32)
        total += fast_sigmoid(np.minimum(diff, 0.0)).astype(np.float32)
    return total


def naive_feedback(raw: Raw, target: Any, feedback: list, a: float, b: float, c: float, n: int) -> np.ndarray:
    """``feedback``: list of (vector, score)."""
    score = a * raw(target)
    if len(feedback) >= 2:
        for (pos_vec, pos_score), (neg_vec, neg_score) in permutations(feedback, 2):
            confidence = pos_score - neg_score
            if confidence <= 0.0:
                continue
            score = score + (confidence**b) * c * (raw(pos_vec) - raw(neg_vec))
    return score
