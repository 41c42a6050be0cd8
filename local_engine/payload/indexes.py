"""Payload indexes: Qdrant's index-dependent answers, as derived views over value columns.

The rules (everything that makes an indexed answer differ from an unindexed one lives here):

1. An index is a *view* of its path's ``Column`` (columns.py): per value row it derives whether
   the index holds the value (``ok``) and the value as the index stores it (``val``). The column
   is kept exact on every write at O(values of the document); the view catches up before each
   use (``sync``): rows appended since the last use are derived in one vectorised step, and a
   compaction (``Column.epoch``) re-derives everything. So writes stay O(values) and no index
   state can drift from the payloads.

2. What each index holds (Qdrant's ``ValueIndexer::get_value``, applied to every value of the
   path with arrays unwrapped one level, like the column's value rows):
     keyword   strings                       bool      booleans
     integer   integers that fit i64, and floats/big integers whose i64 cast round-trips
               (``value_to_integer``: 1.0 -> 1, 2.0**63 -> i64::MAX, 1.5 / 1e300 -> not held)
     float     every finite number           datetime  strings that parse as datetimes (µs)
     uuid      strings that parse as UUIDs (uuids.py), compared as 128-bit values
     geo       objects with numeric lat in [-90, 90] and lon in [-180, 180]
     text      strings (tokenized by the index's tokenizer)

3. Which conditions an index answers (Qdrant's ``condition_checker`` per index type); any other
   condition on the field is answered from the payload exactly as without an index:
     keyword   match value/any/except with strings, prefix
     integer   lookup: match value/any/except with integers;  range: every range (numeric or
               datetime bounds, compared in i64 after ceil/floor of fractional bounds; bounds
               beyond i64 saturate, so `lt: 1e300` excludes i64::MAX)
     float     every range (datetime bounds as µs through Rust's u128 -> f64 cast)
     datetime  every range (numeric bounds are µs since the epoch)
     bool      match value with a boolean
     uuid      match value/any/except whose strings all parse as UUIDs (any spelling matches)
     geo       geo_bounding_box / geo_radius / geo_polygon
     text      text (all query tokens in the point's token set, the union over its strings),
               text_any (any), phrase (consecutive tokens within one string; only with
               ``phrase_matching: true`` -- without it a phrase matches nothing)
   ``except`` with an index considers only values the index holds: ``{"a": 5}`` is not returned
   by ``except ["x"]`` on a keyword index, it is without one.

4. is_empty / is_null / values_count are never answered by an index (Qdrant's null index gives
   the same answers as the payload, measured in Edge).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import geo
from .columns import BIGINT, BOOL, FLOAT, INT, OBJ, STR, Column
from .conditions import except_values, is_datetime_range, match_kind
from .datetimes import to_micros
from .filters import _owners_of
from .schema import IndexSpec
from .tokenizer import TextTokenizer
from .uuids import canonical, parse_uuid

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
_TWO63 = 2.0**63
_BOUNDS = (("lt", np.less), ("lte", np.less_equal), ("gt", np.greater), ("gte", np.greater_equal))
_ROUND_UP = {"lt": True, "gte": True, "gt": False, "lte": False}  # Numericable::from_f64_range for i64

RANGE_TYPES = ("integer", "float", "datetime")
FACET_TYPES = ("keyword", "integer", "bool", "uuid")
GEO_PARTS = ("geo_bounding_box", "geo_radius", "geo_polygon")


def _i64(values: np.ndarray) -> np.ndarray:
    """Rust's saturating ``f64 as i64`` (NaN -> 0), vectorised."""
    out = np.zeros(len(values), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        high = values >= _TWO63
        low = values <= -_TWO63
        mid = ~(high | low | np.isnan(values))
    out[mid] = values[mid].astype(np.int64)
    out[high] = I64_MAX
    out[low] = I64_MIN
    return out


def _i64_bound(x: float, up: bool) -> int:
    """A float range bound as an i64 bound: ceil (``up``) or floor, then Rust's saturating cast."""
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return I64_MAX if x > 0 else I64_MIN
    y = math.ceil(x) if up else math.floor(x)
    return max(I64_MIN, min(I64_MAX, y))


def _u128_as_f64(micros: int) -> float:
    """``T::from_u128(timestamp as u128)`` for f64: negative timestamps wrap around 2**128."""
    return float(micros % 2**128)


def _list_variant(values: Any) -> str | None:
    """Qdrant's AnyVariants: "str" (strings; also the empty list), "int" (integers), None (mixed)."""
    values = list(values)
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    return None


def _has_run(tokens: list, run: list) -> bool:
    k = len(run)
    return any(tokens[i : i + k] == run for i in range(len(tokens) - k + 1))


class FieldIndex:
    """The index of one field (a JSON path of the top domain)."""

    def __init__(self, spec: IndexSpec, field: str, path: tuple) -> None:
        self.spec = spec
        self.field = field
        self.path = path
        self.tokenizer = TextTokenizer(spec.text) if spec.type == "text" else None
        self._epoch: int | None = None
        self._dict_epoch: int | None = None
        self._n = 0
        self.ok = np.zeros(0, dtype=bool)
        self.val: np.ndarray | None = None
        self._reset_codes()
        self._sorted: tuple | None = None  # order_by view, see sorted_view()

    @property
    def type(self) -> str:
        return self.spec.type

    # ---- keeping the view current (rule 1) --------------------------------------------------

    def _reset_codes(self) -> None:
        self._code_uid = np.zeros(0, dtype=np.int64)  # uuid: string code -> uid (-1: not a UUID)
        self._uid_of: dict[int, int] = {}  # uuid value -> uid
        self._uids: list[int] = []  # uid -> uuid value
        self._code_tokens: list[list[str]] = []  # text: string code -> document tokens
        self._postings: dict[str, list[int]] = {}  # text: token -> string codes
        self._string_tokens: dict[str, list[str]] = {}  # text, nested conditions: string -> tokens

    def sync(self, col: Column) -> None:
        n = col.values.n
        if col.dict_epoch != self._dict_epoch:
            self._reset_codes()
            self._dict_epoch = col.dict_epoch
            self._epoch = None
        if col.epoch != self._epoch or n < self._n:
            self.ok, self.val = self._derive(col, 0, n)
            self._epoch = col.epoch
            self._sorted = None
        elif n > self._n:
            ok, val = self._derive(col, self._n, n)
            self.ok = np.concatenate((self.ok, ok))
            if val is not None:
                self.val = np.concatenate((self.val, val))
        self._n = n

    def _derive(self, col: Column, a: int, b: int) -> tuple[np.ndarray, np.ndarray | None]:
        kind = col.values.field(1)[a:b]
        t = self.spec.type
        # copies, not views: the column's buffers are rewritten in place when it compacts
        if t in ("keyword", "text"):
            return kind == STR, col.values.field(4)[a:b].copy()
        if t == "bool":
            return kind == BOOL, col.values.field(3)[a:b].copy()
        if t == "integer":
            num, ival = col.values.field(2)[a:b], col.values.field(3)[a:b]
            val = ival.copy()  # (copied for the same reason)
            convert = (kind == FLOAT) | (kind == BIGINT)
            ok = kind == INT
            if convert.any():
                f = num[convert]
                cast = _i64(f)
                val[convert] = cast
                with np.errstate(invalid="ignore"):
                    ok[convert] = cast.astype(np.float64) == f
            return ok, val
        if t == "float":
            num = col.values.field(2)[a:b]
            return ((kind == INT) | (kind == BIGINT) | (kind == FLOAT)) & np.isfinite(num), num.copy()
        if t == "datetime":
            micros, parsed = col.datetimes()
            scode = col.values.field(4)[a:b]
            return parsed[scode], micros[scode]
        if t == "uuid":
            uid = self._code_uids(col)[col.values.field(4)[a:b]]
            return uid >= 0, uid
        if t == "geo":
            lat, lon = col.values.field(5)[a:b], col.values.field(6)[a:b]
            with np.errstate(invalid="ignore"):
                return (kind == OBJ) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180), None
        raise AssertionError(t)

    def _code_uids(self, col: Column) -> np.ndarray:
        """uid per string code, plus a trailing -1 for code -1 (non-strings)."""
        known = len(self._code_uid)
        if known < len(col.strings):
            fresh = []
            for s in col.strings[known:]:
                u = parse_uuid(s)
                if u is None:
                    fresh.append(-1)
                    continue
                uid = self._uid_of.get(u)
                if uid is None:
                    uid = self._uid_of[u] = len(self._uids)
                    self._uids.append(u)
                fresh.append(uid)
            self._code_uid = np.concatenate((self._code_uid, np.array(fresh, dtype=np.int64)))
        return np.append(self._code_uid, -1)

    def _text_sync(self, col: Column) -> None:
        tokenize = self.tokenizer.doc_tokens
        postings = self._postings
        strings = col.strings
        for code in range(len(self._code_tokens), len(strings)):
            tokens = tokenize(strings[code])
            self._code_tokens.append(tokens)
            for token in set(tokens):
                postings.setdefault(token, []).append(code)

    # ---- helpers ------------------------------------------------------------------------------

    def held(self, col: Column) -> np.ndarray:
        """Rows holding a live value of the index."""
        live = col.values.live()
        return self.ok if live is None else self.ok & live

    def _owners(self, col: Column, hits: np.ndarray, n: int) -> np.ndarray:
        return _owners_of(col, hits, n)

    def points(self, col: Column, n: int) -> int:
        """Number of points with at least one value the index holds (for a text index: at least
        one token -- measured in Edge 0.9; the v1.19 source also counts token-less strings)."""
        self.sync(col)
        held = self.held(col)
        if self.spec.type == "text":
            self._text_sync(col)
            has_tokens = np.array([bool(t) for t in self._code_tokens] + [False], dtype=bool)
            held = held & has_tokens[col.values.field(4)]
        owners = np.compress(held, col.values.field(0))
        if len(owners) == 0:
            return 0
        seen = np.zeros(max(n, int(owners.max()) + 1), dtype=bool)
        seen[owners] = True
        return int(seen.sum())

    # ---- conditions (rule 3) -------------------------------------------------------------------

    def condition_mask(self, condition: Any, part: str, col: Column, n: int) -> np.ndarray | None:
        """Owner mask for ``condition`` (whose deciding alternative is ``part``), or None when
        this index does not answer it (the caller then evaluates the payload)."""
        t = self.spec.type
        if part == "match":
            if t == "text":
                return self._text(condition.match, col, n)
            self.sync(col)
            hits = self._match(condition.match, col)
        elif part == "range":
            if t not in RANGE_TYPES or (t == "integer" and not self.spec.range):
                return None
            self.sync(col)
            hits = self._range(condition.range)
        elif part in GEO_PARTS:
            if t != "geo":
                return None
            self.sync(col)
            hits = self._geo(part, getattr(condition, part), col)
        else:
            return None
        return None if hits is None else self._owners(col, hits, n)

    def _match(self, match: Any, col: Column) -> np.ndarray | None:
        t, kind = self.spec.type, match_kind(match)
        ok, val = self.ok, self.val
        if kind == "MatchValue":
            v = match.value
            if t == "keyword" and isinstance(v, str):
                code = col.code_of(v)
                return ok & (val == code) if code is not None else np.zeros(len(ok), dtype=bool)
            if t == "integer" and self.spec.lookup and isinstance(v, int) and not isinstance(v, bool):
                if not I64_MIN <= v <= I64_MAX:
                    return np.zeros(len(ok), dtype=bool)
                return ok & (val == v)
            if t == "bool" and isinstance(v, bool):
                return ok & (val == int(v))
            if t == "uuid" and isinstance(v, str):
                u = parse_uuid(v)
                if u is None:
                    return None
                self._code_uids(col)
                uid = self._uid_of.get(u)
                return ok & (val == uid) if uid is not None else np.zeros(len(ok), dtype=bool)
            return None
        if kind in ("MatchAny", "MatchExcept"):
            values = list(match.any if kind == "MatchAny" else except_values(match))
            keys = self._keys(values, col)
            if keys is None:
                return None
            hits = ok & self._isin(val, keys, col)
            return hits if kind == "MatchAny" else ok & ~hits
        if kind == "MatchPrefix" and t == "keyword":
            prefix = match.prefix
            return ok & col.string_mask(lambda code, s: s.startswith(prefix))[col.values.field(4)]
        return None

    def _isin(self, val: np.ndarray, keys: list, col: Column) -> np.ndarray:
        """``np.isin(val, keys)``: through a table when keys are dense codes (keyword string
        codes, uuid ids), by a few comparisons for short integer lists."""
        if self.spec.type in ("keyword", "uuid"):
            table = np.zeros((len(col.strings) if self.spec.type == "keyword" else len(self._uids)) + 1, dtype=bool)
            table[keys] = True  # val is -1 for rows the index does not hold: the last slot
            return table[val]
        if len(keys) <= 4:
            out = np.zeros(len(val), dtype=bool)
            for k in keys:
                out |= val == k
            return out
        return np.isin(val, keys)

    def _keys(self, values: list, col: Column) -> list | None:
        """The stored keys of a match any/except list, or None when the index does not serve it."""
        t, variant = self.spec.type, _list_variant(values)
        if t == "keyword" and variant == "str":
            return [c for c in (col.code_of(v) for v in values) if c is not None]
        if t == "integer" and self.spec.lookup and variant == "int" and values:
            return [v for v in values if I64_MIN <= v <= I64_MAX]
        if t == "uuid" and variant == "str":
            parsed = [parse_uuid(v) for v in values]
            if any(u is None for u in parsed):
                return None
            self._code_uids(col)
            return [self._uid_of[u] for u in parsed if u in self._uid_of]
        return None

    def _range(self, rng: Any) -> np.ndarray:
        t = self.spec.type
        hits = self.ok.copy()
        dt = is_datetime_range(rng)
        for name, op in _BOUNDS:
            bound = getattr(rng, name, None)
            if bound is None:
                continue
            if dt:
                micros = to_micros(bound)
                b = _u128_as_f64(micros) if t == "float" else micros
            elif t == "float":
                b = float(bound)
            else:
                b = _i64_bound(float(bound), _ROUND_UP[name])
            hits &= op(self.val, b)
        return hits

    def _geo(self, part: str, spec: Any, col: Column) -> np.ndarray:
        rows = np.flatnonzero(self.ok)
        hits = np.zeros(len(self.ok), dtype=bool)
        if len(rows):
            lat, lon = col.values.field(5)[rows], col.values.field(6)[rows]
            test = {"geo_bounding_box": geo.in_bounding_box, "geo_radius": geo.in_radius, "geo_polygon": geo.in_polygon}
            hits[rows] = test[part](lat, lon, spec)
        return hits

    # ---- full text ------------------------------------------------------------------------------

    def _text(self, match: Any, col: Column, n: int) -> np.ndarray | None:
        kind = match_kind(match)
        if kind not in ("MatchText", "MatchTextAny", "MatchPhrase"):
            return None
        self.sync(col)
        self._text_sync(col)
        none = np.zeros(n, dtype=bool)
        if kind == "MatchText":
            tokens = list(dict.fromkeys(self.tokenizer.query_tokens(match.text)))
            postings = [self._postings.get(token) for token in tokens]
            if not tokens or any(p is None for p in postings):  # empty query / unseen token
                return none
            return self._all_tokens(col, postings, n)
        if kind == "MatchTextAny":
            tokens = set(self.tokenizer.query_tokens(match.text_any))
            codes = [c for token in tokens for c in self._postings.get(token, ())]
            code_hit = np.zeros(len(col.strings) + 1, dtype=bool)
            code_hit[codes] = True
        else:
            if not self.spec.text.phrase_matching:
                return none
            run = self.tokenizer.doc_tokens(match.phrase)
            postings = [self._postings.get(token) for token in set(run)]
            if not run or any(p is None for p in postings):
                return none
            candidates = postings[0]
            for p in postings[1:]:
                candidates = np.intersect1d(candidates, p)
            code_hit = np.zeros(len(col.strings) + 1, dtype=bool)
            code_tokens = self._code_tokens
            code_hit[[c for c in np.asarray(candidates).tolist() if _has_run(code_tokens[c], run)]] = True
        return self._owners(col, self.ok & code_hit[col.values.field(4)], n)

    def _all_tokens(self, col: Column, postings: list, n: int) -> np.ndarray:
        """Points whose token set (the union over their strings) holds every posting's token."""
        rows = np.flatnonzero(self.held(col))
        owners = col.values.field(0)[rows]
        codes = col.values.field(4)[rows]
        # rows of one point are adjacent (columns.py, rule 2): OR their token bits per point
        several = len(owners) > 1 and bool(np.any(owners[1:] == owners[:-1]))
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if several else None
        result = np.ones(n, dtype=bool)
        for first in range(0, len(postings), 63):
            chunk = postings[first : first + 63]
            bits = np.zeros(len(col.strings) + 1, dtype=np.uint64)
            for i, codes_of_token in enumerate(chunk):
                bits[codes_of_token] |= np.uint64(1 << i)
            target = np.uint64((1 << len(chunk)) - 1)
            row_bits = bits[codes]
            if several:
                point_bits, point_owner = np.bitwise_or.reduceat(row_bits, starts), owners[starts]
            else:
                point_bits, point_owner = row_bits, owners
            chunk_hit = np.zeros(n, dtype=bool)
            chunk_hit[point_owner[point_bits == target]] = True
            result &= chunk_hit
        return result

    def nested_text(self, match: Any, col: Column) -> np.ndarray | None:
        """Row mask of a text condition inside ``nested`` on this text index's field: each string
        is checked on its own with the index's tokenizer (Qdrant's ``special_check_condition``)."""
        kind = match_kind(match)
        if kind not in ("MatchText", "MatchTextAny", "MatchPhrase"):
            return None
        cache, tokenize = self._string_tokens, self.tokenizer.doc_tokens

        def tokens_of(s: str) -> list[str]:
            toks = cache.get(s)
            if toks is None:
                toks = cache[s] = tokenize(s)
            return toks

        if kind == "MatchPhrase":
            run = tokenize(match.phrase)
            if not run:
                return np.zeros(col.values.n, dtype=bool)
            verdict = col.string_mask(lambda code, s: _has_run(tokens_of(s), run))
        else:
            query = set(self.tokenizer.query_tokens(match.text if kind == "MatchText" else match.text_any))
            if not query:
                return np.zeros(col.values.n, dtype=bool)
            if kind == "MatchText":
                verdict = col.string_mask(lambda code, s: query.issubset(tokens_of(s)))
            else:
                verdict = col.string_mask(lambda code, s: not query.isdisjoint(tokens_of(s)))
        return verdict[col.values.field(4)]

    # ---- order_by and facet ---------------------------------------------------------------------

    def order_view(self, col: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, owners, rows) of every held row, sorted by (value, owner); cached until the
        column changes. Dead rows stay in the view (filter them with the live mask)."""
        self.sync(col)
        n = col.values.n
        cached = self._sorted
        if cached is not None and cached[0] == (col.epoch, n):
            return cached[1:]
        owner = col.values.field(0)
        if cached is not None and cached[0][0] == col.epoch and n - cached[0][1] <= max(64, n // 64):
            # a few rows appended since: merge them in instead of sorting everything again
            _, vals, owners, rows = cached
            new = cached[0][1] + np.flatnonzero(self.ok[cached[0][1] :])
            new_vals, new_owners = self.val[new], owner[new]
            order = np.lexsort((new_owners, new_vals))
            new, new_vals, new_owners = new[order], new_vals[order], new_owners[order]
            lo = np.searchsorted(vals, new_vals, side="left")
            hi = np.searchsorted(vals, new_vals, side="right")
            ties = np.flatnonzero(hi > lo)
            if len(ties):  # equal values are ordered by owner: search (run of the value, owner)
                run = np.cumsum(np.r_[True, vals[1:] != vals[:-1]]) - 1
                key = (run << 32) | owners
                lo[ties] = np.searchsorted(key, (run[lo[ties]] << 32) | new_owners[ties])
            vals, owners, rows = np.insert(vals, lo, new_vals), np.insert(owners, lo, new_owners), np.insert(rows, lo, new)
        else:
            rows = np.flatnonzero(self.ok)
            vals, owners = self.val[rows], owner[rows]
            order = np.lexsort((owners, vals))
            vals, owners, rows = vals[order], owners[order], rows[order]
        self._sorted = ((col.epoch, n), vals, owners, rows)
        return vals, owners, rows

    def facet_keys(self, col: Column) -> tuple[np.ndarray, np.ndarray]:
        """(owners, keys) of the live held rows; keys are string codes / ints / uids."""
        self.sync(col)
        rows = np.flatnonzero(self.held(col))
        return col.values.field(0)[rows], self.val[rows]

    def facet_value(self, key: int, col: Column) -> Any:
        t = self.spec.type
        if t == "keyword":
            return col.strings[key]
        if t == "uuid":
            return canonical(self._uids[key])
        if t == "bool":
            return bool(key)
        return int(key)
