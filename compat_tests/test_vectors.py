"""Sparse vectors, multivectors, datatypes and vector operations, in every client mode.

Expected values are Qdrant's (QDRANT_REFERENCE.md §5.1, checked against qdrant-client's local
mode, which ``test_congruence_vectors.py`` compares with at random).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sdk import BadRequestError, NotFoundError, UnsupportedOperationError, models


def sv(indices, values):
    return models.SparseVector(indices=list(indices), values=list(values))


def idf(df: int, n: int) -> float:
    return math.log((n - df + 0.5) / (df + 0.5) + 1)


# -- sparse ------------------------------------------------------------------------------------------
SPARSE_POINTS = {
    1: sv([3, 1], [1.0, 2.0]),            # unsorted on input: stored sorted
    2: sv([1, 5], [0.5, 1.0]),
    3: sv([7], [4.0]),
    4: sv([], []),                        # empty is allowed, matches nothing
}


def make_sparse(client, modifier=None):
    client.create_collection(
        "s", vectors_config={},
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=modifier)},
    )
    client.upsert("s", points=[
        models.PointStruct(id=pid, vector={"text": v}, payload={"k": pid % 2}) for pid, v in SPARSE_POINTS.items()
    ] + [models.PointStruct(id=5, vector={}, payload={"k": 1})])


def test_sparse_search_scores_and_overlap(client):
    make_sparse(client)
    hits = client.query_points("s", query=sv([1, 7], [1.0, 0.5]), using="text").points
    # dot over shared indices; point 4 (empty) and 5 (no vector) share nothing: not returned
    assert [(h.id, h.score) for h in hits] == [(3, 2.0), (1, 2.0), (2, 0.5)] or \
        [(h.id, h.score) for h in hits] == [(1, 2.0), (3, 2.0), (2, 0.5)]
    # a shared index whose product is 0 still counts as an overlap
    hits = client.query_points("s", query=sv([5], [0.0]), using="text").points
    assert [(h.id, h.score) for h in hits] == [(2, 0.0)]
    # filter, threshold (strict), limit/offset
    flt = models.Filter(must=[models.FieldCondition(key="k", match=models.MatchValue(value=1))])
    hits = client.query_points("s", query=sv([1, 7], [1.0, 0.5]), using="text", query_filter=flt).points
    assert {h.id for h in hits} == {3, 1} and len(hits) == 2
    hits = client.query_points("s", query=sv([1, 7], [1.0, 0.5]), using="text", score_threshold=0.5).points
    assert {h.id for h in hits} == {1, 3}
    hits = client.query_points("s", query=sv([1, 7], [1.0, 0.5]), using="text", limit=1, offset=2).points
    assert [h.id for h in hits] == [2]


def test_sparse_vectors_come_back_sorted(client):
    make_sparse(client)
    recs = {r.id: r.vector for r in client.retrieve("s", ids=[1, 4, 5], with_vectors=True)}
    assert recs[1] == {"text": sv([1, 3], [2.0, 1.0])}
    assert recs[4] == {"text": sv([], [])}
    assert recs[5] == {}


def test_sparse_idf(client):
    make_sparse(client, modifier=models.Modifier.IDF)
    # N = 4 points hold the vector; index 1 is held by 2 of them, index 7 by 1
    hits = client.query_points("s", query=sv([1, 7], [1.0, 1.0]), using="text").points
    got = {h.id: h.score for h in hits}
    assert got[1] == pytest.approx(2.0 * idf(2, 4), rel=1e-6)
    assert got[2] == pytest.approx(0.5 * idf(2, 4), rel=1e-6)
    assert got[3] == pytest.approx(4.0 * idf(1, 4), rel=1e-6)
    # the statistics follow deletes
    client.delete("s", points_selector=models.PointIdsList(points=[2]))
    hits = client.query_points("s", query=sv([1], [1.0]), using="text").points
    assert [(h.id, pytest.approx(h.score)) for h in hits] == [(1, pytest.approx(2.0 * idf(1, 3), rel=1e-6))]


def test_sparse_idf_corpus(client):
    make_sparse(client, modifier=models.Modifier.IDF)
    corpus = models.Filter(must=[models.FieldCondition(key="k", match=models.MatchValue(value=1))])
    params = models.SearchParams(idf=models.IdfCorpusParams(corpus=corpus))
    hits = client.query_points("s", query=sv([1], [1.0]), using="text", search_params=params).points
    # corpus: points 1 and 3 (k == 1, holding the vector); index 1 held by point 1 only
    assert {h.id: h.score for h in hits}[1] == pytest.approx(2.0 * idf(1, 2), rel=1e-6)


@pytest.mark.parametrize("bad,fragment", [
    (sv([1, 1], [1.0, 2.0]), "unique"),
    ({"indices": [1, 2], "values": [1.0]}, "same length"),
])
def test_sparse_validation(client, bad, fragment):
    make_sparse(client)
    with pytest.raises(BadRequestError, match=fragment):
        client.upsert("s", points=[models.PointStruct(id=9, vector={"text": bad})])
    assert client.count("s").count == 5


def test_sparse_wrong_kind_and_name(client):
    make_sparse(client)
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.upsert("s", points=[models.PointStruct(id=9, vector={"nope": sv([1], [1.0])})])
    with pytest.raises(BadRequestError):
        client.upsert("s", points=[models.PointStruct(id=9, vector={"text": [1.0, 2.0]})])
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.query_points("s", query=sv([1], [1.0]), using="nope")


def test_sparse_has_vector_filter(client):
    make_sparse(client)
    flt = models.Filter(must=[models.HasVectorCondition(has_vector="text")])
    assert client.count("s", count_filter=flt).count == 4


# -- datatypes ---------------------------------------------------------------------------------------
def test_uint8_vectors_convert_like_qdrant(client):
    client.create_collection("u", vectors_config=models.VectorParams(size=3, distance="Dot", datatype="uint8"))
    # Qdrant converts with Rust's `as u8`: truncation toward zero, saturation, no error
    client.upsert("u", points=[models.PointStruct(id=1, vector=[-3.0, 3.9, 300.0])])
    assert client.retrieve("u", ids=[1], with_vectors=True)[0].vector == [0.0, 3.0, 255.0]
    hits = client.query_points("u", query=[1.0, 2.7, 1.0]).points   # the query converts too: [1, 2, 1]
    assert hits[0].score == pytest.approx(3 * 2 + 255)


def test_uint8_cosine_scores_from_bytes(client):
    client.create_collection("u", vectors_config=models.VectorParams(size=2, distance="Cosine", datatype="uint8"))
    client.upsert("u", points=[models.PointStruct(id=1, vector=[3, 4]), models.PointStruct(id=2, vector=[0, 0]),
                               models.PointStruct(id=3, vector=[10, 0])])
    # stored raw (a byte vector cannot be normalised), scored as a.b / (|a| |b|)
    assert client.retrieve("u", ids=[1], with_vectors=True)[0].vector == [3.0, 4.0]
    got = {h.id: h.score for h in client.query_points("u", query=[6, 8]).points}
    assert got[1] == pytest.approx(1.0) and got[3] == pytest.approx(0.6) and got[2] == 0.0


def test_float16_vectors(client):
    client.create_collection("h", vectors_config={
        "a": models.VectorParams(size=2, distance="Dot", datatype="float16"),
        "b": models.VectorParams(size=2, distance="Cosine", datatype="float16"),
    })
    client.upsert("h", points=[models.PointStruct(id=1, vector={"a": [0.1, 1000.3], "b": [3, 4]})])
    vec = client.retrieve("h", ids=[1], with_vectors=True)[0].vector
    assert vec["a"] == [float(np.float16(0.1)), float(np.float16(1000.3))]
    assert vec["b"] == pytest.approx([0.6, 0.8], abs=1e-3)
    hit = client.query_points("h", query=[1.0, 1.0], using="a").points[0]
    assert hit.score == pytest.approx(float(np.float16(0.1)) + float(np.float16(1000.3)), rel=1e-6)


def test_datatypes_shrink_the_stored_matrix():
    from local_engine import Engine
    engine = Engine()
    for dt in ("float32", "float16", "uint8"):
        engine.create_collection(dt, models.CreateCollection(
            vectors=models.VectorParams(size=64, distance="Euclid", datatype=dt)))
        engine.upsert_points(dt, models.PointsBatch(batch=models.Batch(
            ids=list(range(2000)), vectors=np.random.default_rng(0).integers(0, 255, (2000, 64)).astype(float).tolist())))
    sizes = {dt: engine._get(dt).vector_store("").data.nbytes for dt in ("float32", "float16", "uint8")}
    assert sizes["float16"] * 2 == sizes["float32"] and sizes["uint8"] * 4 == sizes["float32"]
    # and the answers agree (these values are exact in every datatype)
    q = [100.0] * 64
    answers = [[p.id for p in engine.query_points(dt, models.QueryRequest(query=q, limit=5)).points]
               for dt in ("float32", "float16", "uint8")]
    assert answers[0] == answers[1] == answers[2]


# -- several named vectors, missing ones, vector operations ------------------------------------------
def make_mixed(client):
    client.create_collection(
        "m",
        vectors_config={"img": models.VectorParams(size=2, distance="Dot"),
                        "txt": models.VectorParams(size=3, distance="Euclid", datatype="float16")},
        sparse_vectors_config={"kw": models.SparseVectorParams()},
    )
    client.upsert("m", points=[
        models.PointStruct(id=1, vector={"img": [1, 0], "txt": [0, 0, 1], "kw": sv([1], [1.0])}, payload={"g": "a"}),
        models.PointStruct(id=2, vector={"img": [0, 1]}, payload={"g": "b"}),
        models.PointStruct(id=3, vector={"kw": sv([1, 2], [2.0, 1.0])}, payload={"g": "a"}),
        models.PointStruct(id=4, vector={}, payload={"g": "b"}),
    ])


def vectors_of(client, ids):
    return {r.id: r.vector for r in client.retrieve("m", ids=ids, with_vectors=True)}


def test_named_vectors_with_missing_ones(client):
    make_mixed(client)
    got = vectors_of(client, [1, 2, 3, 4])
    assert got[1] == {"img": [1.0, 0.0], "txt": [0.0, 0.0, 1.0], "kw": sv([1], [1.0])}
    assert got[2] == {"img": [0.0, 1.0]} and got[3] == {"kw": sv([1, 2], [2.0, 1.0])} and got[4] == {}
    only = client.retrieve("m", ids=[1], with_vectors=["kw"])[0].vector
    assert only == {"kw": sv([1], [1.0])}
    assert [h.id for h in client.query_points("m", query=[1, 1], using="img").points] == [1, 2] or \
        {h.id for h in client.query_points("m", query=[1, 1], using="img").points} == {1, 2}
    assert [h.id for h in client.query_points("m", query=sv([2], [1.0]), using="kw").points] == [3]
    flt = models.Filter(must=[models.HasVectorCondition(has_vector="txt")])
    assert client.count("m", count_filter=flt).count == 1


def test_update_vectors_keeps_the_others(client):
    make_mixed(client)
    client.update_vectors("m", points=[
        models.PointVectors(id=2, vector={"txt": [1, 1, 1], "kw": sv([5], [1.0])}),
        models.PointVectors(id=4, vector={"img": np.array([2.0, 2.0])}),
    ])
    got = vectors_of(client, [2, 4])
    assert got[2] == {"img": [0.0, 1.0], "txt": [1.0, 1.0, 1.0], "kw": sv([5], [1.0])}
    assert got[4] == {"img": [2.0, 2.0]}
    assert client.retrieve("m", ids=[2])[0].payload == {"g": "b"}
    assert [h.id for h in client.query_points("m", query=sv([5], [1.0]), using="kw").points] == [2]
    assert client.query_points("m", query=[1, 1], using="img").points[0].id == 4


def test_update_vectors_with_update_filter(client):
    make_mixed(client)
    only_a = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value="a"))])
    client.update_vectors("m", points=[models.PointVectors(id=2, vector={"img": [5, 5]}),
                                       models.PointVectors(id=3, vector={"img": [7, 7]})], update_filter=only_a)
    got = vectors_of(client, [2, 3])
    assert got[2]["img"] == [0.0, 1.0]          # g == "b": left alone
    assert got[3]["img"] == [7.0, 7.0]


def test_update_vectors_errors(client):
    make_mixed(client)
    with pytest.raises(NotFoundError, match="No point with id 99 found"):
        client.update_vectors("m", points=[models.PointVectors(id=1, vector={"img": [9, 9]}),
                                           models.PointVectors(id=99, vector={"img": [1, 1]})])
    assert vectors_of(client, [1])[1]["img"] == [1.0, 0.0]   # nothing written
    with pytest.raises(BadRequestError, match="Vector dimension error: expected dim: 2, got 3"):
        client.update_vectors("m", points=[models.PointVectors(id=1, vector={"img": [1, 2, 3]})])
    with pytest.raises(BadRequestError, match="Not existing vector name error: nope"):
        client.update_vectors("m", points=[models.PointVectors(id=1, vector={"nope": [1, 2]})])


def test_delete_vectors(client):
    make_mixed(client)
    client.delete_vectors("m", vectors=["img", "kw"], points=[1])
    assert vectors_of(client, [1])[1] == {"txt": [0.0, 0.0, 1.0]}
    assert [h.id for h in client.query_points("m", query=[1, 1], using="img").points] == [2]
    by_group = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value="a"))])
    client.delete_vectors("m", vectors=["kw"], points=by_group)
    assert client.query_points("m", query=sv([1, 2], [1.0, 1.0]), using="kw").points == []
    assert client.count("m").count == 4                      # the points stay
    with pytest.raises(BadRequestError, match="Not existing vector name error: nope"):
        client.delete_vectors("m", vectors=["nope"], points=[2])
    with pytest.raises(NotFoundError):
        client.delete_vectors("m", vectors=["img"], points=[98])


def test_create_and_delete_vector_name(client):
    make_mixed(client)
    client.create_vector_name("m", "extra", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=2, distance="Cosine")))
    client.create_vector_name("m", "extra", models.DenseVectorNameConfig(     # same again: a no-op
        dense=models.DenseVectorConfig(size=2, distance="Cosine")))
    with pytest.raises(BadRequestError):
        client.create_vector_name("m", "extra", models.DenseVectorNameConfig(
            dense=models.DenseVectorConfig(size=3, distance="Cosine")))
    client.create_vector_name("m", "kw2", models.SparseVectorNameConfig(
        sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)))
    params = client.get_collection("m").config.params
    assert params.vectors["extra"].size == 2 and params.sparse_vectors["kw2"].modifier == models.Modifier.IDF
    assert vectors_of(client, [1])[1].keys() == {"img", "txt", "kw"}       # existing points lack it
    client.update_vectors("m", points=[models.PointVectors(id=4, vector={"extra": [3, 4], "kw2": sv([1], [1.0])})])
    assert client.query_points("m", query=[3, 4], using="extra").points[0].id == 4
    assert client.query_points("m", query=[3, 4], using="extra").points[0].score == pytest.approx(1.0)

    client.delete_vector_name("m", "img")
    client.delete_vector_name("m", "kw")
    client.delete_vector_name("m", "never-existed")                       # a no-op
    params = client.get_collection("m").config.params
    assert set(params.vectors) == {"txt", "extra"} and set(params.sparse_vectors) == {"kw2"}
    assert vectors_of(client, [1, 2]) == {1: {"txt": [0.0, 0.0, 1.0]}, 2: {}}
    with pytest.raises(BadRequestError, match="Not existing vector name error: img"):
        client.query_points("m", query=[1, 1], using="img")
    # a new vector of the same name starts empty
    client.create_vector_name("m", "img", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=4, distance="Dot")))
    assert client.query_points("m", query=[1, 1, 1, 1], using="img").points == []


# -- persistence ---------------------------------------------------------------------------------------
def _answers(client):
    return (
        [(h.id, round(h.score, 5)) for h in client.query_points("m", query=sv([1, 2], [1.0, 1.0]), using="kw").points],
        [(h.id, round(h.score, 5)) for h in client.query_points("m", query=[1, 2, 3], using="txt").points],
        {r.id: r.vector for r in client.scroll("m", with_vectors=True, limit=100)[0]},
    )


def test_vectors_survive_reopen(path_client_factory):
    client = path_client_factory.open()
    make_mixed(client)
    client.update_vectors("m", points=[models.PointVectors(id=2, vector={"txt": [1, 1, 1], "kw": sv([2], [3.0])})])
    client.delete_vectors("m", vectors=["img"], points=[1])
    client.create_vector_name("m", "extra", models.SparseVectorNameConfig(sparse=models.SparseVectorConfig()))
    client.update_vectors("m", points=[models.PointVectors(id=4, vector={"extra": sv([9], [1.0])})])
    client.delete_vector_name("m", "img")
    client.create_collection("mv", vectors_config={
        "c": models.VectorParams(size=2, distance="Cosine", datatype="float16",
                                 multivector_config=models.MultiVectorConfig(comparator="max_sim")),
        "u": models.VectorParams(size=2, distance="Euclid", datatype="uint8",
                                 multivector_config=models.MultiVectorConfig(comparator="max_sim"))})
    client.upsert("mv", points=[models.PointStruct(id=i, vector={"c": [[i, 1], [1, i + 1]], "u": [[i, 2 * i]]})
                                for i in range(1, 30)])
    client.update_vectors("mv", points=[models.PointVectors(id=3, vector={"c": [[1, 0]]})])

    def multi_answers(c):
        return ([(h.id, h.score) for h in c.query_points("mv", query=[[1, 0.5]], using="c").points],
                [(h.id, h.score) for h in c.query_points("mv", query=[[3, 3], [7, 1]], using="u").points],
                {r.id: r.vector for r in c.scroll("mv", with_vectors=True, limit=100)[0]})

    before = _answers(client), multi_answers(client)
    client.close()
    client = path_client_factory.open()
    assert (_answers(client), multi_answers(client)) == before
    assert client.get_collection("m").config.params.sparse_vectors.keys() == {"kw", "extra"}
    # a recreated name of another size never sees the old rows
    client.create_vector_name("m", "img", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=3, distance="Dot")))
    client.close()
    client = path_client_factory.open()
    assert client.query_points("m", query=[1, 1, 1], using="img").points == []


# -- multivectors ----------------------------------------------------------------------------------
MULTI = {1: [[1, 0], [0, 1]], 2: [[2, 0]], 3: [[-1, 0], [0, -1], [1, 1]]}


def _max_sim(query, matrix, distance):
    q, m = np.asarray(query, float), np.asarray(matrix, float)
    if distance == "Cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
    if distance in ("Cosine", "Dot"):
        return float((q @ m.T).max(axis=1).sum())
    if distance == "Euclid":
        return math.sqrt(abs(float((-((q[:, None] - m[None]) ** 2).sum(-1)).max(axis=1).sum())))
    return abs(float((-np.abs(q[:, None] - m[None]).sum(-1)).max(axis=1).sum()))


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_multivector_max_sim(client, distance):
    client.create_collection("mv", vectors_config=models.VectorParams(
        size=2, distance=distance, multivector_config=models.MultiVectorConfig(comparator="max_sim")))
    client.upsert("mv", points=[models.PointStruct(id=i, vector=m) for i, m in MULTI.items()])
    query = [[1, 0.5], [0, 2]]
    hits = client.query_points("mv", query=query, limit=10).points
    expected = {i: _max_sim(query, m, distance) for i, m in MULTI.items()}
    assert {h.id: pytest.approx(h.score, abs=1e-5) for h in hits} == {i: pytest.approx(s, abs=1e-5) for i, s in expected.items()}
    scores = [h.score for h in hits]
    assert scores == (sorted(scores, reverse=True) if distance in ("Cosine", "Dot") else sorted(scores))
    vec = client.retrieve("mv", ids=[2], with_vectors=True)[0].vector
    assert vec == ([[1.0, 0.0]] if distance == "Cosine" else [[2.0, 0.0]])   # a list of lists


def test_multivector_named_with_dense_and_errors(client):
    client.create_collection("mv", vectors_config={
        "colbert": models.VectorParams(size=3, distance="Dot", datatype="float16",
                                       multivector_config=models.MultiVectorConfig(comparator="max_sim")),
        "dense": models.VectorParams(size=3, distance="Dot"),
    })
    client.upsert("mv", points=[
        models.PointStruct(id=1, vector={"colbert": [[1, 0, 0], [0, 1, 0]], "dense": [1, 1, 1]}),
        models.PointStruct(id=2, vector={"colbert": np.array([[0, 0, 3]])}),
    ])
    hits = client.query_points("mv", query=[[0, 0, 1], [1, 0, 0]], using="colbert").points
    assert [(h.id, h.score) for h in hits] == [(2, 3.0), (1, 1.0)]
    with pytest.raises(BadRequestError, match="expected dim: 3, got 2"):
        client.upsert("mv", points=[models.PointStruct(id=3, vector={"colbert": [[1, 0]]})])
    with pytest.raises(BadRequestError, match="expected dim: 3, got 2"):
        client.query_points("mv", query=[[1, 0]], using="colbert")
    with pytest.raises(BadRequestError):
        client.upsert("mv", points=[models.PointStruct(id=3, vector={"colbert": []})])
    with pytest.raises(BadRequestError):
        client.upsert("mv", points=[models.PointStruct(id=3, vector={"dense": [[1, 0, 0]]})])
    client.update_vectors("mv", points=[models.PointVectors(id=2, vector={"colbert": [[5, 0, 0], [0, 0, 1]]})])
    assert client.query_points("mv", query=[[1, 0, 0]], using="colbert").points[0].score == 5.0
    client.create_vector_name("mv", "late", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(
        size=2, distance="Euclid", multivector_config=models.MultiVectorConfig(comparator="max_sim"))))
    client.update_vectors("mv", points=[models.PointVectors(id=1, vector={"late": [[0, 0], [3, 4]]})])
    assert client.query_points("mv", query=[[3, 4]], using="late").points[0].score == 0.0


# -- snapshots -------------------------------------------------------------------------------------
def test_snapshot_round_trip_of_every_vector_kind(client, tmp_path):
    make_mixed(client)
    client.create_vector_name("m", "colbert", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(
        size=2, distance="Dot", datatype="uint8", multivector_config=models.MultiVectorConfig(comparator="max_sim"))))
    client.update_vectors("m", points=[models.PointVectors(id=2, vector={"colbert": [[1, 2], [300, -4]]})])
    client.delete("m", points_selector=[4])
    before = _answers(client), vectors_of(client, [1, 2, 3])
    snap = client.create_snapshot("m")
    path = Path(client.download_snapshot("m", snap.name, tmp_path / "m.snapshot"))
    client.update_vectors("m", points=[models.PointVectors(id=1, vector={"kw": sv([2], [9.0])})])
    client.delete_vectors("m", vectors=["txt"], points=[1])
    client.upload_snapshot("m", path)
    assert (_answers(client), vectors_of(client, [1, 2, 3])) == before
    assert vectors_of(client, [2])[2]["colbert"] == [[1.0, 2.0], [255.0, 0.0]]


def test_update_collection_sparse_params(client):
    make_sparse(client)
    assert client.query_points("s", query=sv([7], [1.0]), using="text").points[0].score == 4.0
    client.update_collection("s", sparse_vectors_config={"text": models.SparseVectorParams(modifier=models.Modifier.IDF)})
    assert client.get_collection("s").config.params.sparse_vectors["text"].modifier == models.Modifier.IDF
    hit = client.query_points("s", query=sv([7], [1.0]), using="text").points[0]
    assert hit.score == pytest.approx(4.0 * idf(1, 4), rel=1e-6)
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.update_collection("s", sparse_vectors_config={"nope": models.SparseVectorParams()})


def test_uint8_cosine_refuses_quantization(client):
    scalar = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type="int8"))
    with pytest.raises(UnsupportedOperationError, match="uint8 Cosine"):
        client.create_collection("q", vectors_config=models.VectorParams(size=4, distance="Cosine", datatype="uint8"),
                                 quantization_config=scalar)
    client.create_collection("q", vectors_config=models.VectorParams(size=4, distance="Cosine", datatype="uint8"))
    with pytest.raises(UnsupportedOperationError, match="uint8 Cosine"):
        client.update_collection("q", quantization_config=scalar)
    assert client.get_collection("q").config.quantization_config is None


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_large_contiguous_scans_split_across_threads_score_like_numpy(distance, monkeypatch):
    """A scan of >= _SPLIT_ROWS contiguous rows runs its second half on a helper thread: every
    score must equal the one-thread block scan and a plain numpy reference."""
    from local_engine import vectors as V

    rng = np.random.default_rng(11)
    n, dim = V._SPLIT_ROWS * 2 + 777, 24
    store = V.DenseVectors(dim, distance)
    store.reserve(n)
    store.set_rows(np.arange(n), store.prepare(rng.standard_normal((n, dim)).astype(np.float32)))
    q = store.prepare_query(rng.standard_normal(dim).astype(np.float32))
    offsets = np.arange(n)
    split = store.scores(q, offsets)
    monkeypatch.setattr(V, "_SPLIT_ROWS", 10**12)
    single = store.scores(q, offsets)
    assert np.array_equal(split, single)
    rows = store.data[:n]
    reference = {
        "Cosine": rows @ q, "Dot": rows @ q,
        "Euclid": np.sqrt(((rows - q) ** 2).sum(axis=1)), "Manhattan": np.abs(rows - q).sum(axis=1),
    }[distance]
    np.testing.assert_allclose(split, reference, rtol=1e-5, atol=1e-5)
