"""Filter cardinality estimates for the query planner: (min, expected, max) matching points.

Per condition (``Estimator.condition``):

* a field condition an index answers: exact, by counting the index's answer (one vectorised
  pass over the index's rows, ~0.1 ms per 100k values; Qdrant reads it from index statistics,
  we can afford the exact number);
* ``is_empty`` / ``is_null`` on an indexed field: exact (Qdrant's null index does the same);
* ``has_id``: exact (ids that exist); ``has_vector``: exact (points having the vector);
* ``slice``: (0, total/slices, total); ``nested``: its inner filter estimated over the indexes of
  the full paths (``arr[].x``), otherwise unknown;
* anything else: unknown = (0, total/2, total), as Qdrant's ``CardinalityEstimation::unknown``.

and the boolean structure is combined with Qdrant's rules (``query_estimator.rs``): ``must`` =
product of probabilities with min/max bounds, ``should`` = complement rule, ``min_should`` =
should over the must-combinations of ``min_count`` conditions, ``must_not`` = inverted estimates
combined as must. ``total`` is the number of live points (``ctx.points_count()`` when the
context offers it, else ``ctx.size``).
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Any, Callable

import numpy as np

from ..errors import BadRequest
from .conditions import as_list, condition_kind
from .json_path import ALL, parse_path, strip_trailing_all

Estimate = tuple[int, int, int]  # (min, exp, max)
_MAX_COMBINATIONS = 256


def unknown(total: int) -> Estimate:
    return (0, total // 2, total)


def exact(count: int) -> Estimate:
    return (count, count, count)


def combine_must(estimates: list[Estimate], total: int) -> Estimate:
    if not estimates:
        return exact(total)
    low = total
    for e in estimates:
        low = max(0, low + e[0] - total)
    high = min(e[2] for e in estimates)
    prob = 1.0
    for e in estimates:
        prob *= e[1] / total if total else 0.0
    return (low, round(prob * total), high)


def combine_should(estimates: list[Estimate], total: int) -> Estimate:
    if not estimates:
        return exact(0)
    miss = 1.0
    for e in estimates:
        miss *= 1.0 - (e[1] / total if total else 0.0)
    return (max(e[0] for e in estimates), round((1.0 - miss) * total), min(sum(e[2] for e in estimates), total))


def combine_min_should(estimates: list[Estimate], count: int, total: int) -> Estimate:
    if count > len(estimates):
        return exact(0)
    if comb(len(estimates), count) > _MAX_COMBINATIONS:
        return unknown(total)
    return combine_should([combine_must(list(group), total) for group in combinations(estimates, count)], total)


def invert(e: Estimate, total: int) -> Estimate:
    return (max(0, total - e[2]), max(0, total - e[1]), max(0, total - e[0]))


def _clamp(e: Estimate) -> Estimate:
    low, exp, high = e
    return (low, min(max(exp, low), high), high)


class Estimator:
    """``field_count(condition, prefix)`` returns the exact number of points for a field condition
    an index answers (None otherwise); ``prefix`` is the nested path (``arr[]``) or ()."""

    def __init__(self, ctx: Any, total: int, field_count: Callable[[Any, tuple], int | None]) -> None:
        self.ctx = ctx
        self.total = total
        self.field_count = field_count

    def filter(self, flt: Any, prefix: tuple = ()) -> Estimate:
        total = self.total
        parts: list[Estimate] = []
        must = as_list(flt.must)
        if must:
            parts.append(combine_must([self.condition(c, prefix) for c in must], total))
        should = as_list(flt.should)
        if should:
            parts.append(combine_should([self.condition(c, prefix) for c in should], total))
        min_should = getattr(flt, "min_should", None)
        if min_should is not None:
            parts.append(
                combine_min_should([self.condition(c, prefix) for c in min_should.conditions], min_should.min_count, total)
            )
        must_not = as_list(flt.must_not)
        if must_not:
            parts.append(combine_must([invert(self.condition(c, prefix), total) for c in must_not], total))
        return _clamp(combine_must(parts, total))

    def condition(self, c: Any, prefix: tuple) -> Estimate:
        total = self.total
        kind = condition_kind(c)
        if kind == "Filter":
            return self.filter(c, prefix)
        if kind == "FieldCondition":
            count = self.field_count(c, prefix)
            return unknown(total) if count is None else exact(count)
        if kind in ("IsEmptyCondition", "IsNullCondition"):
            key = c.is_empty.key if kind == "IsEmptyCondition" else c.is_null.key
            count = self.field_count(_AsField(key, kind == "IsEmptyCondition"), prefix)
            return unknown(total) if count is None else exact(count)
        if kind == "NestedCondition":
            inner = prefix + parse_path(strip_trailing_all(c.nested.key)) + (ALL,)
            return self.filter(c.nested.filter, inner)
        if prefix:  # has_id / has_vector / slice never match inside nested
            return exact(0)
        if kind == "HasIdCondition":
            from ..ids import normalize_id

            return exact(len(self.ctx.offsets_of_ids([normalize_id(i) for i in c.has_id])))
        if kind == "HasVectorCondition":
            try:
                return exact(int(np.count_nonzero(self.ctx.has_vector_mask(c.has_vector))))
            except BadRequest:
                return exact(0)
        if kind == "SliceCondition":
            return (0, total // c.slice.total, total)
        return unknown(total)


class _AsField:
    """``is_empty`` / ``is_null`` as the FieldCondition form, for ``field_count``."""

    def __init__(self, key: str, empty: bool) -> None:
        self.key = key
        self.is_empty = True if empty else None
        self.is_null = None if empty else True
        self.values_count = self.match = self.range = None
        self.geo_bounding_box = self.geo_radius = self.geo_polygon = None


__all__ = ["Estimator", "exact", "unknown"]
