"""Filter evaluation: a filter becomes one bool mask over a domain, with numpy only.

Each condition is answered from value columns (columns.py): a mask over the column's entries,
then scattered to owners (``out[owner[entry_mask]] = True`` = "any resolved value matches").
Boolean structure is mask algebra. Loops at query time run over filter conditions, distinct
strings of a column, polygon edges and the rare inexact big integers, never over points.

Semantics are those of Qdrant for unindexed fields as executed by qdrant-client's local mode
(our congruence oracle); where that differs from notes on the server, local mode wins:

* FieldCondition with several alternatives set: the first set one in the order
  values_count, is_empty, is_null, match, range, geo_* decides (server notes: ORed).
* Range compares Python ints exactly with the float bounds (server: as f64).
* is_null is true for an array containing null, one level deep (``[null]``).
* Text conditions on unindexed fields tokenize both sides with the default word tokenizer
  (lowercased alphanumeric runs): text = all query tokens present, text_any = any, phrase =
  consecutive; an empty query matches nothing. Prefix/substring are byte-wise on strings.
* Inside ``nested``, has_id / has_vector / slice never match.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..errors import BadRequest, Unsupported
from ..ids import normalize_id
from . import geo
from .columns import BIGINT, BOOL, FLOAT, INT, NULL, OBJ, Column, text_tokens
from .conditions import (
    as_list,
    condition_kind,
    except_values,
    field_part,
    is_datetime_range,
    match_kind,
)
from .datetimes import to_micros
from .domains import Domain
from .json_path import parse_path, strip_trailing_all
from .slicing import slice_of_ids

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


class FilterContext(Protocol):
    """What evaluation needs from the collection besides payloads."""

    size: int  # evaluate over offsets [0, size)

    def offsets_of_ids(self, ids: list) -> np.ndarray:
        """int64 offsets of the existing points among ``ids`` (canonical ids)."""

    def has_vector_mask(self, name: str) -> np.ndarray:
        """bool mask of length ``size``: the point has vector ``name`` (may raise BadRequest)."""

    # Optional: ``point_ids() -> Sequence[int | str | None]`` (external id per offset, None for
    # an unused offset). Needed only by ``slice`` conditions; without it they raise Unsupported.


class Evaluator:
    """Evaluates one filter; ``n`` is the mask length of the domain being evaluated.

    ``indexes`` maps top-level JSON paths to payload indexes (indexes.py). A field condition of
    the top domain that an index answers gets the index's answer; inside ``nested`` only text
    conditions consult the index of the full path, for its tokenizer (Qdrant's per-point check).
    """

    def __init__(self, ctx: FilterContext, indexes: dict | None = None, top: Domain | None = None) -> None:
        self.ctx = ctx
        self.indexes = indexes or {}
        self.top = top

    # ---- boolean structure ----

    def filter(self, flt: Any, dom: Domain, n: int, top: bool) -> np.ndarray:
        result = np.ones(n, dtype=bool)
        for condition in as_list(flt.must) or ():
            result &= self.condition(condition, dom, n, top)
        for condition in as_list(flt.must_not) or ():
            result &= ~self.condition(condition, dom, n, top)
        should = as_list(flt.should)
        if should:  # `should: []` is no constraint, not an empty disjunction
            anyof = np.zeros(n, dtype=bool)
            for condition in should:
                anyof |= self.condition(condition, dom, n, top)
            result &= anyof
        min_should = getattr(flt, "min_should", None)
        if min_should is not None:
            count = np.zeros(n, dtype=np.int64)
            for condition in min_should.conditions:
                count += self.condition(condition, dom, n, top)
            result &= count >= min_should.min_count
        return result

    def condition(self, c: Any, dom: Domain, n: int, top: bool) -> np.ndarray:
        kind = condition_kind(c)
        if kind == "Filter":
            return self.filter(c, dom, n, top)
        if kind == "FieldCondition":
            return self.field(c, dom, n)
        if kind == "IsEmptyCondition":
            return _is_empty(dom.column(parse_path(c.is_empty.key)), n)
        if kind == "IsNullCondition":
            return _is_null(dom.column(parse_path(c.is_null.key)), n)
        if kind == "NestedCondition":
            return self.nested(c.nested, dom, n)
        if not top:  # point-level conditions inside `nested` see no point
            return np.zeros(n, dtype=bool)
        if kind == "HasIdCondition":
            return self.has_id(c.has_id, n)
        if kind == "HasVectorCondition":
            return _fit(np.asarray(self.ctx.has_vector_mask(c.has_vector), dtype=bool), n)
        if kind == "SliceCondition":
            return self.slice(c.slice, n)
        raise Unsupported(f"Filter condition {kind} is not supported by the built-in engine")

    # ---- point-level conditions ----

    def has_id(self, ids: list, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        offsets = np.asarray(self.ctx.offsets_of_ids([normalize_id(i) for i in ids]), dtype=np.int64)
        out[offsets[(offsets >= 0) & (offsets < n)]] = True
        return out

    def slice(self, spec: Any, n: int) -> np.ndarray:
        point_ids = getattr(self.ctx, "point_ids", None)
        if point_ids is None:
            raise Unsupported("slice condition: this collection does not expose point ids to filters")
        return _fit(slice_of_ids(list(point_ids()), spec.total) == spec.index, n)

    def nested(self, spec: Any, dom: Domain, n: int) -> np.ndarray:
        sub = dom.nested_domain(parse_path(strip_trailing_all(spec.key)))
        inner = self.filter(spec.filter, sub, sub.size, top=False)
        owners, live = sub.owners()
        if live is not None:
            inner &= live
        out = np.zeros(n, dtype=bool)
        out[owners[inner]] = True
        return out

    # ---- field conditions ----

    def field(self, c: Any, dom: Domain, n: int) -> np.ndarray:
        path = parse_path(c.key)
        col = dom.column(path)
        part = field_part(c)
        index = self.indexes.get(dom.prefix + path) if self.indexes else None
        if index is not None:
            if dom is self.top:
                answer = index.condition_mask(c, part, col, n)
                if answer is not None:
                    return answer
            elif part == "match" and index.type == "text":
                hits = index.nested_text(c.match, col)
                if hits is not None:
                    return _owners_of(col, hits, n)
        if part == "values_count":
            return _values_count(col, c.values_count, n)
        if part == "is_empty":
            empty = _is_empty(col, n)
            return empty if c.is_empty else ~empty
        if part == "is_null":
            null = _is_null(col, n)
            return null if c.is_null else ~null
        if part == "match":
            hits = _match(col, c.match)
        elif part == "range":
            hits = _datetime_range(col, c.range) if is_datetime_range(c.range) else _range(col, c.range)
        elif part is not None:
            hits = _geo(col, part, getattr(c, part))
        else:
            raise BadRequest("Validation error in JSON body: [filter: At least one field condition must be specified]")
        return _owners_of(col, hits, n)


# ---- entry masks -> owner masks ----------------------------------------------------------------


def _fit(mask: np.ndarray, n: int) -> np.ndarray:
    if len(mask) == n:
        return mask
    out = np.zeros(n, dtype=bool)
    k = min(n, len(mask))
    out[:k] = mask[:k]
    return out


def _owners_of(col: Column, hits: np.ndarray | None, n: int) -> np.ndarray:
    """Owners having at least one live value entry among ``hits``."""
    out = np.zeros(n, dtype=bool)
    if hits is None:
        return out
    if col.rows_are_owners():
        k = min(n, len(hits))
        out[:k] = hits[:k]
        return out
    live = col.values.live()
    if live is not None:
        hits &= live
    out[np.compress(hits, col.values.field(0))] = True  # compress: faster than [mask]
    return out


def _is_empty(col: Column, n: int) -> np.ndarray:
    """Missing, null or [] -- i.e. no raw value that is neither null nor []."""
    keep = ~col.raws.field(3)
    live = col.raws.live()
    if live is not None:
        keep &= live
    out = np.ones(n, dtype=bool)
    out[np.compress(keep, col.raws.field(0))] = False
    return out


def _is_null(col: Column, n: int) -> np.ndarray:
    """Some raw value is null or an array containing null."""
    null = col.raws.field(2).copy()
    live = col.raws.live()
    if live is not None:
        null &= live
    out = np.zeros(n, dtype=bool)
    out[np.compress(null, col.raws.field(0))] = True
    return out


def _values_count(col: Column, spec: Any, n: int) -> np.ndarray:
    """Some raw value's count (null 0, array length, else 1) meets every bound; no value = 0."""

    def within(count):
        ok = np.ones(np.shape(count), dtype=bool)
        for bound, op in ((spec.lt, np.less), (spec.lte, np.less_equal), (spec.gt, np.greater), (spec.gte, np.greater_equal)):
            if bound is not None:
                ok &= op(count, max(min(bound, 2**62), -(2**62)))
        return ok

    owners, live = col.raws.field(0), col.raws.live()
    hits = within(col.raws.field(1))
    if live is not None:
        hits &= live
    out = np.zeros(n, dtype=bool)
    out[owners[hits]] = True
    if within(0):
        present = np.zeros(n, dtype=bool)
        present[owners if live is None else owners[live]] = True
        out |= ~present
    return out


# ---- match ---------------------------------------------------------------------------------------


def _match(col: Column, match: Any) -> np.ndarray | None:
    kind = match_kind(match)
    if kind == "MatchValue":
        return _equal_any(col, [match.value])
    if kind == "MatchAny":
        return _equal_any(col, match.any)
    if kind == "MatchExcept":
        # a value that is there (not null) and equal to none of the list; arrays and objects
        # among the values count as "not equal"
        return (col.values.field(1) != NULL) & ~_equal_any(col, except_values(match))
    return _string_match(col, kind, match)


def _equal_any(col: Column, targets: list) -> np.ndarray:
    """Entries equal to one of ``targets``, typed: 1 != 1.0 != True != "1"."""
    kind, ival, scode = col.values.field(1), col.values.field(3), col.values.field(4)
    hits = np.zeros(col.values.n, dtype=bool)
    ints, bigs, bools, floats, codes = [], set(), set(), [], []
    for t in targets:
        if isinstance(t, bool):
            bools.add(int(t))
        elif isinstance(t, int):
            (ints.append(t) if _I64_MIN <= t <= _I64_MAX else bigs.add(t))
        elif isinstance(t, str):
            code = col.code_of(t)
            if code is not None:
                codes.append(code)
        elif isinstance(t, float):
            floats.append(t)
        elif t is None:
            hits |= kind == NULL
    if codes:
        hits |= _isin(scode, codes)
    if ints:
        hits |= (kind == INT) & _isin(ival, ints)
    for b in bools:
        hits |= (kind == BOOL) & (ival == b)
    if floats:
        hits |= (kind == FLOAT) & np.isin(col.values.field(2), floats)
    if bigs and col.bigints:
        for i in np.flatnonzero(kind == BIGINT).tolist():
            if col.bigints[int(ival[i])] in bigs:
                hits[i] = True
    return hits


def _isin(values: np.ndarray, targets: list) -> np.ndarray:
    return values == targets[0] if len(targets) == 1 else np.isin(values, targets)


def _string_match(col: Column, kind: str, match: Any) -> np.ndarray | None:
    """Text-like conditions, decided once per distinct string of the column."""
    if kind == "MatchPrefix":
        prefix = match.prefix
        verdict = col.string_mask(lambda code, s: s.startswith(prefix))
    elif kind == "MatchSubstring":
        part = match.substring
        verdict = col.string_mask(lambda code, s: part in s)
    elif kind == "MatchTextAny":
        query = text_tokens(match.text_any)
        verdict = col.string_mask(lambda code, s: any(t in col.tokens(code)[1] for t in query))
    elif kind == "MatchText":
        query = text_tokens(match.text)
        if not query:  # an empty query matches nothing
            return None
        verdict = col.string_mask(lambda code, s: all(t in col.tokens(code)[1] for t in query))
    else:  # MatchPhrase
        query = text_tokens(match.phrase)
        if not query:
            return None
        verdict = col.string_mask(lambda code, s: _has_run(col.tokens(code)[0], query))
    return verdict[col.values.field(4)]


def _has_run(tokens: list[str], run: list[str]) -> bool:
    k = len(run)
    return any(tokens[i : i + k] == run for i in range(len(tokens) - k + 1))


# ---- range -------------------------------------------------------------------------------------

_BOUNDS = (("lt", np.less), ("lte", np.less_equal), ("gt", np.greater), ("gte", np.greater_equal))
_PY_OPS = {"lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b}


def _range(col: Column, rng: Any) -> np.ndarray:
    """Numeric range over int and float values (bools and strings never match)."""
    kind, num = col.values.field(1), col.values.field(2)
    hits = (kind == INT) | (kind == FLOAT) | (kind == BIGINT)
    # bounds are JSON numbers read as f64 (pydantic's Range has float fields already)
    bounds = [(name, op, float(getattr(rng, name))) for name, op in _BOUNDS if getattr(rng, name) is not None]
    for _, op, bound in bounds:
        hits &= op(num, bound)
    if col.n_fix:
        # integers whose float64 image is inexact: decide with exact Python comparisons
        ival = col.values.field(3)
        for i in np.flatnonzero(col.values.field(7)).tolist():
            exact = col.exact_int(int(kind[i]), int(ival[i]))
            hits[i] = all(_PY_OPS[name](exact, bound) for name, _, bound in bounds)
    return hits


def _datetime_range(col: Column, rng: Any) -> np.ndarray:
    """Datetime strings (parsed once per distinct string) within the bounds."""
    micros, ok = col.datetimes()
    verdict = ok.copy()
    for name, op in _BOUNDS:
        bound = getattr(rng, name)
        if bound is not None:
            verdict &= op(micros, to_micros(bound))
    return verdict[col.values.field(4)]


# ---- geo ---------------------------------------------------------------------------------------


def _geo(col: Column, part: str, spec: Any) -> np.ndarray:
    lat, lon = col.values.field(5), col.values.field(6)
    points = np.flatnonzero(col.values.field(1) == OBJ)
    points = points[~np.isnan(lat[points])]
    hits = np.zeros(col.values.n, dtype=bool)
    if len(points) == 0:
        return hits
    test = {"geo_bounding_box": geo.in_bounding_box, "geo_radius": geo.in_radius, "geo_polygon": geo.in_polygon}[part]
    hits[points] = test(lat[points], lon[points], spec)
    return hits

