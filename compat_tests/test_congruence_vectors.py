"""Randomised congruence with the official qdrant-client local mode: sparse vectors (with and
without ``idf``), multivectors (max_sim, every distance) and the float16 / uint8 datatypes.

Each scenario builds seeded random points (rich payloads from ``_gen``, some points missing
some vectors, some rewritten or deleted, some vectors updated or deleted afterwards), loads
them into our client (the ``client`` fixture: every mode) and into
``qdrant_client.QdrantClient(":memory:")``, and compares random nearest queries with random
filters, ``score_threshold``, ``offset``: ids and order, scores within 1e-4 relative, a group
of tied scores compared as a set (``test_congruence_local.compare_scored``).

Datatype data is exactly representable (uint8: integers 0..255; float16: float16 values), since
the local mode ignores ``datatype`` and computes in float32: on such data Qdrant's datatype
semantics and the local mode's float32 ones give the same scores. float16 Cosine is left out
(normalising, then rounding to float16, moves scores by ~1e-4: test_vectors.py covers it).
"""

from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

qdrant_client = pytest.importorskip("qdrant_client")
from qdrant_client import models as qm  # noqa: E402

from sdk import models  # noqa: E402

import _gen  # noqa: E402
from test_congruence_local import Raised, compare_scored, plain_scored  # noqa: E402

COLL = "v"
N_POINTS = 150
N_QUERIES = 30
# One seed per run keeps the suite fast; more: VECTORS_CONGRUENCE_SEEDS=11,12,13,14 pytest ...
SEEDS = [int(s) for s in os.environ.get("VECTORS_CONGRUENCE_SEEDS", "11").split(",")]
VOCAB = 40           # sparse indices are drawn from a small vocabulary: overlaps are common


@dataclass(frozen=True)
class Scenario:
    name: str           # "sparse", "sparse-idf", "multi-<Distance>", "dtype-<Distance>"
    seed: int

    @property
    def distance(self) -> str:
        return self.name.split("-")[1] if "-" in self.name and not self.name.startswith("sparse") else "Dot"


SCENARIOS = [Scenario(n, s) for s in SEEDS for n in (
    "sparse", "sparse-idf", "multi-Cosine", "multi-Dot", "multi-Euclid", "multi-Manhattan",
    "dtype-Cosine", "dtype-Dot", "dtype-Euclid", "dtype-Manhattan")]


def _sparse(rng: random.Random, nrng: np.random.Generator, empty_share: float = 0.05) -> dict:
    if rng.random() < empty_share:
        return {"indices": [], "values": []}
    k = rng.randint(1, 7)
    indices = rng.sample(range(VOCAB), k)
    values = nrng.normal(size=k).astype(np.float32).tolist()
    if rng.random() < 0.3:
        values = [abs(v) for v in values]
    return {"indices": indices, "values": values}


def _multi(rng: random.Random, nrng: np.random.Generator, dim: int = 3) -> list:
    return nrng.normal(size=(rng.randint(1, 4), dim)).astype(np.float32).tolist()


def _u8(nrng: np.random.Generator, dim: int = 4) -> list:
    return nrng.integers(0, 256, size=dim).astype(float).tolist()


def _f16(nrng: np.random.Generator, dim: int = 4) -> list:
    return nrng.normal(size=dim).astype(np.float16).astype(float).tolist()


def collection_config(m: Any, sc: Scenario) -> dict:
    if sc.name.startswith("sparse"):
        modifier = m.Modifier.IDF if sc.name == "sparse-idf" else None
        return {"vectors_config": {"d": m.VectorParams(size=2, distance="Dot")},
                "sparse_vectors_config": {"s": m.SparseVectorParams(modifier=modifier)}}
    if sc.name.startswith("multi"):
        return {"vectors_config": {"mv": m.VectorParams(
            size=3, distance=sc.distance, multivector_config=m.MultiVectorConfig(comparator="max_sim"))}}
    vectors = {"u8": m.VectorParams(size=4, distance=sc.distance, datatype="uint8")}
    if sc.distance != "Cosine":
        vectors["h"] = m.VectorParams(size=4, distance=sc.distance, datatype="float16")
    return {"vectors_config": vectors}


def _point_vectors(sc: Scenario, rng: random.Random, nrng: np.random.Generator) -> dict:
    if sc.name.startswith("sparse"):
        out = {"d": nrng.normal(size=2).astype(np.float32).tolist()}
        if rng.random() < 0.85:
            out["s"] = _sparse(rng, nrng)
        return out
    if sc.name.startswith("multi"):
        return {"mv": _multi(rng, nrng)} if rng.random() < 0.9 else {}
    out = {}
    if rng.random() < 0.9:
        out["u8"] = _u8(nrng)
    if sc.distance != "Cosine" and rng.random() < 0.9:
        out["h"] = _f16(nrng)
    return out


@dataclass
class Plan:
    batches: list       # lists of (id, vectors, payload)
    deletes: list       # ids deleted after the upserts
    updates: list       # (id, {name: vector}) update_vectors after that
    vector_deletes: list  # (ids, [names]) delete_vectors
    queries: list       # (using, query JSON, filter JSON | None, limit, offset, threshold, with_vectors)
    ids: list


@lru_cache(maxsize=None)
def make_plan(sc: Scenario) -> Plan:
    rng = random.Random(sc.seed * 1000 + hash(sc.name) % 997)
    nrng = np.random.default_rng(sc.seed)
    ids = _gen.random_ids(rng, N_POINTS)
    points = [(pid, _point_vectors(sc, rng, nrng), _gen.random_payload(rng)) for pid in ids]
    # duplicated vectors: exact score ties
    for _ in range(N_POINTS // 20):
        src, dst = rng.sample(range(N_POINTS), 2)
        points[dst] = (points[dst][0], copy.deepcopy(points[src][1]), points[dst][2])
    half = N_POINTS // 2
    again = [(_gen.id_variant(rng, pid), _point_vectors(sc, rng, nrng), _gen.random_payload(rng))
             for pid in rng.sample(ids, N_POINTS // 10)]
    batches = [points[:half], points[half:], again]
    deletes = rng.sample(ids, N_POINTS // 16)
    alive = [i for i in ids if i not in set(deletes)]
    names = list(_point_vectors(sc, random.Random(0), np.random.default_rng(0)).keys()) or ["mv"]
    if sc.name.startswith("sparse"):
        names = ["s"]
    elif sc.name.startswith("dtype"):
        names = ["u8"] + (["h"] if sc.distance != "Cosine" else [])
    updates = []
    for pid in rng.sample(alive, N_POINTS // 10):
        vec = _point_vectors(sc, rng, nrng)
        vec = {k: v for k, v in vec.items() if k in names}
        if vec:
            updates.append((pid, vec))
    vector_deletes = [(rng.sample(alive, 5), [rng.choice(names)]) for _ in range(2)]
    queries = []
    for i in range(N_QUERIES):
        using = rng.choice(names)
        if using == "s":
            q = _sparse(rng, nrng, empty_share=0.0)
            if i % 6 == 5:
                q = {"indices": [VOCAB + 5], "values": [1.0]}     # an index no point holds
        elif using == "mv":
            q = _multi(rng, nrng)
        elif using == "u8":
            q = _u8(nrng)
        else:
            q = _f16(nrng)
        flt = _gen.random_filter(rng, ids) if rng.random() < 0.5 else None
        limit = rng.choice([3, 10, 25])
        offset = rng.choice([0, 0, 0, 2])
        threshold = None
        if rng.random() < 0.15:
            threshold = {"s": 0.0, "mv": 0.5, "u8": 200.0, "h": 0.0}[using]
            if sc.distance in ("Euclid", "Manhattan") and using != "s":
                threshold = {"mv": 3.0, "u8": 200.0, "h": 2.0}[using]
            if sc.distance == "Cosine" and using == "u8":
                threshold = 0.8
        with_vectors = using in ("s", "mv") and rng.random() < 0.3
        queries.append((using, q, flt, limit, offset, threshold, with_vectors))
    return Plan(batches, deletes, updates, vector_deletes, queries, ids)


def load(client: Any, m: Any, sc: Scenario, plan: Plan) -> None:
    client.create_collection(COLL, **collection_config(m, sc))
    for batch in plan.batches:
        client.upsert(COLL, points=[m.PointStruct(id=pid, vector=copy.deepcopy(vec), payload=copy.deepcopy(pl))
                                    for pid, vec, pl in batch])
    client.delete(COLL, points_selector=m.PointIdsList(points=list(plan.deletes)))
    client.update_vectors(COLL, points=[m.PointVectors(id=pid, vector=copy.deepcopy(vec)) for pid, vec in plan.updates])
    for ids, names in plan.vector_deletes:
        client.delete_vectors(COLL, vectors=names, points=ids)


def run_query(client: Any, m: Any, query: tuple) -> Any:
    using, q, flt, limit, offset, threshold, with_vectors = query
    q_model = m.SparseVector.model_validate(q) if using == "s" else copy.deepcopy(q)
    try:
        res = client.query_points(
            COLL, query=q_model, using=using, query_filter=None if flt is None else m.Filter.model_validate(flt),
            limit=limit, offset=offset, score_threshold=threshold, with_payload=True, with_vectors=with_vectors,
        ).points
    except Exception as exc:  # noqa: BLE001 - an error is a result to compare
        return Raised(f"{type(exc).__name__}: {exc}")
    out = []
    for p in res:
        d = plain_scored(p)
        if isinstance(d["vector"], dict):
            d["vector"] = {k: _plain_vector(v) for k, v in d["vector"].items()}
        out.append(d)
    return out


def _plain_vector(v: Any) -> Any:
    if hasattr(v, "indices"):
        return {"indices": list(v.indices), "values": list(v.values)}
    return v


_ORACLE: dict[Scenario, list] = {}


def oracle(sc: Scenario, plan: Plan) -> list:
    if sc not in _ORACLE:
        official = qdrant_client.QdrantClient(":memory:")
        try:
            load(official, qm, sc, plan)
            _ORACLE[sc] = [run_query(official, qm, q) for q in plan.queries]
        finally:
            official.close()
    return _ORACLE[sc]


def _vectors_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) and isinstance(b, dict) and "indices" in a:
        # sparse: the same (index, value) pairs (local mode keeps the input order)
        return sorted(zip(a["indices"], a["values"])) == sorted(zip(b["indices"], b["values"]))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_vectors_equal(a[k], b[k]) for k in a)
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-5)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: f"{s.name}-{s.seed}")
def test_vectors_congruent_with_local_mode(client, sc):
    plan = make_plan(sc)
    ref = oracle(sc, plan)
    load(client, models, sc, plan)
    problems = []
    for i, (query, expected) in enumerate(zip(plan.queries, ref)):
        got = run_query(client, models, query)
        where = f"query {i} using={query[0]!r} filter={query[2] is not None} limit={query[3]} offset={query[4]} threshold={query[5]}"
        if isinstance(expected, Raised) or isinstance(got, Raised):
            if not (isinstance(expected, Raised) and isinstance(got, Raised)):
                problems.append(f"{where}: ours={got!r:.300} official={expected!r:.300}")
            continue
        # vectors are compared here, sparse ones as sets of pairs, not by compare_scored
        vec_got = {p["id"]: p.pop("vector") for p in got}
        vec_ref = {p["id"]: p.pop("vector") for p in expected}
        for p in got:
            p["vector"] = None
        for p in expected:
            p["vector"] = None
        found = compare_scored(got, expected, cut_head=query[4] > 0, cut_tail=len(expected) == query[3], where=where)
        for pid, v in vec_got.items():
            if pid in vec_ref and not _vectors_equal(v, vec_ref[pid]):
                found.append(f"{where}: vector of {pid!r} ours={v} official={vec_ref[pid]}")
        problems += found
        for p in expected:               # restore the cached oracle answer for the next mode
            p["vector"] = vec_ref[p["id"]]
    assert not problems, f"{len(problems)} differences from qdrant-client local mode:\n" + "\n".join(problems[:8])


# -- Qdrant's own engine (qdrant-edge-py) ------------------------------------------------------------
@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_vectors_agree_with_qdrant_edge(distance, tmp_path):
    """Sparse (idf), multivector (max_sim) and uint8 scores and orders of the built-in engine
    equal Qdrant's segment engine (Edge) on random data: unlike the local mode, Edge applies
    ``datatype`` (uint8 conversion, Cosine from raw bytes)."""
    qe = pytest.importorskip("qdrant_edge")
    from local_engine import Engine

    edge_distance = getattr(qe.Distance, distance)
    edge = qe.EdgeShard.create(str(tmp_path), qe.EdgeConfig(
        vectors={"mv": qe.EdgeVectorParams(size=3, distance=edge_distance,
                                           multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)),
                 "u": qe.EdgeVectorParams(size=4, distance=edge_distance, datatype=qe.VectorStorageDatatype.Uint8)},
        sparse_vectors={"s": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}))
    engine = Engine()
    engine.create_collection("e", models.CreateCollection(
        vectors={"mv": models.VectorParams(size=3, distance=distance,
                                           multivector_config=models.MultiVectorConfig(comparator="max_sim")),
                 "u": models.VectorParams(size=4, distance=distance, datatype="uint8")},
        sparse_vectors={"s": models.SparseVectorParams(modifier=models.Modifier.IDF)}))
    rng, nrng = random.Random(7), np.random.default_rng(7)
    points = []
    for pid in range(80):
        vec = {"mv": _multi(rng, nrng),
               "u": (nrng.integers(-20, 280, size=4)).astype(float).tolist(),   # out of range: saturates
               "s": _sparse(rng, nrng, empty_share=0.0)}
        points.append((pid, vec))
    edge.update(qe.UpdateOperation.upsert_points([
        qe.Point(pid, {"mv": v["mv"], "u": v["u"], "s": qe.SparseVector(v["s"]["indices"], v["s"]["values"])}, {})
        for pid, v in points]))
    engine.upsert_points("e", models.PointsList(points=[models.PointStruct(id=pid, vector=v) for pid, v in points]))
    problems = []
    for i in range(24):
        using = ("mv", "u", "s")[i % 3]
        if using == "mv":
            q, eq = _multi(rng, nrng), None
        elif using == "u":
            q, eq = nrng.integers(0, 256, size=4).astype(float).tolist(), None
        else:
            q = _sparse(rng, nrng, empty_share=0.0)
            eq = qe.SparseVector(q["indices"], q["values"])
        theirs = edge.query(qe.QueryRequest(query=qe.Query.Nearest(eq if eq is not None else q, using=using), limit=10))
        ours = engine.query_points("e", models.QueryRequest(
            query=models.SparseVector(**q) if using == "s" else q, using=using, limit=10)).points
        got = [{"id": p.id, "score": p.score, "payload": None, "vector": None} for p in ours]
        want = [{"id": p.id, "score": float(p.score), "payload": None, "vector": None} for p in theirs]
        problems += compare_scored(got, want, cut_head=False, cut_tail=len(want) == 10, where=f"{using} query {i}")
    edge.close()
    assert not problems, "\n".join(problems[:8])
