"""The query planner: which path answers one dense nearest-neighbour query.

Rules (docs/indexing.md tells the story, with the measurements behind the constants):

* **Scores are always exact.** Whatever proposes the candidates (a full scan, a subset scan, the
  HNSW graph), the returned scores are computed from the stored vectors by
  ``DenseVectors.scores``, so a graph result and an exact result agree on every score.
* **Paths.** ``exact`` scores every candidate (all live vectors, or the filter's subset);
  ``graph`` asks HNSW for the ``k`` nearest; ``graph-filtered`` asks HNSW for ``k'`` nearest
  (oversampled by the inverse of the filter's selectivity) and keeps the ones the filter mask
  accepts, retrying with a larger ``k'`` when too few survive and scoring the subset exactly
  when that is cheaper. The filter is applied to the graph's candidates in numpy rather than
  inside hnswlib's traversal: hnswlib calls a Python callback per visited node, which measured
  4-10x slower than oversampling at 1-10 % selectivity.
* **Never fewer than limit.** A graph answer is accepted only when it holds ``needed`` points
  (or the graph returned every element); otherwise the planner escalates and finally scores
  the candidate subset exactly.
* **Segments.** A vector's graphs cover blocks of offsets (``segments.py``); unfiltered and
  filtered graph searches run per segment and the union of their candidates is rescored, so
  every rule above holds per segment and therefore for the union.
* **Quantization** (``quantized``, docs/quantization.md): whichever path proposes the candidates,
  they are first ranked by their *code* scores and the best ``top`` (``limit * oversampling``)
  kept; those are rescored exactly (``rescore``) or returned with their code scores. The graph
  is asked for ``top`` candidates instead of ``needed``. Only then is the "scores are exact"
  rule above relaxed, and only when the search asks for ``rescore=False`` (or binary's default
  is overridden).
* **Choosing.** ``exact=True`` or no usable graph: exact. Otherwise exact when the candidate
  count is below ``full_scan_threshold`` (converted from KB to points) *and* the cost model says
  a subset scan is cheaper than the graph search; the graph otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..vectors import DenseVectors, passes_threshold, top_k
from .filter_cache import ROWS_MAX_BYTES, CachedFilter
from .hnsw import HnswIndex
from .segments import GraphSet, map_segments
from .settings import IndexSettings

# Cost model, in nanoseconds (measured on the project's 2-core VM, see docs/indexing.md):
# an exact subset scan costs a gather plus a dot product per candidate row; a graph search costs
# about ``ef`` node expansions of m neighbours each, a few hundred ns per 128 dims each.
EXACT_FIXED_NS = 15_000
EXACT_NS_PER_ELEMENT = 0.7          # per candidate row per dimension (gather + score)
GRAPH_FIXED_NS = 25_000
GRAPH_NS_PER_EF_ELEMENT = 5.0       # per ef unit per dimension, at m = 16

FILTER_OVERSAMPLING = 2.0           # k' = needed / selectivity * this + FILTER_PAD
FILTER_PAD = 10
RETRY_GROWTH = 4                    # k' grows by this factor when too few candidates survive
# Manhattan has no graph of its own: the L2 graph proposes this many times `needed` candidates for
# the exact L1 rescoring (unfiltered; filtered searches already oversample by 1/selectivity, so
# they use the smaller factor). Measured recall@10 on clustered 64-d data, unfiltered: x1 0.64,
# x2 0.85, x4 0.96, x8 0.99; filtered 10 %: x1 0.98, x2 1.0.
MANHATTAN_OVERSAMPLING = 8
MANHATTAN_FILTERED_OVERSAMPLING = 2


@dataclass
class PlannedSearch:
    """The answer (best first) and how it was found."""

    offsets: np.ndarray
    scores: np.ndarray
    path: str               # "exact", "graph", "graph-filtered", "none" (indexed_only, nothing indexed)
    candidates: int = 0     # points the filter (and liveness) admits
    attempts: int = 0       # graph searches run


def exact_cost(count: int, dim: int) -> float:
    return EXACT_FIXED_NS + count * dim * EXACT_NS_PER_ELEMENT


def graph_cost(ef: int, dim: int, m: int) -> float:
    return GRAPH_FIXED_NS + ef * dim * GRAPH_NS_PER_EF_ELEMENT * max(m, 4) / 16


def plan_search(
    vec: DenseVectors,
    index: GraphSet | None,
    settings: IndexSettings,
    query: np.ndarray,
    filtered: CachedFilter | np.ndarray | None,
    size: int,
    needed: int,
    *,
    hnsw_ef: int | None = None,
    exact: bool = False,
    indexed_only: bool = False,
    score_threshold: float | None = None,
    graph_pending: bool = False,
    quantized: tuple | None = None,
) -> PlannedSearch:
    """Search ``vec`` for the ``needed`` best points.

    ``filtered``: ``None`` for every point holding this vector, else the filter's candidates
    (a ``CachedFilter``, or a bool mask over ``[0, size)``) already restricted to points that
    hold the vector (filter & alive & present). ``index``: the vector's graphs (one per
    segment), holding exactly the current vectors, or ``None``. ``graph_pending``: the vector
    calls for a graph that is not ready, which ``indexed_only`` treats as "nothing indexed".
    ``quantized``: ``(QuantizedVectors, QuantSearch)`` when this search ranks candidates by
    their codes first (``QuantSearch.top`` kept, then rescored or not), else None.
    """
    final = needed
    if quantized is not None:
        needed = max(needed, quantized[1].top)   # candidates to propose, ranked by codes later
    if filtered is not None and not isinstance(filtered, CachedFilter):
        filtered = CachedFilter(filtered, int(np.count_nonzero(filtered)))
    if indexed_only and graph_pending and (index is None or index.empty):
        return PlannedSearch(np.zeros(0, np.int64), np.zeros(0, np.float32), "none")
    use_graph = not exact and index is not None and not index.empty
    if not use_graph:
        return _exact(vec, query, filtered, size, final, score_threshold, quantized=quantized)

    dim = vec.dim
    m = index.params.m
    ef = settings.ef_default if hnsw_ef is None else max(1, int(hnsw_ef))
    n = index.live
    segments = list(index.items())
    manhattan = vec.distance == "Manhattan"

    if filtered is None:
        k = needed * (MANHATTAN_OVERSAMPLING if manhattan else 1)
        if n < settings.full_scan_points and exact_cost(n, dim) <= len(segments) * graph_cost(max(ef, k), dim, m):
            return _exact(vec, query, None, size, final, score_threshold, quantized=quantized)
        if quantized is not None:
            # The traversal's whole beam (ef) goes to the codes, which pick the best `top`, as
            # Qdrant's graph search over quantized scores keeps its ef best by code score.
            k = max(k, ef)
        labels = index.search(query, k, max(ef, k))
        if labels is None:
            return _exact(vec, query, None, size, final, score_threshold, quantized=quantized)
        return _rescored(vec, query, labels, final, score_threshold, "graph", n, len(segments), quantized)

    over = MANHATTAN_FILTERED_OVERSAMPLING if manhattan else 1
    count = filtered.count
    if count == 0:
        return PlannedSearch(np.zeros(0, np.int64), np.zeros(0, np.float32), "exact", 0)
    k = _oversampled(needed * over, n, count)
    if k >= n or (count < settings.full_scan_points
                  and exact_cost(count, dim) <= len(segments) * graph_cost(max(ef, k), dim, m)):
        return _exact(vec, query, filtered, size, final, score_threshold, quantized=quantized)
    mask = filtered.mask
    attempts = [0]

    def in_segment(item: tuple[int, HnswIndex]) -> np.ndarray | None:
        seg, graph = item
        lo, hi = index.bounds(seg)
        seg_mask = mask[lo:hi]
        c = int(np.count_nonzero(seg_mask))
        if c == 0:
            return None
        n_seg = graph.live
        k = _oversampled(needed * over, n_seg, c)
        while k < n_seg and graph_cost(max(ef, k), dim, m) <= exact_cost(c, dim):
            attempts[0] += 1
            labels = graph.search(query, k, max(ef, k))
            if labels is None:
                break
            hits = labels[seg_mask[labels - lo]]
            if len(hits) >= needed or len(labels) >= n_seg:
                return hits
            k *= RETRY_GROWTH
        # This segment's graph could not give `needed` matches cheaply: all its matches are
        # candidates (scored exactly below), so the union never misses one.
        return np.flatnonzero(seg_mask) + lo

    found = [f for f in map_segments(in_segment, segments) if f is not None]
    labels = np.concatenate(found) if found else np.zeros(0, np.int64)
    return _rescored(vec, query, labels, final, score_threshold, "graph-filtered", count, attempts[0], quantized)


def _oversampled(needed: int, n: int, count: int) -> int:
    """Graph candidates to ask for so that about 2 x ``needed`` of them match a filter that
    admits ``count`` of ``n`` vectors."""
    return math.ceil(needed * n / count * FILTER_OVERSAMPLING) + FILTER_PAD


def _exact(vec: DenseVectors, query: np.ndarray, filtered: CachedFilter | None, size: int, needed: int,
           score_threshold: float | None, attempts: int = 0, quantized: tuple | None = None) -> PlannedSearch:
    cand = np.flatnonzero(vec.present_mask(size)) if filtered is None else filtered.offsets
    count = len(cand)
    if quantized is not None:   # a code scan: every candidate scored by its codes
        return _by_codes(vec, query, cand, needed, score_threshold, "exact", count, attempts, quantized)
    if filtered is not None and filtered.rows is not None:
        scores = vec.scores_of_rows(query, filtered.rows)
    elif filtered is not None and filtered.cached and count * vec.dim * 4 <= ROWS_MAX_BYTES:
        filtered.rows = vec.data[cand]       # gathered once, reused by the next queries of this filter
        scores = vec.scores_of_rows(query, filtered.rows)
    else:
        scores = vec.scores(query, cand)
    keep = passes_threshold(scores, score_threshold, vec.distance)
    if keep is not None:
        cand, scores = cand[keep], scores[keep]
    best = top_k(scores, needed, vec.distance)
    return PlannedSearch(cand[best], scores[best], "exact", count, attempts)


def _rescored(vec: DenseVectors, query: np.ndarray, labels: np.ndarray, needed: int,
              score_threshold: float | None, path: str, count: int, attempts: int,
              quantized: tuple | None = None) -> PlannedSearch:
    """Exact scores for the graph's candidates; ties ordered by offset, as the exact path does."""
    cand = np.sort(labels)
    cand = cand[vec.present[cand]]   # defence in depth: a point without the vector is never returned
    if quantized is not None:
        return _by_codes(vec, query, cand, needed, score_threshold, path, count, attempts, quantized)
    scores = vec.scores(query, cand)
    keep = passes_threshold(scores, score_threshold, vec.distance)
    if keep is not None:
        cand, scores = cand[keep], scores[keep]
    best = top_k(scores, needed, vec.distance)
    return PlannedSearch(cand[best], scores[best], path, count, attempts)


def _by_codes(vec: DenseVectors, query: np.ndarray, cand: np.ndarray, needed: int, score_threshold: float | None,
              path: str, count: int, attempts: int, quantized: tuple) -> PlannedSearch:
    """Rank ``cand`` (sorted offsets) by code scores, keep the best ``top``, then rescore them
    exactly or return the code scores (Qdrant: ``rescore``); the threshold applies to the
    scores returned."""
    codes, options = quantized
    approx = codes.scores(query, cand)
    best = top_k(approx, options.top, vec.distance)
    if options.rescore:
        kept = np.sort(cand[best])
        scores = vec.scores(query, kept)
    else:
        order = np.sort(best)
        kept, scores = cand[order], approx[order]
    keep = passes_threshold(scores, score_threshold, vec.distance)
    if keep is not None:
        kept, scores = kept[keep], scores[keep]
    final = top_k(scores, needed, vec.distance)
    return PlannedSearch(kept[final], scores[final], path + "+quantized", count, attempts)
