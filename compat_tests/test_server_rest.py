"""Our server's REST side: service endpoints, API keys, Qdrant's status codes and error bodies
reaching the caller as typed exceptions, 501 for what the engine does not implement, concurrent
clients, and JSON bodies the official client's models accept.

These tests are about *our* server, so they always run against one this session started (the
shared one of the ``client`` fixture, or their own when ``QDRANT_URL`` points elsewhere).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import typing
from typing import Any

import httpx
import pytest

import sdk
from sdk import AsyncQdrantClient, QdrantClient, models
from sdk._operations_spec import OPERATIONS

from conftest import RemoteServer, start_server, wipe

qdrant_client = pytest.importorskip("qdrant_client")
from qdrant_client.http import models as official  # noqa: E402

API_KEY = "test-secret-key"


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not os.environ.get("QDRANT_URL"):
        yield request.getfixturevalue("remote_server")
        return
    own = start_server(tmp_path_factory.mktemp("own-server"))
    yield own
    own.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    own = start_server(tmp_path_factory.mktemp("keyed-server"), "--api-key", API_KEY)
    yield own
    own.stop()


@pytest.fixture
def client(server: RemoteServer) -> Any:
    wipe(server)
    with QdrantClient(url=server.url) as c:
        yield c


@pytest.fixture
def http(server: RemoteServer) -> Any:
    with httpx.Client(base_url=server.url) as h:
        yield h


def _vp(size: int = 2) -> models.VectorParams:
    return models.VectorParams(size=size, distance=models.Distance.DOT)


# -- service endpoints -------------------------------------------------------------------------------
def test_root_and_health_endpoints(http, client):
    root = http.get("/")
    assert root.status_code == 200
    info = official.VersionInfo.model_validate(root.json())
    assert info.title == "qdrant - vector search engine" and info.version.startswith("1.19.")
    for path, text in (("/healthz", "healthz check passed"), ("/livez", "healthz check passed"),
                       ("/readyz", "all shards are ready")):
        answer = http.get(path)
        assert (answer.status_code, answer.text) == (200, text)
        assert answer.headers["content-type"].startswith("text/plain")
    assert client._transport.call("healthz") == "healthz check passed"
    assert client._transport.call("root").version == info.version


def test_unknown_route_is_404_with_an_error_body(http):
    answer = http.get("/no/such/route")
    assert answer.status_code == 404
    assert "no route" in official.ErrorResponse.model_validate(answer.json()).status.error


# -- API keys -------------------------------------------------------------------------------------------
def test_api_key_is_required_when_set(keyed_server):
    url = keyed_server.url
    with QdrantClient(url=url) as anonymous:
        with pytest.raises(sdk.UnauthorizedError, match="Must provide an API key") as info:
            anonymous.get_collections()
        assert info.value.status_code == 401
    with pytest.warns(UserWarning), QdrantClient(url=url.replace("127.0.0.1", "localhost.invalid"), api_key="x"):
        pass   # (an api key over plain http to a non-loopback host warns, as qdrant-client does)
    with QdrantClient(url=url, api_key="wrong") as wrong:
        with pytest.raises(sdk.UnauthorizedError, match="Invalid API key"):
            wrong.collection_exists("c")
    with QdrantClient(url=url, api_key=API_KEY) as right:
        assert right.create_collection("k", vectors_config=_vp())
        assert right.collection_exists("k")
    with QdrantClient(url=url, auth_token_provider=lambda: API_KEY) as bearer:
        assert [c.name for c in bearer.get_collections().collections] == ["k"]


def test_async_client_with_api_key(keyed_server):
    async def go() -> None:
        async with AsyncQdrantClient(url=keyed_server.url, api_key="nope") as wrong:
            with pytest.raises(sdk.UnauthorizedError):
                await wrong.get_collections()

        async def token() -> str:
            return API_KEY

        async with AsyncQdrantClient(url=keyed_server.url, auth_token_provider=token) as right:
            await right.get_collections()

    asyncio.run(go())


def test_service_endpoints_stay_open_with_an_api_key(keyed_server):
    with httpx.Client(base_url=keyed_server.url) as h:
        assert h.get("/healthz").status_code == 200
        assert h.get("/readyz").status_code == 200
        assert h.get("/").json()["title"] == "qdrant - vector search engine"
        denied = h.get("/collections")
        assert denied.status_code == 401
        official.ErrorResponse.model_validate(denied.json())
        assert h.get("/collections", headers={"api-key": API_KEY}).status_code == 200
        assert h.get("/collections", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_and_closes_path_storage(tmp_path, stop):
    import signal

    data = tmp_path / "data"
    for round_ in range(2):    # the second server reopens what the first one wrote
        own = start_server(tmp_path / "logs", "--path", str(data))
        try:
            with QdrantClient(url=own.url) as c:
                if round_ == 0:
                    c.create_collection("c", vectors_config=_vp())
                c.upsert("c", points=[models.PointStruct(id=round_, vector=[1.0, 2.0])])
            own.process.send_signal(getattr(signal, stop))
            assert own.process.wait(20) == 0, own.log()
        finally:
            own.stop()
    with QdrantClient(path=str(data)) as local:   # unlocked, and every acknowledged write is there
        assert local.count("c").count == 2


# -- status codes -----------------------------------------------------------------------------------------
def test_missing_collection_is_404_not_found(client, http):
    with pytest.raises(sdk.NotFoundError) as info:
        client.get_collection("nope")
    assert info.value.status_code == 404
    assert str(info.value) == "Not found: Collection `nope` doesn't exist!"
    raw = http.post("/collections/nope/points/count", json={})
    assert raw.status_code == 404
    body = official.ErrorResponse.model_validate(raw.json())
    assert body.status.error == "Not found: Collection `nope` doesn't exist!" and body.result is None


def test_bad_requests_are_400(client, http):
    client.create_collection("c", vectors_config=_vp(3))
    with pytest.raises(sdk.BadRequestError, match="expected dim: 3, got 2") as info:
        client.upsert("c", points=[models.PointStruct(id=1, vector=[1.0, 2.0])])
    assert info.value.status_code == 400
    with pytest.raises(sdk.BadRequestError, match="already exists"):
        client.create_collection("c", vectors_config=_vp(3))
    cases = [
        ("PUT", "/collections/c/points", b'{"points": [', "Format error in JSON body"),
        ("PUT", "/collections/c/points", b'{"points": "nope"}', "Format error in JSON body"),
        ("POST", "/collections/c/points/scroll", b'{"limit": "ten"}', "Format error in JSON body"),
        ("PUT", "/collections/c/points?wait=maybe", b'{"points": []}', "wait"),
        ("POST", "/collections/c/points/count?timeout=0", b"{}", "timeout"),
        ("GET", "/collections/c/points/not-an-id", None, "Unable to parse point id"),
    ]
    for method, path, content, text in cases:
        answer = http.request(method, path, content=content, headers={"content-type": "application/json"})
        assert answer.status_code == 400, (path, answer.text)
        assert text in official.ErrorResponse.model_validate(answer.json()).status.error, (path, answer.text)


def test_get_point_by_id(client, http):
    client.create_collection("c", vectors_config=_vp())
    u = "6f1e6d1c-7a4e-4f45-9d3a-0c8f2b5f2a11"
    client.upsert("c", points=[models.PointStruct(id=7, vector=[1.0, 0.0], payload={"a": 1}),
                               models.PointStruct(id=u, vector=[0.0, 1.0])])
    record = client._transport.call("get_point", collection_name="c", id=7)
    assert record == models.Record(id=7, payload={"a": 1}, vector=[1.0, 0.0])
    assert http.get(f"/collections/c/points/{u.upper()}").json()["result"]["id"] == u
    missing = http.get("/collections/c/points/8")
    assert missing.status_code == 404


def test_unimplemented_operations_are_501_naming_the_operation(client, http):
    with pytest.raises(sdk.UnsupportedOperationError, match="telemetry") as info:
        client._transport.call("telemetry")
    assert info.value.status_code == 501
    from local_engine import Engine
    from local_engine.engine_service import _CLUSTER_ONLY

    engine = Engine()
    client.create_collection("c", vectors_config=_vp())
    dummy = {"collection_name": "c", "shard_id": "0", "snapshot_name": "s.snapshot", "vector_name": "v",
             "field_name": "f", "peer_id": "1", "id": "1"}
    checked = 0
    for operation_id, op in sorted(OPERATIONS.items()):
        if operation_id in ("root", "healthz", "livez", "readyz"):
            continue
        if hasattr(engine, operation_id):
            # cluster-only operations the engine refuses itself (a body must parse first)
            if operation_id not in _CLUSTER_ONLY or op.body_model is not None:
                continue
        path = op.path.format(**{name: dummy[name] for name in op.path_params})
        content = None if op.body_model in (None, "multipart") else b"{}"
        answer = http.request(op.method, path, content=content)
        assert answer.status_code == 501, (operation_id, answer.status_code, answer.text)
        assert f"`{operation_id}`" in answer.json()["status"]["error"], operation_id
        checked += 1
    assert checked >= 15


def test_engine_unsupported_variants_are_501(client):
    client.create_collection("c", vectors_config=_vp())
    client.upsert("c", points=[models.PointStruct(id=1, vector=[1.0, 0.0])])
    with pytest.raises(sdk.UnsupportedOperationError, match="(?i)inference") as info:
        client.query_points("c", query=models.Document(text="a text", model="some-model"))
    assert info.value.status_code == 501


# -- concurrency --------------------------------------------------------------------------------------------
class _BlockingEngine:
    """query_points blocks until released; everything else answers at once."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def query_points(self, collection_name: str, body: Any) -> models.QueryResponse:
        self.entered.set()
        assert self.release.wait(20)
        return models.QueryResponse(points=[])

    def get_collections(self) -> models.CollectionsResponse:
        return models.CollectionsResponse(collections=[models.CollectionDescription(name="x")])


def _serve_in_thread(app: Any) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_slow_engine_call_does_not_block_other_requests():
    from local_engine.server.rest import create_app

    engine = _BlockingEngine()
    server, thread, url = _serve_in_thread(create_app(engine))
    result: dict = {}
    try:
        def slow() -> None:
            with QdrantClient(url=url) as c:
                result["points"] = c.query_points("x", query=[1.0]).points

        caller = threading.Thread(target=slow)
        caller.start()
        assert engine.entered.wait(10)
        with QdrantClient(url=url) as other:       # answered while query_points is still running
            started = time.perf_counter()
            assert [c.name for c in other.get_collections().collections] == ["x"]
            assert other._transport.call("healthz") == "healthz check passed"
            assert time.perf_counter() - started < 5
        assert caller.is_alive()
        engine.release.set()
        caller.join(20)
        assert result["points"] == []
    finally:
        engine.release.set()
        server.should_exit = True
        thread.join(10)


def test_concurrent_clients_from_threads(client, server):
    client.create_collection("c", vectors_config=_vp())
    errors: list[BaseException] = []
    per_thread, threads = 40, 8

    def work(t: int) -> None:
        try:
            with QdrantClient(url=server.url) as c:
                for i in range(per_thread):
                    pid = t * 1000 + i
                    c.upsert("c", points=[models.PointStruct(id=pid, vector=[float(t), float(i)], payload={"t": t})])
                    assert c.retrieve("c", ids=[pid])[0].payload == {"t": t}
                    c.query_points("c", query=[1.0, 0.0], limit=3)
                flt = models.Filter(must=[models.FieldCondition(key="t", match=models.MatchValue(value=t))])
                assert c.count("c", count_filter=flt).count == per_thread
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors[:3]
    assert client.count("c").count == per_thread * threads


def test_concurrent_requests_from_one_async_client(client, server):
    client.create_collection("c", vectors_config=_vp())
    client.upsert("c", points=[models.PointStruct(id=i, vector=[float(i), 1.0], payload={"i": i}) for i in range(50)])

    async def go() -> list:
        async with AsyncQdrantClient(url=server.url) as c:
            reads = [c.retrieve("c", ids=[i]) for i in range(50)]
            reads += [c.count("c") for _ in range(20)]
            return await asyncio.gather(*reads)

    answers = asyncio.run(go())
    assert [a[0].payload["i"] for a in answers[:50]] == list(range(50))
    assert all(a.count == 50 for a in answers[50:])


# -- every body parses with the official client's models ----------------------------------------------------
def _official_type(expression: str) -> Any:
    ns = {name: getattr(typing, name) for name in ("List", "Dict", "Any", "Optional", "Union", "Tuple")}
    ns.update({name: getattr(official, name) for name in dir(official) if not name.startswith("_")})
    return eval(expression, ns)  # noqa: S307 - the generated operations table


def _operation_of(method: str, path: str) -> Any:
    import re

    for op in OPERATIONS.values():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", op.path) + "$"
        if op.method == method and re.match(pattern, path):
            return op
    return None


def test_every_json_body_parses_with_the_official_models(client, http):
    import pydantic

    recorded: list[tuple[str, str, int, bytes]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        recorded.append((response.request.method, response.request.url.path, response.status_code, response.content))

    client._transport._http.event_hooks["response"].append(record)
    c = client
    c.create_collection("p", vectors_config={"img": _vp(2), "txt": models.VectorParams(size=3, distance="Cosine")},
                        metadata={"team": "search"}, hnsw_config=models.HnswConfigDiff(m=8))
    c.get_collections()
    c.collection_exists("p")
    c.update_collection("p", metadata={"team": None, "x": 1})
    c.upsert("p", points=[models.PointStruct(id=i, vector={"img": [float(i), 1.0], "txt": [1.0, 0.0, float(i)]},
                                             payload={"i": i, "tags": ["a", "b"], "nested": {"k": None}})
                          for i in range(1, 6)])
    c.upload_collection("p", vectors={"img": [[1.0, 2.0]] * 3}, ids=["6f1e6d1c-7a4e-4f45-9d3a-0c8f2b5f2a11",
                                                                        str(__import__("uuid").UUID(int=9)), 77])
    c.create_payload_index("p", "i", models.PayloadSchemaType.INTEGER)
    c.create_payload_index("p", "tags", models.KeywordIndexParams(type="keyword", is_tenant=True))
    c.get_collection("p")
    c.retrieve("p", ids=[1, 2, 99], with_vectors=True)
    c._transport.call("get_point", collection_name="p", id=3)
    c.scroll("p", limit=2, with_vectors=["txt"])
    c.count("p", count_filter=models.Filter(must=[models.FieldCondition(key="i", range=models.Range(gte=2))]))
    c.query_points("p", query=[1.0, 0.5], using="img", with_payload=["i"], with_vectors=True, limit=3)
    c.query_points("p", limit=2)
    c.set_payload("p", payload={"x": 1}, points=[1])
    c.overwrite_payload("p", payload={"y": 2}, points=[2])
    c.delete_payload("p", keys=["i"], points=[3])
    c.clear_payload("p", points_selector=[4])
    c.update_collection_aliases([models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="p",
                                                                                             alias_name="pa"))])
    c.get_aliases()
    c.get_collection_aliases("p")
    c.delete("p", points_selector=[5])
    c.delete_payload_index("p", "i")
    if hasattr(c, "create_snapshot"):
        snap = c.create_snapshot("p")
        c.list_snapshots("p")
        c.delete_snapshot("p", snap.name)
    for call in (lambda: c.get_collection("missing"), lambda: c._transport.call("telemetry"),
                 lambda: c.upsert("p", points=[models.PointStruct(id=1, vector={"img": [1.0]})])):
        with pytest.raises(sdk.ApiError):
            call()
    c.delete_collection("p")

    checked = set()
    for method, path, status, content in recorded:
        body = json.loads(content)
        if status != 200:
            official.ErrorResponse.model_validate(body)
            assert isinstance(body["status"]["error"], str) and body["result"] is None
            continue
        op = _operation_of(method, path)
        assert op is not None and op.result_type, (method, path)
        assert body["status"] == "ok" and isinstance(body["time"], float)
        try:
            pydantic.TypeAdapter(_official_type(op.result_type)).validate_python(body["result"])
        except pydantic.ValidationError as exc:
            pytest.fail(f"{op.operation_id}: the official models reject our body: {exc}\n{content[:800]!r}")
        checked.add(op.operation_id)
    assert {"get_collection", "get_points", "get_point", "scroll_points", "query_points", "count_points",
            "upsert_points", "get_collections_aliases", "update_aliases"} <= checked
