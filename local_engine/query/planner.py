"""The universal query: a prefetch tree evaluated bottom-up into one ranked list.

Rules (docs/query.md tells the story):

* **Nodes.** A request or prefetch is a node: ``query``, ``using``, ``filter``, ``limit``,
  ``score_threshold``, ``params``, ``lookup_from`` and child prefetches. A node's answer is
  ``Hits`` — offsets and scores, best first — never models; payloads and vectors are only read
  for the final page (``QueryEngine.points``).
* **Leaves** answer from the collection: nearest through ``Collection.search`` (the planner,
  HNSW or exact), the example-based variants (recommend best_score / sum_scores, discover,
  context, relevance feedback) by exact scoring of the filtered candidates, order_by through
  the payload index, sample by a random permutation, no query in id order.
* **Inner nodes** first answer their prefetches (each with the parent's filter merged into its
  own, ``inputs.merge_filters``), then either fuse them (rrf / dbsf), rescore them with a
  formula, or run their own query restricted to the union of the prefetched points (exact
  scores, the parent's filter still applies).
* **Ordering.** Nearest follows the distance (larger-first for Cosine/Dot, smaller-first for
  Euclid/Manhattan); every other scored variant is larger-first. Ties go to the lower offset
  (fusion and formula: first appearance), so answers are deterministic.
* **Thresholds** are strict and follow the distance for nearest (``>`` / ``<``); fusion and
  formula keep ``score >= threshold``, as Qdrant does.
* **Ids as inputs** are resolved before anything runs (``inputs.InputResolver``) and excluded
  from the node that used them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sdk import models

from ..errors import BadRequest
from ..vectors import top_k
from . import fusion, recommend
from .access import VectorAccess
from .formula import FormulaScorer
from .inputs import InputResolver, Resolved, exclude_ids, merge_filters
from .mmr import mmr_order

MMR_CANDIDATES_LIMIT_MAX = 16_384
DEFAULT_PREFETCH_LIMIT = 10


@dataclass
class Hits:
    offsets: np.ndarray
    scores: np.ndarray
    order_values: list | None = None

    @staticmethod
    def empty() -> "Hits":
        return Hits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    def page(self, offset: int, limit: int | None = None) -> "Hits":
        stop = None if limit is None else offset + limit
        values = None if self.order_values is None else self.order_values[offset:stop]
        return Hits(self.offsets[offset:stop], self.scores[offset:stop], values)


def _enum(value: Any) -> Any:
    return getattr(value, "value", value)


def validate_node(query: Any, using: str | None, prefetch: list, score_threshold: Any) -> None:
    """Qdrant's request-level checks (its wording, as BadRequest)."""
    kind = type(query).__name__
    if prefetch and query is None:
        raise BadRequest("Wrong input: A query is needed to merge the prefetches.")
    if score_threshold is not None:
        if query is None:
            raise BadRequest("Wrong input: A query is needed to use the score_threshold.")
        if kind == "OrderByQuery":
            raise BadRequest("Wrong input: Can't use score_threshold with an order_by query.")
    if kind in ("FusionQuery", "RrfQuery") and using:
        raise BadRequest("Wrong input: Fusion queries cannot be combined with the 'using' field.")
    if kind == "RrfQuery" and query.rrf.k is not None and query.rrf.k < 1:
        raise BadRequest(f"Wrong input: rrf k value {query.rrf.k} is invalid. Must be 1 or larger.")
    if kind == "NearestQuery" and query.mmr is not None:
        cl = query.mmr.candidates_limit
        if cl is not None and not 0 <= cl <= MMR_CANDIDATES_LIMIT_MAX:
            raise BadRequest(
                f"Wrong input: mmr candidates_limit value {cl} is invalid. Must be between 0 and {MMR_CANDIDATES_LIMIT_MAX}."
            )
        div = query.mmr.diversity
        if div is not None and not 0.0 <= div <= 1.0:
            raise BadRequest(f"Wrong input: mmr diversity value {div} is invalid. Must be between 0.0 and 1.0.")
    if kind == "RelevanceFeedbackQuery":
        naive = getattr(query.relevance_feedback.strategy, "naive", None)
        if naive is not None and naive.b < 0:
            raise BadRequest(f"Wrong input: naive feedback b value {naive.b} is invalid. Must be 0 or larger.")
    if kind in ("FusionQuery", "RrfQuery", "FormulaQuery") and not prefetch:
        what = {"FusionQuery": "fusion", "RrfQuery": "RRF query", "FormulaQuery": "formula"}[kind]
        raise BadRequest(f"Wrong input: Cannot perform {what} without prefetches")
    for p in prefetch:
        if p.limit is not None and p.limit < 1:
            raise BadRequest(f"Wrong input: prefetch limit value {p.limit} is invalid. Must be 1 or larger.")
        validate_node(p.query, p.using, _prefetch_list(p.prefetch), p.score_threshold)


def _prefetch_list(prefetch: Any) -> list:
    if prefetch is None:
        return []
    return list(prefetch) if isinstance(prefetch, list) else [prefetch]


class QueryEngine:
    """Evaluates query trees over one collection (ids may be looked up in others via ``engine``)."""

    def __init__(self, engine: Any, collection: Any) -> None:
        self.engine = engine
        self.collection = collection

    # -- entry point -----------------------------------------------------------------------------
    def run(self, query: Any, prefetch: Any, flt: Any, limit: int, offset: int, using: str | None,
            score_threshold: float | None, params: Any, lookup_from: Any) -> Hits:
        prefetches = _prefetch_list(prefetch)
        validate_node(query, using, prefetches, score_threshold)
        resolved = InputResolver(self.engine, self.collection, using, lookup_from).resolve(query)
        flt = exclude_ids(flt, resolved.mentioned)
        return self._node(resolved, prefetches, flt, limit, offset, using, score_threshold, params)

    def points(self, hits: Hits, with_payload: Any, with_vectors: Any) -> list[models.ScoredPoint]:
        coll = self.collection
        points = coll._scored_points(hits.offsets, hits.scores, with_payload, with_vectors)
        if hits.order_values is not None:
            for point, value in zip(points, hits.order_values):
                point.order_value = value
        return points

    # -- the tree -------------------------------------------------------------------------------------
    def _node(self, q: Resolved, prefetches: list, flt: Any, limit: int, offset: int, using: str | None,
              threshold: float | None, params: Any) -> Hits:
        if not prefetches:
            return self._leaf(q, flt, limit, offset, using, threshold, params, None)
        sources = [self._prefetch(p, flt) for p in prefetches]
        if q.kind in ("fusion", "rrf"):
            if q.kind == "rrf":
                offs, scores = fusion.rrf(sources, limit + offset, q.query.rrf.k, q.query.rrf.weights)
            elif _enum(q.query.fusion) == "rrf":
                offs, scores = fusion.rrf(sources, limit + offset)
            else:
                offs, scores = fusion.dbsf(sources, limit + offset)
            return _at_least(Hits(offs, scores), threshold).page(offset)
        if q.kind == "formula":
            seen = list(dict.fromkeys(off for offs, _ in sources for off in offs.tolist()))
            scorer = FormulaScorer(self.collection, q.query.formula, q.query.defaults, sources)
            scores = scorer.score_all(seen)
            order = np.argsort(-scores, kind="stable")[: limit + offset]
            hits = Hits(np.asarray(seen, dtype=np.int64)[order], scores[order])
            return _at_least(hits, threshold).page(offset)
        union = np.unique(np.concatenate([offs for offs, _ in sources])) if sources else np.zeros(0, np.int64)
        if len(union) == 0:
            return Hits.empty()
        return self._leaf(q, flt, limit, offset, using, threshold, params, union)

    def _prefetch(self, p: Any, parent_filter: Any) -> tuple:
        resolved = InputResolver(self.engine, self.collection, p.using, p.lookup_from).resolve(p.query)
        flt = exclude_ids(merge_filters(parent_filter, p.filter), resolved.mentioned)
        limit = DEFAULT_PREFETCH_LIMIT if p.limit is None else p.limit
        hits = self._node(resolved, _prefetch_list(p.prefetch), flt, limit, 0, p.using, p.score_threshold, p.params)
        return hits.offsets, hits.scores

    # -- leaves -------------------------------------------------------------------------------------------
    def _leaf(self, q: Resolved, flt: Any, limit: int, offset: int, using: str | None,
              threshold: float | None, params: Any, restrict: np.ndarray | None) -> Hits:
        coll = self.collection
        using = using or ""
        kind = q.kind
        if kind == "none":
            return self._by_id(_restricted(coll, flt, restrict), limit, offset)
        if kind == "order_by":
            ordered = coll.ordered_by_payload(_restricted(coll, flt, restrict), q.query.order_by, offset + limit)
            ordered = ordered[offset:]
            return Hits(np.asarray([o for o, _ in ordered], dtype=np.int64), np.ones(len(ordered)),
                        [v for _, v in ordered])
        if kind == "sample":
            mask = coll.filter_mask(flt)
            if restrict is not None:
                mask = mask & _mask_of(restrict, len(mask))
            candidates = np.flatnonzero(mask)
            picked = np.random.default_rng().permutation(candidates)[:limit]
            return Hits(picked.astype(np.int64), np.ones(len(picked)))
        if kind in ("fusion", "rrf", "formula"):   # validated away; defensive
            raise BadRequest(f"Wrong input: Cannot perform {kind} without prefetches")
        access = VectorAccess(coll, using)
        if kind == "nearest":
            mmr = getattr(q.query, "mmr", None) if q.query is not None else None
            if mmr is not None:
                pool = limit if mmr.candidates_limit is None else mmr.candidates_limit
                cands = self._nearest(access, q.vector, flt, pool, 0, threshold, params, restrict)
                picks = mmr_order(access, q.vector, cands.offsets, mmr.diversity, limit + offset)[offset:]
                return Hits(cands.offsets[picks], cands.scores[picks])
            return self._nearest(access, q.vector, flt, limit, offset, threshold, params, restrict)
        if kind == "recommend":
            strategy = _enum(q.query.recommend.strategy) or "average_vector"
            if strategy == "average_vector":
                vector = recommend.average_vector(q.positive, q.negative)
                return self._nearest(access, vector, flt, limit, offset, threshold, params, restrict)
            if not q.positive and not q.negative:
                raise BadRequest("Wrong input: No positive or negative examples given")
        if kind == "discover" and q.vector is None:
            raise BadRequest("Wrong input: discover needs a target")
        return self._exact_examples(access, q, flt, limit, offset, threshold, restrict)

    def _by_id(self, flt: Any, limit: int, offset: int) -> Hits:
        coll = self.collection
        with coll._lock:
            mask = coll.filter_mask(flt)
            order = coll._id_order()
            order = order[mask[order]][offset : offset + limit]
        return Hits(order.astype(np.int64), np.zeros(len(order)))

    def _nearest(self, access: VectorAccess, vector: Any, flt: Any, limit: int, offset: int,
                 threshold: float | None, params: Any, restrict: np.ndarray | None) -> Hits:
        coll = self.collection
        if limit <= 0:
            return Hits.empty()
        if restrict is None:
            offsets, scores = coll.search_offsets(vector, access.using, flt, limit, offset, threshold, params)
            return Hits(np.asarray(offsets, dtype=np.int64), np.asarray(scores, dtype=np.float64))
        prepared = access.prepare(vector)
        candidates = self._candidates(access, flt, restrict)
        overlaps = getattr(access.store, "overlaps", None)
        if overlaps is not None:   # sparse: a point sharing no index with the query is no match
            candidates = candidates[overlaps(prepared, candidates)]
        scores = access.scores(prepared, candidates)
        return _ranked(candidates, scores, access.higher_is_better, threshold, limit, offset)

    def _candidates(self, access: VectorAccess, flt: Any, restrict: np.ndarray | None) -> np.ndarray:
        mask = self.collection.filter_mask(flt) & access.present()
        if restrict is not None:
            mask &= _mask_of(restrict, len(mask))
        return np.flatnonzero(mask)

    def _exact_examples(self, access: VectorAccess, q: Resolved, flt: Any, limit: int, offset: int,
                        threshold: float | None, restrict: np.ndarray | None) -> Hits:
        candidates = self._candidates(access, flt, restrict)
        n = len(candidates)

        def raw(vector: Any) -> np.ndarray:
            return access.raw(access.prepare(vector), candidates)

        if q.kind == "recommend":
            strategy = _enum(q.query.recommend.strategy)
            if strategy == "best_score":
                scores = recommend.best_score(raw, q.positive, q.negative, n)
            elif strategy == "sum_scores":
                scores = recommend.sum_scores(raw, q.positive, q.negative, n)
            else:
                raise BadRequest(f"Wrong input: unknown recommend strategy `{strategy}`")
        elif q.kind == "discover":
            scores = recommend.discover(raw, q.vector, q.pairs, n)
        elif q.kind == "context":
            if not q.pairs:
                raise BadRequest("Wrong input: No target or context given")
            scores = recommend.context(raw, q.pairs, n)
        elif q.kind == "feedback":
            naive = getattr(q.query.relevance_feedback.strategy, "naive", None)
            if naive is None:
                raise BadRequest("Wrong input: Unsupported feedback strategy")
            scores = recommend.naive_feedback(raw, q.vector, q.feedback, naive.a, naive.b, naive.c, n)
        else:   # pragma: no cover - every kind is dispatched above
            raise BadRequest(f"Wrong input: unsupported query `{q.kind}`")
        return _ranked(candidates, np.asarray(scores, dtype=np.float64), True, threshold, limit, offset,
                       threshold_higher=access.higher_is_better)


# -- helpers ------------------------------------------------------------------------------------------------
def _mask_of(offsets: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    offsets = offsets[offsets < size]
    mask[offsets] = True
    return mask


def _restricted(coll: Any, flt: Any, restrict: np.ndarray | None) -> Any:
    if restrict is None:
        return flt
    ids = [coll._ext_ids[o] for o in restrict.tolist()]
    return merge_filters(flt, models.Filter(must=[models.HasIdCondition(has_id=ids)]))


def _ranked(candidates: np.ndarray, scores: np.ndarray, higher_is_better: bool, threshold: float | None,
            limit: int, offset: int, threshold_higher: bool | None = None) -> Hits:
    """Best ``offset + limit`` of ``scores`` (ties: lower offset first), the threshold applied as
    Qdrant's core does for ordered answers: keep the prefix strictly better than it."""
    order = top_k(scores, offset + limit, "Dot" if higher_is_better else "Euclid")
    offs, sc = candidates[order], scores[order]
    if threshold is not None:
        th = higher_is_better if threshold_higher is None else threshold_higher
        bad = (sc <= threshold) if th else (sc >= threshold)
        cut = int(np.argmax(bad)) if bad.any() else len(sc)
        offs, sc = offs[:cut], sc[:cut]
    return Hits(offs[offset:], sc[offset:])


def _at_least(hits: Hits, threshold: float | None) -> Hits:
    if threshold is None:
        return hits
    keep = hits.scores >= threshold
    return Hits(hits.offsets[keep], hits.scores[keep])
