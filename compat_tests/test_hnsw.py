"""HNSW graphs and the query planner: recall against exact=True, Qdrant's index parameters,
writes reflected immediately, graphs that survive a reopen.

Recall floors (docs/indexing.md): recall@10 >= 0.98 against ``exact=True`` at default search
parameters on clustered data, for every distance, named vectors, and filters from 50 % down to
0.1 % selectivity. Collections here are small (4,000 x 32) with ``indexing_threshold`` and
``full_scan_threshold`` lowered so that graphs are built and searched; a graph search is never
allowed to return fewer points than the exact search.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import numpy as np
import pytest

from sdk import models

N, DIM, CENTRES = 4000, 32, 40
QUERIES = 30
FLOOR = 0.98
# 50 KB = 400 vectors of 32 dims: graphs are built; 10 KB = 80 vectors: the graph is searched.
LOW_THRESHOLDS = dict(
    hnsw_config=models.HnswConfigDiff(full_scan_threshold=10),
    optimizers_config=models.OptimizersConfigDiff(indexing_threshold=50),
)


def clustered(n: int = N, dim: int = DIM, seed: int = 7, queries: int = QUERIES):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, dim)).astype(np.float32)
    which = rng.integers(0, CENTRES, n)
    data = (centres[which] + 0.35 * rng.standard_normal((n, dim))).astype(np.float32)
    qwhich = rng.integers(0, CENTRES, queries)
    q = (centres[qwhich] + 0.35 * rng.standard_normal((queries, dim))).astype(np.float32)
    return data, which, q, qwhich


DATA, CLUSTER, QVECS, QCLUSTER = clustered()
EXACT = models.SearchParams(exact=True)


def ids_of(response) -> list:
    return [p.id for p in response.points]


def recall(client, name: str, *, using: str | None = None, flt: Any = None, params: Any = None,
           limit: int = 10, queries: np.ndarray = QVECS) -> float:
    """Mean recall@limit of default search vs exact=True; asserts the graph never returns fewer."""
    total = 0.0
    for q in queries:
        got = ids_of(client.query_points(name, query=q, using=using, query_filter=flt, limit=limit,
                                         search_params=params, with_payload=False))
        want = ids_of(client.query_points(name, query=q, using=using, query_filter=flt, limit=limit,
                                          search_params=EXACT, with_payload=False))
        assert len(got) == len(want), "an approximate search returned fewer points than exist"
        total += len(set(got) & set(want)) / len(want) if want else 1.0
    return total / len(queries)


def engine_of(client) -> Any:
    """The in-process Engine behind a client, or None (remote modes)."""
    inner = getattr(client, "_client", client)            # SyncDriver -> AsyncQdrantClient
    transport = getattr(inner, "_transport", None)
    transport = getattr(transport, "_sync", transport)    # AsyncLocalTransport -> LocalTransport
    return getattr(transport, "_engine", None)


def last_path(client, name: str) -> str | None:
    engine = engine_of(client)
    if engine is None:
        return None
    plan = engine._collections[name]._last_plan
    return plan.path if plan is not None else None


def upload(client, name: str, vectors: Any, payloads: list | None = None, n: int = N) -> None:
    client.upload_collection(name, vectors=vectors, payload=payloads, ids=list(range(n)), batch_size=1000)


# -- recall -----------------------------------------------------------------------------------------
def test_recall_per_distance_with_named_vectors_and_overrides(client):
    """One collection, one named vector per distance (one with its own hnsw_config, one with
    m=0): every graph reaches the floor, the m=0 vector stays exact."""
    client.create_collection(
        "h",
        vectors_config={
            "cos": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
            "dot": models.VectorParams(size=DIM, distance=models.Distance.DOT,
                                       hnsw_config=models.HnswConfigDiff(m=24, ef_construct=64)),
            "l2": models.VectorParams(size=DIM, distance=models.Distance.EUCLID),
            "l1": models.VectorParams(size=DIM, distance=models.Distance.MANHATTAN),
            "flat": models.VectorParams(size=DIM, distance=models.Distance.COSINE,
                                        hnsw_config=models.HnswConfigDiff(m=0)),
        },
        **LOW_THRESHOLDS,
    )
    upload(client, "h", {"cos": DATA, "dot": DATA, "l2": DATA, "l1": DATA, "flat": DATA})
    info = client.get_collection("h")
    assert info.indexed_vectors_count == 4 * N          # four graphs; "flat" has none
    assert info.status == models.CollectionStatus.GREEN
    assert info.config.params.vectors["dot"].hnsw_config.m == 24
    for name in ("cos", "dot", "l2", "l1"):
        r = recall(client, "h", using=name)
        assert r >= FLOOR, f"{name}: recall@10 {r:.3f}"
        client.query_points("h", query=QVECS[0], using=name)
        assert last_path(client, "h") in (None, "graph")
    for q in QVECS[:5]:
        got = client.query_points("h", query=q, using="flat", limit=10).points
        want = client.query_points("h", query=q, using="flat", limit=10, search_params=EXACT).points
        assert [(p.id, p.score) for p in got] == [(p.id, p.score) for p in want]


def test_filtered_recall_from_half_to_a_thousandth(client):
    client.create_collection("f", vectors_config={
        "cos": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        "dot": models.VectorParams(size=DIM, distance=models.Distance.DOT),
    }, **LOW_THRESHOLDS)
    payloads = [{"k": i % 1000, "cluster": int(c)} for i, c in enumerate(CLUSTER)]
    upload(client, "f", {"cos": DATA, "dot": DATA}, payloads)
    for using in ("cos", "dot"):
        for share, bound in (("50%", 500), ("10%", 100), ("1%", 10), ("0.1%", 1)):
            flt = models.Filter(must=[models.FieldCondition(key="k", range=models.Range(lt=bound))])
            r = recall(client, "f", using=using, flt=flt)
            assert r >= FLOOR, f"{using} {share}: recall@10 {r:.3f}"
        # A filter correlated with the clusters (one cluster, far from most queries): the graph's
        # first candidates rarely match, and the planner must still return `limit` points.
        far = models.Filter(must=[models.FieldCondition(
            key="cluster", match=models.MatchValue(value=int(QCLUSTER[0]) ^ 1))])
        assert recall(client, "f", using=using, flt=far, limit=20) >= FLOOR
    # 0.1 % is 4 points: a limit of 10 returns all 4, not fewer.
    flt = models.Filter(must=[models.FieldCondition(key="k", range=models.Range(lt=1))])
    assert len(client.query_points("f", query=QVECS[0], using="cos", query_filter=flt, limit=10).points) == N // 1000


# -- writes -----------------------------------------------------------------------------------------
def test_deletes_and_updates_are_reflected_immediately(client):
    client.create_collection("w", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             **LOW_THRESHOLDS)
    upload(client, "w", DATA)
    q = QVECS[0]
    first = ids_of(client.query_points("w", query=q, limit=10))
    client.delete("w", points_selector=models.PointIdsList(points=first[:5]))
    after = ids_of(client.query_points("w", query=q, limit=10))
    assert len(after) == 10 and not set(after) & set(first[:5])
    assert after[:5] == first[5:]
    assert client.get_collection("w").indexed_vectors_count == N - 5
    # An update moves a point: it is found at its new place, and no longer at its old one.
    far_id = ids_of(client.query_points("w", query=-q, limit=1))[0]
    client.upsert("w", points=[models.PointStruct(id=far_id, vector=q.tolist())])
    top = client.query_points("w", query=q, limit=1).points[0]
    assert top.id == far_id and top.score == pytest.approx(1.0, abs=1e-5)
    assert far_id not in ids_of(client.query_points("w", query=-q, limit=10))
    # Deleted points stay out through a reinsert of other ids and a filtered delete.
    client.upsert("w", points=[models.PointStruct(id=N + i, vector=(q + 0.01 * i).tolist()) for i in range(3)])
    client.delete("w", points_selector=models.FilterSelector(filter=models.Filter(
        must=[models.HasIdCondition(has_id=[N, N + 1])])))
    got = ids_of(client.query_points("w", query=q, limit=20))
    assert N + 2 in got and N not in got and N + 1 not in got
    assert not set(got) & set(first[:5])
    assert client.get_collection("w").indexed_vectors_count == N - 5 + 1
    assert recall(client, "w", queries=QVECS[:10]) >= FLOOR


def test_filtered_search_sees_payload_writes_at_once(client):
    """Filter answers are cached between writes; every kind of write must be seen at once."""
    client.create_collection("pw", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             **LOW_THRESHOLDS)
    upload(client, "pw", DATA, [{"k": i % 4} for i in range(N)])
    flt = models.Filter(must=[models.FieldCondition(key="k", match=models.MatchValue(value=1))])
    q = QVECS[2]
    first = ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))
    client.set_payload("pw", payload={"k": 2}, points=first[:2])
    second = ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))
    assert not set(second) & set(first[:2]) and second[:3] == first[2:]
    client.overwrite_payload("pw", payload={"k": 1}, points=first[:1])
    assert ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))[0] == first[0]
    client.delete_payload("pw", keys=["k"], points=first[:1])
    assert first[0] not in ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))
    client.upsert("pw", points=[models.PointStruct(id=10**6, vector=q.tolist(), payload={"k": 1})])
    assert ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))[0] == 10**6
    client.clear_payload("pw", points_selector=[10**6])
    assert 10**6 not in ids_of(client.query_points("pw", query=q, query_filter=flt, limit=5))
    client.delete("pw", points_selector=models.FilterSelector(filter=flt))
    assert client.query_points("pw", query=q, query_filter=flt, limit=5).points == []


def test_dot_vector_longer_than_any_before_is_found(client):
    """Dot graphs bound the vector norm (MIPS reduction); a longer vector forces a rebuild and
    must be searchable at once."""
    client.create_collection("d", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
                             **LOW_THRESHOLDS)
    upload(client, "d", DATA[:1500], n=1500)
    q = QVECS[3]
    client.upsert("d", points=[models.PointStruct(id=10**6, vector=(20 * q).tolist())])
    assert client.query_points("d", query=q, limit=1).points[0].id == 10**6
    assert recall(client, "d", queries=QVECS[:10]) >= FLOOR


def test_segmented_graphs(client_factory, monkeypatch):
    """Large collections get one graph per segment of offsets (docs/indexing.md); here segments
    of 1,500 points, so 4,000 points make three graphs, searched together."""
    if client_factory.is_remote:
        pytest.skip("the segment size is a module constant of the in-process engine")
    from local_engine.index import segments

    monkeypatch.setattr(segments, "SEGMENT_POINTS", 1500)
    client = client_factory.open()
    client.create_collection("seg", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             **LOW_THRESHOLDS)
    upload(client, "seg", DATA, [{"k": i % 100} for i in range(N)])
    graph = engine_of(client)._collections["seg"]._indexes.graph_for("")
    assert sorted(graph.segments) == [0, 1, 2]
    assert recall(client, "seg") >= FLOOR
    for bound in (50, 10, 1):
        flt = models.Filter(must=[models.FieldCondition(key="k", range=models.Range(lt=bound))])
        assert recall(client, "seg", flt=flt) >= FLOOR
    gone = ids_of(client.query_points("seg", query=QVECS[0], limit=5))
    client.delete("seg", points_selector=models.PointIdsList(points=gone))
    assert not set(ids_of(client.query_points("seg", query=QVECS[0], limit=10))) & set(gone)
    assert client.get_collection("seg").indexed_vectors_count == N - 5
    if client_factory.persistent:
        before = [ids_of(client.query_points("seg", query=q)) for q in QVECS[:5]]
        client.close()
        client = client_factory.open()
        indexes = engine_of(client)._collections["seg"]._indexes
        assert indexes.stats["builds"] == 0 and indexes.stats["loaded"] == 3
        assert [ids_of(client.query_points("seg", query=q)) for q in QVECS[:5]] == before


# -- parameters -------------------------------------------------------------------------------------
def test_small_collections_and_m0_stay_exact(client):
    # Default thresholds: 4,000 x 32 floats are 500 KB, below indexing_threshold (10,000 KB).
    client.create_collection("small", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID))
    client.create_collection("nograph", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID),
                             hnsw_config=models.HnswConfigDiff(m=0, full_scan_threshold=10),
                             optimizers_config=models.OptimizersConfigDiff(indexing_threshold=50))
    for name in ("small", "nograph"):
        upload(client, name, DATA)
        assert client.get_collection(name).indexed_vectors_count == 0
        for q in QVECS[:8]:
            got = client.query_points(name, query=q, limit=10).points
            want = client.query_points(name, query=q, limit=10, search_params=EXACT).points
            assert [(p.id, p.score) for p in got] == [(p.id, p.score) for p in want]
        assert last_path(client, name) in (None, "exact")


def test_hnsw_ef_is_honoured(client):
    # A deliberately weak graph (m=8, ef_construct=16), so that a small ef visibly costs recall.
    client.create_collection(
        "ef", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        hnsw_config=models.HnswConfigDiff(m=8, ef_construct=16, full_scan_threshold=10),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=50),
    )
    upload(client, "ef", DATA)
    low = recall(client, "ef", params=models.SearchParams(hnsw_ef=1))       # effective ef = limit = 10
    high = recall(client, "ef", params=models.SearchParams(hnsw_ef=400))
    default = recall(client, "ef")                                            # ef = ef_construct = 16
    assert high >= default >= low
    assert high >= FLOOR


def test_indexed_only(client):
    client.create_collection("io", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             **LOW_THRESHOLDS)
    client.create_collection("io_small", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    upload(client, "io", DATA)
    upload(client, "io_small", DATA)
    only = models.SearchParams(indexed_only=True)
    for q in QVECS[:5]:
        # Everything is indexed: the same answer as a normal search.
        assert ids_of(client.query_points("io", query=q, search_params=only)) == ids_of(client.query_points("io", query=q))
        # A collection below the indexing threshold counts as "small": searched exactly.
        assert ids_of(client.query_points("io_small", query=q, search_params=only)) == \
            ids_of(client.query_points("io_small", query=q, search_params=EXACT))


def test_update_collection_builds_and_rebuilds_graphs(client):
    client.create_collection("u", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             hnsw_config=models.HnswConfigDiff(full_scan_threshold=10))
    upload(client, "u", DATA)
    assert client.get_collection("u").indexed_vectors_count == 0          # below the default threshold
    client.update_collection("u", optimizers_config=models.OptimizersConfigDiff(indexing_threshold=50))
    info = client.get_collection("u")
    assert info.indexed_vectors_count == N and info.status == models.CollectionStatus.GREEN
    assert info.config.optimizer_config.indexing_threshold == 50
    engine = engine_of(client)
    builds = engine._collections["u"]._indexes.stats["builds"] if engine else None
    client.update_collection("u", hnsw_config=models.HnswConfigDiff(m=8, ef_construct=50))
    assert client.get_collection("u").config.hnsw_config.m == 8
    if engine:
        assert engine._collections["u"]._indexes.stats["builds"] == builds + 1
        assert engine._collections["u"]._indexes.graph_for("").params.m == 8
    assert recall(client, "u", queries=QVECS[:10]) >= FLOOR
    # A per-vector diff merges into the vector's own hnsw_config.
    client.update_collection("u", vectors_config={"": models.VectorParamsDiff(
        hnsw_config=models.HnswConfigDiff(ef_construct=40))})
    client.update_collection("u", vectors_config={"": models.VectorParamsDiff(
        hnsw_config=models.HnswConfigDiff(m=12))})
    override = client.get_collection("u").config.params.vectors.hnsw_config
    assert (override.m, override.ef_construct) == (12, 40)
    if engine:
        assert engine._collections["u"]._indexes.graph_for("").params.m == 12
        assert engine._collections["u"]._indexes.graph_for("").params.ef_construct == 40
    client.update_collection("u", hnsw_config=models.HnswConfigDiff(m=0))
    client.update_collection("u", vectors_config={"": models.VectorParamsDiff(
        hnsw_config=models.HnswConfigDiff(m=0))})
    assert client.get_collection("u").indexed_vectors_count == 0
    q = QVECS[1]
    assert [(p.id, p.score) for p in client.query_points("u", query=q).points] == \
        [(p.id, p.score) for p in client.query_points("u", query=q, search_params=EXACT).points]


# -- persistence ------------------------------------------------------------------------------------
def test_graph_survives_reopen_without_rebuild(path_client_factory):
    client = path_client_factory.open()
    client.create_collection("p", vectors_config={
        "a": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        "b": models.VectorParams(size=DIM, distance=models.Distance.DOT),
    }, **LOW_THRESHOLDS)
    upload(client, "p", {"a": DATA, "b": DATA})
    client.delete("p", points_selector=models.PointIdsList(points=list(range(0, 600, 7))))
    before = {(u, i): [(p.id, p.score) for p in client.query_points("p", query=q, using=u, limit=10).points]
              for u in ("a", "b") for i, q in enumerate(QVECS[:8])}
    client.close()

    client = path_client_factory.open()
    indexes = engine_of(client)._collections["p"]._indexes
    assert indexes.stats == {"builds": 0, "loaded": 2, "reapplied": 0}
    info = client.get_collection("p")
    assert info.indexed_vectors_count == 2 * (N - len(range(0, 600, 7)))
    after = {(u, i): [(p.id, p.score) for p in client.query_points("p", query=q, using=u, limit=10).points]
             for u in ("a", "b") for i, q in enumerate(QVECS[:8])}
    assert after == before
    assert last_path(client, "p") == "graph"
    # Writes after the reopen are saved again on close and reloaded without a rebuild.
    client.upsert("p", points=[models.PointStruct(id=10**6, vector={"a": QVECS[0].tolist(), "b": QVECS[0].tolist()})])
    client.close()
    client = path_client_factory.open()
    assert engine_of(client)._collections["p"]._indexes.stats["builds"] == 0
    assert client.query_points("p", query=QVECS[0], using="a", limit=1).points[0].id == 10**6


# -- engine level: crash recovery and damaged files --------------------------------------------------
def _engine(path: str):
    from local_engine import Engine
    from local_engine.storage.sqlite import SqliteStorage

    return Engine(SqliteStorage(path))


def _query(engine, name: str, q: np.ndarray, **kw) -> list:
    body = models.QueryRequest(query=q.tolist(), limit=10, **kw)
    return [p.id for p in engine.query_points(name, body).points]


def _make(engine, name: str) -> None:
    engine.create_collection(name, models.CreateCollection(
        vectors=models.VectorParams(size=DIM, distance=models.Distance.COSINE), **LOW_THRESHOLDS))
    engine.upsert_points(name, models.PointsBatch(batch=models.Batch(ids=list(range(N)), vectors=DATA.tolist())))


def test_writes_after_the_saved_graph_are_reapplied_on_reopen(tmp_path):
    """A graph saved at a checkpoint, then more writes, then the process dies without close():
    reopening loads the graph and re-applies only the writes after its watermark."""
    path = str(tmp_path / "s")
    engine = _engine(path)
    _make(engine, "c")
    collection = engine._collections["c"]
    collection._indexes.join()      # the upsert queued the graph build; a checkpoint skips graphs until it is done
    collection._indexes.save(collection._store, collection.size)         # as a checkpoint would
    gone = _query(engine, "c", QVECS[0])[:3]
    engine.delete_points("c", models.PointIdsList(points=gone))
    moved = N - 1
    engine.upsert_points("c", models.PointsList(points=[models.PointStruct(id=moved, vector=QVECS[1].tolist())]))
    # "Crash": release the storage without the collection's close (no final checkpoint or graph save).
    collection._store.close()
    engine._storage.close()

    engine = _engine(path)
    stats = engine._collections["c"]._indexes.stats
    assert stats["builds"] == 0 and stats["loaded"] == 1
    assert stats["reapplied"] == len(gone) + 1
    assert not set(_query(engine, "c", QVECS[0])) & set(gone)
    assert _query(engine, "c", QVECS[1])[0] == moved
    for q in QVECS[:10]:
        assert len(set(_query(engine, "c", q)) & set(_query(engine, "c", q, params=EXACT))) >= 9
    engine.close()


def test_damaged_graph_file_is_rebuilt(tmp_path, caplog):
    path = str(tmp_path / "s")
    engine = _engine(path)
    _make(engine, "c")
    engine.close()
    blobs = [os.path.join(root, f) for root, _, files in os.walk(path) for f in files if f.startswith("blob-")]
    assert len(blobs) == 1
    with open(blobs[0], "r+b") as fh:
        fh.seek(os.path.getsize(blobs[0]) // 2)
        fh.write(b"\xff" * 64)
    with caplog.at_level(logging.WARNING):
        engine = _engine(path)
    assert any("CRC" in r.getMessage() for r in caplog.records)
    stats = engine._collections["c"]._indexes.stats
    assert stats["builds"] == 1 and stats["loaded"] == 0
    for q in QVECS[:5]:
        assert len(set(_query(engine, "c", q)) & set(_query(engine, "c", q, params=EXACT))) >= 9
    engine.close()


# -- the planner ------------------------------------------------------------------------------------
def test_planner_paths():
    from local_engine.index import HnswParams, plan_search, resolve
    from local_engine.index.segments import GraphSet
    from local_engine.vectors import DenseVectors

    vec = DenseVectors(DIM, "Cosine")
    data = vec.prepare(DATA)
    vec.set_rows(np.arange(N), data)
    # Segments of 1,500 offsets: the planner's per-segment logic is exercised too.
    index = GraphSet(HnswParams(DIM, "Cosine", 16, 100), segment_points=1500)
    index.build(vec.data, np.arange(N))
    assert len(index.segments) == 3
    config = models.CollectionConfig.model_validate({
        "params": {"vectors": {"size": DIM, "distance": "Cosine"}},
        "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10},
        "optimizer_config": {"default_segment_number": 0, "flush_interval_sec": 5, "indexing_threshold": 50},
    })
    settings = resolve(config, None, "Cosine", DIM)
    q = vec.prepare_query(QVECS[0])

    def run(mask, needed=10, **kw):
        return plan_search(vec, index, settings, q, mask, N, needed, **kw)

    assert run(None).path == "graph"
    assert run(None, exact=True).path == "exact"
    half = np.arange(N) % 2 == 0
    plan = run(half)
    assert plan.path == "graph-filtered" and len(plan.offsets) == 10 and half[plan.offsets].all()
    # Fewer candidates than the graph would have to return: scored exactly.
    tiny = np.zeros(N, dtype=bool)
    tiny[:5] = True
    plan = run(tiny)
    assert plan.path == "exact" and sorted(plan.offsets.tolist()) == [0, 1, 2, 3, 4]
    # A filter the query's neighbourhood never matches: retries, then never fewer than needed.
    far = CLUSTER == (QCLUSTER[0] ^ 1)
    plan = run(far, needed=50)
    assert len(plan.offsets) == 50 and far[plan.offsets].all()
    # Below full_scan_threshold and cheaper to scan: exact (Qdrant's planner rule).
    wide = resolve(config.model_copy(update={"hnsw_config": config.hnsw_config.model_copy(
        update={"full_scan_threshold": 10**6})}), None, "Cosine", DIM)
    assert plan_search(vec, index, wide, q, tiny, N, 10).path == "exact"
    # indexed_only with a graph that should exist but is not ready: nothing is indexed yet.
    assert plan_search(vec, None, settings, q, None, N, 10, indexed_only=True, graph_pending=True).path == "none"
    assert len(plan_search(vec, None, settings, q, None, N, 10, graph_pending=True).offsets) == 10


def _hold_queue(indexes) -> threading.Event:
    """Queue an item that blocks the graph worker until the returned event is set."""
    release = threading.Event()
    indexes._submit([("hold", release.wait, 0)], points=10**6)
    return release


def test_queued_graph_work_runs_in_write_order_and_searches_wait_for_it():
    """Upserts queue their graph work and return; a search first waits for the queue, so it sees
    the last write of every point — here one point rewritten twice while the worker was held."""
    from local_engine import Engine

    engine = Engine()
    _make(engine, "c")
    indexes = engine._collections["c"]._indexes
    indexes.join()
    release = _hold_queue(indexes)
    target = 7
    for q in (QVECS[2], QVECS[3]):    # both rewrites queue behind the held item
        engine.upsert_points("c", models.PointsBatch(batch=models.Batch(
            ids=[target] + list(range(N, N + 300)), vectors=[q.tolist()] + DATA[:300].tolist())))
    assert indexes.busy
    threading.Timer(0.2, release.set).start()
    hits = _query(engine, "c", QVECS[3])     # waits for the worker, then searches the graph
    assert hits[0] == target
    assert not indexes.busy and engine._collections["c"]._last_plan.path.startswith("graph")
    assert indexes.indexed_vectors_count == N + 300
    engine.close()


def test_a_writer_far_ahead_of_the_graph_waits(monkeypatch):
    from local_engine import Engine
    from local_engine.index import maintainer

    monkeypatch.setattr(maintainer, "QUEUE_MAX_BYTES", 1)
    engine = Engine()
    _make(engine, "c")
    indexes = engine._collections["c"]._indexes
    indexes.join()
    release = _hold_queue(indexes)
    batch = models.PointsBatch(batch=models.Batch(ids=list(range(N, N + 300)), vectors=DATA[:300].tolist()))
    engine.upsert_points("c", batch)          # the queue holds only the blocker: this one is queued
    second = threading.Thread(target=engine.upsert_points, args=("c", batch))
    second.start()
    second.join(0.5)
    assert second.is_alive()                  # over the bound: waits for the worker
    release.set()
    second.join(10)
    assert not second.is_alive()
    assert indexes.indexed_vectors_count == N + 300
    engine.close()


def test_a_checkpoint_skips_graphs_while_indexing_is_queued(tmp_path):
    path = str(tmp_path / "s")
    engine = _engine(path)
    _make(engine, "c")
    collection = engine._collections["c"]
    indexes = collection._indexes
    indexes.join()
    release = _hold_queue(indexes)
    indexes.save(collection._store, collection.size)            # a checkpoint: busy, so nothing is saved
    assert not [k for k in collection._store.blob_keys() if k.startswith("hnsw/")]
    release.set()
    indexes.join()
    indexes.save(collection._store, collection.size)            # idle: the graph is saved
    assert [k for k in collection._store.blob_keys() if k.startswith("hnsw/")]
    engine.close()


def test_a_worker_killed_by_a_base_exception_does_not_hang_readers(monkeypatch):
    """Items raising Exception leave their vector pending (rebuilt at the next search); even a
    BaseException that ends the worker thread must release join() and drop the queued work."""
    from local_engine import Engine

    class Fatal(BaseException):
        pass

    def die():
        raise Fatal()

    monkeypatch.setattr(threading, "excepthook", lambda args: None)   # the worker's death is expected
    engine = Engine()
    _make(engine, "c")
    indexes = engine._collections["c"]._indexes
    indexes.join()
    release = _hold_queue(indexes)
    indexes._submit([("", die, 0)], points=10**6)
    engine.upsert_points("c", models.PointsBatch(batch=models.Batch(
        ids=list(range(N, N + 300)), vectors=DATA[:300].tolist())))        # queued behind the fatal item
    release.set()
    waiter = threading.Thread(target=indexes.join)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive()
    assert not indexes.busy
    # the dropped work left the vector pending: the next search rebuilds the graph and sees everything
    hits = _query(engine, "c", DATA[5])      # points 5 and N + 5 hold this very vector
    assert {5, N + 5} <= set(hits)
    assert indexes.indexed_vectors_count == N + 300
    engine.close()


def test_deleting_a_collection_drops_its_queued_graph_work():
    """Graph work queued for a collection that is then deleted is dropped, not run: a recreated
    collection's ingest must not compete with graphs nobody will search."""
    from local_engine import Engine

    engine = Engine()
    _make(engine, "c")
    indexes = engine._collections["c"]._indexes
    indexes.join()
    graph = indexes.graphs[""]
    live_before = graph.live
    release = _hold_queue(indexes)
    engine.upsert_points("c", models.PointsBatch(batch=models.Batch(
        ids=list(range(N, N + 2000)), vectors=np.tile(DATA[:500], (4, 1)).tolist())))
    assert indexes.busy
    engine.delete_collection("c")
    release.set()
    deadline = time.monotonic() + 10
    while indexes.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not indexes.busy
    assert graph.live == live_before          # the queued insertions never ran
    engine.close()
