"""Seeded generators of random points, payloads, filters and payload writes for the congruence tests.

Everything is plain JSON-like data (dicts, lists, str, int, float, bool, None): one generated
value is validated into both ``sdk.models`` and ``qdrant_client.models``, so the two clients
always see the same request. Every function takes a ``random.Random`` and is deterministic.

Value domains are small on purpose, so random conditions actually match some points and
the edge cases (a stored ``1.0`` against ``match 1``, ``[]``, ``[null]``, a plain key over an
array of objects, ...) occur many times per run.
"""

from __future__ import annotations

import random
import uuid
from typing import Any, Callable

WORDS = ["red", "green", "blue", "cyan"]
INTS = [-1, 0, 1, 2, 3, 5, 10]
FLOATS = [-1.5, 0.5, 1.0, 2.0, 2.5, 3.0]          # 1.0 / 2.0 / 3.0: floats that look like ints
RANGE_BOUNDS = [-1, 0, 0.5, 1, 1.0, 1.5, 2, 2.5, 3, 5, 7.5, 10]

# Filter keys and what kind of values they mostly hold (see random_payload).
MATCH_KEYS = {
    "a": "mixed",
    "s": "str",
    "flag": "bool",
    "n": "int",
    "tags": "strint",
    "tags[]": "strint",
    "nested.a": "int",
    "nested.b": "str",
    "arr[].x": "int",
    "arr[].y": "str",
}
RANGE_KEYS = ["a", "b", "n", "nested.a", "arr[].x", "tags[]"]
EMPTY_KEYS = ["a", "n", "s", "tags", "tags[]", "nested", "nested.a", "arr", "arr[].x", "nope"]


def weighted(rng: random.Random, table: list[tuple[float, Callable[[], Any]]]) -> Any:
    total = sum(w for w, _ in table)
    x = rng.random() * total
    for w, fn in table:
        x -= w
        if x < 0:
            return fn()
    return table[-1][1]()


MISSING = object()   # a generator result meaning "leave the key out"


# ---------------------------------------------------------------------------------------------
# ids


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_ids(rng: random.Random, n: int, uuid_share: float = 0.3) -> list[int | str]:
    """``n`` distinct point ids: non-negative ints and canonical UUID strings, shuffled."""
    n_uuid = int(n * uuid_share)
    ints = rng.sample(range(0, 20 * n), n - n_uuid)
    ids: list[int | str] = [*ints, *(random_uuid(rng) for _ in range(n_uuid))]
    rng.shuffle(ids)
    return ids


def id_variant(rng: random.Random, pid: int | str) -> int | str:
    """The same id, sometimes spelled as another accepted UUID form (upper case / simple hex)."""
    if isinstance(pid, str) and rng.random() < 0.3:
        u = uuid.UUID(pid)
        return rng.choice([str(u).upper(), u.hex])
    return pid


def missing_ids(rng: random.Random, present: list[int | str], k: int) -> list[int | str]:
    taken = set(present)
    out: list[int | str] = []
    while len(out) < k:
        pid: int | str = rng.randrange(0, 40 * max(len(present), 1)) if rng.random() < 0.6 else random_uuid(rng)
        if pid not in taken:
            out.append(pid)
            taken.add(pid)
    return out


# ---------------------------------------------------------------------------------------------
# payloads


def _int(rng: random.Random) -> int:
    return rng.choice(INTS)


def _float(rng: random.Random) -> float:
    return rng.choice(FLOATS)


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def _value_a(rng: random.Random) -> Any:
    return weighted(rng, [
        (30, lambda: _int(rng)),
        (12, lambda: _float(rng)),
        (12, lambda: _word(rng)),
        (8, lambda: rng.random() < 0.5),
        (6, lambda: None),
        (8, lambda: [_int(rng) for _ in range(rng.randint(1, 3))]),
        (3, lambda: []),
        (3, lambda: [None]),
        (2, lambda: [_int(rng), _word(rng), None]),
        (2, lambda: [1.0, _float(rng)]),
        (14, lambda: MISSING),
    ])


def _tags(rng: random.Random) -> Any:
    return weighted(rng, [
        (10, lambda: []),
        (5, lambda: [None]),
        (40, lambda: rng.sample(WORDS, rng.randint(1, 3))),
        (10, lambda: [_int(rng) for _ in range(rng.randint(1, 3))]),
        (5, lambda: [_word(rng), _int(rng)]),
        (5, lambda: [_word(rng), None]),
        (8, lambda: _word(rng)),
        (17, lambda: MISSING),
    ])


def _nested(rng: random.Random) -> Any:
    def obj() -> dict:
        d: dict[str, Any] = {}
        a = weighted(rng, [(60, lambda: _int(rng)), (10, lambda: _word(rng)), (10, lambda: _float(rng)),
                            (5, lambda: None), (15, lambda: MISSING)])
        if a is not MISSING:
            d["a"] = a
        if rng.random() < 0.7:
            d["b"] = _word(rng)
        return d

    return weighted(rng, [
        (60, obj),
        (5, lambda: None),
        (5, lambda: [{"a": _int(rng)}]),   # a plain key `nested.a` must not descend into this array
        (30, lambda: MISSING),
    ])


def _arr(rng: random.Random) -> Any:
    def element() -> Any:
        if rng.random() < 0.05:
            return _int(rng)            # a scalar among the objects
        d: dict[str, Any] = {}
        x = weighted(rng, [(70, lambda: _int(rng)), (8, lambda: None), (7, lambda: [_int(rng), _int(rng)]),
                            (15, lambda: MISSING)])
        if x is not MISSING:
            d["x"] = x
        if rng.random() < 0.6:
            d["y"] = _word(rng)
        return d

    return weighted(rng, [
        (60, lambda: [element() for _ in range(rng.randint(1, 3))]),
        (10, lambda: []),
        (30, lambda: MISSING),
    ])


def random_payload(rng: random.Random) -> dict[str, Any]:
    fields: dict[str, Callable[[], Any]] = {
        "a": lambda: _value_a(rng),
        "b": lambda: rng.choice([_float(rng), _int(rng), rng.randint(-10, 20) / 2]) if rng.random() < 0.8 else MISSING,
        "s": lambda: _word(rng) if rng.random() < 0.7 else MISSING,
        "flag": lambda: (rng.random() < 0.5) if rng.random() < 0.6 else MISSING,
        "n": lambda: weighted(rng, [(40, lambda: None), (20, lambda: _int(rng)), (40, lambda: MISSING)]),
        "tags": lambda: _tags(rng),
        "nested": lambda: _nested(rng),
        "arr": lambda: _arr(rng),
    }
    payload = {}
    for key, make in fields.items():
        value = make()
        if value is not MISSING:
            payload[key] = value
    return payload


# ---------------------------------------------------------------------------------------------
# filters


def _match_value(rng: random.Random, kind: str) -> Any:
    if kind == "str":
        return rng.choice(WORDS + ["nope"])
    if kind == "int":
        return _int(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "strint":
        return _word(rng) if rng.random() < 0.6 else _int(rng)
    return rng.choice([_int, _word, lambda r: r.random() < 0.5])(rng)


def _value_list(rng: random.Random, kind: str) -> list:
    """A homogeneous list (MatchAny / MatchExcept take only strings or only ints)."""
    if kind == "bool" or kind == "mixed":
        kind = rng.choice(["int", "str"])
    if kind == "strint":
        kind = rng.choice(["int", "str"])
    if rng.random() < 0.04:
        return []
    size = rng.randint(1, 3)
    if kind == "str":
        return rng.sample(WORDS + ["nope"], size)
    return rng.sample(INTS, size)


def _range(rng: random.Random) -> dict:
    ops = rng.choice([["gt"], ["gte"], ["lt"], ["lte"], ["gt", "lt"], ["gte", "lte"], ["gt", "lte"],
                      ["gte", "lt"], ["gt", "gte", "lt", "lte"]])
    bounds = sorted(rng.choice(RANGE_BOUNDS) for _ in ops)
    # lower bounds take the small values, upper bounds the large ones (mostly non-empty ranges)
    lower = [o for o in ops if o.startswith("g")]
    upper = [o for o in ops if o.startswith("l")]
    out = {}
    for op, b in zip(lower + upper, bounds):
        out[op] = b
    if rng.random() < 0.1:   # sometimes an inverted (empty) range
        out = {k: -v if isinstance(v, (int, float)) else v for k, v in out.items()}
    return out


def random_condition(rng: random.Random, ids: list[int | str], depth: int) -> dict:
    def nested_filter() -> dict:
        return random_filter(rng, ids, depth + 1)

    def match_value() -> dict:
        key = rng.choice(list(MATCH_KEYS))
        return {"key": key, "match": {"value": _match_value(rng, MATCH_KEYS[key])}}

    def match_any() -> dict:
        key = rng.choice(list(MATCH_KEYS))
        return {"key": key, "match": {"any": _value_list(rng, MATCH_KEYS[key])}}

    def match_except() -> dict:
        key = rng.choice(list(MATCH_KEYS))
        return {"key": key, "match": {"except": _value_list(rng, MATCH_KEYS[key])}}

    def range_() -> dict:
        return {"key": rng.choice(RANGE_KEYS), "range": _range(rng)}

    def is_empty() -> dict:
        key = rng.choice(EMPTY_KEYS)
        if rng.random() < 0.7:
            return {"is_empty": {"key": key}}
        return {"key": key, "is_empty": rng.random() < 0.7}

    def is_null() -> dict:
        key = rng.choice(EMPTY_KEYS)
        if rng.random() < 0.7:
            return {"is_null": {"key": key}}
        return {"key": key, "is_null": rng.random() < 0.7}

    def has_id() -> dict:
        chosen = rng.sample(ids, min(len(ids), rng.randint(1, 8)))
        chosen = [id_variant(rng, i) for i in chosen] + missing_ids(rng, ids, rng.randint(0, 2))
        return {"has_id": chosen}

    def values_count() -> dict:
        return {"key": rng.choice(["a", "tags", "arr", "arr[].x", "nested.a"]),
                "values_count": {rng.choice(["gt", "gte", "lt", "lte"]): rng.randint(0, 3)}}

    def nested_condition() -> dict:
        inner_keys = {"x": "int", "y": "str"}
        conds = []
        for _ in range(rng.randint(1, 2)):
            key = rng.choice(list(inner_keys))
            kind = rng.random()
            if kind < 0.5:
                conds.append({"key": key, "match": {"value": _match_value(rng, inner_keys[key])}})
            elif kind < 0.8 and key == "x":
                conds.append({"key": key, "range": _range(rng)})
            else:
                conds.append({"is_empty": {"key": key}})
        clause = rng.choice(["must", "should", "must_not"])
        return {"nested": {"key": rng.choice(["arr", "arr[]"]), "filter": {clause: conds}}}

    table: list[tuple[float, Callable[[], dict]]] = [
        (22, match_value), (10, match_any), (8, match_except), (16, range_),
        (8, is_empty), (7, is_null), (6, has_id), (3, values_count), (4, nested_condition),
    ]
    if depth < 2:
        table.append((12, nested_filter))
    return weighted(rng, table)


def random_filter(rng: random.Random, ids: list[int | str], depth: int = 0) -> dict:
    """A random Filter as a JSON dict: must / should / must_not / min_should, nested up to depth 2.

    Clause and condition counts are kept small so that most filters select a real fraction
    of the points (a filter that matches nothing proves little).
    """
    n_clauses = weighted(rng, [(45, lambda: 1), (40, lambda: 2), (15 if depth == 0 else 0, lambda: 3)])
    clauses = rng.sample(["must", "should", "must_not", "min_should"], n_clauses)
    out: dict[str, Any] = {}
    for clause in clauses:
        size = {"must": 1 if rng.random() < 0.75 else 2, "should": rng.randint(1, 3), "must_not": rng.randint(1, 2),
                "min_should": rng.randint(2, 3)}[clause]
        conds = [random_condition(rng, ids, depth) for _ in range(size)]
        if clause == "min_should":
            min_count = rng.randint(1, len(conds) + (1 if rng.random() < 0.1 else 0))
            out["min_should"] = {"conditions": conds, "min_count": min_count}
        elif clause == "should" and rng.random() < 0.04:
            out["should"] = []                       # empty should = no constraint
        elif rng.random() < 0.1:
            out[clause] = conds[0]                   # a single condition instead of a list
        else:
            out[clause] = conds
    return out


# ---------------------------------------------------------------------------------------------
# payload writes


SET_KEYS = ["nested", "obj", "nested.deep", "arr[0]", "arr[]", "tags"]
DELETE_KEYS = ["a", "b", "nested", "nested.a", "nested.b", "arr[].x", "arr[0]", "arr[]", "tags", "tags[]",
               "n", "nope", "nested.a.deep"]


def random_partial_payload(rng: random.Random) -> dict[str, Any]:
    """A few keys of a random payload, sometimes with nulls (which set_payload treats as delete)."""
    full = random_payload(rng)
    keys = rng.sample(sorted(full), min(len(full), rng.randint(1, 3))) if full else []
    part = {k: full[k] for k in keys}
    if rng.random() < 0.3:
        part[rng.choice(["a", "s", "fresh"])] = None
    if rng.random() < 0.3:
        part["fresh"] = rng.choice([_int(rng), _word(rng), {"a": _int(rng)}, [_int(rng)]])
    return part
