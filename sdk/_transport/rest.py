"""Qdrant's REST protocol over httpx, sync and async.

Everything an operation needs on the wire comes from the generated table
``sdk._operations_spec.OPERATIONS``: method, path template, query parameters, body model and
result type. The shared work is plain functions over a ``_Route`` (request building, response
parsing, retry decisions); ``RestTransport`` and ``AsyncRestTransport`` only differ in the httpx
client they hold and in awaiting.

Rules of the wire, said once:

* Request bodies are the ``sdk.models`` instance serialised with field aliases and without
  ``None`` fields. Nulls *inside* dict values (payloads, collection metadata) are kept: they mean
  "remove this key". Numpy arrays in vector fields (``upload_collection`` keeps them) are written
  as JSON arrays.
* Responses are Qdrant's envelope ``{"result", "status", "time", "usage"}``; ``result`` is
  validated into the operation's result type straight from the bytes (pydantic-core).
* Errors: a non-2xx answer becomes the typed ``ApiError`` for its status (``error_for_status``)
  carrying Qdrant's ``status.error`` text; a request that got no answer becomes ``ConnectError``
  or ``RequestTimeoutError``.
* Retries (see ``RetryPolicy``): connection failures and 429/503 (honouring ``Retry-After``) are
  retried with exponential backoff for idempotent operations; writes are retried only when the
  request provably never reached the server (connecting failed), unless ``retry_writes`` is set.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import platform
import random
import socket
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional
from urllib.parse import quote

import httpx
import pydantic
from pydantic_core import from_json

from .. import models
from .._exceptions import (
    ApiError,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    error_for_status,
)
from .._location import Location, RemoteOptions
from .._operations_spec import OPERATIONS

__all__ = ["RestTransport", "AsyncRestTransport", "RetryPolicy"]

DEFAULT_TIMEOUT = 5.0          # seconds, as qdrant-client's REST default (httpx's)
KEEPALIVE_EXPIRY = 4.0         # below the common 5 s server keep-alive, so we never reuse a closing socket

# POST operations that only read: safe to retry, like every GET.
READ_POSTS = frozenset({
    "get_points", "scroll_points", "count_points", "facet",
    "query_points", "query_batch_points", "query_points_groups",
    "search_matrix_pairs", "search_matrix_offsets",
    "search_points", "search_batch_points", "search_point_groups",
    "recommend_points", "recommend_batch_points", "recommend_point_groups",
    "discover_points", "discover_batch_points",
})

def _user_agent() -> str:
    from .. import __version__

    return f"qdrant-sdk/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"


# -- retry policy ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a request again.

    ``attempts`` counts the first try. ``retry_writes`` extends retries of ambiguous failures
    (429/503, a connection dropped after sending) to operations that change data.
    """

    attempts: int = 3
    backoff: float = 0.1           # first delay; doubles each retry, with jitter
    max_backoff: float = 2.0
    max_retry_after: float = 30.0  # a larger Retry-After is not waited for: the error is raised
    retry_writes: bool = False
    statuses: frozenset = frozenset({429, 503})

    def delay(self, attempt: int, retry_after: Optional[str] = None) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt + 1 >= self.attempts:
            return None
        if retry_after:
            try:
                seconds = float(retry_after)
            except ValueError:
                seconds = None  # an HTTP date: fall back to backoff
            if seconds is not None:
                return max(0.0, seconds) if seconds <= self.max_retry_after else None
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)


def _policy_from(options: RemoteOptions) -> RetryPolicy:
    given = getattr(options, "retry_policy", None)
    if isinstance(given, RetryPolicy):
        return given
    attempts = getattr(options, "retries", None)
    return RetryPolicy(
        attempts=max(1, int(attempts) + 1) if attempts is not None else RetryPolicy.attempts,
        retry_writes=bool(getattr(options, "retry_writes", False)),
    )


# -- routes: per-operation data computed once -------------------------------------------------------
@dataclass(frozen=True)
class _Route:
    operation_id: str
    method: str
    path_parts: tuple          # literal segments and ("name",) markers, to join cheaply
    path_params: frozenset
    query_params: frozenset
    body_model: Optional[str]
    idempotent: bool
    parse: Callable[[bytes], Any]


def _model_namespace() -> dict:
    import typing

    ns = {name: getattr(typing, name) for name in ("List", "Dict", "Any", "Optional", "Union", "Tuple")}
    ns.update({name: getattr(models, name) for name in dir(models) if not name.startswith("_")})
    return ns


@lru_cache(maxsize=None)
def _type_of(expression: str) -> Any:
    return eval(expression, _model_namespace())  # noqa: S307 - generated table, not user input


def _envelope_parser(result_type: str) -> Callable[[bytes], Any]:
    tp = _type_of(result_type)
    envelope = pydantic.create_model(
        f"Envelope[{result_type}]",
        __config__=pydantic.ConfigDict(extra="ignore", defer_build=True),
        result=(Optional[tp], None),
    )
    validate = pydantic.TypeAdapter(envelope).validate_python

    def parse(content: bytes) -> Any:
        # JSON -> Python first, then validate: in JSON mode pydantic would turn a UUID point id
        # into a uuid.UUID (ExtendedPointId lists UUID), where every other mode keeps the string.
        return validate(from_json(content)).result

    return parse


def _body_parser(response_type: Optional[str]) -> Callable[[bytes], Any]:
    if response_type == "bytes":
        return lambda content: content
    if response_type == "str":
        return lambda content: content.decode("utf-8", "replace")
    if response_type is None:
        return lambda content: json.loads(content) if content else None
    validate = pydantic.TypeAdapter(_type_of(response_type)).validate_python
    return lambda content: validate(from_json(content))


def _split_path(template: str) -> tuple:
    parts: list = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        if before:
            parts.append(before)
        parts.append((name,))
    if rest:
        parts.append(rest)
    return tuple(parts)


@lru_cache(maxsize=None)
def route_for(operation_id: str) -> _Route:
    op = OPERATIONS.get(operation_id)
    if op is None:
        raise ValueError(f"Unknown operation id {operation_id!r}")
    parse = _envelope_parser(op.result_type) if op.result_type else _body_parser(op.response_type)
    return _Route(
        operation_id=operation_id,
        method=op.method,
        path_parts=_split_path(op.path),
        path_params=frozenset(op.path_params),
        query_params=frozenset(op.query_params),
        body_model=op.body_model,
        idempotent=op.method == "GET" or operation_id in READ_POSTS,
        parse=parse,
    )


# -- request building -------------------------------------------------------------------------------
def _path_segment(name: str, value: Any) -> str:
    value = str(getattr(value, "value", value))
    if value in (".", ".."):
        raise ValueError(f"{name} can't be {value!r}")
    return quote(value, safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    value = getattr(value, "value", value)   # enums: WriteOrdering, ReadConsistencyType, ...
    if isinstance(value, bool):
        return "true" if value else "false"
    return quote(str(value), safe="")


try:  # optional: writes numpy matrices in C, float32 values in their shortest exact form
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def _encode_numpy_batch(body: Any) -> Optional[bytes]:
    """``upload_collection``'s numpy batches without a Python float per element, or None.

    A float32 matrix is written with the shortest text that reads back as the same float32
    (about half the bytes of ``tolist()``'s float64 text), which the server stores exactly as
    before. Anything unusual (non-contiguous arrays, odd dtypes, non-JSON payloads, ids beyond
    64 bits) falls back to the general path.
    """
    import numpy as np

    batch = body.batch
    vectors = getattr(batch, "vectors", None)
    if isinstance(vectors, dict):
        if not vectors or not all(isinstance(v, np.ndarray) for v in vectors.values()):
            return None
    elif not isinstance(vectors, np.ndarray):
        return None
    data: dict = {"ids": batch.ids, "vectors": vectors}
    if batch.payloads is not None:
        data["payloads"] = batch.payloads
    out: dict = {"batch": data}
    for name in ("shard_key", "update_filter", "update_mode"):
        value = getattr(body, name, None)
        if value is not None:
            out[name] = pydantic.TypeAdapter(Any).dump_python(value, mode="json", by_alias=True, exclude_none=True)
    try:
        return _orjson.dumps(out, option=_orjson.OPT_SERIALIZE_NUMPY, default=_orjson_default)
    except (TypeError, _orjson.JSONEncodeError):
        return None


def _orjson_default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)   # non-contiguous arrays, numpy scalars of odd types
    if tolist is not None:
        return tolist()
    raise TypeError


def _json_fallback(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)   # numpy arrays and scalars
    if tolist is not None:
        return tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def encode_body(body: Any) -> bytes:
    """The JSON bytes of a request body (an ``sdk.models`` instance, or plain JSON data)."""
    if isinstance(body, pydantic.BaseModel):
        if _orjson is not None and type(body) is models.PointsBatch:
            fast = _encode_numpy_batch(body)
            if fast is not None:
                return fast
        return body.model_dump_json(
            by_alias=True, exclude_none=True, fallback=_json_fallback, warnings=False
        ).encode()
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return json.dumps(body, default=_json_fallback, separators=(",", ":")).encode()


_JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Prepared:
    route: _Route
    url: str
    content: Optional[bytes]
    files: Any
    timeout: Optional[float]
    headers: Optional[dict]


def with_auth(headers: Optional[dict], token: Optional[str]) -> Optional[dict]:
    """Per-request headers plus the bearer token of ``auth_token_provider`` (asked per request)."""
    if token is None:
        return headers
    return {**(headers or {}), "Authorization": f"Bearer {token}"}


def prepare(base_url: str, operation_id: str, params: dict) -> Prepared:
    """Method, URL (path and query string) and body of one call."""
    route = route_for(operation_id)
    body = params.pop("body", None)
    path = []
    for part in route.path_parts:
        if type(part) is tuple:
            name = part[0]
            if name not in params:
                raise TypeError(f"{operation_id}: missing path parameter {name!r}")
            path.append(_path_segment(name, params.pop(name)))
        else:
            path.append(part)
    query = []
    server_timeout = None
    for name, value in params.items():
        if value is None:
            continue
        if name not in route.query_params:
            raise TypeError(f"{operation_id}: unexpected parameter {name!r}")
        if name == "timeout":
            server_timeout = float(value)
        query.append(f"{name}={_query_value(value)}")
    url = base_url + "".join(path)
    if query:
        url += "?" + "&".join(query)
    content = files = None
    if body is not None:
        if route.body_model == "multipart":
            files = {"snapshot": _snapshot_file(body)}
        else:
            content = encode_body(body)
    return Prepared(route, url, content, files, server_timeout, _JSON_HEADERS if content is not None else None)


def _snapshot_file(body: Any) -> Any:
    """The multipart ``snapshot`` field: bytes, a path (opened here, closed by ``done``) or a file."""
    import os

    if isinstance(body, (bytes, bytearray)):
        return ("snapshot.snapshot", bytes(body))
    if isinstance(body, (str, os.PathLike)):
        return (os.path.basename(os.fspath(body)), _OwnedFile(os.fspath(body)))
    return (os.path.basename(str(getattr(body, "name", "snapshot.snapshot"))), body)


class _OwnedFile(io.FileIO):
    """A file the transport opened itself (and so closes after the call)."""


def rewind(prepared: "Prepared") -> None:
    """Before each attempt: a file being uploaded starts from its beginning again."""
    if prepared.files:
        for _, value in prepared.files.values():
            if hasattr(value, "seek") and getattr(value, "seekable", lambda: False)():
                value.seek(0)


def done(prepared: "Prepared") -> None:
    """After the call: close the files the transport opened."""
    if prepared.files:
        for _, value in prepared.files.values():
            if isinstance(value, _OwnedFile):
                value.close()


# -- response handling ---------------------------------------------------------------------------------
def error_message(content: bytes, status_code: int, reason: str = "") -> tuple[str, Any]:
    """Qdrant's error text (``status.error``) and the decoded body, whatever shape the body has."""
    body: Any = None
    try:
        body = json.loads(content) if content else None
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return (text or reason or f"HTTP {status_code}"), text
    status = body.get("status") if isinstance(body, dict) else None
    if isinstance(status, dict) and status.get("error"):
        return str(status["error"]), body
    if isinstance(status, str) and status not in ("ok",):
        return status, body
    return (reason or f"HTTP {status_code}"), body


def parse_response(prepared: Prepared, status_code: int, content: bytes, reason: str = "") -> Any:
    if 200 <= status_code < 300:
        try:
            return prepared.route.parse(content)
        except (pydantic.ValidationError, ValueError) as exc:
            raise ApiError(
                f"Unexpected response body for {prepared.route.operation_id}: {exc}", status_code=status_code,
                body=content[:1000],
            ) from None
    message, body = error_message(content, status_code, reason)
    raise error_for_status(status_code, message, body)


def retry_delay(policy: RetryPolicy, prepared: Prepared, attempt: int, response: httpx.Response) -> Optional[float]:
    if response.status_code not in policy.statuses:
        return None
    if not (prepared.route.idempotent or policy.retry_writes):
        return None
    return policy.delay(attempt, response.headers.get("retry-after"))


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_sleep = time.sleep          # module-level, so tests can record backoff instead of waiting
_asleep = asyncio.sleep


def failure_delay(policy: RetryPolicy, prepared: Prepared, attempt: int, exc: Exception) -> Optional[float]:
    """Backoff before retrying after a request got no answer, or None to raise it."""
    if isinstance(exc, _NOT_SENT):
        return policy.delay(attempt)          # nothing reached the server: safe for any operation
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if prepared.route.idempotent or policy.retry_writes:
            return policy.delay(attempt)
    return None


def transport_error(exc: Exception, url: str) -> TransportError:
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectError(f"Timed out connecting to {url}: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"Timed out waiting for {url}: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.NetworkError) or isinstance(exc, httpx.RemoteProtocolError):
        return ConnectError(f"Connection to {url} failed: {exc or type(exc).__name__}")
    return TransportError(f"Request to {url} failed: {type(exc).__name__}: {exc}")


# -- client construction ---------------------------------------------------------------------------------
def _base_url(location: Location) -> str:
    return (location.url or "http://localhost:6333").rstrip("/")


def _headers(location: Location, options: RemoteOptions) -> dict:
    headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
    headers.update(options.headers or {})
    if location.api_key is not None:
        if location.url and location.url.startswith("http://") and not _is_loopback(location.url):
            warnings.warn("Api key is used with an insecure connection.", UserWarning, stacklevel=5)
        headers["api-key"] = location.api_key
    return headers


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    return (urlparse(url).hostname or "") in ("localhost", "127.0.0.1", "::1")


def _client_kwargs(location: Location, options: RemoteOptions) -> dict:
    timeout = options.timeout if options.timeout is not None else location.timeout
    pool = options.pool_size
    limits = httpx.Limits(
        max_connections=pool if pool else 100,
        max_keepalive_connections=pool if pool else 20,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    http2 = bool(getattr(options, "http2", False))
    if http2:
        try:
            import h2  # noqa: F401
        except ImportError:
            raise RuntimeError("http2=True needs the 'h2' package: pip install 'httpx[http2]'") from None
    return dict(
        headers=_headers(location, options),
        timeout=httpx.Timeout(float(timeout) if timeout is not None else DEFAULT_TIMEOUT),
        limits=limits,
        http2=http2,
    )


# Requests are small and latency-bound: never let Nagle's algorithm hold the body back.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def _sync_http_transport(kwargs: dict) -> httpx.BaseTransport:
    return httpx.HTTPTransport(http2=kwargs["http2"], limits=kwargs["limits"], socket_options=_SOCKET_OPTIONS)


def _async_http_transport(kwargs: dict) -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(http2=kwargs["http2"], limits=kwargs["limits"], socket_options=_SOCKET_OPTIONS)


def _request_timeout(client_timeout: httpx.Timeout, prepared: Prepared) -> Any:
    if prepared.timeout is None:
        return httpx.USE_CLIENT_DEFAULT
    # the server may legitimately work for `timeout` seconds: wait at least that long (+1 s)
    current = client_timeout.read or 0.0
    if prepared.timeout + 1.0 <= current:
        return httpx.USE_CLIENT_DEFAULT
    return httpx.Timeout(prepared.timeout + 1.0, connect=client_timeout.connect)


class RestTransport:
    """Synchronous Qdrant REST transport (one pooled keep-alive httpx.Client)."""

    def __init__(self, location: Location, options: RemoteOptions) -> None:
        self.location = location
        self._base = _base_url(location)
        self._policy = _policy_from(options)
        self._token = options.auth_token_provider
        kwargs = _client_kwargs(location, options)
        transport = _sync_http_transport(kwargs)
        self._timeout = kwargs["timeout"]
        self._http = httpx.Client(
            headers=kwargs["headers"], timeout=self._timeout, transport=transport, follow_redirects=False
        )

    def _token_value(self) -> Optional[str]:
        if self._token is None:
            return None
        token = self._token()
        if inspect.isawaitable(token):
            if hasattr(token, "close"):
                token.close()
            raise TypeError("auth_token_provider returned an awaitable: use AsyncQdrantClient for an async provider")
        return token

    def call(self, operation_id: str, **params: Any) -> Any:
        prepared = prepare(self._base, operation_id, params)
        try:
            return self._send(prepared)
        finally:
            done(prepared)

    def _send(self, prepared: Prepared) -> Any:
        timeout = _request_timeout(self._timeout, prepared)
        attempt = 0
        while True:
            rewind(prepared)
            try:
                response = self._http.request(
                    prepared.route.method, prepared.url, content=prepared.content, files=prepared.files,
                    headers=with_auth(prepared.headers, self._token_value()), timeout=timeout,
                )
            except httpx.TransportError as exc:
                delay = failure_delay(self._policy, prepared, attempt, exc)
                if delay is None:
                    raise transport_error(exc, prepared.url) from exc
                _sleep(delay)
                attempt += 1
                continue
            delay = retry_delay(self._policy, prepared, attempt, response)
            if delay is not None:
                _sleep(delay)
                attempt += 1
                continue
            return parse_response(prepared, response.status_code, response.content, response.reason_phrase)

    def blocking(self) -> "RestTransport":
        """The transport to call from synchronous code (itself)."""
        return self

    def close(self) -> None:
        self._http.close()


class AsyncRestTransport:
    """Asynchronous Qdrant REST transport (one pooled keep-alive httpx.AsyncClient)."""

    def __init__(self, location: Location, options: RemoteOptions) -> None:
        self.location = location
        self._base = _base_url(location)
        self._policy = _policy_from(options)
        self._token = options.auth_token_provider
        self._options = options
        self._blocking: Optional[RestTransport] = None
        kwargs = _client_kwargs(location, options)
        transport = _async_http_transport(kwargs)
        self._timeout = kwargs["timeout"]
        self._http = httpx.AsyncClient(
            headers=kwargs["headers"], timeout=self._timeout, transport=transport, follow_redirects=False
        )

    async def _token_value(self) -> Optional[str]:
        if self._token is None:
            return None
        token = self._token()
        if inspect.isawaitable(token):
            token = await token
        return token

    async def call(self, operation_id: str, **params: Any) -> Any:
        prepared = prepare(self._base, operation_id, params)
        try:
            return await self._send(prepared)
        finally:
            done(prepared)

    async def _send(self, prepared: Prepared) -> Any:
        timeout = _request_timeout(self._timeout, prepared)
        attempt = 0
        while True:
            rewind(prepared)
            try:
                response = await self._http.request(
                    prepared.route.method, prepared.url, content=prepared.content, files=prepared.files,
                    headers=with_auth(prepared.headers, await self._token_value()), timeout=timeout,
                )
            except httpx.TransportError as exc:
                delay = failure_delay(self._policy, prepared, attempt, exc)
                if delay is None:
                    raise transport_error(exc, prepared.url) from exc
                await _asleep(delay)
                attempt += 1
                continue
            delay = retry_delay(self._policy, prepared, attempt, response)
            if delay is not None:
                await _asleep(delay)
                attempt += 1
                continue
            return parse_response(prepared, response.status_code, response.content, response.reason_phrase)

    def blocking(self) -> RestTransport:
        """A synchronous twin on the same server and options (opened on first use), for the async
        client's upload methods, which are synchronous as in qdrant-client."""
        if self._blocking is None:
            self._blocking = RestTransport(self.location, self._options)
        return self._blocking

    async def close(self) -> None:
        await self._http.aclose()
        if self._blocking is not None:
            self._blocking.close()
            self._blocking = None
