"""The universal query in every client mode: each Query variant, prefetch trees, ids as inputs,
lookup_from, batches, groups, distance matrices, batch updates, conditional upserts, errors.

Small hand-made collections whose answers can be worked out by hand; the randomised comparison
with the official client lives in test_congruence_query.py.
"""

from __future__ import annotations

import math

import pytest

from sdk import BadRequestError, NotFoundError, UnsupportedOperationError, models

# Points on the unit circle-ish: id -> (vector, payload)
POINTS = {
    1: ([1.0, 0.0], {"g": "a", "n": 1, "loc": {"lat": 52.52, "lon": 13.40}, "when": "2024-01-01T00:00:00Z"}),
    2: ([0.9, 0.1], {"g": "a", "n": 2, "loc": {"lat": 48.85, "lon": 2.35}, "when": "2024-01-02T00:00:00Z"}),
    3: ([0.0, 1.0], {"g": "b", "n": 3, "loc": {"lat": 51.50, "lon": -0.12}, "when": "2024-01-03T00:00:00Z"}),
    4: ([-1.0, 0.0], {"g": "b", "n": 4}),
    5: ([0.5, 0.5], {"g": ["a", "c"], "n": 5}),
    6: ([0.0, -1.0], {"g": 7, "n": 6}),
}


def _setup(client, name: str = "q", distance: models.Distance = models.Distance.DOT) -> None:
    client.create_collection(name, vectors_config={"v": models.VectorParams(size=2, distance=distance)})
    client.upsert(name, [models.PointStruct(id=i, vector={"v": v}, payload=p) for i, (v, p) in POINTS.items()])


def ids(resp) -> list:
    return [p.id for p in (resp.points if hasattr(resp, "points") else resp)]


# -- nearest, ids as inputs, lookup_from ----------------------------------------------------------------------
def test_nearest_and_ids_as_inputs(client):
    _setup(client)
    assert ids(client.query_points("q", query=[1.0, 0.0], using="v", limit=3)) == [1, 2, 5]
    # a point id stands for its vector and is excluded from the answer
    assert ids(client.query_points("q", query=1, using="v", limit=3)) == [2, 5, 3]
    assert ids(client.query_points("q", query=models.NearestQuery(nearest=1), using="v", limit=2)) == [2, 5]
    page = client.query_points("q", query=[1.0, 0.0], using="v", limit=2, offset=1, with_payload=True, with_vectors=True)
    assert ids(page) == [2, 5] and page.points[0].payload["g"] == "a" and page.points[0].vector["v"] == pytest.approx([0.9, 0.1])
    assert ids(client.query_points("q", query=[1.0, 0.0], using="v", score_threshold=0.5)) == [1, 2]


def test_lookup_from_other_collection(client):
    _setup(client)
    client.create_collection("lk", vectors_config={"w": models.VectorParams(size=2, distance=models.Distance.DOT)})
    client.upsert("lk", [models.PointStruct(id=1, vector={"w": [0.0, 1.0]})])
    # id 1 of "lk" (vector [0, 1]): point 1 of "q" is not excluded
    res = client.query_points("q", query=1, using="v", limit=6,
                              lookup_from=models.LookupLocation(collection="lk", vector="w"))
    assert ids(res)[:2] == [3, 5] and 1 in ids(res)
    with pytest.raises(NotFoundError):
        client.query_points("q", query=1, using="v", lookup_from=models.LookupLocation(collection="missing"))


def test_mmr_diversifies(client):
    _setup(client)
    plain = ids(client.query_points("q", query=[1.0, 0.0], using="v", limit=3))
    diverse = client.query_points("q", query=models.NearestQuery(nearest=[1.0, 0.0], mmr=models.Mmr(diversity=1.0, candidates_limit=6)),
                                  using="v", limit=3)
    assert ids(diverse)[0] == plain[0] == 1
    assert ids(diverse) != plain
    assert diverse.points[0].score == pytest.approx(1.0)   # scores stay the nearest-search scores


# -- recommend / discover / context / feedback --------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_recommend_strategies(client, strategy):
    _setup(client)
    res = client.query_points("q", query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=[1], negative=[[-1.0, 0.0]], strategy=strategy)), using="v", limit=2)
    assert ids(res)[0] == 2 and 1 not in ids(res)


def test_recommend_best_score_values(client):
    _setup(client)
    res = client.query_points("q", query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=[[1.0, 0.0]], strategy="best_score")), using="v", limit=1)
    # sigm(1.0) = 0.5 * (1/2 + 1)
    assert res.points[0].id == 1 and res.points[0].score == pytest.approx(0.75)


def test_discover_and_context(client):
    _setup(client)
    disc = client.query_points("q", query=models.DiscoverQuery(discover=models.DiscoverInput(
        target=[1.0, 0.0], context=[models.ContextPair(positive=[0.0, 1.0], negative=[0.0, -1.0])])), using="v", limit=3)
    # points on the positive side (rank +1) first, ordered by target similarity
    assert ids(disc) == [2, 5, 3]
    assert disc.points[0].score == pytest.approx(1 + 0.5 * (0.9 / 1.9 + 1), rel=1e-5)
    ctx = client.query_points("q", query=models.ContextQuery(context=[models.ContextPair(positive=3, negative=6)]),
                              using="v", limit=10)
    assert 3 not in ids(ctx) and 6 not in ids(ctx)
    assert all(p.score <= 0 for p in ctx.points) and ctx.points[0].score == 0.0


def test_relevance_feedback(client):
    _setup(client)
    q = models.RelevanceFeedbackQuery(relevance_feedback=models.RelevanceFeedbackInput(
        target=[1.0, 0.0], feedback=[models.FeedbackItem(example=3, score=0.9), models.FeedbackItem(example=6, score=0.1)],
        strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(a=1.0, b=1.0, c=1.0))))
    res = client.query_points("q", query=q, using="v", limit=6)
    assert 3 not in ids(res) and 6 not in ids(res)
    top = res.points[0]
    assert top.id == 5 and top.score == pytest.approx(0.5 + 0.8 * (0.5 + 0.5), rel=1e-5)


# -- prefetch, fusion, formula ----------------------------------------------------------------------------------------
def test_prefetch_rescore_and_fusion(client):
    _setup(client)
    pre = [models.Prefetch(query=[1.0, 0.0], using="v", limit=2), models.Prefetch(query=[0.0, 1.0], using="v", limit=2)]
    # rescoring sees only the prefetched points
    res = client.query_points("q", prefetch=pre, query=[-1.0, 0.0], using="v", limit=10)
    assert sorted(ids(res)) == [1, 2, 3, 5] and ids(res)[0] == 3
    rrf = client.query_points("q", prefetch=pre, query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10)
    # position 0 of a list scores 1/(1 + 2 - 1) = 0.5, position 1 scores 1/3; ties keep first appearance
    assert ids(rrf) == [1, 3, 2, 5] and [p.score for p in rrf.points] == pytest.approx([0.5, 0.5, 1 / 3, 1 / 3])
    weighted = client.query_points("q", prefetch=pre, query=models.RrfQuery(rrf=models.Rrf(k=1, weights=[1.0, 0.0])), limit=10)
    assert ids(weighted)[0] == 1 and weighted.points[0].score == pytest.approx(1.0)
    dbsf = client.query_points("q", prefetch=pre, query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10)
    assert sorted(ids(dbsf)) == [1, 2, 3, 5]
    # nested trees: the outer filter reaches the leaves
    nested = client.query_points("q", prefetch=models.Prefetch(prefetch=pre, query=models.FusionQuery(fusion="rrf"), limit=5),
                                 query=models.FusionQuery(fusion="rrf"),
                                 query_filter=models.Filter(must_not=[models.HasIdCondition(has_id=[5])]))
    assert ids(nested) == [2, 1, 3]   # without 5, point 2 is second in both leaves
    with pytest.raises(BadRequestError, match="query is needed"):
        client.query_points("q", prefetch=pre)
    with pytest.raises(BadRequestError, match="without prefetches"):
        client.query_points("q", query=models.FusionQuery(fusion="rrf"))
    with pytest.raises(BadRequestError, match="using"):
        client.query_points("q", prefetch=pre, query=models.FusionQuery(fusion="rrf"), using="v")


def test_formula(client):
    _setup(client)
    pre = models.Prefetch(query=[1.0, 0.0], using="v", limit=6)

    def formula(expr, defaults=None, limit=6):
        return client.query_points("q", prefetch=pre, limit=limit,
                                   query=models.FormulaQuery(formula=expr, defaults=defaults)).points

    by_n = formula(models.SumExpression(sum=["$score", models.MultExpression(mult=[-1, "n"])]))
    assert by_n[0].id == 1 and by_n[0].score == pytest.approx(0.0)
    cond = formula(models.SumExpression(sum=["$score", models.MultExpression(mult=[
        2, models.FieldCondition(key="g", match=models.MatchValue(value="b"))])]))
    assert ids(cond)[:2] == [3, 1]     # 0 + 2 for the match beats 1.0
    geo = formula(models.GeoDistance(geo_distance=models.GeoDistanceParams(origin=models.GeoPoint(lat=52.52, lon=13.40), to="loc")),
                  defaults={"loc": {"lat": 0.0, "lon": 0.0}})
    assert {p.id: p.score for p in geo}[1] == pytest.approx(0.0, abs=1e-3)
    dt = formula(models.DatetimeKeyExpression(datetime_key="when"), defaults={"when": "2024-01-01T00:00:00Z"})
    assert dt[0].id == 3 and dt[0].score == pytest.approx(1704240000.0, rel=1e-6)
    decay = formula(models.GaussDecayExpression(gauss_decay=models.DecayParamsExpression(x="n", target=2, scale=1.0)), limit=1)
    assert decay[0].id == 2 and decay[0].score == pytest.approx(1.0)
    lin = formula(models.LinDecayExpression(lin_decay=models.DecayParamsExpression(x="n", target=2, scale=2.0, midpoint=0.5)), limit=3)
    assert [p.score for p in lin] == pytest.approx([1.0, 0.75, 0.75])
    exp = formula(models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(x="n", target=1)), limit=1)
    assert exp[0].score == pytest.approx(1.0)
    math_ops = formula(models.SumExpression(sum=[
        models.PowExpression(pow=models.PowParams(base="n", exponent=2)), models.SqrtExpression(sqrt="n"),
        models.Log10Expression(log10="n"), models.LnExpression(ln="n"), models.ExpExpression(exp=0),
        models.AbsExpression(abs=models.NegExpression(neg="n")),
        models.DivExpression(div=models.DivParams(left="n", right=0, by_zero_default=100)),
        models.DatetimeExpression(datetime="1970-01-01T00:00:10Z"),
    ]), limit=1)
    n = 6
    assert math_ops[0].score == pytest.approx(n * n + math.sqrt(n) + math.log10(n) + math.log(n) + 1 + n + 100 + 10, rel=1e-5)
    with pytest.raises(BadRequestError, match="non-finite"):
        formula(models.DivExpression(div=models.DivParams(left="n", right=0)))
    with pytest.raises(BadRequestError, match="No value found"):
        formula("missing_key")
    with pytest.raises(BadRequestError):
        formula(models.LinDecayExpression(lin_decay=models.DecayParamsExpression(x="n", scale=0)))
    # $score[1] of a point that prefetch 1 did not return uses the default
    res = client.query_points("q", prefetch=[pre, models.Prefetch(query=[0.0, 1.0], using="v", limit=1)], limit=6,
                              query=models.FormulaQuery(formula="$score[1]", defaults={"$score[1]": -5}))
    assert res.points[0].id == 3 and res.points[-1].score == -5


# -- order_by, sample, no query -----------------------------------------------------------------------------------------
def test_order_by_sample_and_no_query(client):
    _setup(client)
    client.create_payload_index("q", "n", models.PayloadSchemaType.INTEGER)
    res = client.query_points("q", query=models.OrderByQuery(order_by=models.OrderBy(key="n", direction="desc")), limit=3)
    assert ids(res) == [6, 5, 4] and res.points[0].order_value == 6
    sample = client.query_points("q", query=models.SampleQuery(sample=models.Sample.RANDOM), limit=4,
                                 query_filter=models.Filter(must_not=[models.HasIdCondition(has_id=[1])]))
    assert len(set(ids(sample))) == 4 and 1 not in ids(sample)
    assert ids(client.query_points("q", limit=3, offset=1)) == [2, 3, 4]
    with pytest.raises(BadRequestError):
        client.query_points("q", query=models.OrderByQuery(order_by="n"), score_threshold=0.5)


# -- batch, groups, matrix ------------------------------------------------------------------------------------------------
def test_query_batch_points(client):
    _setup(client)
    answers = client.query_batch_points("q", [
        models.QueryRequest(query=[1.0, 0.0], using="v", limit=2),
        models.QueryRequest(query=3, using="v", limit=1, with_payload=True),
    ])
    assert [ids(a) for a in answers] == [[1, 2], [5]]
    assert answers[1].points[0].payload["n"] == 5


def test_query_points_groups(client):
    _setup(client)
    client.create_collection("names", vectors_config={})
    client.upsert("names", [models.PointStruct(id=7, vector={}, payload={"name": "seven"})])
    res = client.query_points_groups("q", "g", query=[1.0, 0.0], using="v", limit=3, group_size=2,
                                     with_lookup=models.WithLookup(collection="names"))
    assert [g.id for g in res.groups] == ["a", "c", "b"]
    assert [h.id for h in res.groups[0].hits] == [1, 2] and [h.id for h in res.groups[1].hits] == [5]
    assert res.groups[0].lookup is None
    everything = client.query_points_groups("q", "g", query=[1.0, 0.0], using="v", limit=10, group_size=1, with_lookup="names")
    seven = [g for g in everything.groups if g.id == 7][0]
    assert seven.lookup.payload == {"name": "seven"}
    with pytest.raises(BadRequestError):
        client.query_points_groups("q", "g", query=[1.0, 0.0], using="v", group_size=0)


def test_search_matrix(client):
    _setup(client)
    pairs = client.search_matrix_pairs("q", sample=10, limit=1, using="v")
    assert len(pairs.pairs) == 6 and {p.a for p in pairs.pairs} == set(POINTS)
    best = {p.a: (p.b, p.score) for p in pairs.pairs}
    assert best[1] == (2, pytest.approx(0.9))
    offsets = client.search_matrix_offsets("q", sample=10, limit=2, using="v",
                                           query_filter=models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value="a"))]))
    assert offsets.ids == [1, 2, 5] and offsets.offsets_row == [0, 0, 1, 1, 2, 2]
    assert len(offsets.scores) == len(offsets.offsets_col) == 6
    with pytest.raises(BadRequestError):
        client.search_matrix_pairs("q", sample=1, using="v")


# -- writes ----------------------------------------------------------------------------------------------------------------------
def test_batch_update_points(client):
    _setup(client)
    results = client.batch_update_points("q", [
        models.UpsertOperation(upsert=models.PointsList(points=[models.PointStruct(id=10, vector={"v": [1.0, 1.0]}, payload={"k": 1})])),
        models.DeleteOperation(delete=models.PointIdsList(points=[6])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"x": 1}, points=[10])),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload={"only": True}, points=[1])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["n"], points=[2])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[3])),
    ])
    assert len(results) == 6 and all(r.status == models.UpdateStatus.COMPLETED for r in results)
    got = {r.id: r.payload for r in client.retrieve("q", [1, 2, 3, 6, 10])}
    assert got == {1: {"only": True}, 2: {k: v for k, v in POINTS[2][1].items() if k != "n"}, 3: {}, 10: {"k": 1, "x": 1}}


def test_upsert_update_mode_and_filter(client):
    _setup(client)
    new_vec = {"v": [0.3, 0.3]}
    client.upsert("q", [models.PointStruct(id=1, vector=new_vec, payload={"changed": 1}),
                        models.PointStruct(id=20, vector=new_vec)], update_mode=models.UpdateMode.INSERT_ONLY)
    assert client.retrieve("q", [1])[0].payload["g"] == "a" and len(client.retrieve("q", [20])) == 1
    client.upsert("q", [models.PointStruct(id=2, vector=new_vec, payload={"changed": 2}),
                        models.PointStruct(id=21, vector=new_vec)], update_mode=models.UpdateMode.UPDATE_ONLY)
    assert client.retrieve("q", [2])[0].payload == {"changed": 2} and client.retrieve("q", [21]) == []
    only_b = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value="b"))])
    client.upsert("q", [models.PointStruct(id=3, vector=new_vec, payload={"changed": 3}),
                        models.PointStruct(id=5, vector=new_vec, payload={"changed": 5}),
                        models.PointStruct(id=22, vector=new_vec)], update_filter=only_b)
    got = {r.id: r.payload for r in client.retrieve("q", [3, 5, 22])}
    assert got[3] == {"changed": 3} and got[5]["n"] == 5 and 22 in got


# -- errors ------------------------------------------------------------------------------------------------------------------------
def test_errors(client):
    _setup(client)
    with pytest.raises(NotFoundError):
        client.query_points("missing", query=[1.0, 0.0])
    with pytest.raises(NotFoundError):
        client.query_batch_points("missing", [models.QueryRequest(query=[1.0, 0.0])])
    with pytest.raises(NotFoundError):
        client.query_points_groups("missing", "g", query=[1.0, 0.0])
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.query_points("q", query=[1.0, 0.0], using="nope")
    with pytest.raises(NotFoundError, match="99"):
        client.query_points("q", query=99, using="v")
    with pytest.raises(BadRequestError, match="dim"):
        client.query_points("q", query=[1.0, 0.0, 0.0], using="v")
    with pytest.raises(BadRequestError):
        client.query_points("q", query=models.RecommendQuery(recommend=models.RecommendInput(positive=[], strategy="average_vector")), using="v")
    with pytest.raises(BadRequestError):
        client.query_points("q", query=[1.0, 0.0], using="v", limit=0)
    with pytest.raises(UnsupportedOperationError, match="(?i)inference"):
        client.query_points("q", query=models.Document(text="t", model="m"), using="v")


# -- legacy v1.18 endpoints (older clients) --------------------------------------------------------------------------------------
def test_legacy_endpoints_answer_through_the_query_engine(remote_server):
    """``/points/search``, ``/recommend``, ``/discover`` (+ batch and group variants) on our server,
    and the legacy gRPC Search / Recommend rpcs, answer what the universal query answers."""
    import httpx

    from conftest import wipe

    wipe(remote_server)
    headers = {"api-key": remote_server.api_key} if remote_server.api_key else {}
    with httpx.Client(base_url=remote_server.url, headers=headers, timeout=30) as http:
        def post(path: str, body: dict) -> object:
            answer = http.post(f"/collections/q{path}", json=body)
            assert answer.status_code == 200, answer.text
            return answer.json()["result"]

        assert http.put("/collections/q", json={"vectors": {"v": {"size": 2, "distance": "Dot"}}}).status_code == 200
        points = [{"id": i, "vector": {"v": v}, "payload": p} for i, (v, p) in POINTS.items()]
        assert http.put("/collections/q/points?wait=true", json={"points": points}).status_code == 200
        hits = post("/points/search", {"vector": {"name": "v", "vector": [1.0, 0.0]}, "limit": 3})
        assert [h["id"] for h in hits] == [1, 2, 5]
        batch = post("/points/search/batch", {"searches": [{"vector": {"name": "v", "vector": [0.0, 1.0]}, "limit": 1}]})
        assert [[h["id"] for h in b] for b in batch] == [[3]]
        rec = post("/points/recommend", {"positive": [1], "negative": [4], "using": "v", "limit": 2, "strategy": "best_score"})
        assert [h["id"] for h in rec] == [2, 5]
        rec_batch = post("/points/recommend/batch", {"searches": [{"positive": [1], "using": "v", "limit": 1}]})
        assert [[h["id"] for h in b] for b in rec_batch] == [[2]]
        disc = post("/points/discover", {"target": [1.0, 0.0], "context": [{"positive": 3, "negative": 6}], "using": "v", "limit": 2})
        assert [h["id"] for h in disc] == [2, 5]
        groups = post("/points/search/groups", {"vector": {"name": "v", "vector": [1.0, 0.0]}, "group_by": "g", "limit": 2, "group_size": 1})
        assert [g["id"] for g in groups["groups"]] == ["a", "c"]
        rgroups = post("/points/recommend/groups", {"positive": [1], "using": "v", "group_by": "g", "limit": 1, "group_size": 2})
        assert [[h["id"] for h in g["hits"]] for g in rgroups["groups"]] == [[2, 5]]

    # the legacy gRPC rpcs (Search, SearchBatch, Recommend, Discover, SearchGroups) through our gRPC transport
    from sdk import QdrantClient

    grpc_client = QdrantClient(**remote_server.client_kwargs("grpc"))
    try:
        call = grpc_client._transport.call
        hits = call("search_points", collection_name="q",
                    body=models.SearchRequest(vector=models.NamedVector(name="v", vector=[1.0, 0.0]), limit=3))
        assert [h.id for h in hits] == [1, 2, 5]
        batch = call("search_batch_points", collection_name="q", body=models.SearchRequestBatch(searches=[
            models.SearchRequest(vector=models.NamedVector(name="v", vector=[0.0, 1.0]), limit=1)]))
        assert [[h.id for h in b] for b in batch] == [[3]]
        rec = call("recommend_points", collection_name="q", body=models.RecommendRequest(
            positive=[1], negative=[4], using="v", limit=2, strategy="best_score"))
        assert [h.id for h in rec] == [2, 5]
        disc = call("discover_points", collection_name="q", body=models.DiscoverRequest(
            target=[1.0, 0.0], context=[models.ContextExamplePair(positive=3, negative=6)], using="v", limit=2))
        assert [h.id for h in disc] == [2, 5]
        groups = call("search_point_groups", collection_name="q", body=models.SearchGroupsRequest(
            vector=models.NamedVector(name="v", vector=[1.0, 0.0]), group_by="g", limit=2, group_size=1))
        assert [g.id for g in groups.groups] == ["a", "c"]
    finally:
        grpc_client.close()
