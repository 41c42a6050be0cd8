"""Qdrant's gRPC protocol over grpcio, sync and async.

Same contract as every transport: ``call(operation_id, **params)`` returns the operation's result
model. ``sdk._grpc.operations.RPCS`` says which rpc answers an operation and converts its request
and response; this module only moves messages.

Rules of the wire, said once:

* One channel per client, opened lazily and reused by every call, with one cached callable per
  rpc. The async transport opens its ``grpc.aio`` channel inside the running event loop.
* TLS when the URL is ``https`` (or ``https=True``): ``grpc.ssl_channel_credentials()``.
* Messages are unlimited in size (``grpc.max_send/receive_message_length = -1``); the caller's
  ``grpc_options`` are added to (and override) the channel options.
* Metadata: ``api-key`` when an API key is given, ``authorization: Bearer <token>`` from
  ``auth_token_provider`` on every call, and the client's ``headers`` (lower-cased keys).
* Deadline: the call's ``timeout``, else the client's, else 5 seconds (qdrant-client's gRPC and
  REST default). The call's ``timeout`` also goes in the request for the server to honour.
* Errors: a gRPC status becomes the typed exception of the same meaning (``map_rpc_error``);
  a channel that cannot connect is ``ConnectError``.
* Operations Qdrant serves only over REST (snapshot download/upload/recover, ``GET`` of one point,
  telemetry, ...) go through an internal REST transport on the client's URL, as qdrant-client
  does; cluster rpcs this package does not convert raise ``UnsupportedOperationError``.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import grpc
import grpc.aio

from .._exceptions import (
    BadRequestError, ConflictError, ConnectError, ForbiddenError, InternalServerError, NotFoundError, QdrantError,
    RateLimitError, RequestTimeoutError, ServiceUnavailableError, UnauthorizedError, UnsupportedOperationError,
)
from .._grpc.operations import NOT_CONVERTED, RPCS, RpcSpec, not_converted
from .._location import Location, RemoteOptions

__all__ = ["GrpcTransport", "AsyncGrpcTransport", "map_rpc_error"]

_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
DEFAULT_TIMEOUT = 5.0   # seconds, as qdrant-client (QdrantRemote.DEFAULT_GRPC_TIMEOUT)

_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: BadRequestError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthorizedError,
    grpc.StatusCode.PERMISSION_DENIED: ForbiddenError,
    grpc.StatusCode.ALREADY_EXISTS: ConflictError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimitError,
    grpc.StatusCode.UNIMPLEMENTED: UnsupportedOperationError,
    grpc.StatusCode.UNAVAILABLE: ServiceUnavailableError,
}
_CANNOT_CONNECT = ("failed to connect", "connection refused", "dns resolution failed", "name resolution",
                   "connect failed", "no route to host", "network is unreachable", "socket closed")


def map_rpc_error(exc: grpc.RpcError, target: str = "") -> QdrantError:
    """The typed exception for a failed rpc, carrying the server's message."""
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return RequestTimeoutError(f"Timed out waiting for {target}: {details}")
    if code == grpc.StatusCode.UNAVAILABLE and any(s in details.lower() for s in _CANNOT_CONNECT):
        return ConnectError(f"Cannot connect to {target}: {details}")
    cls = _BY_CODE.get(code, InternalServerError)
    return cls(details)


class _Wire:
    """What both transports derive from the client's location and options."""

    def __init__(self, location: Location, options: RemoteOptions) -> None:
        self.location = location
        self.options = options
        parsed = urlparse(location.url or "http://localhost:6333")
        host = parsed.hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        self.target = f"{host}:{location.grpc_port}"
        self.secure = parsed.scheme == "https" or bool(options.https)
        merged = dict(_UNLIMITED)
        merged.update(options.grpc_options or {})
        self.channel_options: List[Tuple[str, Any]] = list(merged.items())
        metadata = [(k.lower(), str(v)) for k, v in (options.headers or {}).items() if k.lower() not in _RESERVED]
        if location.api_key is not None:
            metadata.append(("api-key", location.api_key))
        self.metadata: Tuple[Tuple[str, str], ...] = tuple(metadata)
        self.timeout = options.timeout if options.timeout is not None else location.timeout
        self.token_provider = options.auth_token_provider

    def deadline(self, params: Dict[str, Any]) -> float:
        timeout = params.get("timeout")
        if timeout is None:
            timeout = self.timeout if self.timeout is not None else DEFAULT_TIMEOUT
        return float(timeout)

    def with_token(self, token: Optional[str]) -> Tuple[Tuple[str, str], ...]:
        if token is None:
            return self.metadata
        return (*self.metadata, ("authorization", f"Bearer {token}"))

    def spec(self, operation_id: str) -> Optional[RpcSpec]:
        spec = RPCS.get(operation_id)
        if spec is None and operation_id in NOT_CONVERTED:
            raise not_converted(operation_id)
        return spec


_RESERVED = {"content-type", "user-agent", "te", "host", "connection", "api-key", "authorization"}


def _rest_unavailable(operation_id: str, exc: Exception) -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"Operation `{operation_id}` has no gRPC rpc in Qdrant's API and needs the REST transport, "
        f"which could not be loaded: {exc}"
    )


class _GrpcTransportBase:
    """What the sync and async transports share: the channel, cached rpc callables, REST fallback.

    Subclasses name the grpc module that opens channels (``grpc`` or ``grpc.aio``) and the REST
    transport class used for operations Qdrant serves over REST only.
    """

    _channels: Any = grpc
    _rest_class: str = "RestTransport"

    def __init__(self, location: Location, options: RemoteOptions) -> None:
        self.location = location
        self._wire = _Wire(location, options)
        self._channel: Any = None
        self._callables: Dict[str, Any] = {}
        self._rest: Any = None

    def _open(self) -> Any:
        wire = self._wire
        if wire.secure:
            channel = self._channels.secure_channel(
                wire.target, grpc.ssl_channel_credentials(), options=wire.channel_options
            )
        else:
            channel = self._channels.insecure_channel(wire.target, options=wire.channel_options)
        self._channel = channel
        return channel

    def _callable(self, spec: RpcSpec) -> Any:
        fn = self._callables.get(spec.op)
        if fn is None:
            channel = self._channel or self._open()
            fn = channel.unary_unary(
                spec.path, request_serializer=spec.request.SerializeToString,
                response_deserializer=spec.response.FromString, _registered_method=True,
            )
            self._callables[spec.op] = fn
        return fn

    def _rest_transport(self, operation_id: str) -> Any:
        if self._rest is None:
            try:
                from . import rest
            except ImportError as exc:
                raise _rest_unavailable(operation_id, exc) from None
            self._rest = getattr(rest, self._rest_class)(self.location, self._wire.options)
        return self._rest


class GrpcTransport(_GrpcTransportBase):
    """Synchronous Qdrant gRPC transport (one ``grpc.Channel``)."""

    def _token(self) -> Optional[str]:
        provider = self._wire.token_provider
        if provider is None:
            return None
        token = provider()
        if inspect.isawaitable(token):
            if hasattr(token, "close"):
                token.close()
            raise TypeError("auth_token_provider returned an awaitable: use AsyncQdrantClient for an async provider")
        return token

    def call(self, operation_id: str, **params: Any) -> Any:
        spec = self._wire.spec(operation_id)
        if spec is None:
            return self._rest_transport(operation_id).call(operation_id, **params)
        request = spec.build(params)
        try:
            response = self._callable(spec)(
                request, timeout=self._wire.deadline(params), metadata=self._wire.with_token(self._token())
            )
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self._wire.target) from None
        return spec.parse(response, params)

    def blocking(self) -> "GrpcTransport":
        """The transport to call from synchronous code (itself)."""
        return self

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._callables.clear()
        if self._rest is not None:
            self._rest.close()
            self._rest = None


class AsyncGrpcTransport(_GrpcTransportBase):
    """Asynchronous Qdrant gRPC transport (one ``grpc.aio.Channel``, opened in the running loop)."""

    _channels = grpc.aio
    _rest_class = "AsyncRestTransport"

    async def _token(self) -> Optional[str]:
        provider = self._wire.token_provider
        if provider is None:
            return None
        token = provider()
        if inspect.isawaitable(token):
            token = await token
        return token

    async def call(self, operation_id: str, **params: Any) -> Any:
        spec = self._wire.spec(operation_id)
        if spec is None:
            return await self._rest_transport(operation_id).call(operation_id, **params)
        request = spec.build(params)
        try:
            response = await self._callable(spec)(
                request, timeout=self._wire.deadline(params), metadata=self._wire.with_token(await self._token())
            )
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self._wire.target) from None
        return spec.parse(response, params)

    _blocking: Optional[GrpcTransport] = None

    def blocking(self) -> GrpcTransport:
        """A synchronous twin on the same server and options (opened on first use), for the async
        client's upload methods, which are synchronous as in qdrant-client."""
        if self._blocking is None:
            self._blocking = GrpcTransport(self.location, self._wire.options)
        return self._blocking

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._callables.clear()
        if self._rest is not None:
            await self._rest.close()
            self._rest = None
        if self._blocking is not None:
            self._blocking.close()
            self._blocking = None
