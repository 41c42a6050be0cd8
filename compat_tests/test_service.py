"""Service and cluster methods, and ``migrate``, in every mode.

The built-in engine (in process or behind our server) is one Qdrant node without distributed
mode: it answers ``info``, ``cluster_status``, ``collection_cluster_info`` and
``get_optimizations`` as such a node does, and every cluster-only method raises an error naming
the operation. Against a real Qdrant (``QDRANT_URL``) the cluster-only calls are Qdrant's to
answer, so those cases only run on the built-in engine.
"""

from __future__ import annotations

import os
import warnings

import pytest
import qdrant_client

from sdk import QdrantClient, models
from sdk._exceptions import BadRequestError, NotFoundError, UnsupportedOperationError

REAL_QDRANT = bool(os.environ.get("QDRANT_URL"))


def _fill(client, name="svc", n=120):
    client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    client.create_payload_index(name, "tag", field_schema=models.PayloadSchemaType.KEYWORD)
    client.upsert(name, points=[
        models.PointStruct(id=i, vector=[i * 0.01, 1.0, float(i % 3), 0.5], payload={"tag": f"t{i % 5}", "i": i})
        for i in range(n)
    ])


def test_info_and_cluster_status(client):
    info = client.info()
    assert isinstance(info.version, str) and info.version
    assert info.title
    status = client.cluster_status()
    if not REAL_QDRANT:
        assert status.status == "disabled"


def test_collection_cluster_info_counts_the_local_shard(client):
    _fill(client)
    info = client.collection_cluster_info("svc")
    assert info.shard_count >= 1
    assert sum(s.points_count for s in info.local_shards) == 120
    assert all(s.state == models.ReplicaState.ACTIVE for s in info.local_shards)
    with pytest.raises(NotFoundError):
        client.collection_cluster_info("missing")


def test_get_optimizations_reports_nothing_pending(client):
    _fill(client)
    got = client.get_optimizations("svc", with_=["queued", "completed"])
    assert got.running == []
    assert got.queued == [] and got.completed == []
    assert got.idle_segments is None
    assert got.summary.queued_optimizations == 0
    with pytest.raises(NotFoundError):
        client.get_optimizations("missing")


@pytest.mark.skipif(REAL_QDRANT, reason="a real server answers cluster operations itself")
@pytest.mark.parametrize("call", [
    lambda c: c.create_shard_key("svc", "k1"),
    lambda c: c.delete_shard_key("svc", "k1"),
    lambda c: c.list_shard_keys("svc"),
    lambda c: c.create_shard_snapshot("svc", 0),
    lambda c: c.list_shard_snapshots("svc", 0),
    lambda c: c.delete_shard_snapshot("svc", 0, "x.snapshot"),
    lambda c: c.recover_shard_snapshot("svc", 0, "file:///nonexistent.snapshot"),
    lambda c: c.cluster_collection_update(
        "svc", models.MoveShardOperation(move_shard=models.MoveShard(shard_id=0, to_peer_id=2, from_peer_id=1))
    ),
    lambda c: c.remove_peer(2),
    lambda c: c.recover_current_peer(),
    lambda c: c.cluster_telemetry(),
], ids=["create_shard_key", "delete_shard_key", "list_shard_keys", "create_shard_snapshot",
        "list_shard_snapshots", "delete_shard_snapshot", "recover_shard_snapshot",
        "cluster_collection_update", "remove_peer", "recover_current_peer", "cluster_telemetry"])
def test_cluster_only_operations_raise_a_clear_error(client, call):
    _fill(client, n=10)
    with pytest.raises(UnsupportedOperationError) as err:   # HTTP 501 / UNIMPLEMENTED on the wire
        call(client)
    text = str(err.value)
    assert "cluster" in text or "shard" in text, text
    assert client.count("svc").count == 10   # nothing changed


_FLT = models.Filter(must=[models.FieldCondition(key="tag", match=models.MatchValue(value="t1"))])
_SHARD_KEYED_CALLS = {
    "upsert": lambda c, k: c.upsert("svc", [models.PointStruct(id=500, vector=[1, 1, 1, 1])], shard_key_selector=k),
    "upload_points": lambda c, k: c.upload_points("svc", [models.PointStruct(id=501, vector=[1, 1, 1, 1])],
                                                  shard_key_selector=k, wait=True),
    "upload_collection": lambda c, k: c.upload_collection("svc", [[1, 1, 1, 1]], ids=[502], shard_key_selector=k,
                                                          wait=True),
    "delete": lambda c, k: c.delete("svc", [1, 2], shard_key_selector=k),
    "set_payload": lambda c, k: c.set_payload("svc", {"x": 1}, [1], shard_key_selector=k),
    "overwrite_payload": lambda c, k: c.overwrite_payload("svc", {"x": 1}, [1], shard_key_selector=k),
    "delete_payload": lambda c, k: c.delete_payload("svc", ["tag"], _FLT, shard_key_selector=k),
    "clear_payload": lambda c, k: c.clear_payload("svc", [1], shard_key_selector=k),
    "update_vectors": lambda c, k: c.update_vectors("svc", [models.PointVectors(id=1, vector=[9, 9, 9, 9])],
                                                    shard_key_selector=k),
    "delete_vectors": lambda c, k: c.delete_vectors("svc", [""], [1], shard_key_selector=k),
    "retrieve": lambda c, k: c.retrieve("svc", [1], shard_key_selector=k),
    "scroll": lambda c, k: c.scroll("svc", shard_key_selector=k),
    "count": lambda c, k: c.count("svc", shard_key_selector=k),
    "facet": lambda c, k: c.facet("svc", "tag", shard_key_selector=k),
    "query_points": lambda c, k: c.query_points("svc", [1, 0, 0, 0], shard_key_selector=k),
    "query_points_groups": lambda c, k: c.query_points_groups("svc", "tag", query=[1, 0, 0, 0], shard_key_selector=k),
    "query_batch_points": lambda c, k: c.query_batch_points(
        "svc", [models.QueryRequest(query=[1, 0, 0, 0]), models.QueryRequest(query=[0, 1, 0, 0], shard_key=k)]),
    "search_matrix_pairs": lambda c, k: c.search_matrix_pairs("svc", sample=5, limit=2, shard_key_selector=k),
    "search_matrix_offsets": lambda c, k: c.search_matrix_offsets("svc", sample=5, limit=2, shard_key_selector=k),
    "batch_update_points": lambda c, k: c.batch_update_points("svc", [
        models.DeleteOperation(delete=models.PointIdsList(points=[3])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"y": 1}, points=[4], shard_key=k)),
    ]),
}


# each call gets one of the selector forms (a keyword key, an integer key, a list of keys) in turn
_SELECTORS = ["tenant-a", 7, ["tenant-a", "tenant-b"]]


@pytest.mark.parametrize("call,selector", [(call, _SELECTORS[i % 3]) for i, call in enumerate(_SHARD_KEYED_CALLS.values())],
                         ids=list(_SHARD_KEYED_CALLS))
def test_a_shard_key_on_an_auto_sharded_collection_is_refused(client, call, selector):
    """``shard_key_selector`` reaches the engine (on the wire as the body's ``shard_key`` / gRPC's
    ``shard_key_selector``); a collection with automatic sharding has no shard keys, so Qdrant
    answers 400 "Shard key ... not found", and nothing is written or run over the whole collection."""
    _fill(client, n=20)
    before = client.scroll("svc", limit=100, with_vectors=True)[0]
    with pytest.raises(BadRequestError, match="Shard key .* not found"):
        call(client, selector)
    assert client.scroll("svc", limit=100, with_vectors=True)[0] == before


def test_a_shard_key_with_fallback_is_refused_as_missing(client):
    _fill(client, n=20)
    fallback = models.ShardKeyWithFallback(target="tenant-a", fallback="default")
    with pytest.raises(NotFoundError, match="Neither target shard key tenant-a nor fallback shard key default"):
        client.query_points("svc", [1, 0, 0, 0], shard_key_selector=fallback)
    with pytest.raises(NotFoundError, match="Collection `nowhere`"):   # the collection is looked up first
        client.count("nowhere", shard_key_selector="tenant-a")
    with pytest.raises(BadRequestError):   # not a shard key selector at all: refused before sending
        client.count("svc", shard_key_selector=1.5)
    assert client.count("svc").count == 20


def test_migrate_copies_config_indexes_and_points(client):
    source = QdrantClient(":memory:")
    _fill(source, "m1", n=300)
    source.create_collection("m2", vectors_config={"a": models.VectorParams(size=2, distance=models.Distance.EUCLID)},
                             hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64))
    source.upsert("m2", points=[models.PointStruct(id=i, vector={"a": [i, -i]}) for i in range(5)])
    source.migrate(client, batch_size=64)
    assert client.count("m1").count == 300 and client.count("m2").count == 5
    assert client.get_collection("m1").payload_schema["tag"].data_type == models.PayloadSchemaType.KEYWORD
    config = client.get_collection("m2").config
    assert config.hnsw_config.m == 8 and config.hnsw_config.ef_construct == 64
    assert config.params.vectors["a"].distance == models.Distance.EUCLID
    q = [3.0, 1.0, 1.0, 0.5]
    want = [(p.id, p.payload) for p in source.query_points("m1", query=q, limit=7, with_payload=True).points]
    got = [(p.id, p.payload) for p in client.query_points("m1", query=q, limit=7, with_payload=True).points]
    assert got == want
    # a name that exists is an error unless recreate_on_collision, and nothing is touched
    client.upsert("m2", points=[models.PointStruct(id=99, vector={"a": [0.0, 0.0]})])
    with pytest.raises(ValueError, match="already exists"):
        source.migrate(client, collection_names=["m2"])
    assert client.count("m2").count == 6
    source.migrate(client, collection_names=["m2"], recreate_on_collision=True)
    assert client.count("m2").count == 5
    source.close()


def test_migrate_into_the_official_client():
    source = QdrantClient(":memory:")
    _fill(source, "m1", n=50)
    official = qdrant_client.QdrantClient(":memory:")
    with warnings.catch_warnings():   # the official local mode may warn that payload indexes do nothing
        warnings.simplefilter("ignore", UserWarning)
        source.migrate(official)
    assert official.count("m1").count == 50
    q = [1.0, 2.0, 0.0, 1.0]
    assert [p.id for p in official.query_points("m1", query=q, limit=5).points] == \
        [p.id for p in source.query_points("m1", query=q, limit=5).points]


def test_init_options_and_fastembed_methods():
    client = QdrantClient(":memory:", timeout=7)
    assert client.init_options["location"] == ":memory:" and client.init_options["timeout"] == 7
    with pytest.raises(UnsupportedOperationError, match="fastembed"):
        client.get_embedding_size("BAAI/bge-small-en")
