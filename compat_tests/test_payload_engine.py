"""The payload subsystem (local_engine.payload) against qdrant-client's own filter checker.

* congruence: random payloads x random filters, our vectorised mask == the official local
  mode's per-point ``check_filter`` (fixed seeds);
* incremental maintenance: the same after random writes (columns are updated, not rebuilt);
* hand-written cases for the semantics of reference §4.3 and the write endpoints;
* malformed filters raise BadRequest; a speed sanity check prints timings.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from qdrant_client import models as m
from qdrant_client.local.payload_filters import check_filter

from local_engine.errors import BadRequest, Unsupported
from local_engine.payload import PayloadStore

# ---------------------------------------------------------------------------------------------
# a FilterContext over a list of point ids (None = no point at that offset)


class Ctx:
    def __init__(self, ids: list, vectors: dict[str, list[bool]] | None = None) -> None:
        self.ids = ids
        self.size = len(ids)
        self.vectors = vectors or {}
        self._offset = {pid: i for i, pid in enumerate(ids) if pid is not None}

    def offsets_of_ids(self, ids: list) -> np.ndarray:
        return np.array([self._offset[i] for i in ids if i in self._offset], dtype=np.int64)

    def has_vector_mask(self, name: str) -> np.ndarray:
        if name not in self.vectors:
            raise BadRequest(f"Wrong input: Not existing vector name error: {name}")
        return np.array(self.vectors[name], dtype=bool)

    def point_ids(self) -> list:
        return self.ids

    def has_vector(self, offset: int) -> dict[str, bool]:
        return {name: True for name, flags in self.vectors.items() if flags[offset]}


def oracle_mask(flt, payloads: list, ctx: Ctx) -> np.ndarray:
    return np.array(
        [check_filter(flt, payloads[i] or {}, ctx.ids[i], ctx.has_vector(i)) for i in range(ctx.size)],
        dtype=bool,
    )


def assert_congruent(store: PayloadStore, flt, payloads: list, ctx: Ctx, alive=None) -> None:
    ours = store.evaluate(flt, ctx)
    theirs = oracle_mask(flt, payloads, ctx)
    if alive is not None:
        ours, theirs = ours & alive, theirs & alive
    if not np.array_equal(ours, theirs):
        bad = np.flatnonzero(ours != theirs)[:5]
        details = "\n".join(f"  offset {i}: ours={ours[i]} oracle={theirs[i]} payload={payloads[i]!r}" for i in bad)
        pytest.fail(f"mask differs on {len(np.flatnonzero(ours != theirs))} points for filter\n{flt!r}\n{details}")


# ---------------------------------------------------------------------------------------------
# random payloads

INTS = [-1, 0, 1, 2, 3, 5, 10, 42, 2**53 + 1, 2**63 - 1, 2**63 + 5, 2**64 - 1, 2**70, -(2**63)]
FLOATS = [0.0, 1.0, 1.5, 2.0, -1.0, 2.5, 10.0, 9007199254740992.0, math.inf, -math.inf, math.nan]
WORDS = ["x", "y", "z", "1", "true", "", "Hello World", "hello, world!", "worldwide", "foo bar baz",
         "bar foo", "Foo_bar", "prefix-x", "x y z"]
DATES = ["2024-01-01", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00", "2024-01-01 10:00:00.123456+01:00",
         "2024-01-02T00:00:00.123456789Z", "2024-01-01T23:30", "2023-12-31 23:59:59 UTC", "2024-01-01T10:00:00+05",
         "2024-01-01T10:00:00 +0100", "2024-13-01", "not a date", "  2024-01-01T00:00:00z", "2024-01-01 12"]
TEXTS = WORDS + ["the quick brown fox", "Quick, brown!", "brown fox jumps", "fox"]


def geo_point(rng: random.Random) -> dict:
    if rng.random() < 0.3:  # on the grid of the test shapes' edges and vertices
        return {"lat": rng.randrange(-6, 7), "lon": rng.choice([rng.randrange(-6, 7), 0.5])}
    return {"lat": round(rng.uniform(-10, 10), 1), "lon": round(rng.uniform(-10, 10), 1)}


COMMON = [0, 1, 2, 3, "x", "y", True, 1.0]  # frequent values, so that conjunctions still match


def scalar(rng: random.Random):
    kind = rng.randrange(9)
    if kind >= 7:
        return rng.choice(COMMON)
    if kind == 0:
        return rng.choice(INTS)
    if kind == 1:
        return rng.choice(FLOATS)
    if kind == 2:
        return rng.choice(WORDS)
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return None
    if kind == 5:
        return rng.choice(DATES)
    return rng.randrange(4)


def value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10 if depth < 2 else 6)
    if kind < 5:
        return scalar(rng)
    if kind == 5:
        return rng.choice([[], [None], [[1]], [1, [2]], [None, 1]])
    if kind == 6:
        return [scalar(rng) for _ in range(rng.randrange(4))]
    if kind == 7:
        return {k: value(rng, depth + 1) for k in rng.sample(["b", "c", "x"], rng.randrange(3))}
    if kind == 8:
        return [{k: value(rng, depth + 1) for k in rng.sample(["b", "c"], rng.randrange(3))} for _ in range(rng.randrange(3))]
    return [value(rng, depth + 1) for _ in range(rng.randrange(3))]


def nested_element(rng: random.Random, depth: int = 0) -> dict:
    el = {}
    if rng.random() < 0.8:
        el["x"] = rng.choice([rng.choice(INTS[:8]), rng.choice(WORDS[:4]), None, [1, 2]])
    if rng.random() < 0.7:
        el["y"] = rng.choice([rng.randrange(5), rng.choice(FLOATS[:6]), "y"])
    if rng.random() < 0.4:
        el["tags"] = [rng.choice(WORDS[:4]) for _ in range(rng.randrange(3))]
    if depth == 0 and rng.random() < 0.4:
        el["inner"] = [nested_element(rng, 1) for _ in range(rng.randrange(3))]
    return el


def payload(rng: random.Random) -> dict | None:
    if rng.random() < 0.05:
        return None
    p: dict = {}
    for key in ["a", "b", "c"]:
        if rng.random() < 0.75:
            p[key] = value(rng)
    if rng.random() < 0.6:
        p["n"] = rng.choice([rng.randrange(-5, 15), rng.choice(FLOATS), rng.choice(INTS), [rng.randrange(10), rng.randrange(10)]])
    if rng.random() < 0.5:
        p["obj"] = rng.choice([
            {"b": value(rng, 1), "c": rng.choice(WORDS)},
            [{"b": value(rng, 1)}, {"c": rng.randrange(5)}],
            value(rng, 1),
        ])
    if rng.random() < 0.5:
        p["dt"] = rng.choice([rng.choice(DATES), [rng.choice(DATES), rng.choice(DATES)], rng.choice(INTS)])
    if rng.random() < 0.5:
        p["loc"] = rng.choice([geo_point(rng), [geo_point(rng), geo_point(rng)], {"lat": "1", "lon": 2},
                               {"lat": True, "lon": 1.0}, {"lat": 5}, geo_point(rng)])
    if rng.random() < 0.5:
        p["txt"] = rng.choice([rng.choice(TEXTS), [rng.choice(TEXTS), rng.choice(TEXTS)]])
    if rng.random() < 0.5:
        p["nested"] = rng.choice([[nested_element(rng) for _ in range(rng.randrange(4))],
                                  nested_element(rng), [[nested_element(rng)]], [1, nested_element(rng)]])
    if rng.random() < 0.1:
        p["a.b"] = rng.choice(WORDS)  # a key with a dot, reachable only quoted
    return p


# ---------------------------------------------------------------------------------------------
# random filters

KEYS = ["a", "b", "c", "a", "b", "c", "n", "a[]", "b[]", "a[0]", "b[1]", "a[].b", "a.b", "a[].c", "a.x", '"a.b"', "a[][]",
        "obj", "obj.b", "obj[].b", "obj.c", "obj[].c", "obj.b[]", "missing", "n", "n[]",
        "nested[].x", "nested[0].x", "nested.x", "nested[].inner[].x"]
NESTED_KEYS = ["nested", "nested[]", "obj", "a", "nested[].inner", "nested[0].inner"]
INNER_KEYS = ["x", "y", "tags", "tags[]", "x[]", "missing", "inner[].x"]


def rand_match(rng: random.Random):
    kind = rng.randrange(8)
    ints = [i for i in INTS if rng.random() < 0.3] or [1]
    strs = [s for s in WORDS if rng.random() < 0.3] or ["x"]
    if kind < 3:
        return m.MatchValue(value=rng.choice([rng.choice(INTS), rng.choice(WORDS), rng.choice([True, False]), 1, 0, "x", "y", 2]))
    if kind == 3:
        return m.MatchAny(any=rng.choice([ints, strs, [], [0, 1, 2], ["x", "y"]]))
    if kind == 4:
        return m.MatchExcept(**{"except": rng.choice([ints, strs, [], [1]])})
    if kind == 5:
        words = rng.choice(["fox", "Quick brown", "brown quick", "world", "hello world", "orld", "", "x", "FOO bar", "quick fox"])
        return rng.choice([m.MatchText(text=words), m.MatchTextAny(text_any=words), m.MatchPhrase(phrase=words)])
    if kind == 6:
        return m.MatchPrefix(prefix=rng.choice(["", "x", "Hel", "hel", "pre", "fo", "wor"]))
    return m.MatchSubstring(substring=rng.choice(["", "o", "orld", "bar", "x y"]))


def rand_bounds(rng: random.Random, pool: list) -> dict:
    names = rng.sample(["lt", "lte", "gt", "gte"], rng.randrange(1, 3))
    return {n: rng.choice(pool) for n in names}


NUM_BOUNDS = [-1, 0, 0.5, 1, 1.0, 1.5, 2, 3, 5, 10, 9007199254740992.0, 2.0**63, 2.0**64, -(2.0**63)]
DT_BOUNDS = [datetime(2024, 1, 1), datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-1))),
             date(2024, 1, 2), datetime(2023, 12, 31, 23, 59, 59, tzinfo=timezone.utc), datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)]


def rand_field_condition(rng: random.Random, keys: list):
    key = rng.choice(keys)
    kind = rng.randrange(12)
    parts: dict = {}
    if kind < 4:
        parts["match"] = rand_match(rng)
    elif kind == 4:
        parts["range"] = m.Range(**rand_bounds(rng, NUM_BOUNDS))
    elif kind == 5:
        parts["range"] = m.DatetimeRange(**rand_bounds(rng, DT_BOUNDS))
    elif kind == 6:
        parts["values_count"] = m.ValuesCount(**rand_bounds(rng, [0, 1, 2, 3]))
    elif kind == 7:
        parts[rng.choice(["is_empty", "is_null"])] = rng.choice([True, False])
    elif kind == 8:
        parts["geo_bounding_box"] = rng.choice([
            m.GeoBoundingBox(top_left=m.GeoPoint(lat=5, lon=-5), bottom_right=m.GeoPoint(lat=-5, lon=5)),
            m.GeoBoundingBox(top_left=m.GeoPoint(lat=10, lon=5), bottom_right=m.GeoPoint(lat=0, lon=-5)),  # antimeridian-style
        ])
    elif kind == 9:
        parts["geo_radius"] = m.GeoRadius(center=m.GeoPoint(lat=rng.uniform(-5, 5), lon=rng.uniform(-5, 5)), radius=rng.choice([1e5, 5e5, 1e6]))
    elif kind == 10:
        ring = [m.GeoPoint(lat=-5, lon=-5), m.GeoPoint(lat=-5, lon=5), m.GeoPoint(lat=5, lon=5), m.GeoPoint(lat=5, lon=-5), m.GeoPoint(lat=-5, lon=-5)]
        hole = [m.GeoPoint(lat=-1, lon=-1), m.GeoPoint(lat=-1, lon=1), m.GeoPoint(lat=1, lon=1), m.GeoPoint(lat=-1, lon=-1)]
        parts["geo_polygon"] = m.GeoPolygon(exterior=m.GeoLineString(points=ring),
                                            interiors=rng.choice([None, [m.GeoLineString(points=hole)]]))
    else:
        # several alternatives at once: the first one set (local mode's order) decides
        parts["match"] = rand_match(rng)
        parts["range"] = m.Range(**rand_bounds(rng, NUM_BOUNDS))
        if rng.random() < 0.5:
            parts["is_empty"] = rng.choice([True, False])
    if kind in (8, 9, 10):
        key = rng.choice(["loc", "loc[]", "a", "obj"])
    if kind == 5:
        key = rng.choice(["dt", "dt[]", "a", "b"])
    if kind < 4 and isinstance(parts["match"], (m.MatchText, m.MatchTextAny, m.MatchPhrase, m.MatchPrefix, m.MatchSubstring)):
        key = rng.choice(["txt", "b", "a", "txt[]"])
    return m.FieldCondition(key=key, **parts)


def rand_condition(rng: random.Random, depth: int, keys: list, top: bool):
    kind = rng.randrange(20)
    if kind < 10:
        return rand_field_condition(rng, keys)
    if kind == 10:
        return m.IsEmptyCondition(is_empty=m.PayloadField(key=rng.choice(keys)))
    if kind == 11:
        return m.IsNullCondition(is_null=m.PayloadField(key=rng.choice(keys)))
    if kind == 12:
        return m.HasIdCondition(has_id=rng.sample(ID_POOL, rng.randrange(1, 6)))
    if kind == 13:
        return m.HasVectorCondition(has_vector=rng.choice(["v1", "v2"]))
    if kind == 14:
        total = rng.randrange(1, 5)
        return m.SliceCondition(slice=m.Slice(total=total, index=rng.randrange(total)))
    if kind in (15, 16) and depth < 3:
        inner = rand_filter(rng, depth + 1, INNER_KEYS, top=False)
        return m.NestedCondition(nested=m.Nested(key=rng.choice(NESTED_KEYS if top else ["inner", "inner[]", "tags"]), filter=inner))
    if depth < 3:
        return rand_filter(rng, depth + 1, keys, top)
    return rand_field_condition(rng, keys)


def rand_clause(rng: random.Random, depth: int, keys: list, top: bool):
    roll = rng.random()
    if roll < 0.15:
        return rand_condition(rng, depth, keys, top)  # a single condition, not a list
    if roll < 0.2:
        return []
    return [rand_condition(rng, depth, keys, top) for _ in range(rng.randrange(1, 3))]


def rand_filter(rng: random.Random, depth: int = 0, keys: list = KEYS, top: bool = True):
    parts = {}
    for clause, chance in (("must", 0.3), ("should", 0.5), ("must_not", 0.4)):
        if rng.random() < chance:
            parts[clause] = rand_clause(rng, depth, keys, top)
    if rng.random() < 0.15:
        conditions = [rand_condition(rng, depth, keys, top) for _ in range(rng.randrange(0, 4))]
        parts["min_should"] = m.MinShould(conditions=conditions, min_count=rng.randrange(1, 3))
    if not parts:
        parts["must"] = [rand_condition(rng, depth, keys, top)]
    return m.Filter(**parts)


ID_POOL = list(range(0, 400, 3)) + [str(uuid.UUID(int=random.Random(i).getrandbits(128))) for i in range(40)]


def make_ids(rng: random.Random, n: int) -> list:
    ids = rng.sample(ID_POOL, min(n, len(ID_POOL)))
    while len(ids) < n:
        candidate = rng.choice([rng.randrange(400, 10**6), str(uuid.UUID(int=rng.getrandbits(128)))])
        if candidate not in ids:
            ids.append(candidate)
    return ids


def make_corpus(seed: int, n: int = 300):
    rng = random.Random(seed)
    payloads = [payload(rng) for _ in range(n)]
    ids = make_ids(rng, n)
    vectors = {"v1": [rng.random() < 0.7 for _ in range(n)], "v2": [rng.random() < 0.3 for _ in range(n)]}
    store = PayloadStore()
    for offset, p in enumerate(payloads):
        store.set(offset, p)
    return rng, store, payloads, Ctx(ids, vectors)


# ---------------------------------------------------------------------------------------------
# congruence


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_random_filters_match_official_checker(seed):
    rng, store, payloads, ctx = make_corpus(seed)
    for _ in range(200):
        assert_congruent(store, rand_filter(rng), payloads, ctx)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_nested_filters_match_official_checker(seed):
    rng, store, payloads, ctx = make_corpus(seed)
    for _ in range(150):
        inner = rand_filter(rng, 1, INNER_KEYS, top=False)
        flt = m.Filter(must=[m.NestedCondition(nested=m.Nested(key=rng.choice(NESTED_KEYS), filter=inner))])
        assert_congruent(store, flt, payloads, ctx)


def random_write(rng: random.Random, store: PayloadStore, payloads: list, alive: list, ctx: Ctx) -> None:
    """One random write, applied to our store and mirrored into ``payloads`` with the official
    local-mode semantics (qdrant_client.local.payload_value_setter)."""
    from copy import deepcopy

    from qdrant_client.local.json_path_parser import parse_json_path
    from qdrant_client.local.payload_value_setter import delete_value_by_key, merge_payload, set_value_by_key

    op = rng.randrange(7)
    # only an upsert may write to an offset whose point was deleted
    candidates = range(len(payloads)) if op == 0 else [i for i, a in enumerate(alive) if a]
    offset = rng.choice(candidates)
    if op == 0:
        new = payload(rng)
        store.set(offset, new)
        payloads[offset] = deepcopy(new) or {}
        alive[offset] = True
    elif op == 1:
        store.delete(offset)
        payloads[offset] = {}
        alive[offset] = False
    elif op == 2:
        patch = {k: rng.choice([value(rng), None]) for k in rng.sample(["a", "b", "c", "n", "obj", "nested", "txt"], 2)}
        store.set_payload(offset, patch)
        payloads[offset] = merge_payload(dict(payloads[offset] or {}), deepcopy(patch))
    elif op == 3:
        key = rng.choice(["obj", "obj.inner", "a[]", "a[0]", "nested[].inner[0]", "nested[]", "b.c.d", "obj[].b"])
        patch = {rng.choice(["b", "x"]): rng.choice([scalar(rng), None]), "c": rng.choice(WORDS)}
        store.set_payload(offset, patch, key=key)
        new = deepcopy(payloads[offset] or {})
        set_value_by_key(new, parse_json_path(key), deepcopy(patch))
        payloads[offset] = new
    elif op == 4:
        keys = rng.sample(["a", "b", "a[]", "a[0]", "obj.b", "obj[].b", "nested[].x", "nested[].inner", "n[]", "missing.x"], 2)
        store.delete_keys(offset, keys)
        new = deepcopy(payloads[offset] or {})
        for key in keys:
            delete_value_by_key(new, parse_json_path(key))
        payloads[offset] = new
    elif op == 5:
        store.clear(offset)
        payloads[offset] = {}
    else:
        new = payload(rng)
        store.overwrite_payload(offset, new or {})
        payloads[offset] = deepcopy(new) or {}
    assert store.get(offset) == payloads[offset], (offset, store.get(offset), payloads[offset])


@pytest.mark.parametrize("seed", [21, 22, 23, 24])
def test_columns_stay_correct_after_writes(seed):
    rng, store, payloads, ctx = make_corpus(seed, n=200)
    payloads = [p or {} for p in payloads]
    alive = [True] * len(payloads)
    filters = [rand_filter(rng) for _ in range(60)]
    for f in filters:  # build the columns and nested domains first
        store.evaluate(f, ctx)
    for round_ in range(10):
        for _ in range(rng.choice([1, 5, 60, 400])):  # enough churn to trigger compaction/rebuilds
            random_write(rng, store, payloads, alive, ctx)
        for f in filters:
            assert_congruent(store, f, payloads, ctx, alive=np.array(alive))
    # deleted offsets behave as empty payloads
    for offset, is_alive in enumerate(alive):
        if not is_alive:
            assert store.get(offset) == {}
    assert store.snapshot_payloads() == {i: p for i, p in enumerate(payloads) if p}


def test_string_dictionary_and_bigints_survive_compaction():
    """Churn through thousands of distinct strings and huge integers: the per-column string
    dictionary is re-encoded on compaction and answers stay right."""
    store, n = PayloadStore(), 50
    ctx = Ctx(list(range(n)))
    payloads: list = [{} for _ in range(n)]
    rng = random.Random(5)
    for round_ in range(60):
        for i in range(n):
            payloads[i] = {"s": f"s{round_}-{i}", "t": [f"2024-01-{1 + i % 28:02d}T00:00:{round_ % 60:02d}Z"], "big": 2**64 + round_ * n + i}
            store.set(i, payloads[i])
        probe = rng.randrange(n)
        for flt in (
            field("s", match=m.MatchValue(value=f"s{round_}-{probe}")),
            field("s", match=m.MatchValue(value=f"s{round_ - 1}-{probe}")),
            field("s", match=m.MatchAny(any=[f"s{round_}-1", f"s{round_}-2", "nope"])),
            field("s", match=m.MatchPrefix(prefix=f"s{round_}-1")),
            field("t", range=m.DatetimeRange(gte=datetime(2024, 1, 10), lt=datetime(2024, 1, 20))),
            field("big", match=m.MatchValue(value=2**64 + round_ * n + probe)),
            field("big", range=m.Range(gt=float(2**64 + round_ * n))),
        ):
            assert_congruent(store, flt, payloads, ctx)
    strings = store._domain.columns[("s",)].strings
    assert len(strings) < 3 * n + 1024 + n  # re-encoded, not every string ever seen
    assert len(store._domain.columns[("big",)].bigints) <= 2 * n + 256


# ---------------------------------------------------------------------------------------------
# hand-written semantics (reference §4.3)


def evaluate(payloads: list, flt) -> list[int]:
    store = PayloadStore()
    for i, p in enumerate(payloads):
        store.set(i, p)
    ctx = Ctx(list(range(len(payloads))), {"": [True] * len(payloads)})
    mask = store.evaluate(flt, ctx)
    # the oracle must agree on every hand-written case too
    assert np.array_equal(mask, oracle_mask(flt, [p or {} for p in payloads], ctx))
    return np.flatnonzero(mask).tolist()


def field(key, **kw):
    return m.Filter(must=[m.FieldCondition(key=key, **kw)])


EMPTINESS = [None, {}, {"a": None}, {"a": []}, {"a": [None]}, {"a": 1}, {"a": "x"}, {"a": {}}, {"a": [1, 2]}]


def test_is_empty_is_null_values_count_table():
    # offsets:            0 none, 1 missing, 2 null, 3 [], 4 [null], 5 1, 6 "x", 7 {}, 8 [1,2]
    assert evaluate(EMPTINESS, m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="a"))])) == [0, 1, 2, 3]
    assert evaluate(EMPTINESS, m.Filter(must=[m.IsNullCondition(is_null=m.PayloadField(key="a"))])) == [2, 4]
    assert evaluate(EMPTINESS, field("a", is_null=True)) == [2, 4]
    assert evaluate(EMPTINESS, field("a", is_empty=False)) == [4, 5, 6, 7, 8]
    assert evaluate(EMPTINESS, field("a", values_count=m.ValuesCount(lt=1))) == [0, 1, 2, 3]
    assert evaluate(EMPTINESS, field("a", values_count=m.ValuesCount(gte=2))) == [8]
    assert evaluate(EMPTINESS, m.Filter(must_not=[m.IsEmptyCondition(is_empty=m.PayloadField(key="a"))])) == [4, 5, 6, 7, 8]


def test_match_except_is_not_must_not_any():
    docs = [{}, {"a": None}, {"a": [1, 2]}, {"a": []}, {"a": [None]}, {"a": 1}, {"a": "s"}, {"a": [[1]]}, {"a": True}, {"a": {"b": 1}}]
    assert evaluate(docs, field("a", match=m.MatchExcept(**{"except": [1]}))) == [2, 6, 7, 8, 9]
    assert evaluate(docs, m.Filter(must_not=[m.FieldCondition(key="a", match=m.MatchAny(any=[1]))])) == [0, 1, 3, 4, 6, 7, 8, 9]


def test_typed_equality():
    docs = [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}, {"a": [1.0, 2]}, {"a": 2**64 - 1}, {"a": [0, 2**70]}]
    assert evaluate(docs, field("a", match=m.MatchValue(value=1))) == [0]
    assert evaluate(docs, field("a", match=m.MatchValue(value=True))) == [2]
    assert evaluate(docs, field("a", match=m.MatchValue(value="1"))) == [3]
    assert evaluate(docs, field("a", match=m.MatchValue(value=2**64 - 1))) == [5]
    assert evaluate(docs, field("a", match=m.MatchAny(any=[2**70, 2]))) == [4, 6]
    assert evaluate(docs, field("a", range=m.Range(gte=1))) == [0, 1, 4, 5, 6]
    # integers beyond 2**53 compare exactly with the float bounds (float64 would round them)
    big = [{"a": 2**53 + 1}, {"a": 2**63 + 5}, {"a": -(2**63) - 1}]
    assert evaluate(big, field("a", range=m.Range(lte=2.0**53))) == [2]
    assert evaluate(big, field("a", range=m.Range(gt=2.0**53))) == [0, 1]
    assert evaluate(big, field("a", range=m.Range(gt=2.0**63))) == [1]
    assert evaluate(big, field("a", range=m.Range(lt=-(2.0**63)))) == [2]


def test_array_paths():
    docs = [{"a": {"b": 1}}, {"a": [{"b": 1}]}, {"a": [[1]]}, {"a": [1]}, {"a": [{"b": [1, 2]}]}, {"a": [{"b": 2}, {"b": 1}]}]
    assert evaluate(docs, field("a.b", match=m.MatchValue(value=1))) == [0]
    assert evaluate(docs, field("a[].b", match=m.MatchValue(value=1))) == [1, 4, 5]
    assert evaluate(docs, field("a", match=m.MatchValue(value=1))) == [3]
    assert evaluate(docs, field("a[]", match=m.MatchValue(value=1))) == [2, 3]
    assert evaluate(docs, field("a[1].b", match=m.MatchValue(value=1))) == [5]
    assert evaluate(docs, field("a[].b", values_count=m.ValuesCount(gte=2))) == [4]
    quoted = [{"a.b": "q"}, {"a": {"b": "q"}}]
    assert evaluate(quoted, field('"a.b"', match=m.MatchValue(value="q"))) == [0]
    assert evaluate(quoted, field("a.b", match=m.MatchValue(value="q"))) == [1]


def test_boolean_structure():
    docs = [{"a": 1}, {"a": 2}, {"a": 3}]
    one, two = (m.FieldCondition(key="a", match=m.MatchValue(value=v)) for v in (1, 2))
    assert evaluate(docs, m.Filter(should=[])) == [0, 1, 2]  # empty should = no constraint
    assert evaluate(docs, m.Filter(should=one)) == [0]  # a single condition, not a list
    assert evaluate(docs, m.Filter(must_not=[one, two])) == [2]
    assert evaluate(docs, m.Filter(min_should=m.MinShould(conditions=[one, two, m.Filter(should=[one, two])], min_count=2))) == [0, 1]
    assert evaluate(docs, m.Filter(must=[m.Filter(should=[one, two]), m.Filter(must_not=[two])])) == [0]


def test_nested_condition_is_per_element():
    docs = [
        {"d": [{"x": 1, "y": 2}, {"x": 2, "y": 1}]},
        {"d": [{"x": 1, "y": 1}]},
        {"d": {"x": 1, "y": 1}},  # not an array: nested never matches
        {"d": [[{"x": 1, "y": 1}]]},  # arrays inside are not objects
    ]
    both = m.Filter(must=[m.FieldCondition(key="x", match=m.MatchValue(value=1)), m.FieldCondition(key="y", match=m.MatchValue(value=1))])
    assert evaluate(docs, m.Filter(must=[m.NestedCondition(nested=m.Nested(key="d", filter=both))])) == [1]
    assert evaluate(docs, m.Filter(must=[m.NestedCondition(nested=m.Nested(key="d[]", filter=both))])) == [1]
    # the flat path matches across elements
    assert evaluate(docs, m.Filter(must=[m.FieldCondition(key="d[].x", match=m.MatchValue(value=1)),
                                         m.FieldCondition(key="d[].y", match=m.MatchValue(value=1))])) == [0, 1]


def test_datetime_text_geo_and_ids():
    docs = [{"t": "2024-01-01T10:00:00Z"}, {"t": "2024-01-01 11:00:00+01:00"}, {"t": "2024-01-01"}, {"t": "garbage"}, {"t": 5}]
    assert evaluate(docs, field("t", range=m.DatetimeRange(gte=datetime(2024, 1, 1, 10)))) == [0, 1]
    assert evaluate(docs, field("t", range=m.DatetimeRange(lt="2024-01-01T10:00:00+00:00"))) == [2]
    texts = [{"s": "Hello World of vectors"}, {"s": "hello, world!"}, {"s": "worldwide"}, {"s": ["x", "say hello"]}]
    assert evaluate(texts, field("s", match=m.MatchText(text="World"))) == [0, 1]
    assert evaluate(texts, field("s", match=m.MatchTextAny(text_any="wide hello"))) == [0, 1, 3]
    assert evaluate(texts, field("s", match=m.MatchPhrase(phrase="hello world"))) == [0, 1]
    assert evaluate(texts, field("s", match=m.MatchPrefix(prefix="hello"))) == [1]
    geo = [{"p": {"lat": 1.0, "lon": 1.0}}, {"p": [{"lat": 50, "lon": 50}, {"lat": 0.5, "lon": -0.5}]}, {"p": {"lat": True, "lon": 1}}]
    box = m.GeoBoundingBox(top_left=m.GeoPoint(lat=2, lon=-2), bottom_right=m.GeoPoint(lat=-2, lon=2))
    assert evaluate(geo, field("p", geo_bounding_box=box)) == [0, 1]
    assert evaluate(geo, field("p", geo_radius=m.GeoRadius(center=m.GeoPoint(lat=1, lon=1), radius=1000))) == [0]
    # boundaries: the box and radius are strict; a polygon excludes its own boundary and
    # includes its holes' boundaries in the hole
    edge = [{"p": {"lat": 2, "lon": 0}}, {"p": {"lat": 0, "lon": -2}}, {"p": {"lat": 1.999, "lon": 1.999}}, {"p": {"lat": 1, "lon": 0}},
            {"p": {"lat": 0, "lon": 0.5}}, {"p": {"lat": 0.25, "lon": 0.25}}, {"p": {"lat": -2, "lon": -2}}]
    assert evaluate(edge, field("p", geo_bounding_box=box)) == [2, 3, 4, 5]
    square = [m.GeoPoint(lat=lat, lon=lon) for lat, lon in [(-2, -2), (-2, 2), (2, 2), (2, -2), (-2, -2)]]
    hole = [m.GeoPoint(lat=lat, lon=lon) for lat, lon in [(0, 0), (0, 0.5), (0.5, 0.5), (0.5, 0), (0, 0)]]
    polygon = m.GeoPolygon(exterior=m.GeoLineString(points=square), interiors=[m.GeoLineString(points=hole)])
    assert evaluate(edge, field("p", geo_polygon=polygon)) == [2, 3]
    store = PayloadStore()
    ctx = Ctx([7, None, "6d3b6f2a-6b8d-4d5c-9a68-0a6a7f8b9c0d"])
    flt = m.Filter(must=[m.HasIdCondition(has_id=[7, "6D3B6F2A6B8D4D5C9A680A6A7F8B9C0D", 99])])
    assert store.evaluate(flt, ctx).tolist() == [True, False, True]


def test_has_vector_and_unknown_vector():
    store = PayloadStore()
    ctx = Ctx([1, 2, 3], {"v": [True, False, True]})
    assert store.evaluate(m.Filter(must=[m.HasVectorCondition(has_vector="v")]), ctx).tolist() == [True, False, True]
    with pytest.raises(BadRequest):
        store.evaluate(m.Filter(must=[m.HasVectorCondition(has_vector="nope")]), ctx)


# ---------------------------------------------------------------------------------------------
# writes and selectors


def test_set_payload_semantics():
    store = PayloadStore()
    store.set(0, {"obj": {"k": 1}, "n": 5, "keep": True})
    store.set_payload(0, {"x": 1}, key="obj.inner")
    assert store.get(0) == {"obj": {"k": 1, "inner": {"x": 1}}, "n": 5, "keep": True}
    store.set_payload(0, {"n": None, "m": [1]})  # null removes the key
    assert store.get(0) == {"obj": {"k": 1, "inner": {"x": 1}}, "keep": True, "m": [1]}
    store.set_payload(0, {"y": 2}, key="keep")  # a non-object in the way is replaced
    assert store.get(0)["keep"] == {"y": 2}
    store.set(1, {"arr": [{"a": 1}, 5, {"b": 2}]})
    store.set_payload(1, {"z": 0}, key="arr[]")
    assert store.get(1) == {"arr": [{"a": 1, "z": 0}, {"z": 0}, {"b": 2, "z": 0}]}
    store.set_payload(1, {"w": 1}, key="arr[0]")
    assert store.get(1)["arr"][0] == {"a": 1, "z": 0, "w": 1}
    store.set(2, {})
    store.set_payload(2, {"v": 1}, key="list[0]")  # [n] on a missing value makes it []
    assert store.get(2) == {"list": []}
    with pytest.raises(BadRequest):
        store.set_payload(2, {"v": 1}, key="bad..key")
    # the stored payload is a copy: mutating the caller's dict changes nothing
    src = {"a": [1, 2]}
    store.set(3, src)
    src["a"].append(3)
    assert store.get(3) == {"a": [1, 2]}


def test_delete_keys_and_filters_follow():
    store = PayloadStore()
    store.set(0, {"obj": {"k": 1, "j": 2}, "arr": [{"b": 1, "c": 2}, {"b": 3}], "l": [1, 2], "m": [5, 6]})
    ctx = Ctx([0])
    has_k = field("obj.k", match=m.MatchValue(value=1))
    assert store.evaluate(has_k, ctx).tolist() == [True]
    store.delete_keys(0, ["obj.k", "arr[].b", "l[]", "m[0]", "missing.path"])
    assert store.get(0) == {"obj": {"j": 2}, "arr": [{"c": 2}, {}], "l": [], "m": [5, 6]}
    assert store.evaluate(has_k, ctx).tolist() == [False]
    assert store.evaluate(m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="l"))]), ctx).tolist() == [True]


def test_select_include_exclude():
    store = PayloadStore()
    p = {"a": {"b": 1, "c": 2}, "aa": {"b": 3}, "a.b": 4, "l": [{"b": 5, "c": 6}], "s": 7}
    assert store.select(p, True) == p
    assert store.select(p, True) is not p and store.select(p, True)["a"] is not p["a"]  # a copy
    assert store.select(p, False) is None
    assert store.select(p, []) == {}
    assert store.select(p, ["a.b"]) == {"a": {"b": 1}}
    assert store.select(p, ['"a.b"', "l[].c"]) == {"a.b": 4, "l": [{"c": 6}]}
    assert store.select(p, m.PayloadSelectorInclude(include=["a", "l[0]"])) == {"a": {"b": 1, "c": 2}, "l": []}
    assert store.select(p, m.PayloadSelectorExclude(exclude=["a", "l[].b"])) == {"aa": {"b": 3}, "a.b": 4, "l": [{"c": 6}], "s": 7}
    assert store.select(p, m.PayloadSelectorExclude(exclude=["l[]", "aa.b"])) == {"a": {"b": 1, "c": 2}, "aa": {}, "a.b": 4, "l": [], "s": 7}
    with pytest.raises(BadRequest):
        store.select(p, ["a..b"])


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "flt",
    [
        m.Filter(must=[m.FieldCondition(key="a")]),
        m.Filter(should=[m.Filter(must=[m.FieldCondition(key="a")])]),
        m.Filter(must=[m.FieldCondition(key="a..b", match=m.MatchValue(value=1))]),
        m.Filter(must=[m.FieldCondition(key="a[x]", match=m.MatchValue(value=1))]),
        m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key=""))]),
        m.Filter(min_should=m.MinShould(conditions=[], min_count=0)),
        m.Filter(must=[m.HasIdCondition(has_id=["not-a-uuid"])]),
        m.Filter(must=[m.SliceCondition(slice=m.Slice(total=2, index=2))]),
        m.Filter(must=[m.NestedCondition(nested=m.Nested(key="d", filter=m.Filter(must=[m.FieldCondition(key="x")])))]),
        m.Filter(must=[m.FieldCondition(key="p", geo_polygon=m.GeoPolygon(exterior=m.GeoLineString(points=[m.GeoPoint(lat=0, lon=0)] * 3)))]),
    ],
)
def test_malformed_filter_is_bad_request(flt):
    store = PayloadStore()
    store.set(0, {"a": 1})
    with pytest.raises(BadRequest):
        store.check_filter_schema(flt)
    with pytest.raises(BadRequest):
        store.evaluate(flt, Ctx([0]))


def test_unknown_condition_is_unsupported():
    class GeoShape:  # a condition kind this engine does not know
        shape = "hexagon"

    with pytest.raises(Unsupported, match="GeoShape"):
        PayloadStore().check_filter_schema(m.Filter.model_construct(must=[GeoShape()], should=None, must_not=None, min_should=None))


def test_slice_without_point_ids_is_unsupported():
    class NoIds:
        size = 1

        def offsets_of_ids(self, ids):
            return np.array([], dtype=np.int64)

        def has_vector_mask(self, name):
            return np.ones(1, dtype=bool)

    with pytest.raises(Unsupported, match="slice"):
        PayloadStore().evaluate(m.Filter(must=[m.SliceCondition(slice=m.Slice(total=2, index=0))]), NoIds())


# ---------------------------------------------------------------------------------------------
# speed sanity (printed, not asserted): run with -s to see it


def test_speed_sanity(capsys):
    n = 100_000
    store = PayloadStore()
    words = [f"w{i}" for i in range(10)]
    for i in range(n):
        store.set(i, {"s": words[i % 10], "n": i % 1000, "f": (i % 97) / 7})
    ctx = Ctx(list(range(n)))
    by_value = field("s", match=m.MatchValue(value="w3"))
    by_range = field("n", range=m.Range(gte=100, lt=200))
    started = time.perf_counter()
    first = store.evaluate(by_value, ctx)
    store.evaluate(by_range, ctx)
    build = time.perf_counter() - started
    assert first.sum() == n // 10 and store.evaluate(by_range, ctx).sum() == n // 10
    timings = {}
    for name, flt in (("match value", by_value), ("range", by_range)):
        runs = []
        for _ in range(30):
            started = time.perf_counter()
            store.evaluate(flt, ctx)
            runs.append(time.perf_counter() - started)
        timings[name] = min(runs) * 1e3, sorted(runs)[len(runs) // 2] * 1e3
    with capsys.disabled():
        print(f"\n[payload speed] {n} payloads; first-use column builds: {build * 1e3:.0f} ms")
        for name, (best, median) in timings.items():
            print(f"[payload speed] {name}: best {best:.3f} ms, median {median:.3f} ms per evaluate")
