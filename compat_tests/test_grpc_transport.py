"""Our clients with ``prefer_grpc=True`` against our gRPC server, in process.

The fixture serves one in-memory ``Engine`` on ``create_grpc_server`` (free port) and on the REST app
(uvicorn in a thread; the REST-only operations -- snapshot download/recover, GET of one point --
fall back to it, as qdrant-client does). A scenario of collections, aliases, points, payloads,
filters, queries and payload indexes runs through the sync and the async client and must give
exactly what the same scenario gives in memory mode. Then: gRPC status codes reach the caller as
the typed exceptions, the api-key / bearer checks, deadlines, big messages, channel reuse, TLS and
channel options.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import grpc
import numpy as np
import pytest

from conftest import SyncDriver
from local_engine import Engine
from local_engine.server.grpc_service import create_grpc_server
from sdk import AsyncQdrantClient, QdrantClient
from sdk import models as m
from sdk._exceptions import (
    BadRequestError, ConnectError, NotFoundError, RequestTimeoutError, UnauthorizedError, UnsupportedOperationError,
)
from sdk._location import RemoteOptions, resolve_location
from sdk._transport.grpc import AsyncGrpcTransport, GrpcTransport

API_KEY = "s3cret-key"


@dataclass
class Served:
    engine: Any
    url: str
    grpc_port: int
    api_key: Optional[str]


def _serve_rest(engine: Any, api_key: Optional[str]) -> tuple[str, Callable[[], None]]:
    import uvicorn

    from local_engine.server.rest import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, api_key=api_key), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the REST app did not start"

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture(scope="module", params=[None, API_KEY], ids=["open", "keyed"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    engine = Engine()
    server, port = create_grpc_server(engine, "127.0.0.1", 0, api_key=request.param)
    server.start()
    url, stop_rest = _serve_rest(engine, request.param)
    try:
        yield Served(engine, url, port, request.param)
    finally:
        server.stop(grace=None)
        stop_rest()
        engine.close()


def grpc_client(served: Served, flavour: str = "sync", **kwargs: Any) -> Any:
    kwargs = {"url": served.url, "grpc_port": served.grpc_port, "prefer_grpc": True, "api_key": served.api_key, **kwargs}
    if flavour == "sync":
        return QdrantClient(**kwargs)
    return SyncDriver(AsyncQdrantClient(**kwargs))


@pytest.fixture
def clean(served: Served) -> Served:
    for name in list(served.engine._collections):
        served.engine.delete_collection(name)
    return served


# -- the scenario ------------------------------------------------------------------------------------------------------
DIM = 4


def _vec(i: int) -> list[float]:
    rng = np.random.default_rng(i)
    return rng.standard_normal(DIM).astype(np.float32).tolist()


def _payload(i: int) -> dict:
    return {
        "i": i, "city": ["Berlin", "London", "Paris"][i % 3], "price": i * 1.5, "even": i % 2 == 0,
        "tags": ["a", "b"] if i % 4 == 0 else (["c"] if i % 4 == 1 else []),
        "nested": {"level": i % 5, "arr": [{"k": i}, {"k": None}]}, "maybe": None if i % 3 == 0 else i,
    }


def scenario(client: Any, m: Any = m) -> list[tuple[str, Any]]:
    """Everything the facade offers over the gRPC rpcs; the recorded answers are compared across modes.

    ``m`` is the models module: ours, or qdrant-client's when the official client runs it."""
    out: list[tuple[str, Any]] = []

    def rec(label: str, value: Any) -> None:
        # operation ids and point versions count per engine, not per scenario
        if type(value).__name__ == "UpdateResult":
            value = value.status
        elif type(value).__name__ == "QueryResponse":
            value = [p.model_copy(update={"version": 0}) for p in value.points]
        out.append((label, value))

    rec("create", client.create_collection("points", vectors_config={
        "dense": m.VectorParams(size=DIM, distance=m.Distance.COSINE),
        "dot": m.VectorParams(size=2, distance=m.Distance.DOT)}))
    rec("create plain", client.create_collection("plain", vectors_config=m.VectorParams(size=DIM, distance=m.Distance.EUCLID),
                                                 metadata={"owner": "tests", "n": [1, None]}))
    rec("exists", client.collection_exists("points"))
    rec("exists missing", client.collection_exists("nope"))
    rec("list", sorted(c.name for c in client.get_collections().collections))
    rec("update", client.update_collection("plain", optimizers_config=m.OptimizersConfigDiff(indexing_threshold=5000),
                                           metadata={"n": None, "extra": {"x": 1}}))
    rec("info plain", client.get_collection("plain").config)

    # aliases
    rec("alias create", client.update_collection_aliases([
        m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name="points", alias_name="p1")),
        m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name="plain", alias_name="p2"))]))
    rec("alias rename", client.update_collection_aliases([
        m.RenameAliasOperation(rename_alias=m.RenameAlias(old_alias_name="p2", new_alias_name="p3"))]))
    rec("aliases", client.get_aliases())
    rec("collection aliases", client.get_collection_aliases("points"))

    # writes: a list of points, a numpy batch, an iterable of points
    ids = list(range(1, 31)) + [str(uuid.UUID(int=i)) for i in range(31, 41)]
    rec("upsert list", client.upsert("points", [
        m.PointStruct(id=pid, vector={"dense": _vec(n), "dot": [float(n), 1.0]}, payload=_payload(n))
        for n, pid in enumerate(ids[:20])]))
    rec("upsert batch", client.upsert("points", m.Batch(
        ids=ids[20:30], vectors={"dense": [_vec(n) for n in range(20, 30)], "dot": [[float(n), 1.0] for n in range(20, 30)]},
        payloads=[_payload(n) for n in range(20, 30)])))
    client.upload_points("points", (m.PointStruct(id=ids[n], vector={"dense": _vec(n), "dot": [float(n), 1.0]},
                                                  payload=_payload(n)) for n in range(30, 40)), batch_size=3, wait=True)
    client.upload_collection("plain", vectors=np.stack([np.asarray(_vec(n), dtype=np.float32) for n in range(25)]),
                             payload=[_payload(n) for n in range(25)], ids=list(range(25)), batch_size=7, wait=True)
    rec("count all", client.count("points"))
    rec("count plain", client.count("plain"))

    # reads
    rec("retrieve", client.retrieve("points", [1, ids[35], 999], with_vectors=True))
    rec("retrieve no payload", client.retrieve("points", [2], with_payload=False))
    rec("retrieve selector", client.retrieve("points", [3], with_payload=["city", "nested.level"], with_vectors=["dot"]))
    rec("retrieve exclude", client.retrieve("points", [3], with_payload=m.PayloadSelectorExclude(exclude=["nested"])))
    pages, offset = [], None
    while True:
        page, offset = client.scroll("points", limit=7, offset=offset, with_payload=["i"])
        pages.append(page)
        if offset is None:
            break
    rec("scroll pages", pages)
    flt = m.Filter(
        must=[m.FieldCondition(key="city", match=m.MatchAny(any=["Berlin", "Paris"]))],
        should=[m.FieldCondition(key="price", range=m.Range(gte=3.0, lt=30.0)),
                m.FieldCondition(key="tags", match=m.MatchValue(value="c"))],
        must_not=[m.FieldCondition(key="even", match=m.MatchValue(value=True))])
    rec("scroll filter", client.scroll("points", scroll_filter=flt, limit=100))
    rec("count filter", client.count("points", count_filter=flt))
    rec("count nested", client.count("points", count_filter=m.Filter(must=[m.NestedCondition(nested=m.Nested(
        key="nested.arr", filter=m.Filter(must=[m.IsNullCondition(is_null=m.PayloadField(key="k"))])))])))
    rec("count empty", client.count("points", count_filter=m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="tags"))])))
    rec("count null", client.count("points", count_filter=m.Filter(must=[m.IsNullCondition(is_null=m.PayloadField(key="maybe"))])))
    rec("count has_id", client.count("points", count_filter=m.Filter(must=[m.HasIdCondition(has_id=[1, 2, ids[33]])])))
    rec("count min_should", client.count("points", count_filter=m.Filter(min_should=m.MinShould(conditions=[
        m.FieldCondition(key="city", match=m.MatchValue(value="London")),
        m.FieldCondition(key="even", match=m.MatchValue(value=True)),
        m.FieldCondition(key="nested.level", range=m.Range(lte=2))], min_count=2))))
    rec("count except", client.count("points", count_filter=m.Filter(must=[
        m.FieldCondition(key="nested.level", match=m.MatchExcept(**{"except": [0, 1]}))])))
    rec("count values", client.count("points", count_filter=m.Filter(must=[
        m.FieldCondition(key="tags", values_count=m.ValuesCount(gte=2))])))

    # queries
    q = _vec(100)
    rec("query", client.query_points("points", query=q, using="dense", limit=5))
    rec("query filtered", client.query_points("points", query=q, using="dense", query_filter=flt, limit=5,
                                              with_payload=True, with_vectors=["dot"]))
    rec("query threshold", client.query_points("points", query=q, using="dense", score_threshold=0.2, limit=50))
    rec("query offset", client.query_points("points", query=q, using="dense", limit=3, offset=4, with_payload=["city"]))
    rec("query dot", client.query_points("points", query=[1.0, 0.5], using="dot", limit=4,
                                         search_params=m.SearchParams(exact=True)))
    rec("query numpy", client.query_points("plain", query=np.asarray(q, dtype=np.float32), limit=3, with_vectors=True))
    rec("query nearest model", client.query_points("plain", query=m.NearestQuery(nearest=q), limit=2))
    rec("query no vector", client.query_points("plain", limit=4, query_filter=m.Filter(must=[
        m.FieldCondition(key="even", match=m.MatchValue(value=False))])))

    # payload writes
    rec("set", client.set_payload("points", {"new": {"x": [1, 2]}, "nil": None}, points=[1, 2]))
    rec("set key", client.set_payload("points", {"y": 5}, points=[1], key="new"))
    rec("set filter", client.set_payload("points", {"flag": True}, points=m.Filter(must=[
        m.FieldCondition(key="city", match=m.MatchValue(value="Paris"))])))
    rec("overwrite", client.overwrite_payload("points", {"only": "this"}, points=[3]))
    rec("delete keys", client.delete_payload("points", ["city", "nested.arr[].k"], points=[4, 5]))
    rec("clear", client.clear_payload("points", points_selector=[6]))
    rec("after payload ops", client.retrieve("points", [1, 2, 3, 4, 5, 6, 9]))

    # payload indexes
    rec("index keyword", client.create_payload_index("points", "city", m.PayloadSchemaType.KEYWORD))
    rec("index int", client.create_payload_index("points", "i", m.IntegerIndexParams(type=m.IntegerIndexType.INTEGER,
                                                                                    lookup=True, range=True)))
    rec("index text", client.create_payload_index("points", "only", m.TextIndexParams(
        type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.WORD, lowercase=True)))
    rec("schema", client.get_collection("points").payload_schema)
    rec("index drop", client.delete_payload_index("points", "i"))
    rec("schema after drop", sorted(client.get_collection("points").payload_schema))

    # deletes
    rec("delete ids", client.delete("points", points_selector=[1, ids[39]]))
    rec("delete filter", client.delete("points", points_selector=m.FilterSelector(filter=m.Filter(must=[
        m.FieldCondition(key="i", range=m.Range(gt=25))]))))
    rec("count after delete", client.count("points"))
    info = client.get_collection("points")
    rec("info", (info.status, info.points_count, info.config.params, info.segments_count))
    rec("alias delete", client.update_collection_aliases([
        m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name="p3"))]))
    rec("drop", client.delete_collection("plain"))
    rec("drop again", client.delete_collection("plain"))
    rec("list end", sorted(c.name for c in client.get_collections().collections))
    return out


@pytest.fixture(scope="module")
def expected() -> list[tuple[str, Any]]:
    with QdrantClient(":memory:") as client:
        return scenario(client)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_scenario_equals_memory_mode(clean: Served, expected: list, flavour: str) -> None:
    client = grpc_client(clean, flavour)
    try:
        got = scenario(client)
    finally:
        client.close()
    assert [label for label, _ in got] == [label for label, _ in expected]
    for (label, value), (_, want) in zip(got, expected):
        assert value == want, label


# -- errors -----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_status_codes_become_typed_errors(clean: Served, flavour: str) -> None:
    client = grpc_client(clean, flavour)
    try:
        with pytest.raises(NotFoundError, match="Collection `missing` doesn't exist"):
            client.get_collection("missing")
        with pytest.raises(NotFoundError):
            client.upsert("missing", [m.PointStruct(id=1, vector=[1.0])])
        client.create_collection("c", vectors_config=m.VectorParams(size=2, distance=m.Distance.DOT))
        with pytest.raises(BadRequestError, match="already exists"):
            client.create_collection("c", vectors_config=m.VectorParams(size=2, distance=m.Distance.DOT))
        with pytest.raises(BadRequestError, match="dimension"):
            client.upsert("c", [m.PointStruct(id=1, vector=[1.0, 2.0, 3.0])])
        with pytest.raises(BadRequestError):
            client.query_points("c", query=[1.0])
        # the engine has no inference service: UNIMPLEMENTED, naming it
        with pytest.raises(UnsupportedOperationError, match="(?i)inference"):
            client.query_points("c", query=m.Document(text="a text", model="some-model"))
        transport = client._transport if flavour == "sync" else client._client._transport
        call = transport.call if flavour == "sync" else (lambda *a, **k: client._loop.run_until_complete(transport.call(*a, **k)))
        # cluster rpcs are not converted by the client
        with pytest.raises(UnsupportedOperationError, match="list_shard_keys"):
            call("list_shard_keys", collection_name="c")
    finally:
        client.close()


def test_unconverted_rpc_answers_unimplemented_naming_it(served: Served) -> None:
    from sdk._grpc import collections_pb2

    metadata = (("api-key", served.api_key),) if served.api_key else ()
    with grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}") as channel:
        rpc = channel.unary_unary("/qdrant.Collections/ListShardKeys",
                                  request_serializer=collections_pb2.ListShardKeysRequest.SerializeToString,
                                  response_deserializer=collections_pb2.ListShardKeysResponse.FromString)
        with pytest.raises(grpc.RpcError) as info:
            rpc(collections_pb2.ListShardKeysRequest(collection_name="c"), metadata=metadata, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "list_shard_keys" in info.value.details()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_api_key_is_checked(served: Served, flavour: str) -> None:
    if served.api_key is None:
        pytest.skip("the open server takes any key")
    for wrong in ("wrong", None):
        client = grpc_client(served, flavour, api_key=wrong)
        try:
            with pytest.raises(UnauthorizedError):
                client.get_collections()
        finally:
            client.close()
    # a bearer token from auth_token_provider is accepted in place of the api-key
    if flavour == "sync":
        provider: Any = lambda: API_KEY  # noqa: E731
    else:
        async def provider() -> str:
            return API_KEY
    client = grpc_client(served, flavour, api_key=None, auth_token_provider=provider)
    try:
        assert isinstance(client.get_collections(), m.CollectionsResponse)
    finally:
        client.close()


def test_connect_error_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = QdrantClient(host="127.0.0.1", grpc_port=port, prefer_grpc=True, timeout=5)
    try:
        with pytest.raises(ConnectError):
            client.get_collections()
    finally:
        client.close()


class _SlowEngine:
    def get_collections(self) -> m.CollectionsResponse:
        time.sleep(1.0)
        return m.CollectionsResponse(collections=[])


def test_deadline_becomes_request_timeout() -> None:
    server, port = create_grpc_server(_SlowEngine(), "127.0.0.1", 0)
    server.start()
    try:
        client = QdrantClient(host="127.0.0.1", grpc_port=port, prefer_grpc=True, timeout=0.2)
        with pytest.raises(RequestTimeoutError):
            client.get_collections()
        client.close()
    finally:
        server.stop(grace=None)


# -- the wire ------------------------------------------------------------------------------------------------------------------
def test_messages_bigger_than_grpc_default_limit(clean: Served) -> None:
    client = grpc_client(clean)
    try:
        client.create_collection("big", vectors_config=m.VectorParams(size=768, distance=m.Distance.DOT))
        vectors = np.random.default_rng(0).standard_normal((2000, 768)).astype(np.float32)   # ~6 MB on the wire
        client.upsert("big", m.Batch(ids=list(range(2000)), vectors=vectors.tolist()))
        points, _ = client.scroll("big", limit=2000, with_vectors=True, with_payload=False)
        assert len(points) == 2000
        assert np.allclose(np.asarray([p.vector for p in points]), vectors)
    finally:
        client.close()


def test_channel_and_callables_are_reused(clean: Served) -> None:
    client = grpc_client(clean)
    try:
        client.get_collections()
        transport = client._transport
        channel = transport._channel
        rpc = transport._callables["get_collections"]
        for _ in range(3):
            client.get_collections()
            client.collection_exists("x")
        assert transport._channel is channel and transport._callables["get_collections"] is rpc
    finally:
        client.close()
    assert transport._channel is None


def test_channel_settings() -> None:
    options = RemoteOptions(headers={"X-Trace": "1"}, grpc_options={"grpc.keepalive_time_ms": 1000,
                                                                    "grpc.max_receive_message_length": 1 << 20})
    transport = GrpcTransport(resolve_location(url="https://example.com", grpc_port=7000, api_key="k"), options)
    wire = transport._wire
    assert wire.target == "example.com:7000" and wire.secure
    channel_options = dict(wire.channel_options)
    assert channel_options["grpc.max_send_message_length"] == -1
    assert channel_options["grpc.max_receive_message_length"] == 1 << 20   # the caller's setting wins
    assert channel_options["grpc.keepalive_time_ms"] == 1000
    assert ("x-trace", "1") in wire.metadata and ("api-key", "k") in wire.metadata
    assert wire.deadline({"timeout": 3}) == 3.0 and wire.deadline({}) == 5.0
    plain = AsyncGrpcTransport(resolve_location(url="http://[::1]:6333", grpc_port=6334), RemoteOptions())
    assert plain._wire.target == "[::1]:6334" and not plain._wire.secure


# -- REST fallback ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_rest_only_operations_fall_back_to_rest(clean: Served, flavour: str, tmp_path: Path) -> None:
    client = grpc_client(clean, flavour)
    try:
        client.create_collection("snap", vectors_config=m.VectorParams(size=2, distance=m.Distance.DOT))
        client.upsert("snap", [m.PointStruct(id=1, vector=[1.0, 2.0], payload={"a": 1})])
        snapshot = client.create_snapshot("snap")                       # gRPC
        assert snapshot is not None and snapshot.name in [s.name for s in client.list_snapshots("snap")]
        target = client.download_snapshot("snap", snapshot.name, tmp_path / "s.snapshot")   # REST
        assert Path(target).stat().st_size == snapshot.size
        transport = client._transport if flavour == "sync" else client._client._transport
        assert transport._rest is not None
        client.delete_collection("snap")
        assert client.recover_snapshot("snap", location=Path(target).as_uri())          # REST
        assert client.count("snap").count == 1
        assert client.delete_snapshot("snap", snapshot.name)                          # gRPC
    finally:
        client.close()
