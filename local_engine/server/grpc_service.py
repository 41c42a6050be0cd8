"""Qdrant's public gRPC services (qdrant.Collections, qdrant.Points, qdrant.Snapshots, qdrant.Qdrant)
over one ``Engine``.

Every rpc of those services is registered. One that answers an operation (``sdk._grpc.operations``)
goes through the same steps as a REST request: check the API key, convert the request into the
operation's ``sdk.models`` body, call ``engine.<operation id>``, convert the result, set ``time``.
An rpc whose operation the engine does not implement -- or that this package does not convert
(cluster rpcs) -- answers UNIMPLEMENTED naming it; nothing answers a fake success.

Failures are classified by ``_common.classify`` (shared with the REST app): NotFound -> NOT_FOUND,
BadRequest -> INVALID_ARGUMENT, Unsupported -> UNIMPLEMENTED, anything else -> INTERNAL. A request
the converters reject is INVALID_ARGUMENT (malformed) or UNIMPLEMENTED (valid in Qdrant's gRPC API,
but without a REST v1.19 equivalent here).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional, Tuple

import grpc

from sdk import models
from sdk._exceptions import BadRequestError, UnsupportedOperationError
from sdk._grpc import _pool
from sdk._grpc.operations import BY_PATH, NOT_CONVERTED, RpcSpec

from ._common import VERSION_INFO, Failure, auth_failure, classify, engine_method, unimplemented

__all__ = ["create_grpc_server", "SERVICES"]

SERVICES = ("qdrant.Collections", "qdrant.Points", "qdrant.Snapshots", "qdrant.Qdrant")
_UNCONVERTED = {path: op for op, path in NOT_CONVERTED.items()}
_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def create_grpc_server(
    engine: Any, host: str, port: int, api_key: Optional[str] = None, max_workers: int = 8
) -> Tuple[grpc.Server, int]:
    """An unstarted ``grpc.Server`` serving ``engine`` on ``host:port`` (0: a free port), and the port."""
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="qdrant-sdk-grpc"),
                         options=_UNLIMITED)
    server.add_generic_rpc_handlers(tuple(_service_handler(engine, name, api_key) for name in SERVICES))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if not bound:
        raise OSError(f"cannot listen for gRPC on {address}")
    return server, bound


def _service_handler(engine: Any, service: str, api_key: Optional[str]) -> grpc.GenericRpcHandler:
    descriptor = _pool.POOL.FindServiceByName(service)
    handlers: Dict[str, grpc.RpcMethodHandler] = {}
    for method in descriptor.methods:
        path = f"/{service}/{method.name}"
        request_cls = _message_class(method.input_type)
        response_cls = _message_class(method.output_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _Rpc(engine, path, BY_PATH.get(path), api_key),
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service, handlers)


def _message_class(descriptor: Any) -> Any:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


class _Rpc:
    """One rpc: its operation spec (None when no operation is converted for it) and the engine."""

    def __init__(self, engine: Any, path: str, spec: Optional[RpcSpec], api_key: Optional[str]) -> None:
        self.path = path
        self.spec = spec
        self.api_key = api_key
        self.method = engine_method(engine, spec.op) if spec is not None else None

    def __call__(self, request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        fail = self._check_key(context)
        if fail is None:
            response, fail = self._answer(request)
            if fail is None:
                if "time" in response.DESCRIPTOR.fields_by_name:
                    response.time = time.perf_counter() - started
                return response
        context.abort(getattr(grpc.StatusCode, fail.grpc_code, grpc.StatusCode.UNKNOWN), fail.message)

    def _check_key(self, context: grpc.ServicerContext) -> Optional[Failure]:
        if not self.api_key:
            return None
        metadata = dict(context.invocation_metadata())
        return auth_failure(self.api_key, metadata.get("api-key"), metadata.get("authorization"))

    def _answer(self, request: Any) -> Tuple[Any, Optional[Failure]]:
        spec = self.spec
        if spec is None:
            return None, unimplemented(_UNCONVERTED.get(self.path, self.path.rsplit("/", 1)[-1]), "gRPC", self.path)
        if self.method is None and spec.op != "root":
            return None, unimplemented(spec.op, "gRPC", self.path)
        try:
            kwargs = spec.accept(request)
            if self.method is None:   # HealthCheck, when the engine has no `root` of its own
                result = models.VersionInfo(**VERSION_INFO)
            else:
                result = self.method.call(**kwargs)
            return spec.reply(result, request), None
        except BadRequestError as exc:
            return None, Failure(400, "INVALID_ARGUMENT", exc.message)
        except UnsupportedOperationError as exc:
            return None, Failure(501, "UNIMPLEMENTED", exc.message)
        except Exception as exc:  # noqa: BLE001 - classified (and logged when unexpected)
            return None, classify(exc, spec.op)
