"""Randomised congruence of the universal query with the official qdrant-client local mode.

Seeded random points (two named dense vectors, some points lacking one; payloads from
``_gen`` plus numbers, unique ranks, group keys, geo points and datetimes) go into our client
and into ``qdrant_client.QdrantClient(":memory:")``; then hundreds of random requests —
prefetch trees with their own filters / limits / ``using``, nearest (with MMR), recommend
(three strategies), discover, context, relevance feedback, order_by, rrf (``k``, ``weights``),
dbsf, formulas, point ids as inputs, ``lookup_from``, ``offset``, ``score_threshold`` — and
``query_points_groups`` / ``query_batch_points`` / ``search_matrix_*`` must give the same
answers: ids and order, scores within 1e-4 relative (a group of tied scores compares as a set,
see ``test_congruence_local.compare_scored``); an error on one side must be an error on the other.

Requests are built once as JSON and validated into both model packages. The official side of a
dataset is computed once per session and reused by every mode. Modes: memory (sync, async),
path, REST and gRPC (the last two go through our server and the wire conversions).
"""

from __future__ import annotations

import copy
import json
import os
import random
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

qdrant_client = pytest.importorskip("qdrant_client")
from qdrant_client import models as qm  # noqa: E402

from sdk import models  # noqa: E402

import _gen  # noqa: E402
import test_congruence_local as base  # noqa: E402  (shared comparison helpers)
from conftest import ClientFactory, _factory  # noqa: E402

COLL = "q"
OTHER = "q_other"          # lookup_from target: same vector names, other points
N_POINTS = 160
N_OTHER = 30
DIMS = {"a": 5, "b": 3}
OTHER_DISTANCE = {"Cosine": "Euclid", "Dot": "Manhattan", "Euclid": "Dot", "Manhattan": "Cosine"}
QUERIES_PER_DISTANCE = 70
GROUPS_PER_DISTANCE = 12
# QUERY_CONGRUENCE_SEED=<n> shifts every seed (run several before trusting a change)
_SHIFT = 1000 * int(os.environ.get("QUERY_CONGRUENCE_SEED", "0"))
SEEDS = {"Cosine": 11 + _SHIFT, "Dot": 23 + _SHIFT, "Euclid": 37 + _SHIFT, "Manhattan": 41 + _SHIFT}
WHENS = ["2024-01-01T00:00:00Z", "2024-03-15T12:30:00", "2023-12-31 23:59:59+01:00", "2024-06-01"]
MODES = ["memory-sync", "memory-async", "path-sync", "rest-sync", "grpc-sync"]


# ---------------------------------------------------------------------------------------------
# data


def _vec(nrng: np.random.Generator, dim: int) -> list[float]:
    return nrng.normal(size=dim).astype(np.float32).tolist()


@lru_cache(maxsize=None)
def dataset(distance: str) -> dict:
    seed = SEEDS[distance]
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    ids = _gen.random_ids(rng, N_POINTS)
    ranks = rng.sample(range(1000), N_POINTS)
    points = []
    for pid, rank in zip(ids, ranks):
        vec = {"a": _vec(nrng, DIMS["a"])}
        if rng.random() < 0.9:
            vec["b"] = _vec(nrng, DIMS["b"])
        payload = _gen.random_payload(rng)
        payload["rank"] = rank
        if rng.random() < 0.9:
            payload["num"] = round(rng.uniform(-5, 5), 3)
        payload["grp"] = _gen.weighted(rng, [
            (50, lambda: rng.randint(0, 6)), (25, lambda: rng.choice(_gen.WORDS)),
            (10, lambda: [rng.randint(0, 6), rng.choice(_gen.WORDS)]), (5, lambda: True), (5, lambda: 1.5),
            (5, lambda: None),
        ])
        if rng.random() < 0.85:
            payload["loc"] = {"lat": round(rng.uniform(40, 60), 4), "lon": round(rng.uniform(-10, 30), 4)}
        if rng.random() < 0.85:
            payload["when"] = rng.choice(WHENS)
        points.append((pid, vec, payload))
    other_ids = list(range(10_000, 10_000 + N_OTHER))
    other = [(pid, {"a": _vec(nrng, DIMS["a"]), "b": _vec(nrng, DIMS["b"])}, {"grp": i % 7})
             for i, pid in enumerate(other_ids)]
    # group ids of `grp` that are also point ids of OTHER (with_lookup finds them)
    for i in range(7):
        other.append((i, {"a": _vec(nrng, DIMS["a"]), "b": _vec(nrng, DIMS["b"])}, {"name": f"group {i}"}))
    with_b = [pid for pid, vec, _ in points if "b" in vec]
    return {"distance": distance, "ids": ids, "with_b": with_b, "points": points, "other": other,
            "other_ids": other_ids}


def setup(client: Any, m: Any, ds: dict) -> None:
    d = ds["distance"]
    config = {"a": m.VectorParams(size=DIMS["a"], distance=d), "b": m.VectorParams(size=DIMS["b"], distance=OTHER_DISTANCE[d])}
    client.create_collection(COLL, vectors_config=config)
    client.create_collection(OTHER, vectors_config=copy.deepcopy(config))
    client.create_payload_index(COLL, "rank", m.PayloadSchemaType.INTEGER)
    for name, pts in ((COLL, ds["points"]), (OTHER, ds["other"])):
        for start in range(0, len(pts), 64):
            client.upsert(name, points=[m.PointStruct(id=pid, vector=copy.deepcopy(v), payload=copy.deepcopy(p))
                                        for pid, v, p in pts[start:start + 64]])


# ---------------------------------------------------------------------------------------------
# random requests (JSON)


class Gen:
    def __init__(self, ds: dict, seed: int) -> None:
        self.ds = ds
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)

    def using(self) -> str:
        return self.rng.choice(["a", "a", "b"])

    def vector_input(self, using: str, lookup: bool = False) -> Any:
        r = self.rng.random()
        if lookup:
            return self.rng.choice(self.ds["other_ids"]) if r < 0.6 else _vec(self.nrng, DIMS[using])
        if r < 0.4:
            pool = self.ds["ids"] if using == "a" else self.ds["with_b"]
            return _gen.id_variant(self.rng, self.rng.choice(pool))
        return _vec(self.nrng, DIMS[using])

    def filter(self) -> Any:
        return _gen.random_filter(self.rng, self.ds["ids"]) if self.rng.random() < 0.35 else None

    def vector_query(self, using: str, lookup: bool = False, ties_ok: bool = True, feedback_ok: bool = True) -> Any:
        """``ties_ok=False`` (prefetch leaves): no context queries, whose many 0.0 scores make the
        members of a limited page arbitrary — legally different sources for the parent.
        ``feedback_ok=False`` (nodes with prefetches): the official local mode does not pass the ids
        a relevance-feedback query mentions down to its prefetches (every other variant does, as
        we do for all), so its prefetches may hold a point ours exclude (docs/query.md)."""
        rng = self.rng
        vi = lambda: self.vector_input(using, lookup)  # noqa: E731
        kind = _gen.weighted(rng, [(30, lambda: "nearest"), (8, lambda: "bare"), (8, lambda: "mmr"),
                                   (20, lambda: "recommend"), (10, lambda: "discover"), (8 if ties_ok else 0, lambda: "context"),
                                   (6 if feedback_ok else 0, lambda: "feedback")])
        if kind == "feedback" and lookup:
            kind = "nearest"   # the official local mode resolves feedback ids without lookup_from (docs/query.md)
        if kind == "bare":
            return vi()
        if kind == "nearest":
            return {"nearest": vi()}
        if kind == "mmr":
            mmr: dict = {"diversity": rng.choice([0.0, 0.3, 0.5, 0.9, 1.0])}
            if rng.random() < 0.6:
                mmr["candidates_limit"] = rng.randint(5, 40)
            return {"nearest": vi(), "mmr": mmr}
        if kind == "recommend":
            # sum_scores under Manhattan is piecewise constant (Σ|x−a| − |x−b| is flat between the
            # examples): exact ties, so below the top only the other strategies
            strategy = rng.choice(["average_vector", "best_score", "sum_scores", None] if ties_ok
                                  else ["average_vector", "best_score", None])
            rec: dict = {"positive": [vi() for _ in range(rng.randint(1 if strategy in ("average_vector", None) else 0, 3))],
                         "negative": [vi() for _ in range(rng.randint(0, 2))]}
            if not rec["positive"] and not rec["negative"]:
                rec["negative"] = [vi()]
            if strategy is not None:
                rec["strategy"] = strategy
            return {"recommend": rec}
        pairs = [{"positive": vi(), "negative": vi()} for _ in range(rng.randint(1, 3))]
        if kind == "discover":
            return {"discover": {"target": vi(), "context": pairs}}
        if kind == "context":
            return {"context": pairs}
        feedback = [{"example": vi(), "score": round(rng.uniform(0, 1), 3)} for _ in range(rng.randint(1, 3))]
        naive = {"a": rng.choice([0.5, 1.0, 2.0]), "b": rng.choice([0.0, 1.0, 2.0]), "c": rng.choice([0.5, 1.0])}
        return {"relevance_feedback": {"target": vi(), "feedback": feedback, "strategy": {"naive": naive}}}

    def formula(self, n_sources: int) -> dict:
        rng = self.rng

        def leaf() -> Any:
            return _gen.weighted(rng, [
                (25, lambda: "$score" if rng.random() < 0.5 else f"$score[{rng.randrange(n_sources)}]"),
                (15, lambda: round(rng.uniform(-2, 3), 2)),
                (15, lambda: "num"),
                (8, lambda: "rank"),
                (10, lambda: {"key": "s", "match": {"value": rng.choice(_gen.WORDS)}}),
                (5, lambda: {"key": "rank", "range": {"gt": rng.randint(0, 1000)}}),
                (6, lambda: {"geo_distance": {"origin": {"lat": 50.0, "lon": 10.0}, "to": "loc"}}),
                (5, lambda: {"datetime_key": "when"}),
            ])

        def expr(depth: int) -> Any:
            if depth >= 2 or rng.random() < 0.3:
                return leaf()
            op = rng.choice(["sum", "mult", "neg", "abs", "div", "exp_decay", "lin_decay", "gauss_decay", "sqrt",
                             "pow", "ln", "log10", "exp"])
            if op in ("sum", "mult"):
                return {op: [expr(depth + 1) for _ in range(rng.randint(2, 3))]}
            if op == "div":
                d = {"left": expr(depth + 1), "right": expr(depth + 1)}
                if rng.random() < 0.6:
                    d["by_zero_default"] = 0.5
                return {"div": d}
            if op == "pow":
                return {"pow": {"base": {"abs": expr(depth + 1)}, "exponent": rng.choice([0.5, 2, 3])}}
            if op in ("sqrt", "ln", "log10"):
                return {op: {"sum": [{"abs": expr(depth + 1)}, 1.0]}}
            if op == "exp":
                return {"exp": {"mult": [0.01, expr(depth + 1)]}}
            if op.endswith("decay"):
                params: dict = {"x": expr(depth + 1)}
                if rng.random() < 0.5:
                    params["target"] = round(rng.uniform(-1, 1), 2)
                if rng.random() < 0.5:
                    params["scale"] = rng.choice([0.5, 1.0, 10.0, 1e6])
                if rng.random() < 0.5:
                    params["midpoint"] = rng.choice([0.1, 0.5, 0.9])
                return {op: params}
            return {op: expr(depth + 1)}

        out: dict = {"formula": expr(0)}
        if rng.random() < 0.7:
            out["defaults"] = {"num": 0.0, "loc": {"lat": 0.0, "lon": 0.0}, "when": "2020-01-01T00:00:00Z"}
            if rng.random() < 0.5:
                out["defaults"]["$score[1]"] = 0.25
        return out

    def prefetch(self, depth: int) -> dict:
        rng = self.rng
        p: dict = {"limit": rng.randint(3, 25)}
        f = self.filter()
        if f is not None:
            p["filter"] = f
        if depth < 2 and rng.random() < 0.25:
            p["prefetch"] = [self.prefetch(depth + 1) for _ in range(rng.randint(1, 3))]
            p["query"] = self.merge_query(len(p["prefetch"]))
            if not _is_merge(p["query"]):
                p["using"] = self.using()
            return p
        using = self.using()
        lookup = rng.random() < 0.1
        if lookup:
            p["lookup_from"] = {"collection": OTHER}
        p["query"] = self.vector_query(using, lookup, ties_ok=False)
        p["using"] = using
        if rng.random() < 0.1:
            p["query"] = {"order_by": {"key": "rank", "direction": rng.choice(["asc", "desc"])}}
        return p

    def merge_query(self, n_sources: int) -> dict:
        rng = self.rng
        kind = rng.choice(["rrf", "dbsf", "rrf_k", "formula", "formula", "vector", "order_by"])
        if kind == "rrf":
            return {"fusion": "rrf"}
        if kind == "dbsf":
            return {"fusion": "dbsf"}
        if kind == "rrf_k":
            rrf: dict = {"k": rng.choice([1, 2, 10, 60])}
            if rng.random() < 0.5:
                rrf["weights"] = [rng.choice([0.5, 1.0, 3.0]) for _ in range(n_sources)]
            return {"rrf": rrf}
        if kind == "formula":
            return self.formula(n_sources)
        if kind == "order_by":
            return {"order_by": "rank"}
        return self.vector_query(rng.choice(["a", "b"]), ties_ok=False, feedback_ok=False)

    def request(self) -> dict:
        rng = self.rng
        req: dict = {"limit": rng.choice([1, 5, 10, 20]), "offset": rng.choice([0, 0, 0, 2, 7])}
        f = self.filter()
        if f is not None:
            req["filter"] = f
        if rng.random() < 0.5:
            req["prefetch"] = [self.prefetch(1) for _ in range(rng.randint(1, 3))]
            req["query"] = self.merge_query(len(req["prefetch"]))
            if not _is_merge(req["query"]):
                req["using"] = "a" if rng.random() < 0.7 else "b"
        else:
            using = self.using()
            lookup = rng.random() < 0.1
            if lookup:
                req["lookup_from"] = {"collection": OTHER}
            req["query"] = self.vector_query(using, lookup)
            req["using"] = using
            if rng.random() < 0.08:
                req["query"] = {"order_by": {"key": "rank", "direction": rng.choice(["asc", "desc"])}}
                req.pop("using")
        if "using" in req and "query" in req:
            req["query"] = _fit_dims(req["query"], req["using"], self.nrng)
        for p in req.get("prefetch", []):
            _fit_prefetch(p, self.nrng)
        return req


def _is_merge(q: Any) -> bool:
    return isinstance(q, dict) and any(k in q for k in ("fusion", "rrf", "formula", "order_by"))


def _fit_dims(q: Any, using: str, nrng: np.random.Generator) -> Any:
    """Replace raw vectors of the wrong size (a merge query picked before `using`) with right-sized ones."""
    if isinstance(q, list) and q and isinstance(q[0], float):
        return q if len(q) == DIMS[using] else _vec(nrng, DIMS[using])
    if isinstance(q, dict):
        return {k: _fit_dims(v, using, nrng) if k not in ("formula", "defaults", "order_by", "strategy", "mmr") else v
                for k, v in q.items()}
    if isinstance(q, list):
        return [_fit_dims(v, using, nrng) for v in q]
    return q


def _fit_prefetch(p: dict, nrng: np.random.Generator) -> None:
    if "using" in p and "query" in p and "lookup_from" not in p:
        p["query"] = _fit_dims(p["query"], p["using"], nrng)
    for child in p.get("prefetch", []):
        _fit_prefetch(child, nrng)


# ---------------------------------------------------------------------------------------------
# ops


def _query_kwargs(m: Any, req: dict) -> dict:
    r = m.QueryRequest.model_validate(req)
    return dict(query=r.query, prefetch=r.prefetch, query_filter=r.filter, using=r.using, limit=r.limit,
                offset=r.offset, lookup_from=r.lookup_from)


def op_query(req: dict, threshold: bool) -> base.Op:
    def run(c: Any, m: Any, ref: Any) -> dict:
        kw = _query_kwargs(m, req)
        points = c.query_points(COLL, with_payload=False, **kw).points
        out: dict = {"points": [base.plain_scored(p) for p in points]}
        if threshold:
            thr = ref.get("thr") if isinstance(ref, dict) else base._pick_threshold(out["points"])
            if thr is not None:
                out["thr"] = thr
                out["thr_points"] = [base.plain_scored(p) for p in
                                     c.query_points(COLL, with_payload=False, score_threshold=thr, **kw).points]
        return out

    return run


def compare_query(req: dict) -> Any:
    offset, limit = req.get("offset", 0), req.get("limit", 10)

    def cmp(ours: dict, ref: dict) -> list[str]:
        out = base.compare_scored(ours["points"], ref["points"], cut_head=offset > 0,
                                  cut_tail=len(ref["points"]) == limit, where="points")
        if "thr_points" in ref:
            out += base.compare_scored(ours.get("thr_points", []), ref["thr_points"], cut_head=offset > 0,
                                       cut_tail=len(ref["thr_points"]) == limit, where=f"threshold={ref['thr']}")
        return out

    return cmp


def op_groups(req: dict, group_size: int, with_lookup: bool) -> base.Op:
    def run(c: Any, m: Any, ref: Any) -> list:
        kw = _query_kwargs(m, req)
        kw.pop("offset")
        res = c.query_points_groups(COLL, "grp", group_size=group_size, with_payload=["grp"],
                                    with_lookup=OTHER if with_lookup else None, **kw)
        return [{"id": g.id, "hits": [base.plain_scored(p) for p in g.hits],
                 "lookup": None if g.lookup is None else base.plain_record(g.lookup)} for g in res.groups]

    return run


def compare_groups(ours: list, ref: list) -> list[str]:
    if [g["id"] for g in ours] != [g["id"] for g in ref]:
        return [f"group ids ours={[g['id'] for g in ours]} official={[g['id'] for g in ref]}"]
    out = []
    for a, b in zip(ours, ref):
        out += base.compare_scored(a["hits"], b["hits"], cut_head=False, cut_tail=True, where=f"group {b['id']!r}")
        if (a["lookup"] is None) != (b["lookup"] is None) or (
                a["lookup"] and base.canon(a["lookup"]["payload"]) != base.canon(b["lookup"]["payload"])):
            out.append(f"group {b['id']!r}: lookup ours={a['lookup']} official={b['lookup']}")
    return out


def op_batch(reqs: list) -> base.Op:
    def run(c: Any, m: Any, ref: Any) -> list:
        batch = [m.QueryRequest.model_validate({**r, "with_payload": False}) for r in reqs]
        return [[base.plain_scored(p) for p in res.points] for res in c.query_batch_points(COLL, batch)]

    return run


def compare_batch(reqs: list) -> Any:
    def cmp(ours: list, ref: list) -> list[str]:
        if len(ours) != len(ref):
            return [f"batch: {len(ours)} answers, official {len(ref)}"]
        out = []
        for i, (a, b, r) in enumerate(zip(ours, ref, reqs)):
            out += base.compare_scored(a, b, cut_head=r.get("offset", 0) > 0, cut_tail=len(b) == r.get("limit", 10),
                                       where=f"batch[{i}]")
        return out

    return cmp


def op_matrix(fd: Any, using: str, limit: int) -> base.Op:
    def run(c: Any, m: Any, ref: Any) -> dict:
        flt = base.as_filter(m, fd)
        pairs = c.search_matrix_pairs(COLL, query_filter=flt, limit=limit, sample=1000, using=using)
        offs = c.search_matrix_offsets(COLL, query_filter=flt, limit=limit, sample=1000, using=using)
        return {"pairs": [(p.a, p.b, p.score) for p in pairs.pairs],
                "offsets": (offs.ids, offs.offsets_row, offs.offsets_col, offs.scores)}

    return run


def compare_matrix(ours: dict, ref: dict) -> list[str]:
    out = []
    ids_o, rows_o, cols_o, sc_o = ours["offsets"]
    ids_r, rows_r, cols_r, sc_r = ref["offsets"]
    if ids_o != ids_r or rows_o != rows_r:
        return [f"matrix ids/rows differ: ours {ids_o[:5]}.. official {ids_r[:5]}.."]
    for (a1, b1, s1), (a2, b2, s2) in zip(ours["pairs"], ref["pairs"]):
        if a1 != a2 or not base._close(s1, s2, base.SCORE_REL_TOL, base.SCORE_ABS_TOL):
            out.append(f"pair ({a1},{b1},{s1}) official ({a2},{b2},{s2})")
    for c1, c2, s1, s2 in zip(cols_o, cols_r, sc_o, sc_r):
        if not base._close(s1, s2, base.SCORE_REL_TOL, base.SCORE_ABS_TOL):
            out.append(f"offsets score {s1} official {s2}")
    if len(ours["pairs"]) != len(ref["pairs"]):
        out.append(f"{len(ours['pairs'])} pairs, official {len(ref['pairs'])}")
    return out[:5]


@lru_cache(maxsize=None)
def checks_for(distance: str) -> tuple[dict, list]:
    ds = dataset(distance)
    gen = Gen(ds, SEEDS[distance] * 101)
    checks = []
    for i in range(QUERIES_PER_DISTANCE):
        req = gen.request()
        checks.append(base.Check(f"query #{i}", req, op_query(req, threshold=i % 4 == 0), compare_query(req)))
    for i in range(GROUPS_PER_DISTANCE):
        req = gen.request()
        q = req.get("query")
        if isinstance(q, dict) and "recommend" in q and q["recommend"].get("strategy") == "sum_scores":
            q["recommend"]["strategy"] = "best_score"   # Manhattan sum_scores ties (see vector_query)
        if isinstance(q, dict) and ("context" in q or "order_by" in q):   # tie-heavy orders: groups differ legally
            req["query"] = {"nearest": _vec(gen.nrng, DIMS[req.get("using") or "a"])} if req.get("using") else {"fusion": "rrf"}
        req["limit"] = gen.rng.randint(1, 6)
        checks.append(base.Check(f"groups #{i}", req, op_groups(req, gen.rng.randint(1, 4), i % 3 == 0), compare_groups))
    reqs = [gen.request() for _ in range(4)]
    checks.append(base.Check("batch", reqs, op_batch(reqs), compare_batch(reqs)))
    for using in ("a", "b"):
        fd = gen.filter()
        checks.append(base.Check(f"matrix using={using}", fd, op_matrix(fd, using, gen.rng.randint(1, 4)), compare_matrix))
    return ds, checks


@pytest.fixture(params=MODES)
def qclient(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    factory: ClientFactory = _factory(request, tmp_path)
    yield factory.open()
    factory.close_all()


@pytest.mark.parametrize("distance", list(SEEDS))
def test_query_congruence(qclient, distance):
    ds, checks = checks_for(distance)
    refs = base.oracle_results(("query", distance), lambda c, m: setup(c, m, ds), checks)
    errors = sum(isinstance(r, base.Raised) for r in refs)
    assert errors < len(checks) // 3, f"too many official errors ({errors}): the generator is off"
    setup(qclient, models, ds)
    base.compare_all(qclient, checks, refs)


# ---------------------------------------------------------------------------------------------
# the official client as a peer: qdrant-client over REST and gRPC against our server


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
@pytest.mark.parametrize("distance", ["Cosine", "Euclid"])
def test_official_client_on_our_server(remote_server, protocol, distance):
    """The official client, speaking REST or gRPC to our server, gets its own local mode's answers."""
    from conftest import wipe

    ds, checks = checks_for(distance)
    refs = base.oracle_results(("query", distance), lambda c, m: setup(c, m, ds), checks)
    wipe(remote_server)
    kwargs: dict[str, Any] = {"url": remote_server.url, "api_key": remote_server.api_key}
    if protocol == "grpc":
        kwargs.update(prefer_grpc=True, grpc_port=remote_server.grpc_port)
    peer = qdrant_client.QdrantClient(**kwargs)
    try:
        setup(peer, qm, ds)
        problems = []
        for check, ref in zip(checks, refs):
            ours = base._run(check.op, peer, qm, ref)
            found = base._compare_or_errors(check, ours, ref)
            if found:
                problems.append(f"[{check.label}] {json.dumps(check.request, default=str)[:300]}\n    " + "\n    ".join(found[:3]))
        assert not problems, f"{len(problems)} of {len(checks)} differ:\n" + "\n".join(problems[:6])
    finally:
        peer.close()


# ---------------------------------------------------------------------------------------------
# hybrid: a dense and a sparse vector (the hybrid-search shape: sparse + dense prefetches, fused)

HYBRID_QUERIES = 40


def _sparse(rng: random.Random) -> dict:
    idx = sorted(rng.sample(range(40), rng.randint(1, 6)))
    return {"indices": idx, "values": [round(rng.uniform(-1, 2), 3) for _ in idx]}


@lru_cache(maxsize=None)
def hybrid_checks() -> tuple[list, list]:
    rng = random.Random(5150 + _SHIFT)
    nrng = np.random.default_rng(5150 + _SHIFT)
    ids = _gen.random_ids(rng, 120)
    points = []
    for pid in ids:
        vec: dict = {"d": _vec(nrng, 4)}
        if rng.random() < 0.9:
            vec["s"] = _sparse(rng)
        points.append((pid, vec, {"num": round(rng.uniform(-5, 5), 3), "s": rng.choice(_gen.WORDS)}))
    with_s = [pid for pid, vec, _ in points if "s" in vec]

    def sparse_input() -> Any:
        return _gen.id_variant(rng, rng.choice(with_s)) if rng.random() < 0.4 else _sparse(rng)

    def sparse_query(top: bool) -> Any:
        # Below the top, only variants that return overlapping points: the others score every
        # non-overlapping point alike (0 similarity), and a limited prefetch cuts that tie group
        # arbitrarily — legally different sources for the fusion above.
        kind = rng.choice(["nearest", "nearest", "mmr", "recommend", "discover"] if top else ["nearest", "mmr", "average"])
        if kind == "average":
            return {"recommend": {"positive": [sparse_input() for _ in range(rng.randint(1, 2))],
                                  "negative": [sparse_input() for _ in range(rng.randint(0, 2))]}}
        if kind == "nearest":
            return {"nearest": sparse_input()}
        if kind == "mmr":
            return {"nearest": sparse_input(), "mmr": {"diversity": rng.choice([0.2, 0.7]), "candidates_limit": rng.randint(5, 30)}}
        if kind == "recommend":
            strategy = rng.choice(["average_vector", "best_score", "sum_scores"])
            return {"recommend": {"positive": [sparse_input() for _ in range(rng.randint(1, 2))],
                                  "negative": [sparse_input() for _ in range(rng.randint(0, 2))], "strategy": strategy}}
        return {"discover": {"target": sparse_input(), "context": [{"positive": sparse_input(), "negative": sparse_input()}]}}

    checks = []
    for i in range(HYBRID_QUERIES):
        dense = {"query": {"nearest": _vec(nrng, 4)}, "using": "d", "limit": rng.randint(5, 30)}
        shape = rng.choice(["sparse", "fusion", "fusion", "rescore", "formula"])
        sparse = {"query": sparse_query(shape == "sparse"), "using": "s", "limit": rng.randint(5, 30)}
        if rng.random() < 0.3:
            sparse["filter"] = _gen.random_filter(rng, ids)
        req: dict = {"limit": rng.choice([3, 10]), "offset": rng.choice([0, 0, 2])}
        if shape == "sparse":
            req.update(query=sparse["query"], using="s")
        elif shape == "fusion":
            req.update(prefetch=[dense, sparse], query=rng.choice([{"fusion": "rrf"}, {"fusion": "dbsf"}, {"rrf": {"k": 10}}]))
        elif shape == "rescore":
            req.update(prefetch=[dense], query={"nearest": _sparse(rng)}, using="s")
        else:
            req.update(prefetch=[sparse, dense], query={"formula": {"sum": ["$score[0]", "$score[1]", {"mult": [0.1, "num"]}]}})
        checks.append(base.Check(f"hybrid #{i} {shape}", req, op_query(req, threshold=False), compare_query(req)))
    return points, checks


def hybrid_setup(client: Any, m: Any, points: list) -> None:
    client.create_collection(COLL, vectors_config={"d": m.VectorParams(size=4, distance="Cosine")},
                             sparse_vectors_config={"s": m.SparseVectorParams()})
    client.upsert(COLL, points=[m.PointStruct(id=pid, vector={k: (m.SparseVector(**v) if k == "s" else v) for k, v in vec.items()},
                                              payload=p) for pid, vec, p in points])


@pytest.mark.parametrize("qclient", ["memory-sync", "rest-sync", "grpc-sync"], indirect=True)
def test_hybrid_congruence(qclient):
    points, checks = hybrid_checks()
    refs = base.oracle_results(("hybrid", _SHIFT), lambda c, m: hybrid_setup(c, m, points), checks)
    assert sum(isinstance(r, base.Raised) for r in refs) < len(checks) // 4
    hybrid_setup(qclient, models, points)
    base.compare_all(qclient, checks, refs)


# ---------------------------------------------------------------------------------------------
# multivectors (max_sim), every distance, next to a dense vector

MULTI_QUERIES = 24


@lru_cache(maxsize=None)
def multi_checks(distance: str) -> tuple[list, list]:
    rng = random.Random(6060 + _SHIFT + len(distance))
    nrng = np.random.default_rng(6060 + _SHIFT + len(distance))
    ids = _gen.random_ids(rng, 80)
    points = [(pid, {"m": nrng.normal(size=(rng.randint(1, 3), 3)).astype(np.float32).tolist(), "d": _vec(nrng, 4)},
               {"num": round(rng.uniform(-5, 5), 3)}) for pid in ids]

    def multi_input() -> Any:
        if rng.random() < 0.4:
            return _gen.id_variant(rng, rng.choice(ids))
        return nrng.normal(size=(rng.randint(1, 3), 3)).astype(np.float32).tolist()

    checks = []
    for i in range(MULTI_QUERIES):
        kind = rng.choice(["nearest", "mmr", "average_vector", "best_score", "discover", "rescore", "fusion"])
        req: dict = {"limit": rng.choice([3, 10]), "offset": rng.choice([0, 0, 2]), "using": "m"}
        if kind == "nearest":
            req["query"] = {"nearest": multi_input()}
        elif kind == "mmr":
            req["query"] = {"nearest": multi_input(), "mmr": {"diversity": rng.choice([0.3, 0.8]), "candidates_limit": rng.randint(5, 25)}}
        elif kind in ("average_vector", "best_score"):
            req["query"] = {"recommend": {"positive": [multi_input() for _ in range(rng.randint(1, 2))],
                                          "negative": [multi_input() for _ in range(rng.randint(0, 2))], "strategy": kind}}
        elif kind == "discover":
            req["query"] = {"discover": {"target": multi_input(), "context": [{"positive": multi_input(), "negative": multi_input()}]}}
        elif kind == "rescore":
            req["prefetch"] = [{"query": _vec(nrng, 4), "using": "d", "limit": rng.randint(5, 30)}]
            req["query"] = {"nearest": multi_input()}
        else:
            req.pop("using")
            req["prefetch"] = [{"query": _vec(nrng, 4), "using": "d", "limit": 15},
                               {"query": {"nearest": multi_input()}, "using": "m", "limit": 15}]
            req["query"] = {"fusion": rng.choice(["rrf", "dbsf"])}
        checks.append(base.Check(f"multi #{i} {kind} {distance}", req, op_query(req, threshold=False), compare_query(req)))
    return points, checks


def multi_setup(client: Any, m: Any, points: list, distance: str) -> None:
    client.create_collection(COLL, vectors_config={
        "m": m.VectorParams(size=3, distance=distance, multivector_config=m.MultiVectorConfig(comparator="max_sim")),
        "d": m.VectorParams(size=4, distance="Dot")})
    client.upsert(COLL, points=[m.PointStruct(id=pid, vector=copy.deepcopy(vec), payload=p) for pid, vec, p in points])


@pytest.mark.parametrize("qclient", ["memory-sync", "grpc-sync"], indirect=True)
@pytest.mark.parametrize("distance", ["Cosine", "Euclid", "Manhattan"])
def test_multivector_congruence(qclient, distance):
    points, checks = multi_checks(distance)
    refs = base.oracle_results(("multi", distance, _SHIFT), lambda c, m: multi_setup(c, m, points, distance), checks)
    assert sum(isinstance(r, base.Raised) for r in refs) < len(checks) // 4
    multi_setup(qclient, models, points, distance)
    base.compare_all(qclient, checks, refs)
