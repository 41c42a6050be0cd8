"""``PayloadStore``: the payloads of one collection's points, filters, and payload indexes.

Points are addressed by the collection's integer *offset*. Every write builds a new payload
dict (never mutating the stored one in place) and hands it to the top ``Domain``, which keeps
the value columns that filters have asked for in step (see columns.py / domains.py). A payload
index is a view over its field's column (indexes.py), so writes reach indexes through the same
path and nothing else has to be told about them.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from ..errors import BadRequest
from . import mutate
from .conditions import check_filter, field_part
from .datetimes import to_micros
from .domains import Domain
from .estimate import Estimator
from .estimate import exact as exact_count
from .filters import Evaluator, FilterContext, _is_empty, _is_null
from .indexes import FACET_TYPES, RANGE_TYPES, FieldIndex
from .json_path import parse_path
from .schema import parse_schema

ORDER_BY_ERROR = (
    "No range index for `order_by` key: `{key}`. Please create one to use `order_by`. Check "
    "https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas "
    "support Range conditions"
)
FACET_ERROR = (
    "No appropriate index for faceting: `{key}`. Please create one to facet on this field. Check "
    "https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas "
    "support Match conditions"
)


class PayloadStore:
    """Payload per point offset, JSON-path writes with Qdrant's semantics, vectorised filters."""

    def __init__(self) -> None:
        self._domain = Domain()
        self._indexes: dict[tuple, FieldIndex] = {}  # parsed path -> index
        self._schemas: dict[tuple, tuple[str, Any]] = {}  # parsed path -> (field name, schema as given)

    # ---- reads ----

    def get(self, offset: int) -> dict:
        """The payload of ``offset`` ({} when none). Shared, not a copy: callers must not mutate it."""
        docs = self._domain.docs
        if offset < len(docs) and docs[offset]:
            return docs[offset]
        return {}

    def snapshot_payloads(self) -> dict[int, dict]:
        """offset -> payload for every non-empty payload (tests, debugging)."""
        return {i: doc for i, doc in enumerate(self._domain.docs) if doc}

    # ---- writes ----

    def set(self, offset: int, payload: dict | None) -> None:
        """Replace the whole payload (None or {} = empty). The store keeps its own deep copy."""
        self._put(offset, mutate.clone(payload) if payload else None)

    def adopt(self, offsets: list[int], payloads: list[dict]) -> None:
        """Bulk-load payloads nobody else references (storage reopen): no copies are made."""
        domain = self._domain
        if offsets:
            top = max(offsets) + 1
            if top > len(domain.docs):
                domain.docs.extend([None] * (top - len(domain.docs)))
        if domain.columns or domain.nested:
            for off, payload in zip(offsets, payloads):
                domain.set_doc(off, payload or None)
            return
        docs = domain.docs
        for off, payload in zip(offsets, payloads):
            docs[off] = payload or None

    def delete(self, offset: int) -> None:
        """The point is gone: no payload, and the offset matches nothing but "empty" conditions."""
        self._put(offset, None)

    def clear(self, offset: int) -> None:
        self._put(offset, None)

    def overwrite_payload(self, offset: int, payload: dict) -> None:
        self.set(offset, payload)

    def set_payload(self, offset: int, payload: dict, key: str | None = None) -> None:
        """Qdrant's set_payload: merge top-level keys (null removes a key), or with ``key`` merge
        into the object(s) that JSON path names (``mutate.set_at_path``)."""
        _require_dict(payload)
        old = self.get(offset)
        if key is None:
            new = mutate.merge(dict(old), payload)
        else:
            path = parse_path(key)
            new = mutate.clone(old)
            mutate.set_at_path(new, path, payload)
        self._put(offset, new or None)

    def delete_keys(self, offset: int, keys: list[str]) -> None:
        """Qdrant's delete_payload: each key is a JSON path (``a.b``, ``a[].b``, ``a[]``, ...)."""
        paths = [parse_path(k) for k in keys]
        old = self.get(offset)
        if not old:
            return
        new = mutate.clone(old)
        for path in paths:
            mutate.delete_at_path(new, path)
        self._put(offset, new or None)

    def _put(self, offset: int, payload: dict | None) -> None:
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        self._domain.set_doc(offset, payload)

    # ---- selection ----

    def select(self, payload: dict, with_payload: Any) -> dict | None:
        """Apply a WithPayloadInterface: True/False, a list of JSON-path keys, or an
        include/exclude selector; None for False.

        The result is a fresh deep copy: it goes out to users, and a user mutating the stored
        dict would silently desynchronise the filter columns."""
        if with_payload is None or with_payload is False:
            return None
        if with_payload is True:
            return mutate.clone(payload)
        if isinstance(with_payload, str):
            raise BadRequest(
                "Format error in JSON body: with_payload must be a bool, a list of payload keys or a payload selector"
            )
        exclude = _selector_keys(with_payload, "exclude")
        if exclude is not None:
            selected = mutate.exclude(payload, mutate.selector_tree([parse_path(k) for k in exclude]))
        else:
            include = _selector_keys(with_payload, "include")
            if include is None:
                include = list(with_payload)
            selected = mutate.include(payload, mutate.selector_tree([parse_path(k) for k in include]))
        return mutate.clone(selected)

    # ---- filters ----

    def check_filter_schema(self, flt: Any) -> None:
        """Raise BadRequest for a malformed filter (and Unsupported for a condition this engine
        does not implement), without evaluating anything."""
        if flt is not None:
            check_filter(flt)

    def evaluate(self, flt: Any, ctx: FilterContext) -> np.ndarray:
        """Bool mask of length ``ctx.size``: True where the payload (and id / vectors) match.
        Liveness is not considered: deleted and unused offsets simply have empty payloads."""
        size = int(ctx.size)
        if flt is None:
            return np.ones(size, dtype=bool)
        check_filter(flt)
        # evaluate over every offset the store knows, so entry owners index safely, then cut
        n = max(size, self._domain.size)
        mask = Evaluator(ctx, self._indexes, self._domain).filter(flt, self._domain, n, top=True)
        return mask[:size]

    # ---- payload indexes ----

    def create_index(self, field: str, schema: Any) -> None:
        """Index ``field`` (a JSON path) with ``schema``: a PayloadSchemaType value or name, a
        ``*IndexParams`` model, or its dict form. Replaces an index already on that field.
        BadRequest for a malformed schema, Unsupported for parameters this engine lacks."""
        spec = parse_schema(schema)
        path = parse_path(field)
        index = FieldIndex(spec, field, path)
        index.sync(self._domain.column(path))  # build now rather than on the first query
        self._indexes[path] = index
        self._schemas[path] = (field, schema)

    def drop_index(self, field: str) -> None:
        """Remove the index on ``field`` (no-op when there is none)."""
        path = parse_path(field)
        self._indexes.pop(path, None)
        self._schemas.pop(path, None)

    def indexed_fields(self) -> dict[str, Any]:
        """field -> schema, as given to ``create_index``."""
        return {name: schema for name, schema in self._schemas.values()}

    def index_points(self, field: str) -> int:
        """Number of points holding at least one value the field's index holds (payload_schema
        ``points``); 0 when the field has no index."""
        path = parse_path(field)
        index = self._indexes.get(path)
        if index is None:
            return 0
        return index.points(self._domain.column(path), self._domain.size)

    def estimate_cardinality(self, flt: Any, ctx: FilterContext) -> tuple[int, int, int]:
        """(min, expected, max) number of live points matching ``flt`` -- see estimate.py."""
        points_count = getattr(ctx, "points_count", None)
        total = int(points_count()) if callable(points_count) else int(ctx.size)
        if flt is None:
            return exact_count(total)
        check_filter(flt)
        return Estimator(ctx, total, lambda c, prefix: self._field_count(c, prefix, total)).filter(flt)

    def _field_count(self, c: Any, prefix: tuple, total: int) -> int | None:
        path = prefix + parse_path(c.key)
        index = self._indexes.get(path)
        if index is None:
            return None
        col = self._domain.column(path)
        n = self._domain.size
        part = field_part(c)
        if part == "is_empty":
            not_empty = n - int(_is_empty(col, n).sum())
            return max(0, total - not_empty) if c.is_empty else not_empty
        if part == "is_null":
            null = int(_is_null(col, n).sum())
            return null if c.is_null else max(0, total - null)
        answer = index.condition_mask(c, part, col, n) if part is not None else None
        return None if answer is None else int(answer.sum())

    def _index_of(self, key: str, types: tuple, message: str) -> tuple[FieldIndex, Any]:
        path = parse_path(key)
        index = self._indexes.get(path)
        usable = index is not None and index.type in types
        if usable and index.type == "integer":
            usable = index.spec.range if types is RANGE_TYPES else index.spec.lookup
        if not usable:
            raise BadRequest(message.format(key=key))
        return index, self._domain.column(path)

    def order_by(
        self, key: str, direction: Any = "asc", start_from: Any = None, mask: np.ndarray | None = None,
        limit: int | None = None,
    ) -> tuple[np.ndarray, list]:
        """Offsets (restricted to ``mask``) ordered by their indexed values of ``key``, with the
        value each was ordered by (``order_value``). As Qdrant: needs an integer (range), float or
        datetime index; a point appears once per distinct value; ``start_from`` is an inclusive
        bound (a datetime or datetime string counts in µs); ties go by offset, ascending for
        ``asc`` and descending for ``desc``; datetime values are reported as µs since the epoch."""
        index, col = self._index_of(key, RANGE_TYPES, ORDER_BY_ERROR)
        desc = str(getattr(direction, "value", direction) or "asc").lower() == "desc"
        vals, owners, rows = index.order_view(col)
        lo, hi = 0, len(vals)
        if start_from is not None:
            bound = _start_bound(vals.dtype.kind, start_from, desc)
            if bound is None:
                lo = hi
            elif bound is not True:  # True: every value is at or after the start
                if desc:
                    hi = int(np.searchsorted(vals, bound, side="right"))
                else:
                    lo = int(np.searchsorted(vals, bound, side="left"))
        live = col.values.live()
        allowed = None if mask is None else _fit(np.asarray(mask, dtype=bool), self._domain.size)
        want = hi - lo if limit is None else max(0, int(limit))
        # walk the sorted view from the start in chunks, so `limit` stops the work early
        chunk = max(2048, 4 * want)
        out_owners: list[np.ndarray] = []
        out_vals: list[np.ndarray] = []
        found = 0
        last = None  # (value, owner) of the last kept row: duplicates are adjacent
        while lo < hi and found < want:
            if desc:
                a, b = max(lo, hi - chunk), hi
                hi = a
                sl = slice(b - 1, a - 1 if a else None, -1)
            else:
                a, b = lo, min(hi, lo + chunk)
                lo = b
                sl = slice(a, b)
            v, o, r = vals[sl], owners[sl], rows[sl]
            keep = np.ones(len(v), dtype=bool) if live is None else live[r]
            if allowed is not None:
                keep &= allowed[o]
            v, o = v[keep], o[keep]
            if len(v) == 0:
                continue
            # the same value twice in one point counts once
            dup = np.r_[last is not None and v[0] == last[0] and o[0] == last[1], (v[1:] == v[:-1]) & (o[1:] == o[:-1])]
            if dup.any():
                v, o = v[~dup], o[~dup]
            last = (v[-1], o[-1])
            out_vals.append(v)
            out_owners.append(o)
            found += len(v)
        if not out_vals:
            return np.zeros(0, dtype=np.int64), []
        v, o = np.concatenate(out_vals)[:want], np.concatenate(out_owners)[:want]
        return o.astype(np.int64), v.tolist()

    def facet(self, key: str, mask: np.ndarray | None = None, limit: int = 10, exact: bool = False) -> list[tuple[Any, int]]:
        """Top ``limit`` (value, number of points) of ``key`` among the offsets in ``mask``, by
        count descending then value ascending. Needs a keyword, integer (lookup), bool or uuid
        index; a point counts once per distinct value. Counts are always exact here (``exact``
        only matters for Qdrant's sampling on huge value sets)."""
        index, col = self._index_of(key, FACET_TYPES, FACET_ERROR)
        if limit is not None and limit <= 0:
            return []
        owners, keys = index.facet_keys(col)
        if mask is not None:
            sel = _fit(np.asarray(mask, dtype=bool), self._domain.size)[owners]
            owners, keys = owners[sel], keys[sel]
        if len(owners) > 1:
            same = owners[1:] == owners[:-1]  # rows of one point are adjacent (columns.py)
            if same.any():
                multi = np.r_[same, False] | np.r_[False, same]
                pairs = np.unique(np.stack((owners[multi], keys[multi]), axis=1), axis=0)
                keys = np.concatenate((keys[~multi], pairs[:, 1]))
        uniq, counts = np.unique(keys, return_counts=True)
        if index.type in ("keyword", "uuid"):
            # values order as strings; only the candidates for the top `limit` are looked at
            candidates = np.arange(len(uniq))
            if limit is not None and len(uniq) > limit:
                kth = np.partition(counts, len(counts) - limit)[len(counts) - limit]
                sure, ties = np.flatnonzero(counts > kth), np.flatnonzero(counts == kth)
                names = [index.facet_value(int(k), col) for k in uniq[ties].tolist()]
                smallest = heapq.nsmallest(limit - len(sure), range(len(ties)), key=names.__getitem__)
                candidates = np.concatenate((sure, ties[smallest]))
            name = {int(i): index.facet_value(int(uniq[i]), col) for i in candidates.tolist()}
            ranked = sorted(name, key=lambda i: (-counts[i], name[i]))
        else:  # numeric keys: np.unique sorted them already, a stable sort keeps ties ascending
            ranked = np.argsort(-counts, kind="stable").tolist()
        if limit is not None:
            ranked = ranked[:limit]
        return [(index.facet_value(int(uniq[i]), col), int(counts[i])) for i in ranked]


def _fit(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` cut or padded (False) to length ``n``."""
    if len(mask) == n:
        return mask
    out = np.zeros(n, dtype=bool)
    k = min(n, len(mask))
    out[:k] = mask[:k]
    return out


def _start_bound(kind: str, start: Any, desc: bool) -> Any:
    """``start_from`` as a bound on the sorted values (dtype ``kind``): Qdrant's range scan of the
    index from ``start`` (a datetime start is µs; on a float index it goes through Rust's u128 ->
    f64 cast, as datetime range bounds do, so a date before 1970 is ~3.4e38). Returns True when
    every value qualifies, None when none does."""
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        start = to_micros(start)  # datetime, date or datetime string; BadRequest otherwise
        if kind == "f":
            start = float(start % 2**128)
    if isinstance(start, float) and start != start:  # NaN sorts above every value
        return True if desc else None
    if kind == "i":
        if isinstance(start, float):
            # v >= f  <=>  v >= ceil(f) for integers (and v <= f  <=>  v <= floor(f))
            if math.isinf(start):
                return True if (start < 0) != desc else None
            start = math.floor(start) if desc else math.ceil(start)
        if start > 2**63 - 1 or start < -(2**63):
            return True if (start < 0) != desc else None
    elif isinstance(start, int):
        start = float(start)
    return start


def _selector_keys(selector: Any, name: str) -> list | None:
    if isinstance(selector, dict):
        return selector.get(name)
    if isinstance(selector, (list, tuple)):
        return None
    return getattr(selector, name, None)


def _require_dict(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise BadRequest("Format error in JSON body: payload must be a JSON object")
