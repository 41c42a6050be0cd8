"""Point writes and reads: upsert, upload, retrieve, delete, scroll, count, payload ops."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from sdk import BadRequestError, models

DIM = 4


@pytest.fixture
def coll(client):
    client.create_collection("c", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    return client


def _pt(i, payload=None, vec=None):
    x = float(i) if isinstance(i, int) else 0.5
    return models.PointStruct(id=i, vector=vec if vec is not None else [x, 1.0, 0.0, 0.0], payload=payload)


def test_upsert_and_retrieve(coll):
    res = coll.upsert("c", points=[_pt(1, {"a": 1}), _pt(2, {"b": "x"})])
    assert res.status == models.UpdateStatus.COMPLETED
    recs = coll.retrieve("c", ids=[2, 1, 99], with_vectors=True)
    by_id = {r.id: r for r in recs}
    assert set(by_id) == {1, 2}
    assert by_id[1].payload == {"a": 1}
    assert by_id[2].vector == [2.0, 1.0, 0.0, 0.0]
    no_payload = coll.retrieve("c", ids=[1], with_payload=False)
    assert no_payload[0].payload is None and no_payload[0].vector is None


def test_upsert_replaces_whole_point(coll):
    coll.upsert("c", points=[_pt(1, {"a": 1, "b": 2})])
    coll.upsert("c", points=[_pt(1, {"c": 3}, vec=[0, 0, 0, 1])])
    rec = coll.retrieve("c", ids=[1], with_vectors=True)[0]
    assert rec.payload == {"c": 3}
    assert rec.vector == [0, 0, 0, 1]
    assert coll.count("c").count == 1


def test_upsert_batch_and_dict_and_numpy(coll):
    coll.upsert("c", points=models.Batch(ids=[1, 2], vectors=[[1, 0, 0, 0], [0, 1, 0, 0]], payloads=[{"x": 1}, {"x": 2}]))
    coll.upsert("c", points=[{"id": 3, "vector": np.array([0, 0, 1, 0], dtype=np.float32), "payload": {"x": 3}}])
    coll.upsert("c", points=[models.PointStruct(id=4, vector=np.arange(4, dtype=np.float64))])
    assert coll.count("c").count == 4
    assert coll.retrieve("c", ids=[4], with_vectors=True)[0].vector == [0, 1, 2, 3]


def test_official_models_are_accepted(coll):
    qm = pytest.importorskip("qdrant_client.models")
    coll.upsert("c", points=[qm.PointStruct(id=7, vector=[1, 2, 3, 4], payload={"k": "v"})])
    flt = qm.Filter(must=[qm.FieldCondition(key="k", match=qm.MatchValue(value="v"))])
    assert coll.count("c", count_filter=flt).count == 1
    hits = coll.query_points("c", query=[1, 0, 0, 0], query_filter=flt).points
    assert [h.id for h in hits] == [7]


def test_uuid_ids_are_normalised(coll):
    u = uuid.uuid4()
    coll.upsert("c", points=[_pt(u.hex.upper())])
    assert coll.retrieve("c", ids=[str(u)])[0].id == str(u)
    assert coll.retrieve("c", ids=[u])[0].id == str(u)
    assert coll.retrieve("c", ids=[f"urn:uuid:{u}"])[0].id == str(u)


def test_bad_ids_are_rejected(coll):
    for bad in (-1, "not-a-uuid", 2**64):
        with pytest.raises(BadRequestError):
            coll.upsert("c", points=[{"id": bad, "vector": [1, 2, 3, 4]}])
    assert coll.count("c").count == 0


def test_wrong_dimension_is_rejected_and_nothing_written(coll):
    coll.upsert("c", points=[_pt(1, {"keep": True})])
    with pytest.raises(BadRequestError, match="Vector dimension error: expected dim: 4, got 3"):
        coll.upsert("c", points=[_pt(2), models.PointStruct(id=1, vector=[1, 2, 3])])
    assert coll.count("c").count == 1
    assert coll.retrieve("c", ids=[1])[0].payload == {"keep": True}


def test_unknown_vector_name_is_rejected(client):
    client.create_collection("n", vectors_config={"a": models.VectorParams(size=2, distance=models.Distance.COSINE)})
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.upsert("n", points=[models.PointStruct(id=1, vector={"b": [1, 2]})])
    with pytest.raises(BadRequestError, match="Not existing vector name"):
        client.query_points("n", query=[1, 2], using="b")
    assert client.count("n").count == 0


def test_named_vectors_and_missing_vectors(client):
    client.create_collection(
        "n",
        vectors_config={
            "a": models.VectorParams(size=2, distance=models.Distance.DOT),
            "b": models.VectorParams(size=3, distance=models.Distance.EUCLID),
        },
    )
    client.upsert("n", points=[
        models.PointStruct(id=1, vector={"a": [1, 0], "b": [0, 0, 1]}),
        models.PointStruct(id=2, vector={"a": [0, 1]}),
    ])
    rec = {r.id: r for r in client.retrieve("n", ids=[1, 2], with_vectors=True)}
    assert rec[1].vector == {"a": [1, 0], "b": [0, 0, 1]}
    assert rec[2].vector == {"a": [0, 1]}
    only_b = client.retrieve("n", ids=[1], with_vectors=["b"])[0]
    assert only_b.vector == {"b": [0, 0, 1]}
    hits = client.query_points("n", query=[0, 0, 0], using="b").points
    assert [h.id for h in hits] == [1]  # point 2 has no "b" vector


def test_upload_collection_numpy_and_iterables(coll):
    vecs = np.random.default_rng(0).normal(size=(300, DIM)).astype(np.float32)
    coll.upload_collection("c", vectors=vecs, payload=({"i": i} for i in range(300)), ids=range(300), batch_size=64)
    assert coll.count("c").count == 300
    rec = coll.retrieve("c", ids=[123], with_vectors=True)[0]
    assert rec.payload == {"i": 123}
    np.testing.assert_allclose(rec.vector, vecs[123], rtol=1e-6)
    coll.upload_collection("c", vectors=[[1, 2, 3, 4], [4, 3, 2, 1]])  # ids default to UUIDs
    assert coll.count("c").count == 302


def test_upload_points(coll):
    coll.upload_points("c", points=(_pt(i, {"i": i}) for i in range(150)), batch_size=32)
    assert coll.count("c").count == 150


def test_parallel_upload_sends_every_batch(coll):
    vecs = np.random.default_rng(1).normal(size=(1000, DIM)).astype(np.float32)
    coll.upload_collection("c", vectors=vecs, payload=({"i": i} for i in range(1000)), ids=range(1000),
                           batch_size=37, parallel=3, wait=True)
    coll.upload_points("c", points=(_pt(i, {"i": i}) for i in range(1000, 1400)), batch_size=50, parallel=4,
                       wait=True)
    assert coll.count("c").count == 1400
    recs = coll.retrieve("c", ids=[0, 36, 37, 999, 1000, 1399], with_vectors=True)
    assert [r.payload["i"] for r in sorted(recs, key=lambda r: r.id)] == [0, 36, 37, 999, 1000, 1399]
    np.testing.assert_allclose(sorted(recs, key=lambda r: r.id)[3].vector, vecs[999], rtol=1e-6)


def test_parallel_upload_raises_the_first_bad_batch(coll):
    def points():
        for i in range(300):
            yield _pt(i, vec=[1.0, 2.0] if i == 150 else None)   # point 150 has the wrong dimension
    with pytest.raises(BadRequestError):
        coll.upload_points("c", points=points(), batch_size=25, parallel=3, wait=True)
    # every batch is one upsert: the bad batch wrote nothing, the others may or may not have landed
    ids = {r.id for r in coll.scroll("c", limit=1000)[0]}
    assert not ids & set(range(150, 175))
    with pytest.raises(ValueError):
        coll.upload_points("c", points=[_pt(1)], parallel=0)


def test_delete_by_ids_and_filter(coll):
    coll.upsert("c", points=[_pt(i, {"g": i % 3}) for i in range(30)])
    coll.delete("c", points_selector=[0, 1, 2, 999])
    assert coll.count("c").count == 27
    coll.delete("c", points_selector=models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=0))]))
    assert coll.count("c").count == 18
    coll.delete("c", points_selector=models.PointIdsList(points=[4]))
    coll.delete("c", points_selector=models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=[5])])))
    assert coll.count("c").count == 16
    assert coll.retrieve("c", ids=[4, 5]) == []
    hits = coll.query_points("c", query=[1, 0, 0, 0], limit=100).points
    assert all(h.payload["g"] != 0 for h in hits) and len(hits) == 16


def test_scroll_pages_in_id_order(coll):
    ids = [5, 3, 2**64 - 1, 0, 100] + [str(uuid.UUID(int=i)) for i in (7, 1)]
    coll.upsert("c", points=[_pt(i) for i in ids])
    seen, offset = [], None
    while True:
        page, offset = coll.scroll("c", limit=2, offset=offset)
        seen += [p.id for p in page]
        if offset is None:
            break
    assert seen == [0, 3, 5, 100, 2**64 - 1, str(uuid.UUID(int=1)), str(uuid.UUID(int=7))]
    page, nxt = coll.scroll("c", limit=100)
    assert nxt is None and len(page) == len(ids)


def test_scroll_with_filter_and_payload_selection(coll):
    coll.upsert("c", points=[_pt(i, {"g": i % 2, "k": {"x": i, "y": -i}}) for i in range(10)])
    flt = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    page, _ = coll.scroll("c", scroll_filter=flt, limit=3, with_payload=["k.x"])
    assert [p.id for p in page] == [1, 3, 5]
    assert page[0].payload == {"k": {"x": 1}}
    page, _ = coll.scroll("c", scroll_filter=flt, limit=1, with_payload=models.PayloadSelectorExclude(exclude=["k"]))
    assert page[0].payload == {"g": 1}


def test_count(coll):
    coll.upsert("c", points=[_pt(i, {"n": i}) for i in range(20)])
    assert coll.count("c").count == 20
    flt = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=5, lt=15))])
    assert coll.count("c", count_filter=flt).count == 10
    assert coll.count("c", count_filter=flt, exact=False).count == 10


def test_payload_operations(coll):
    coll.upsert("c", points=[_pt(i, {"a": i, "obj": {"k": 1}}) for i in range(4)])
    coll.set_payload("c", payload={"b": "x"}, points=[0, 1])
    coll.set_payload("c", payload={"inner": 5}, points=[0], key="obj")
    coll.overwrite_payload("c", payload={"only": True}, points=[2])
    coll.delete_payload("c", keys=["a", "obj.k"], points=[1])
    coll.clear_payload("c", points_selector=[3])
    got = {r.id: r.payload for r in coll.retrieve("c", ids=[0, 1, 2, 3])}
    assert got[0] == {"a": 0, "obj": {"k": 1, "inner": 5}, "b": "x"}
    assert got[1] == {"obj": {}, "b": "x"}
    assert got[2] == {"only": True}
    assert got[3] == {}


def test_set_payload_by_filter(coll):
    coll.upsert("c", points=[_pt(i, {"g": i % 2}) for i in range(6)])
    coll.set_payload("c", payload={"odd": True}, points=models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))]))
    flt = models.Filter(must=[models.FieldCondition(key="odd", match=models.MatchValue(value=True))])
    assert coll.count("c", count_filter=flt).count == 3


def test_payload_values_are_json_in_every_mode(coll):
    import datetime

    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    coll.upsert("c", points=[_pt(1, {"when": when, "id": uuid.UUID(int=5), "n": np.int64(3)})])
    payload = coll.retrieve("c", ids=[1])[0].payload
    assert payload == {"when": "2024-05-01T12:30:00Z", "id": str(uuid.UUID(int=5)), "n": 3}


def test_malformed_filter_is_bad_request(coll):
    coll.upsert("c", points=[_pt(1)])
    with pytest.raises(BadRequestError):
        coll.count("c", count_filter={"must": [{"key": "a"}]})
    with pytest.raises(BadRequestError):
        coll.count("c", count_filter={"must": [{"nonsense": 1}]})


def test_data_survives_reopen(path_client_factory):
    client_factory = path_client_factory
    c = client_factory.open()
    c.create_collection("c", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    c.upsert("c", points=[_pt(i, {"i": i}) for i in range(50)])
    c.delete("c", points_selector=[7])
    c.set_payload("c", payload={"x": 1}, points=[8])
    before = c.query_points("c", query=[1, 2, 0, 0], limit=5).points
    c.close()
    c = client_factory.open()
    assert c.count("c").count == 49
    assert c.retrieve("c", ids=[8])[0].payload == {"i": 8, "x": 1}
    after = c.query_points("c", query=[1, 2, 0, 0], limit=5).points
    assert [(p.id, round(p.score, 5)) for p in after] == [(p.id, round(p.score, 5)) for p in before]
    c.upsert("c", points=[_pt(1000)])
    assert c.count("c").count == 50
