"""Query inputs: point ids turned into vectors, the ids to exclude, filters merged down the tree.

Rules (QDRANT_REFERENCE.md §6, the official client's local mode does the same):

* A point id used where a vector is expected stands for that point's stored vector of the
  searched name — or of ``lookup_from.vector`` in ``lookup_from.collection``.
* Ids used that way are excluded from the results (``must_not: has_id``) when they live in the
  searched collection; ids looked up in another collection exclude nothing.
* A prefetch's filter is its parent's filter merged with its own the way Qdrant's
  ``Filter::merge_opts`` does: clause lists are concatenated, so ``should`` alternatives of both
  filters become alternatives of each other (not an AND of two ``should`` groups).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdk import models

from ..errors import BadRequest, NotFound, Unsupported
from ..ids import normalize_id
from .access import VectorAccess


_NO_LOCK = contextlib.nullcontext()


def is_point_id(value: Any) -> bool:
    return (isinstance(value, (int, str, uuid.UUID)) and not isinstance(value, bool)) or (
        isinstance(value, np.integer)
    )


@dataclass
class Resolved:
    """A query with every id input replaced by a vector; ``kind`` names the variant."""

    kind: str                      # none nearest recommend discover context order_by fusion rrf formula sample feedback
    query: Any = None              # the original Query model (order_by, fusion, formula, ...)
    vector: Any = None             # nearest vector / discover target / feedback target
    positive: list = field(default_factory=list)
    negative: list = field(default_factory=list)
    pairs: list = field(default_factory=list)          # [(positive, negative)] for discover / context
    feedback: list = field(default_factory=list)       # [(vector, score)]
    mentioned: list = field(default_factory=list)      # ids to exclude


_KINDS = {
    "NearestQuery": "nearest", "RecommendQuery": "recommend", "DiscoverQuery": "discover",
    "ContextQuery": "context", "OrderByQuery": "order_by", "FusionQuery": "fusion", "RrfQuery": "rrf",
    "FormulaQuery": "formula", "SampleQuery": "sample", "RelevanceFeedbackQuery": "feedback",
}


class InputResolver:
    def __init__(self, engine: Any, collection: Any, using: str | None, lookup_from: Any) -> None:
        self.collection = collection
        if lookup_from is not None:
            self.source = engine._get(lookup_from.collection)
            self.vector_name = lookup_from.vector if lookup_from.vector is not None else (using or "")
        else:
            self.source = collection
            self.vector_name = using or ""
        self.mentioned: list = []
        self._access: VectorAccess | None = None

    def vector(self, value: Any) -> Any:
        if not is_point_id(value):
            kind = type(value).__name__
            if kind in ("Document", "Image", "InferenceObject"):
                raise Unsupported(f"{kind} query inputs need an inference service; the built-in engine has none")
            return value
        pid = normalize_id(value.item() if isinstance(value, np.integer) else value)
        source = self.source
        # Only the searched collection's lock (already held by the query, re-entrant): taking a
        # second collection's lock while holding one could deadlock two queries that look each
        # other up. A foreign point is read as one dict lookup and one row copy.
        lock = source._lock if source is self.collection else _NO_LOCK
        with lock:
            off = source._id_to_offset.get(pid)
            if off is None:
                raise NotFound(f"Not found: No point with id {pid} found")
            if self._access is None:
                self._access = VectorAccess(source, self.vector_name)
            vec = self._access.vector(off)
            if vec is None:
                raise BadRequest(f"Wrong input: Vector with name `{self.vector_name}` for point {pid} not found")
            vec = vec.copy() if isinstance(vec, np.ndarray) else vec
        if source is self.collection:
            self.mentioned.append(pid)
        return vec

    def resolve(self, query: Any) -> Resolved:
        if query is None:
            return Resolved("none")
        kind = _KINDS.get(type(query).__name__)
        if kind is None:   # a bare VectorInput is a nearest query
            out = Resolved("nearest", vector=self.vector(query))
        elif kind == "nearest":
            out = Resolved(kind, query=query, vector=self.vector(query.nearest))
        elif kind == "recommend":
            rec = query.recommend
            out = Resolved(kind, query=query,
                           positive=[self.vector(v) for v in rec.positive or []],
                           negative=[self.vector(v) for v in rec.negative or []])
        elif kind == "discover":
            out = Resolved(kind, query=query, vector=self.vector(query.discover.target),
                           pairs=self._pairs(query.discover.context))
        elif kind == "context":
            out = Resolved(kind, query=query, pairs=self._pairs(query.context))
        elif kind == "feedback":
            rf = query.relevance_feedback
            out = Resolved(kind, query=query, vector=self.vector(rf.target),
                           feedback=[(self.vector(item.example), float(item.score)) for item in rf.feedback])
        else:
            out = Resolved(kind, query=query)
        out.mentioned = list(dict.fromkeys(self.mentioned))
        return out

    def _pairs(self, context: Any) -> list:
        if context is None:
            return []
        pairs = context if isinstance(context, list) else [context]
        return [(self.vector(p.positive), self.vector(p.negative)) for p in pairs]


def as_list(clause: Any) -> list | None:
    if clause is None:
        return None
    return list(clause) if isinstance(clause, list) else [clause]


def merge_filters(outer: Any, inner: Any) -> Any:
    if outer is None:
        return inner
    if inner is None:
        return outer

    def merge(a: Any, b: Any) -> list | None:
        a, b = as_list(a), as_list(b)
        if a is None:
            return b
        if b is None:
            return a
        return a + b

    if outer.min_should is None:
        min_should = inner.min_should
    elif inner.min_should is None:
        min_should = outer.min_should
    else:
        min_should = models.MinShould(
            conditions=list(outer.min_should.conditions) + list(inner.min_should.conditions),
            min_count=max(outer.min_should.min_count, inner.min_should.min_count),
        )
    return models.Filter(
        must=merge(outer.must, inner.must), must_not=merge(outer.must_not, inner.must_not),
        should=merge(outer.should, inner.should), min_should=min_should,
    )


def exclude_ids(flt: Any, ids: list) -> Any:
    if not ids:
        return flt
    return merge_filters(flt, models.Filter(must_not=[models.HasIdCondition(has_id=list(ids))]))
