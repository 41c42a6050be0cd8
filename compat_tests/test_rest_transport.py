"""The REST transport on its own: URLs, query parameters, bodies, the envelope, errors, retries,
headers. The wire is an ``httpx.MockTransport`` (fault injection without a server), except where a
real closed port is the point. Every test runs with both facades (sync and async).
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any, Callable

import httpx
import numpy as np
import pytest

import sdk
from sdk import AsyncQdrantClient, QdrantClient, models
from sdk._location import Location, RemoteOptions
from sdk._transport import rest

from conftest import SyncDriver


# -- a fake Qdrant ---------------------------------------------------------------------------------
def envelope(result: Any, status_code: int = 200, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status_code, json={"result": result, "status": "ok", "time": 0.001}, headers=headers)


def error(status_code: int, message: str, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status_code, json={"status": {"error": message}, "time": 0.0, "result": None},
                          headers=headers)


class Wire:
    """Records requests and answers them with ``handler`` (a function of the request)."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the transport asked for (nothing actually waits)."""
    delays: list[float] = []

    async def asleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(rest, "_sleep", delays.append)
    monkeypatch.setattr(rest, "_asleep", asleep)
    return delays


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """connect(handler, **client_kwargs) -> (client, wire): a client of this flavour on a mock wire."""
    opened: list[Any] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tuple[Any, Wire]:
        wire = Wire(handler)
        monkeypatch.setattr(rest, "_sync_http_transport", lambda kw: httpx.MockTransport(wire))
        monkeypatch.setattr(rest, "_async_http_transport", lambda kw: httpx.MockTransport(wire))
        kwargs.setdefault("url", "http://qdrant.test:6333")
        if request.param == "sync":
            client = QdrantClient(**kwargs)
        else:
            client = SyncDriver(AsyncQdrantClient(**kwargs))
        opened.append(client)
        return client, wire

    make.flavour = request.param  # type: ignore[attr-defined]
    yield make
    for client in opened:
        client.close()


UPDATED = {"operation_id": 7, "status": "completed"}


# -- URLs, query parameters, bodies --------------------------------------------------------------------
def test_paths_are_quoted_and_query_params_rendered():
    p = rest.prepare("http://h:1/pre", "delete_field_index",
                     {"collection_name": "a b/c", "field_name": "x.y[]", "wait": True, "ordering": models.WriteOrdering.STRONG,
                      "timeout": None})
    assert p.url == "http://h:1/pre/collections/a%20b%2Fc/index/x.y%5B%5D?wait=true&ordering=strong"
    assert p.route.method == "DELETE" and p.content is None
    p = rest.prepare("http://h:1", "get_points", {"collection_name": "c", "consistency": models.ReadConsistencyType.MAJORITY,
                                                  "body": models.PointRequest(ids=[1])})
    assert p.url == "http://h:1/collections/c/points?consistency=majority"
    p = rest.prepare("http://h:1", "count_points", {"collection_name": "c", "consistency": 2, "timeout": 3})
    assert p.url == "http://h:1/collections/c/points/count?consistency=2&timeout=3" and p.timeout == 3
    p = rest.prepare("http://h:1", "upsert_points", {"collection_name": "c", "wait": False})
    assert p.url.endswith("?wait=false")


def test_bad_parameters_fail_before_any_io():
    with pytest.raises(ValueError, match="can't be"):
        rest.prepare("http://h", "get_collection", {"collection_name": ".."})
    with pytest.raises(TypeError, match="unexpected parameter 'bogus'"):
        rest.prepare("http://h", "get_collection", {"collection_name": "c", "bogus": 1})
    with pytest.raises(TypeError, match="missing path parameter"):
        rest.prepare("http://h", "get_collection", {})
    with pytest.raises(ValueError, match="Unknown operation"):
        rest.prepare("http://h", "no_such_operation", {})


def test_every_operation_of_the_table_has_a_route():
    from sdk._operations_spec import OPERATIONS

    for operation_id, op in OPERATIONS.items():
        route = rest.route_for(operation_id)
        assert route.method == op.method
        assert route.idempotent == (op.method == "GET" or operation_id in rest.READ_POSTS)


def test_bodies_use_aliases_drop_unset_and_keep_meaningful_nulls(connect):
    client, wire = connect(lambda r: envelope(UPDATED if r.method != "PATCH" else True))
    client.set_payload("c", payload={"gone": None, "kept": {"inner": None}}, points=[1, 2])
    assert wire.body() == {"payload": {"gone": None, "kept": {"inner": None}}, "points": [1, 2]}
    client.update_collection("c", metadata={"b": None, "c": 3})
    assert wire.body() == {"metadata": {"b": None, "c": 3}}
    client.delete("c", points_selector=models.Filter(must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="k"))]))
    assert wire.body() == {"filter": {"must_not": [{"is_empty": {"key": "k"}}]}}
    assert wire.last.headers["content-type"] == "application/json"


def test_numpy_vectors_are_written_as_json_arrays(connect):
    client, wire = connect(lambda r: envelope(UPDATED))
    vecs = np.arange(12, dtype=np.float32).reshape(4, 3) / 8
    client.upload_collection("c", vectors=vecs, ids=[1, 2, 3, 4], payload=[{"i": i} for i in range(4)], batch_size=3)
    first, second = wire.body(0), wire.body(1)
    assert first["batch"]["vectors"] == vecs[:3].tolist() and first["batch"]["ids"] == [1, 2, 3]
    assert second["batch"]["vectors"] == vecs[3:].tolist() and second["batch"]["payloads"] == [{"i": 3}]
    named = {"img": np.ones((2, 2), dtype=np.float32), "txt": np.zeros((2, 3), dtype=np.float64)}
    client.upload_collection("c", vectors=named, ids=[5, 6])
    assert wire.body()["batch"]["vectors"] == {"img": [[1.0, 1.0]] * 2, "txt": [[0.0] * 3] * 2}
    client.upsert("c", points=[models.PointStruct(id=9, vector=np.array([0.5, 0.25], dtype=np.float32))])
    assert wire.body() == {"points": [{"id": 9, "vector": [0.5, 0.25]}]}


def test_query_vector_from_numpy(connect):
    client, wire = connect(lambda r: envelope({"points": []}))
    client.query_points("c", query=np.array([0.5, 2.0], dtype=np.float32), limit=3, with_payload=["a"])
    assert wire.body() == {"query": [0.5, 2.0], "limit": 3, "with_payload": ["a"], "with_vector": False}
    assert str(wire.last.url) == "http://qdrant.test:6333/collections/c/points/query"


def test_prefix_https_and_host(connect):
    client, wire = connect(lambda r: envelope({"collections": []}), url=None, host="db.example", https=True,
                           prefix="/qdrant/", port=8443)
    client.get_collections()
    assert str(wire.last.url) == "https://db.example:8443/qdrant/collections"


# -- the envelope ------------------------------------------------------------------------------------------
def test_results_are_validated_into_the_operation_result_type(connect):
    u = str(uuid.UUID(int=5))
    records = [{"id": 1, "payload": {"a": 1, "f": 1.0}, "vector": [0.5, 1.5]}, {"id": u, "payload": {}}]

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/exists"):
            return envelope({"exists": True})
        if path == "/collections":
            return envelope({"collections": [{"name": "c"}]})
        if path.endswith("/points/scroll"):
            return envelope({"points": records, "next_page_offset": u})
        return envelope(records)

    client, _ = connect(answer)
    assert client.collection_exists("c") is True
    assert client.get_collections() == models.CollectionsResponse(collections=[models.CollectionDescription(name="c")])
    got = client.retrieve("c", ids=[1, u], with_vectors=True)
    assert [type(r) for r in got] == [models.Record, models.Record]
    assert got[0].payload == {"a": 1, "f": 1.0} and type(got[0].payload["a"]) is int and type(got[0].payload["f"]) is float
    assert got[1].id == u and isinstance(got[1].id, str)   # a UUID id stays the string every mode returns
    points, offset = client.scroll("c")
    assert len(points) == 2 and offset == u


def test_unexpected_success_body_is_an_api_error(connect):
    client, _ = connect(lambda r: httpx.Response(200, content=b"<html>proxy</html>"))
    with pytest.raises(sdk.ApiError, match="Unexpected response body for get_collections"):
        client.get_collections()


# -- errors ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status,cls",
    [(400, sdk.BadRequestError), (401, sdk.UnauthorizedError), (403, sdk.ForbiddenError), (404, sdk.NotFoundError),
     (409, sdk.ConflictError), (422, sdk.UnprocessableEntityError), (500, sdk.InternalServerError),
     (501, sdk.UnsupportedOperationError), (418, sdk.ApiError)],
)
def test_http_errors_map_to_typed_exceptions_with_qdrant_text(connect, status, cls):
    client, wire = connect(lambda r: error(status, f"Qdrant says {status}"))
    with pytest.raises(cls) as info:
        client.get_collection("c")
    assert info.value.status_code == status
    assert str(info.value) == f"Qdrant says {status}"
    assert info.value.body["status"]["error"] == f"Qdrant says {status}"
    assert len(wire.requests) == 1   # not retried


def test_error_bodies_that_are_not_json(connect):
    client, _ = connect(lambda r: httpx.Response(403, text="Forbidden: no access"))
    with pytest.raises(sdk.ForbiddenError, match="Forbidden: no access"):
        client.get_collections()
    client, _ = connect(lambda r: httpx.Response(502, content=b""))
    with pytest.raises(sdk.ApiError) as info:
        client.get_collections()
    assert info.value.status_code == 502 and "Bad Gateway" in str(info.value)


def test_transport_failures_are_typed(connect, sleeps):
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    client, _ = connect(timeout)
    with pytest.raises(sdk.RequestTimeoutError):
        client.get_collections()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, wire = connect(refused)
    with pytest.raises(sdk.ConnectError, match="connection refused"):
        client.get_collections()
    assert len(wire.requests) == 3 and len(sleeps) == 2   # 3 attempts, then the typed error


def test_a_closed_port_is_a_connect_error(connect, monkeypatch, sleeps):
    monkeypatch.setattr(rest, "_sync_http_transport", lambda kw: httpx.HTTPTransport())
    monkeypatch.setattr(rest, "_async_http_transport", lambda kw: httpx.AsyncHTTPTransport())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]     # closed once we leave: nothing listens there
    client = QdrantClient(url=f"http://127.0.0.1:{port}") if connect.flavour == "sync" else \
        SyncDriver(AsyncQdrantClient(url=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(sdk.ConnectError):
            client.get_collections()
        assert len(sleeps) == 2
    finally:
        client.close()


# -- retries ----------------------------------------------------------------------------------------------------
def flaky(*answers: httpx.Response | type) -> Callable[[httpx.Request], httpx.Response]:
    """Answers in order (an exception class is raised); the last answer repeats."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, type):
            raise answer("injected", request=request)
        return answer

    return handler


def test_reads_retry_503_and_429_with_backoff_and_retry_after(connect, sleeps):
    client, wire = connect(flaky(error(503, "busy"), error(429, "slow down", {"Retry-After": "2"}), envelope({"count": 3})))
    assert client.count("c").count == 3
    assert len(wire.requests) == 3
    assert 0 < sleeps[0] <= rest.RetryPolicy.backoff and sleeps[1] == 2.0   # backoff, then Retry-After


def test_retries_give_up_after_the_attempts(connect, sleeps):
    client, wire = connect(lambda r: error(503, "still busy"))
    with pytest.raises(sdk.ServiceUnavailableError, match="still busy"):
        client.query_points("c", query=[1.0])
    assert len(wire.requests) == 3
    assert sleeps[1] > sleeps[0] / 2   # exponential (with jitter)


def test_a_retry_after_too_long_is_not_waited_for(connect, sleeps):
    client, wire = connect(lambda r: error(429, "quota", {"Retry-After": "3600"}))
    with pytest.raises(sdk.RateLimitError, match="quota"):
        client.get_collections()
    assert len(wire.requests) == 1 and sleeps == []


def test_writes_are_not_retried_on_ambiguous_failures(connect, sleeps):
    client, wire = connect(flaky(error(503, "busy"), envelope(UPDATED)))
    with pytest.raises(sdk.ServiceUnavailableError):
        client.upsert("c", points=[models.PointStruct(id=1, vector=[1.0])])
    assert len(wire.requests) == 1
    client, wire = connect(flaky(httpx.ReadError, envelope(UPDATED)))
    with pytest.raises(sdk.ConnectError):
        client.delete("c", points_selector=[1])
    assert len(wire.requests) == 1


def test_writes_retry_when_nothing_was_sent(connect, sleeps):
    client, wire = connect(flaky(httpx.ConnectError, httpx.ConnectTimeout, envelope(UPDATED)))
    assert client.upsert("c", points=[models.PointStruct(id=1, vector=[1.0])]).operation_id == 7
    assert len(wire.requests) == 3


def test_reads_retry_a_dropped_connection(connect, sleeps):
    client, wire = connect(flaky(httpx.RemoteProtocolError, envelope({"collections": []})))
    assert client.get_collections().collections == []
    assert len(wire.requests) == 2


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_retry_writes_and_attempts_are_configurable(monkeypatch, sleeps, flavour):
    wire = Wire(flaky(error(503, "busy"), error(503, "busy"), error(503, "busy"), envelope(UPDATED)))
    monkeypatch.setattr(rest, "_sync_http_transport", lambda kw: httpx.MockTransport(wire))
    monkeypatch.setattr(rest, "_async_http_transport", lambda kw: httpx.MockTransport(wire))
    options = RemoteOptions()
    options.retry_writes = True    # type: ignore[attr-defined]  (read with getattr by the transport)
    options.retries = 3            # type: ignore[attr-defined]  (retries after the first attempt)
    location = Location(kind="remote", url="http://qdrant.test:6333")
    body = models.PointsList(points=[models.PointStruct(id=1, vector=[1.0])])
    if flavour == "sync":
        transport = rest.RestTransport(location, options)
        result = transport.call("upsert_points", collection_name="c", body=body, wait=True)
        transport.close()
    else:
        async def go() -> Any:
            transport = rest.AsyncRestTransport(location, options)
            try:
                return await transport.call("upsert_points", collection_name="c", body=body, wait=True)
            finally:
                await transport.close()

        result = asyncio.run(go())
    assert result.operation_id == 7 and len(wire.requests) == 4 and len(sleeps) == 3


def test_retry_policy_delays():
    policy = rest.RetryPolicy(attempts=4, backoff=0.1, max_backoff=0.25)
    assert 0.05 <= policy.delay(0) <= 0.1
    assert 0.1 <= policy.delay(1) <= 0.2
    assert policy.delay(2) <= 0.25
    assert policy.delay(3) is None
    assert policy.delay(0, "1.5") == 1.5
    assert 0.05 <= policy.delay(0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 0.1   # a date: plain backoff
    assert policy.delay(0, "31") is None


# -- headers -----------------------------------------------------------------------------------------------------------
def test_api_key_user_headers_and_user_agent(connect):
    client, wire = connect(lambda r: envelope({"collections": []}), url="https://qdrant.test:6333", api_key="s3cret",
                           headers={"X-Trace": "t1"})
    client.get_collections()
    headers = wire.last.headers
    assert headers["api-key"] == "s3cret"
    assert headers["x-trace"] == "t1"
    assert headers["user-agent"].startswith("qdrant-sdk/")
    assert "authorization" not in headers


def test_api_key_over_plain_http_warns(connect):
    with pytest.warns(UserWarning, match="insecure connection"):
        connect(lambda r: envelope(None), url="http://db.example:6333", api_key="k")


def test_bearer_token_provider_is_asked_per_request(connect):
    tokens = iter(["t1", "t2"])
    client, wire = connect(lambda r: envelope({"collections": []}), auth_token_provider=lambda: next(tokens))
    client.get_collections()
    client.get_collections()
    assert [r.headers["authorization"] for r in wire.requests] == ["Bearer t1", "Bearer t2"]


def test_async_bearer_token_provider(connect):
    async def provider() -> str:
        return "async-token"

    client, wire = connect(lambda r: envelope({"collections": []}), auth_token_provider=provider)
    if connect.flavour == "sync":
        with pytest.raises(TypeError, match="awaitable"):
            client.get_collections()
    else:
        client.get_collections()
        assert wire.last.headers["authorization"] == "Bearer async-token"


def test_server_timeout_parameter_extends_the_client_timeout(connect):
    seen: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions.get("timeout"))
        return envelope({"count": 0})

    client, _ = connect(answer, timeout=2)
    client.count("c")
    client.count("c", timeout=30)
    assert seen[0]["read"] == 2.0
    assert seen[1]["read"] == 31.0   # the server may work 30 s: wait for it (+1 s)


# -- multipart (snapshot upload) -------------------------------------------------------------------------------
def test_snapshot_upload_is_multipart_and_rewinds_on_retry(tmp_path, sleeps):
    path = tmp_path / "c.snapshot"
    path.write_bytes(b"tar-bytes" * 100)
    wire = Wire(flaky(httpx.ConnectError, envelope(True)))
    transport = rest.RestTransport(Location(kind="remote", url="http://qdrant.test:6333"), RemoteOptions())
    transport._http = httpx.Client(transport=httpx.MockTransport(wire))
    prepared_files: list = []
    original = rest.done

    def spy(prepared: Any) -> None:
        prepared_files.extend(v for _, v in prepared.files.values())
        original(prepared)

    rest.done = spy
    try:
        assert transport.call("recover_from_uploaded_snapshot", collection_name="c", body=str(path), priority="snapshot",
                              wait=True) is True
    finally:
        rest.done = original
        transport.close()
    assert len(wire.requests) == 2
    request = wire.last
    assert request.url.path == "/collections/c/snapshots/upload" and request.url.params["priority"] == "snapshot"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="snapshot"; filename="c.snapshot"' in request.content
    assert request.content.count(b"tar-bytes") == 100       # the retry sent the whole file again
    assert prepared_files and all(f.closed for f in prepared_files)
