"""Randomised congruence with the official qdrant-client local mode, in every client mode.

The same seeded random points, filters and writes go into our client (the ``client`` fixture:
memory/path x sync/async) and into ``qdrant_client.QdrantClient(":memory:")``; the answers
must agree:

* ``count`` exactly; ``scroll`` page by page (ids in order, payloads, ``next_page_offset``);
* ``query_points`` (unnamed and ``using=`` named vectors, ``offset``, ``score_threshold``):
  ids and order, scores within 1e-4 relative (a group of tied scores compares as a set);
* ``retrieve`` of random ids, missing ones and other UUID spellings included, with vectors;
* random sequences of payload writes and deletes, compared by full scroll after every write;
* ``with_payload`` key lists and include/exclude selectors with nested paths.

Payloads compare *strictly* (``1`` and ``1.0``, ``true`` and ``1`` are different values).
Each request is built once as JSON and validated into both model packages (``_gen.py`` makes
the JSON). The official side of a scenario runs once per pytest session and is reused by
the four modes (it is pure Python per point, the expensive half).
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import pytest

qdrant_client = pytest.importorskip("qdrant_client")
from qdrant_client import models as qm  # noqa: E402

from sdk import models  # noqa: E402

import _gen  # noqa: E402  (compat_tests/ is on sys.path: rootdir-relative test modules)

COLL = "c"
N_POINTS = 300
PAGE = 37
LIMIT = 10
SCORE_REL_TOL = 1e-4
SCORE_ABS_TOL = 1e-5         # scores near zero (Cosine ~0, Euclid distance ~0)
TIE_REL_TOL = 1e-5           # consecutive scores this close are a tie group (float32 noise is ~1e-7)
VECTOR_TOL = 1e-5

DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]
# named layout: "img" uses the parametrised distance, "txt" the next one in this cycle
OTHER_DISTANCE = {"Cosine": "Euclid", "Dot": "Manhattan", "Euclid": "Dot", "Manhattan": "Cosine"}
DIMS = {"": 6, "img": 6, "txt": 4}


# ---------------------------------------------------------------------------------------------
# datasets


@dataclass(frozen=True)
class Dataset:
    layout: str                        # "single" (one unnamed vector) | "named" (img + txt)
    distance: str
    seed: int
    ids: list = field(hash=False)      # every id ever upserted (the live set at the end)
    batches: list = field(hash=False)  # lists of (id, vector, payload), upserted in order
    ties: list = field(hash=False)     # vectors that a second point copies (queries there hit ties)

    @property
    def vector_names(self) -> list[str]:
        return [""] if self.layout == "single" else ["img", "txt"]

    def distance_of(self, name: str) -> str:
        return ds_distance(self.layout, self.distance, name)


def ds_distance(layout: str, distance: str, name: str) -> str:
    return OTHER_DISTANCE[distance] if layout == "named" and name == "txt" else distance


def _vec(nrng: np.random.Generator, dim: int) -> list[float]:
    # float32 values, so both engines store exactly what was sent
    return nrng.normal(size=dim).astype(np.float32).tolist()


@lru_cache(maxsize=None)
def make_dataset(layout: str, distance: str, seed: int, n: int = N_POINTS) -> Dataset:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    ids = _gen.random_ids(rng, n)

    def vectors() -> Any:
        if layout == "single":
            return _vec(nrng, DIMS[""])
        which = _gen.weighted(rng, [(70, lambda: ("img", "txt")), (13, lambda: ("img",)),
                                     (13, lambda: ("txt",)), (4, lambda: ())])
        return {name: _vec(nrng, DIMS[name]) for name in which}

    points = [(pid, vectors(), _gen.random_payload(rng)) for pid in ids]
    # exact score ties: some points copy another point's vectors (for Cosine, sometimes scaled
    # by 2, which normalises to the same stored vector)
    ties = []
    for _ in range(n // 25):
        src, dst = rng.sample(range(n), 2)
        ties.append(points[src][1])
        vec = copy.deepcopy(points[src][1])
        if isinstance(vec, dict):
            vec = {k: [x * 2 for x in v] if ds_distance(layout, distance, k) == "Cosine" and rng.random() < 0.5
                   else v for k, v in vec.items()}
        elif distance == "Cosine" and rng.random() < 0.5:
            vec = [x * 2 for x in vec]
        points[dst] = (points[dst][0], vec, points[dst][2])
    cut1, cut2 = n // 3, 2 * n // 3
    batches = [points[:cut1], points[cut1:cut2], points[cut2:]]
    # upsert ~10% of the ids a second time, with a new vector and payload (replacement)
    again = rng.sample(ids, n // 10)
    batches.append([(_gen.id_variant(rng, pid), vectors(), _gen.random_payload(rng)) for pid in again])
    return Dataset(layout, distance, seed, ids, batches, ties)


def vectors_config(m: Any, ds: Dataset) -> Any:
    if ds.layout == "single":
        return m.VectorParams(size=DIMS[""], distance=ds.distance)
    return {name: m.VectorParams(size=DIMS[name], distance=ds.distance_of(name)) for name in ds.vector_names}


def load_dataset(client: Any, m: Any, ds: Dataset) -> None:
    client.create_collection(COLL, vectors_config=vectors_config(m, ds))
    for batch in ds.batches:
        # deep copies: neither client may share (or mutate) the caller's objects
        points = [m.PointStruct(id=pid, vector=copy.deepcopy(vec), payload=copy.deepcopy(pl)) for pid, vec, pl in batch]
        client.upsert(COLL, points=points)


# ---------------------------------------------------------------------------------------------
# running the same operations on both clients


@dataclass
class Raised:
    error: str


Op = Callable[[Any, Any, Any], Any]   # (client, models module, oracle result or None) -> plain result


@dataclass
class Check:
    label: str            # what is being compared (printed on failure, with the request JSON)
    request: Any          # the JSON the op was built from
    op: Op
    compare: Callable[[Any, Any], list[str]]


def _run(op: Op, client: Any, m: Any, ref: Any) -> Any:
    try:
        return op(client, m, ref)
    except Exception as exc:  # noqa: BLE001 - an error is a result to compare
        return Raised(f"{type(exc).__name__}: {exc}")


_ORACLE: dict[Any, list] = {}


def oracle_results(key: Any, setup: Callable[[Any, Any], None], checks: list[Check]) -> list:
    """The official local mode's answers to ``checks`` (computed once per session per key)."""
    if key not in _ORACLE:
        official = qdrant_client.QdrantClient(":memory:")
        try:
            setup(official, qm)
            _ORACLE[key] = [_run(c.op, official, qm, None) for c in checks]
        finally:
            official.close()
    return _ORACLE[key]


def compare_all(client: Any, checks: list[Check], refs: list) -> None:
    problems: list[str] = []
    for check, ref in zip(checks, refs):
        ours = _run(check.op, client, models, ref)
        found = _compare_or_errors(check, ours, ref)
        if found:
            problems.append(f"[{check.label}] request={json.dumps(check.request, default=str)}\n    "
                            + "\n    ".join(found[:4]))
    if problems:
        pytest.fail(f"{len(problems)} of {len(checks)} checks differ from qdrant-client local mode:\n"
                    + "\n".join(problems[:8]), pytrace=False)


def _compare_or_errors(check: Check, ours: Any, ref: Any) -> list[str]:
    if isinstance(ref, Raised) or isinstance(ours, Raised):
        if isinstance(ref, Raised) and isinstance(ours, Raised):
            return []
        return [f"ours={ours!r}  official={ref!r}"[:600]]
    return check.compare(ours, ref)


# ---------------------------------------------------------------------------------------------
# plain results and comparisons


def canon(value: Any) -> str:
    """Strict JSON identity: 1 != 1.0 != true, key order ignored."""
    return json.dumps(value, sort_keys=True)


def plain_record(r: Any) -> dict:
    return {"id": r.id, "payload": r.payload, "vector": r.vector}


def plain_scored(p: Any) -> dict:
    return {"id": p.id, "score": p.score, "payload": p.payload, "vector": p.vector}


def _vectors_close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_vectors_close(a[k], b[k]) for k in a))
    return len(a) == len(b) and bool(np.allclose(a, b, rtol=0, atol=VECTOR_TOL))


def compare_record(ours: dict, ref: dict, where: str) -> list[str]:
    out = []
    if ours["id"] != ref["id"]:
        out.append(f"{where}: id ours={ours['id']!r} official={ref['id']!r}")
        return out
    if canon(ours["payload"]) != canon(ref["payload"]):
        out.append(f"{where} id={ref['id']!r}: payload ours={canon(ours['payload'])} official={canon(ref['payload'])}")
    if not _vectors_close(ours["vector"], ref["vector"]):
        out.append(f"{where} id={ref['id']!r}: vector ours={ours['vector']} official={ref['vector']}")
    return out


def compare_records(ours: list[dict], ref: list[dict], where: str = "records") -> list[str]:
    if [r["id"] for r in ours] != [r["id"] for r in ref]:
        return [f"{where}: ids ours={[r['id'] for r in ours]} official={[r['id'] for r in ref]}"]
    return [p for i, (a, b) in enumerate(zip(ours, ref)) for p in compare_record(a, b, f"{where}[{i}]")]


def compare_count(ours: int, ref: int) -> list[str]:
    return [] if ours == ref else [f"count ours={ours} official={ref}"]


def compare_pages(ours: list, ref: list) -> list[str]:
    out = []
    if len(ours) != len(ref):
        out.append(f"pages: ours {len(ours)} official {len(ref)}")
    for i, ((recs_o, next_o), (recs_r, next_r)) in enumerate(zip(ours, ref)):
        out += compare_records(recs_o, recs_r, f"page {i}")
        if next_o != next_r:
            out.append(f"page {i}: next_page_offset ours={next_o!r} official={next_r!r}")
    return out


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def compare_scored(ours: list[dict], ref: list[dict], *, cut_head: bool, cut_tail: bool, where: str) -> list[str]:
    """Same length, same scores (tolerance), same ids in order except inside a tie group.

    A tie group (consecutive official scores within TIE_REL_TOL) compares as a set; a group at a
    cut edge of the page (the head after an ``offset``, the tail of a full page) may hold
    different members, since the group can continue outside the page and which of the tied
    points make the page is unspecified.
    """
    if len(ours) != len(ref):
        return [f"{where}: {len(ours)} hits, official {len(ref)}; ours={[(p['id'], p['score']) for p in ours]} "
                f"official={[(p['id'], p['score']) for p in ref]}"]
    out = []
    for i, (a, b) in enumerate(zip(ours, ref)):
        if not _close(a["score"], b["score"], SCORE_REL_TOL, SCORE_ABS_TOL):
            out.append(f"{where}[{i}]: score ours={a['score']!r} (id {a['id']!r}) official={b['score']!r} (id {b['id']!r})")
    if out:
        return out
    groups: list[list[int]] = []
    for i in range(len(ref)):
        if groups and _close(ref[i]["score"], ref[i - 1]["score"], TIE_REL_TOL, SCORE_ABS_TOL / 10):
            groups[-1].append(i)
        else:
            groups.append([i])
    for gi, group in enumerate(groups):
        ids_o = [ours[i]["id"] for i in group]
        ids_r = [ref[i]["id"] for i in group]
        if ids_o == ids_r:
            continue
        if len(group) > 1 and sorted(map(str, ids_o)) == sorted(map(str, ids_r)):
            continue
        # At a cut edge the group may continue outside the page: another point is acceptable
        # where it scores the same (tie tolerance) as the official one.
        at_edge = (gi == 0 and cut_head) or (gi == len(groups) - 1 and cut_tail)
        if at_edge and all(_close(ours[i]["score"], ref[i]["score"], TIE_REL_TOL, SCORE_ABS_TOL / 10) for i in group):
            continue
        out.append(f"{where}[{group[0]}:{group[-1] + 1}]: ids ours={ids_o} official={ids_r} "
                   f"(scores {[ref[i]['score'] for i in group]})")
    by_id = {p["id"]: p for p in ref}
    for i, a in enumerate(ours):
        b = by_id.get(a["id"])
        if b is None:
            continue
        if canon(a["payload"]) != canon(b["payload"]):
            out.append(f"{where}[{i}] id={a['id']!r}: payload ours={canon(a['payload'])} official={canon(b['payload'])}")
        if not _vectors_close(a["vector"], b["vector"]):
            out.append(f"{where}[{i}] id={a['id']!r}: vector ours={a['vector']} official={b['vector']}")
    return out


# ---------------------------------------------------------------------------------------------
# operations


def as_filter(m: Any, fd: dict | None) -> Any:
    return None if fd is None else m.Filter.model_validate(fd)


def op_count(fd: dict | None) -> Op:
    return lambda c, m, ref: int(c.count(COLL, count_filter=as_filter(m, fd), exact=True).count)


def op_scroll_pages(fd: dict | None, with_payload: Any = True, with_vectors: Any = False, start: Any = None) -> Op:
    """Three pages of PAGE points following ``next_page_offset``, then the rest in one page."""

    def run(c: Any, m: Any, ref: Any) -> list:
        flt, pages, offset = as_filter(m, fd), [], start
        for i in range(4):
            recs, nxt = c.scroll(COLL, scroll_filter=flt, limit=PAGE if i < 3 else 10_000, offset=offset,
                                 with_payload=with_payload(m) if callable(with_payload) else with_payload,
                                 with_vectors=with_vectors)
            pages.append(([plain_record(r) for r in recs], nxt))
            if nxt is None:
                break
            offset = nxt
        return pages

    return run


def op_retrieve(ids: list, with_vectors: Any, with_payload: Any = True) -> Op:
    def run(c: Any, m: Any, ref: Any) -> list:
        wp = with_payload(m) if callable(with_payload) else with_payload
        return [plain_record(r) for r in c.retrieve(COLL, ids=ids, with_payload=wp, with_vectors=with_vectors)]

    return run


def _pick_threshold(points: list[dict]) -> float | None:
    """A threshold between two well-separated scores of the page (never equal to a score)."""
    scores = [p["score"] for p in points]
    for i in [len(scores) // 2, *range(1, len(scores))]:
        if 0 < i < len(scores):
            lo, hi = sorted((scores[i - 1], scores[i]))
            if hi - lo > 1e-3 * max(1.0, abs(hi)):
                return (lo + hi) / 2
    return None


def op_query(fd: dict | None, query: list[float], using: str | None, offset: int, *, threshold: bool,
             with_vectors: Any = False, with_payload: Any = True) -> Op:
    def run(c: Any, m: Any, ref: Any) -> dict:
        flt = as_filter(m, fd)
        wp = with_payload(m) if callable(with_payload) else with_payload

        def q(**kw: Any) -> list[dict]:
            res = c.query_points(COLL, query=query, using=using, query_filter=flt, limit=LIMIT,
                                 with_payload=wp, with_vectors=with_vectors, **kw)
            return [plain_scored(p) for p in res.points]

        out: dict[str, Any] = {"points": q(offset=offset)}
        if threshold:
            thr = ref.get("thr") if isinstance(ref, dict) else _pick_threshold(out["points"])
            if thr is not None:
                out["thr"] = thr
                out["thr_points"] = q(score_threshold=thr)
        return out

    return run


def compare_query(offset: int) -> Callable[[dict, dict], list[str]]:
    def cmp(ours: dict, ref: dict) -> list[str]:
        out = compare_scored(ours["points"], ref["points"], cut_head=offset > 0,
                             cut_tail=len(ref["points"]) == LIMIT, where=f"offset={offset}")
        if "thr_points" in ref:
            out += compare_scored(ours.get("thr_points", []), ref["thr_points"], cut_head=False,
                                  cut_tail=len(ref["thr_points"]) == LIMIT, where=f"score_threshold={ref['thr']}")
        return out

    return cmp


# ---------------------------------------------------------------------------------------------
# filters: count, scroll pages, retrieve

FILTER_SEEDS = [101, 202]
FILTERS_PER_RUN = 55
RETRIEVES_PER_RUN = 10


@lru_cache(maxsize=None)
def filter_checks(layout: str, seed: int) -> tuple[Dataset, list[Check]]:
    ds = make_dataset(layout, "Dot", seed)
    rng = random.Random(seed * 7919)
    checks = [Check("count (no filter)", None, op_count(None), compare_count),
              Check("scroll (no filter)", None, op_scroll_pages(None), compare_pages)]
    for _ in range(FILTERS_PER_RUN):
        fd = _gen.random_filter(rng, ds.ids)
        checks.append(Check("count", fd, op_count(fd), compare_count))
        checks.append(Check("scroll", fd, op_scroll_pages(fd), compare_pages))
    for _ in range(3):   # scroll from an offset id that no point has
        start = _gen.missing_ids(rng, ds.ids, 1)[0]
        fd = _gen.random_filter(rng, ds.ids) if rng.random() < 0.5 else None
        checks.append(Check(f"scroll from missing offset {start!r}", fd, op_scroll_pages(fd, start=start), compare_pages))
    for _ in range(RETRIEVES_PER_RUN):
        present = [_gen.id_variant(rng, i) for i in rng.sample(ds.ids, rng.randint(1, 15))]
        ids = present + _gen.missing_ids(rng, ds.ids, rng.randint(0, 3))
        rng.shuffle(ids)
        with_vectors: Any = True
        if layout == "named" and rng.random() < 0.4:
            with_vectors = [rng.choice(ds.vector_names)]
        checks.append(Check("retrieve", {"ids": ids, "with_vectors": with_vectors},
                            op_retrieve(ids, with_vectors), compare_records))
    return ds, checks


@pytest.mark.parametrize("seed", FILTER_SEEDS)
@pytest.mark.parametrize("layout", ["single", "named"])
def test_filters_count_scroll_retrieve(client, layout, seed):
    ds, checks = filter_checks(layout, seed)
    refs = oracle_results(("filters", layout, seed), lambda c, m: load_dataset(c, m, ds), checks)
    load_dataset(client, models, ds)
    compare_all(client, checks, refs)


# ---------------------------------------------------------------------------------------------
# query_points: every distance, unnamed and named vectors

QUERY_FILTERS_PER_RUN = 14


@lru_cache(maxsize=None)
def query_checks(layout: str, distance: str) -> tuple[Dataset, list[Check]]:
    seed = 1000 + 10 * DISTANCES.index(distance) + (layout == "named")
    ds = make_dataset(layout, distance, seed)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed + 1)
    checks = []
    for i in range(QUERY_FILTERS_PER_RUN + 1):
        fd = None if i == 0 else _gen.random_filter(rng, ds.ids)
        if layout == "single":
            plan = [(None, 0, True, False), (None, 5, False, True)]
        else:
            plan = [("img", 0, True, False), ("img", 5, False, ["img", "txt"]), ("txt", 0, True, True)]
        for using, offset, thr, wv in plan:
            q = _vec(nrng, DIMS[using or ""])
            tie_qs = [v if ds.layout == "single" else v.get(using) for v in ds.ties]
            tie_qs = [v for v in tie_qs if v is not None]
            if i % 3 == 1 and tie_qs:
                q = list(rng.choice(tie_qs))   # the query is a stored vector that two points share
            checks.append(Check(f"query using={using} offset={offset} {ds.distance_of(using or '')}",
                                {"filter": fd, "query": q},
                                op_query(fd, q, using, offset, threshold=thr, with_vectors=wv),
                                compare_query(offset)))
    return ds, checks


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("layout", ["single", "named"])
def test_query_points(client, layout, distance):
    ds, checks = query_checks(layout, distance)
    refs = oracle_results(("query", layout, distance), lambda c, m: load_dataset(c, m, ds), checks)
    load_dataset(client, models, ds)
    compare_all(client, checks, refs)


# ---------------------------------------------------------------------------------------------
# with_payload selections


SELECTORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("true", lambda m: True),
    ("false", lambda m: False),
    ("[]", lambda m: []),
    ('["a"]', lambda m: ["a"]),
    ('["nested.a", "arr[].x"]', lambda m: ["nested.a", "arr[].x"]),
    ('["tags", "nope"]', lambda m: ["tags", "nope"]),
    ('["nested", "b"]', lambda m: ["nested", "b"]),
    ('include ["nested.b", "arr[]"]', lambda m: m.PayloadSelectorInclude(include=["nested.b", "arr[]"])),
    ('include ["arr[].y", "tags[]", "s"]', lambda m: m.PayloadSelectorInclude(include=["arr[].y", "tags[]", "s"])),
    ('include ["nested.a.deep"]', lambda m: m.PayloadSelectorInclude(include=["nested.a.deep"])),
    ('exclude ["nested.b", "arr[].x", "a"]', lambda m: m.PayloadSelectorExclude(exclude=["nested.b", "arr[].x", "a"])),
    ('exclude ["nested"]', lambda m: m.PayloadSelectorExclude(exclude=["nested"])),
    ('exclude ["arr[].y", "tags"]', lambda m: m.PayloadSelectorExclude(exclude=["arr[].y", "tags"])),
    ('exclude ["nope", "nested.nope"]', lambda m: m.PayloadSelectorExclude(exclude=["nope", "nested.nope"])),
]


@lru_cache(maxsize=None)
def selector_checks() -> tuple[Dataset, list[Check]]:
    ds = make_dataset("named", "Cosine", 77)
    rng = random.Random(77)
    nrng = np.random.default_rng(77)
    checks = []
    for label, sel in SELECTORS:
        checks.append(Check(f"scroll with_payload={label}", None,
                            op_scroll_pages(None, with_payload=sel), compare_pages))
        ids = rng.sample(ds.ids, 12) + _gen.missing_ids(rng, ds.ids, 1)
        checks.append(Check(f"retrieve with_payload={label}", {"ids": ids},
                            op_retrieve(ids, False, with_payload=sel), compare_records))
        q = _vec(nrng, DIMS["img"])
        checks.append(Check(f"query with_payload={label}", {"query": q},
                            op_query(None, q, "img", 0, threshold=False, with_payload=sel), compare_query(0)))
    return ds, checks


def test_with_payload_selectors(client):
    ds, checks = selector_checks()
    refs = oracle_results(("selectors",), lambda c, m: load_dataset(c, m, ds), checks)
    load_dataset(client, models, ds)
    compare_all(client, checks, refs)


# ---------------------------------------------------------------------------------------------
# payload writes and deletes


MUTATION_POINTS = 150
MUTATION_STEPS = 45


def _selector_json(rng: random.Random, keep: list, deletable: list) -> dict:
    """A points selector over points that are never deleted (writes to missing ids are tested apart)."""
    if rng.random() < 0.55:
        return {"points": rng.sample(keep, rng.randint(1, 12))}
    return {"filter": _gen.random_filter(rng, keep + deletable)}


def _selector(m: Any, sel: dict, rng_raw: bool) -> Any:
    """The selector as a model, or (rng_raw) as the raw list / Filter both clients also accept."""
    if "points" in sel:
        return list(sel["points"]) if rng_raw else m.PointIdsList(points=list(sel["points"]))
    flt = m.Filter.model_validate(sel["filter"])
    return flt if rng_raw else m.FilterSelector(filter=flt)


def _write_op(kind: str, args: dict) -> Callable[[Any, Any], Any]:
    def apply(c: Any, m: Any) -> None:
        raw = args.get("raw", False)
        if kind == "set_payload":
            c.set_payload(COLL, payload=copy.deepcopy(args["payload"]), points=_selector(m, args["sel"], raw),
                          key=args.get("key"))
        elif kind == "overwrite_payload":
            c.overwrite_payload(COLL, payload=copy.deepcopy(args["payload"]), points=_selector(m, args["sel"], raw))
        elif kind == "delete_payload":
            c.delete_payload(COLL, keys=args["keys"], points=_selector(m, args["sel"], raw))
        elif kind == "clear_payload":
            c.clear_payload(COLL, points_selector=_selector(m, args["sel"], raw))
        elif kind == "delete":
            c.delete(COLL, points_selector=_selector(m, args["sel"], raw))
        elif kind == "upsert":
            c.upsert(COLL, points=[m.PointStruct(id=pid, vector=copy.deepcopy(v), payload=copy.deepcopy(p))
                                   for pid, v, p in args["points"]])
        else:  # pragma: no cover
            raise AssertionError(kind)

    return apply


@lru_cache(maxsize=None)
def mutation_plan(seed: int) -> tuple[Dataset, list[tuple[str, dict]], list[Check]]:
    ds = make_dataset("named", "Dot", seed, MUTATION_POINTS)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    deletable = rng.sample(ds.ids, MUTATION_POINTS // 3)
    keep = [i for i in ds.ids if i not in set(deletable)]
    steps: list[tuple[str, dict]] = []
    for _ in range(MUTATION_STEPS):
        kind = _gen.weighted(rng, [(24, lambda: "set_payload"), (14, lambda: "set_payload_key"),
                                    (12, lambda: "overwrite_payload"), (16, lambda: "delete_payload"),
                                    (8, lambda: "clear_payload"), (12, lambda: "delete"), (8, lambda: "upsert")])
        raw = rng.random() < 0.3
        if kind == "set_payload":
            steps.append(("set_payload", {"payload": _gen.random_partial_payload(rng),
                                          "sel": _selector_json(rng, keep, deletable), "raw": raw}))
        elif kind == "set_payload_key":
            steps.append(("set_payload", {"payload": _gen.random_partial_payload(rng), "key": rng.choice(_gen.SET_KEYS),
                                          "sel": _selector_json(rng, keep, deletable), "raw": raw}))
        elif kind == "overwrite_payload":
            steps.append(("overwrite_payload", {"payload": _gen.random_payload(rng),
                                                "sel": _selector_json(rng, keep, deletable), "raw": raw}))
        elif kind == "delete_payload":
            steps.append(("delete_payload", {"keys": rng.sample(_gen.DELETE_KEYS, rng.randint(1, 3)),
                                             "sel": _selector_json(rng, keep, deletable), "raw": raw}))
        elif kind == "clear_payload":
            steps.append(("clear_payload", {"sel": _selector_json(rng, keep, deletable), "raw": raw}))
        elif kind == "delete":
            if rng.random() < 0.5:
                sel = {"points": rng.sample(deletable, rng.randint(1, 6))}
            else:   # a random filter, restricted to the deletable points
                sel = {"filter": {"must": [{"has_id": deletable}, _gen.random_filter(rng, deletable)]}}
            steps.append(("delete", {"sel": sel, "raw": raw}))
        else:   # replace kept points, or bring deleted ones back
            chosen = rng.sample(keep + deletable, rng.randint(1, 5))
            pts = [(pid, {"img": _vec(nrng, DIMS["img"])} if rng.random() < 0.5 else
                    {"img": _vec(nrng, DIMS["img"]), "txt": _vec(nrng, DIMS["txt"])},
                    _gen.random_payload(rng)) for pid in chosen]
            steps.append(("upsert", {"points": pts}))
    checks = []
    for i, (kind, args) in enumerate(steps):
        write = _write_op(kind, args)

        def op(c: Any, m: Any, ref: Any, write: Callable = write) -> Any:
            error = None
            try:
                write(c, m)
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}"
            recs, nxt = c.scroll(COLL, limit=10_000, with_payload=True, with_vectors=True)
            return {"error": error, "records": [plain_record(r) for r in recs], "next": nxt}

        checks.append(Check(f"step {i}: {kind}", {k: v for k, v in args.items() if k != "points"}, op,
                            compare_state))
        if i % 5 == 4:
            fd = _gen.random_filter(rng, ds.ids)
            checks.append(Check(f"count after step {i}", fd, op_count(fd), compare_count))
    return ds, steps, checks


def compare_state(ours: dict, ref: dict) -> list[str]:
    out = []
    if (ours["error"] is None) != (ref["error"] is None):
        out.append(f"error ours={ours['error']!r} official={ref['error']!r}")
    out += compare_records(ours["records"], ref["records"], "state")
    return out


@pytest.mark.parametrize("seed", [5, 6])
def test_payload_writes(client_factory, client, seed):
    ds, _steps, checks = mutation_plan(seed)
    refs = oracle_results(("writes", seed), lambda c, m: load_dataset(c, m, ds), checks)
    load_dataset(client, models, ds)
    # the checks run in order: each one applies a write and then reads the whole collection
    compare_all(client, checks, refs)
    if client_factory.persistent:
        # the final state, and the last filtered count, survive closing and reopening the storage
        client.close()
        client_factory._open.remove(client)
        reopened = client_factory.open()
        final_state = next(r for c, r in zip(reversed(checks), reversed(refs)) if c.label.startswith("step"))
        last_count = next((c, r) for c, r in zip(reversed(checks), reversed(refs)) if c.label.startswith("count"))

        def read_state(c: Any, m: Any, ref: Any) -> dict:
            recs, nxt = c.scroll(COLL, limit=10_000, with_payload=True, with_vectors=True)
            return {"error": final_state["error"], "records": [plain_record(r) for r in recs], "next": nxt}

        reads = [Check("state after reopen", None, read_state, compare_state),
                 Check(f"{last_count[0].label}, after reopen", last_count[0].request, last_count[0].op, compare_count)]
        compare_all(reopened, reads, [final_state, last_count[1]])


def _missing_id_checks(compare: Callable[[Any, Any], list[str]]) -> tuple[Dataset, list[Check]]:
    ds = make_dataset("single", "Dot", 9, 20)
    present, missing = ds.ids[:4], _gen.missing_ids(random.Random(9), ds.ids, 2)
    steps = [
        ("set_payload", {"payload": {"z": 1}, "sel": {"points": [present[0], missing[0], present[1]]}}),
        ("set_payload", {"payload": {"k": 2}, "key": "nested", "sel": {"points": [missing[1], present[2]]}}),
        ("overwrite_payload", {"payload": {"w": 1}, "sel": {"points": [present[1], missing[0]]}}),
        ("delete_payload", {"keys": ["a", "z"], "sel": {"points": [present[0], missing[1]]}}),
        ("clear_payload", {"sel": {"points": [missing[0], present[3]]}}),
        ("delete", {"sel": {"points": [missing[0], present[2]]}}),
    ]
    checks = []
    for i, (kind, args) in enumerate(steps):
        write = _write_op(kind, args)

        def op(c: Any, m: Any, ref: Any, write: Callable = write) -> Any:
            error = None
            try:
                write(c, m)
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}"
            recs, _ = c.scroll(COLL, limit=100, with_payload=True)
            return {"error": error, "records": [plain_record(r) for r in recs]}

        checks.append(Check(f"step {i}: {kind} with missing ids", args, op, compare))
    return ds, checks


def compare_error(ours: dict, ref: dict) -> list[str]:
    if (ours["error"] is None) != (ref["error"] is None):
        return [f"error ours={ours['error']!r} official={ref['error']!r}"]
    if ref["error"] is not None:
        # local mode raises KeyError(<first missing id in request order>), as the server's 404 names it
        first_missing = ref["error"].split(": ", 1)[1].strip("'")
        if f"id {first_missing} " not in ours["error"] + " ":
            return [f"error ours={ours['error']!r} does not name {first_missing} (official={ref['error']!r})"]
    return []


def test_payload_writes_to_missing_ids_fail(client):
    """set/overwrite/delete/clear payload naming a point that does not exist fail (server: 404
    "No point with id .. found"); ``delete`` ignores missing ids."""
    ds, checks = _missing_id_checks(compare_error)
    refs = oracle_results(("missing-writes",), lambda c, m: load_dataset(c, m, ds), checks)
    load_dataset(client, models, ds)
    compare_all(client, checks, refs)


def test_rejected_payload_writes_leave_the_data_unchanged(client):
    """Deliberate difference: the server (and local mode) apply such a write to the points that
    exist and answer 404 afterwards; this engine validates first, so a rejected request changes
    nothing (the rule every write here follows). Both answer 404 naming the missing id."""
    ds, checks = _missing_id_checks(compare_error)
    load_dataset(client, models, ds)
    for check in checks:
        if check.label.endswith("delete with missing ids"):
            continue  # delete ignores missing ids: not a rejected request
        before = [plain_record(r) for r in client.scroll(COLL, limit=100, with_payload=True)[0]]
        result = check.op(client, models, None)
        assert result["error"] is not None and "NotFoundError" in result["error"], (check.label, result["error"])
        assert result["records"] == before, check.label
