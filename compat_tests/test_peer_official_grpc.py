"""The official qdrant-client drives our gRPC server and gets what our client gets in memory mode.

``qdrant_client.QdrantClient(host=..., grpc_port=..., prefer_grpc=True)`` runs the scenario of
``test_grpc_transport`` (collections, aliases, upserts of lists, batches and iterables, retrieve,
scroll paging, counts under many filters, queries with filter/threshold/offset/using, payload writes,
payload indexes, deletes) with its own models against our server; every answer, dumped to JSON,
must equal the answer of our client in memory mode. The official client is a peer here: it
checks that our protos, field numbers and conversions are Qdrant's, not merely self-consistent.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterator

import pytest
from pydantic import BaseModel

from conftest import SyncDriver
from test_grpc_transport import API_KEY, Served, _serve_rest, scenario
from local_engine import Engine
from local_engine.server.grpc_service import create_grpc_server
from sdk import QdrantClient

qdrant_client = pytest.importorskip("qdrant_client")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    engine = Engine()
    server, port = create_grpc_server(engine, "127.0.0.1", 0)
    server.start()
    url, stop_rest = _serve_rest(engine, None)
    try:
        yield Served(engine, url, port, None)
    finally:
        server.stop(grace=None)
        stop_rest()
        engine.close()


def as_json(value: Any) -> Any:
    """Models of either package, enums and containers as plain JSON values."""
    if isinstance(value, BaseModel):
        return as_json(value.model_dump(mode="json", by_alias=True))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def normalised(label: str, value: Any) -> Any:
    """JSON, minus the two differences that are not ours to fix:

    * qdrant-client 1.20's models have a few fields newer than Qdrant v1.19 (``id_tracker``, index
      ``nested``/``scoring``), always None here: keys holding None are dropped on both sides;
    * qdrant-client's gRPC path turns an absent payload into ``{}`` (the wire cannot tell them apart;
      our client uses the request's ``with_payload`` to answer ``None`` like REST): an empty payload
      and no payload compare equal.
    """
    return _drop_nones(as_json(value))


def _drop_nones(value: Any) -> Any:
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None and not (k == "payload" and v == {})}
    return value


@pytest.fixture(scope="module")
def ours_in_memory() -> list:
    with QdrantClient(":memory:") as client:
        return [(label, normalised(label, v)) for label, v in scenario(client)]


def official_client(served: Served, flavour: str = "sync", **kwargs: Any) -> Any:
    from qdrant_client import AsyncQdrantClient as OfficialAsyncClient
    from qdrant_client import QdrantClient as OfficialClient

    port = int(served.url.rsplit(":", 1)[1])
    kwargs = {"host": "127.0.0.1", "port": port, "grpc_port": served.grpc_port, "prefer_grpc": True, **kwargs}
    if flavour == "sync":
        return OfficialClient(**kwargs)
    return SyncDriver(OfficialAsyncClient(**kwargs))


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_official_client_over_grpc_equals_ours_in_memory(served: Served, ours_in_memory: list, flavour: str) -> None:
    from qdrant_client import models as official_models

    for name in list(served.engine._collections):
        served.engine.delete_collection(name)
    client = official_client(served, flavour)
    try:
        got = [(label, normalised(label, v)) for label, v in scenario(client, official_models)]
    finally:
        client.close()
    assert [label for label, _ in got] == [label for label, _ in ours_in_memory]
    mismatches = [label for (label, value), (_, want) in zip(got, ours_in_memory) if value != want]
    for (label, value), (_, want) in zip(got, ours_in_memory):
        assert value == want, (label, mismatches)


def _code(call: Any) -> Any:
    import grpc

    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_official_client_sees_qdrants_status_codes(served: Served) -> None:
    import grpc
    from qdrant_client import models as om

    client = official_client(served)
    try:
        code, details = _code(lambda: client.get_collection("missing"))
        assert code == grpc.StatusCode.NOT_FOUND and "missing" in details
        client.create_collection("codes", vectors_config=om.VectorParams(size=2, distance=om.Distance.DOT))
        code, _ = _code(lambda: client.upsert("codes", [om.PointStruct(id=1, vector=[1.0])]))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        code, details = _code(lambda: client.list_shard_keys("codes"))
        assert code == grpc.StatusCode.UNIMPLEMENTED and "list_shard_keys" in details
        info = client.collection_cluster_info("codes")   # one node: one local shard, as Qdrant answers
        assert info.shard_count == 1 and info.local_shards[0].points_count == 0
    finally:
        client.close()


def test_official_stub_health_check(served: Served) -> None:
    import grpc
    from qdrant_client import grpc as official_grpc

    with grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}") as channel:
        reply = official_grpc.QdrantStub(channel).HealthCheck(official_grpc.HealthCheckRequest(), timeout=5)
    assert reply.version.startswith("1.") and reply.title


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_official_client_wrong_api_key_is_unauthenticated() -> None:
    import grpc

    engine = Engine()
    server, port = create_grpc_server(engine, "127.0.0.1", 0, api_key=API_KEY)
    server.start()
    try:
        from qdrant_client import QdrantClient as OfficialClient

        wrong = OfficialClient(host="127.0.0.1", grpc_port=port, prefer_grpc=True, api_key="wrong", https=False,
                               check_compatibility=False)
        code, _ = _code(lambda: wrong.get_collections())
        assert code == grpc.StatusCode.UNAUTHENTICATED
        wrong.close()
        right = OfficialClient(host="127.0.0.1", grpc_port=port, prefer_grpc=True, api_key=API_KEY, https=False,
                               check_compatibility=False)
        assert right.get_collections().collections == []
        right.close()
    finally:
        server.stop(grace=None)
        engine.close()
