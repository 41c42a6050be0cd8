"""query_points with dense vectors: Qdrant's score semantics, thresholds, paging, selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sdk import BadRequestError, UnsupportedOperationError, models

STORED = [[1, 0], [0, 1], [2, 0], [-1, 0]]
# Measured on Qdrant (QDRANT_REFERENCE.md §5.1), query [1, 0]:
EXPECTED = {
    models.Distance.COSINE: [(0, 1.0), (2, 1.0), (1, 0.0), (3, -1.0)],
    models.Distance.DOT: [(2, 2.0), (0, 1.0), (1, 0.0), (3, -1.0)],
    models.Distance.EUCLID: [(0, 0.0), (1, math.sqrt(2)), (2, 1.0), (3, 2.0)],
    models.Distance.MANHATTAN: [(0, 0.0), (1, 2.0), (2, 1.0), (3, 2.0)],
}


@pytest.mark.parametrize("distance", list(EXPECTED))
def test_scores_per_distance(client, distance):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=distance))
    client.upsert("s", points=[models.PointStruct(id=i, vector=v) for i, v in enumerate(STORED)])
    hits = client.query_points("s", query=[1, 0], limit=10).points
    got = {h.id: h.score for h in hits}
    for pid, score in EXPECTED[distance]:
        assert got[pid] == pytest.approx(score, abs=1e-6)
    scores = [h.score for h in hits]
    if distance in (models.Distance.COSINE, models.Distance.DOT):
        assert scores == sorted(scores, reverse=True)
    else:
        assert scores == sorted(scores)


def test_cosine_vectors_are_stored_normalised(client):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE))
    client.upsert("s", points=[models.PointStruct(id=1, vector=[3, 4])])
    vec = client.retrieve("s", ids=[1], with_vectors=True)[0].vector
    assert vec == pytest.approx([0.6, 0.8], abs=1e-6)


@pytest.mark.parametrize(
    "distance,threshold,expected",
    [
        (models.Distance.DOT, 1.0, {2}),          # strict: the point scoring exactly 1.0 is dropped
        (models.Distance.EUCLID, 1.0, {0}),       # strict: the point at distance exactly 1.0 is dropped
        (models.Distance.COSINE, 0.0, {0, 2}),
        (models.Distance.MANHATTAN, 2.0, {0, 2}),
    ],
)
def test_score_threshold_is_strict(client, distance, threshold, expected):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=distance))
    client.upsert("s", points=[models.PointStruct(id=i, vector=v) for i, v in enumerate(STORED)])
    hits = client.query_points("s", query=[1, 0], score_threshold=threshold).points
    assert {h.id for h in hits} == expected


def test_limit_offset_and_exact_flag(client):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(200, 8)).astype(np.float32)
    client.create_collection("s", vectors_config=models.VectorParams(size=8, distance=models.Distance.DOT))
    client.upload_collection("s", vectors=data, ids=range(200))
    q = rng.normal(size=8).astype(np.float32)
    expected = list(np.argsort(-(data @ q), kind="stable"))
    hits = client.query_points("s", query=q, limit=10).points
    assert [h.id for h in hits] == expected[:10]
    page2 = client.query_points("s", query=q, limit=10, offset=10, search_params=models.SearchParams(exact=True)).points
    assert [h.id for h in page2] == expected[10:20]
    np.testing.assert_allclose([h.score for h in hits], (data @ q)[expected[:10]], rtol=1e-5)


def test_filtered_search_and_selection(client):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("s", points=[
        models.PointStruct(id=i, vector=[float(i), 1.0], payload={"even": i % 2 == 0, "i": i, "nested": {"a": i}})
        for i in range(10)
    ])
    flt = models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=True))])
    hits = client.query_points("s", query=[1, 0], query_filter=flt, limit=3, with_payload=["i"], with_vectors=True).points
    assert [h.id for h in hits] == [8, 6, 4]
    assert hits[0].payload == {"i": 8}
    assert hits[0].vector == [8.0, 1.0]
    none = client.query_points("s", query=[1, 0], with_payload=False).points
    assert none[0].payload is None


def test_nearest_query_object_and_named_using(client):
    client.create_collection("s", vectors_config={"v": models.VectorParams(size=2, distance=models.Distance.DOT)})
    client.upsert("s", points=[models.PointStruct(id=i, vector={"v": [float(i), 0.0]}) for i in range(5)])
    hits = client.query_points("s", query=models.NearestQuery(nearest=[1, 0]), using="v", limit=2).points
    assert [h.id for h in hits] == [4, 3]


def test_query_without_vector_returns_points_by_id(client):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("s", points=[models.PointStruct(id=i, vector=[1.0, 0.0]) for i in (5, 1, 3)])
    hits = client.query_points("s", limit=2).points
    assert [h.id for h in hits] == [1, 3]


def test_query_dimension_mismatch(client):
    client.create_collection("s", vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT))
    client.upsert("s", points=[models.PointStruct(id=1, vector=[1, 2, 3])])
    with pytest.raises(BadRequestError, match="expected dim: 3, got 2"):
        client.query_points("s", query=[1, 2])


def test_unimplemented_query_variants_say_so(client):
    client.create_collection("s", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("s", points=[models.PointStruct(id=1, vector=[1, 2])])
    with pytest.raises(UnsupportedOperationError, match="(?i)inference"):
        client.query_points("s", query=models.Document(text="a text", model="some-model"))
