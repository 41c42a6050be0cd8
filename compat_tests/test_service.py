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
from sdk._exceptions import NotFoundError, UnsupportedOperationError

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
