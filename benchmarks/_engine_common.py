"""Helpers of bench_engine.py: the filters, exact ground truth, recall and query timing.

Every system answers the same queries on the same data (``_common.clustered_dataset``), with
payload ``{"group": g, "bucket": b}``: ``group`` in 0..9 (the issue's 10-valued field) and
``bucket`` in 0..99, both uniform and independent of the clusters, both indexed. The filters:

* ``f10``: ``group == 3``  (10 % of the points)
* ``f1``:  ``bucket == 7`` (1 % of the points)
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

LIMIT = 10
FILTERS = {"f10": ("group", 3), "f1": ("bucket", 7)}
KINDS = ("unfiltered", "f10", "f1")


def buckets(n: int, seed: int) -> np.ndarray:
    """The ``bucket`` field (0..99), deterministic for (n, seed) and independent of ``group``."""
    return np.random.default_rng(seed + 1).integers(0, 100, size=n)


def payload_columns(groups: np.ndarray, bucket: np.ndarray) -> list[dict[str, int]]:
    return [{"group": g, "bucket": b} for g, b in zip(groups.tolist(), bucket.tolist())]


def masks(groups: np.ndarray, bucket: np.ndarray) -> dict[str, np.ndarray | None]:
    return {"unfiltered": None, "f10": groups == FILTERS["f10"][1], "f1": bucket == FILTERS["f1"][1]}


def normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32)


def ground_truth(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None, k: int = LIMIT,
                 chunk: int = 200_000) -> np.ndarray:
    """Exact Cosine top-``k`` ids per query (numpy, blocked over the points)."""
    xn = normalise(vectors)
    qn = normalise(queries)
    ids = np.arange(len(xn)) if mask is None else np.flatnonzero(mask)
    best_s = np.full((len(qn), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(qn), 0), dtype=np.int64)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        s = qn @ xn[part].T
        kk = min(k, s.shape[1])
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part[top]], axis=1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(best_s, keep, axis=1)
        best_i = np.take_along_axis(best_i, keep, axis=1)
    return best_i


def recall(got: Sequence[Sequence[int]], truth: np.ndarray) -> float:
    """Mean recall@k of ``got`` (ids per query) against ``truth``."""
    if len(got) == 0:
        return float("nan")
    total = 0.0
    for row, want in zip(got, truth):
        want = set(int(x) for x in want)
        total += len(set(int(x) for x in row) & want) / max(1, len(want))
    return total / len(got)


def time_queries(run: Callable[[int], list], n: int, passes: int = 3, warmup: int = 5) -> tuple[list[float], list[list]]:
    """Run query ``i`` for i in range(n), ``passes`` times; returns (latencies in ms, ids of the last pass)."""
    for i in range(min(warmup, n)):
        run(i)
    times: list[float] = []
    ids: list[list] = []
    for p in range(passes):
        ids = []
        for i in range(n):
            t0 = time.perf_counter()
            got = run(i)
            times.append((time.perf_counter() - t0) * 1000.0)
            ids.append(got)
    return times, ids


def summary(times: list[float], ids: list[list], truth: np.ndarray) -> dict[str, Any]:
    arr = np.asarray(times)
    return {
        "p50_ms": float(np.median(arr)),
        "p90_ms": float(np.percentile(arr, 90)),
        "n": len(times),
        "recall": recall(ids, truth[: len(ids)]),
        "short": int(sum(1 for row in ids if len(row) < LIMIT)),
    }
