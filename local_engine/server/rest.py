"""Qdrant's REST API as an ASGI app (Starlette) over one ``Engine``.

Routes are generated from the same table the REST client uses (``sdk._operations_spec``): every
path of the v1.19 spec and the legacy search/recommend/discover ones. A request for operation
``X`` is answered by ``engine.X(**path_params, body=<validated body model>)``; an operation the
engine has no method for answers 501 naming it, never a fake success.

The event loop only moves bytes. Parsing the JSON body into models, the engine call and encoding
the result all run on Starlette's thread pool (``run_in_threadpool``), so one slow request (a
large upsert, an exact search) never stalls the others; the engine does its own locking.

Answers follow Qdrant: ``{"result": ..., "status": "ok", "time": <s>}``, errors
``{"status": {"error": "..."}, "time": <s>, "result": null}`` with the status chosen by
``_common.classify``. ``/``, ``/healthz``, ``/livez`` and ``/readyz`` are open even when an API
key is set, as in Qdrant.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import pydantic
from pydantic_core import from_json
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from sdk import models
from sdk._operation import Operation
from sdk._operations_spec import OPERATIONS

from ._common import (
    VERSION_INFO,
    WIRE_ONLY,
    Failure,
    auth_failure,
    classify,
    engine_method,
    unimplemented,
)

__all__ = ["create_app"]

_JSON = "application/json"

# Matched first: Starlette tries routes in order, and these carry nearly all traffic.
_HOT = ("query_points", "upsert_points", "scroll_points", "get_points", "count_points", "set_payload",
        "delete_points", "query_batch_points", "get_collection", "collection_exists")
_OPEN = {"root", "healthz", "livez", "readyz"}
_INT_PATH_PARAMS = {"shard_id", "peer_id"}


# -- types from the table ---------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _namespace() -> dict:
    import typing

    ns = {name: getattr(typing, name) for name in ("List", "Dict", "Any", "Optional", "Union", "Tuple")}
    ns.update({name: getattr(models, name) for name in dir(models) if not name.startswith("_")})
    return ns


@lru_cache(maxsize=None)
def _adapter(expression: str) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(eval(expression, _namespace()))  # noqa: S307 - generated table


def _fallback(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)    # numpy arrays / scalars the engine may hand back
    if tolist is not None:
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def _encode_result(adapter: Optional[pydantic.TypeAdapter], result: Any) -> bytes:
    if adapter is None:
        return json.dumps(result, default=_fallback).encode()
    return adapter.dump_json(result, by_alias=True, exclude_none=True, fallback=_fallback, warnings=False)


# -- answers ---------------------------------------------------------------------------------------------
def _ok(data: bytes, started: float) -> bytes:
    return b'{"result":' + data + b',"status":"ok","time":' + repr(time.perf_counter() - started).encode() + b"}"


def _error_body(message: str, started: float) -> bytes:
    return json.dumps({"status": {"error": message}, "time": time.perf_counter() - started, "result": None}).encode()


def _error(fail: Failure, started: float) -> Response:
    return Response(_error_body(fail.message, started), status_code=fail.http_status, media_type=_JSON)


# -- parameters ------------------------------------------------------------------------------------------
_BOOL = {"true": True, "false": False}
_ORDERING = {"weak", "medium", "strong"}
_CONSISTENCY = {"majority", "quorum", "all"}


def _check_query(name: str, raw: str) -> Any:
    """Qdrant's query parameters, validated the way its deserializer does (400 on nonsense)."""
    if name in ("wait", "anonymize", "per_collection", "force"):
        if raw not in _BOOL:
            raise _RequestError(f"Query deserialize error: invalid value {raw!r} for `{name}`: expected true or false")
        return _BOOL[raw]
    if name == "ordering":
        if raw not in _ORDERING:
            raise _RequestError(f"Query deserialize error: unknown variant `{raw}`, expected one of `weak`, `medium`, `strong`")
        return raw
    if name == "consistency":
        if raw in _CONSISTENCY:
            return raw
        if raw.isdigit():
            return int(raw)
        raise _RequestError(f"Query deserialize error: invalid value {raw!r} for `consistency`")
    if name in ("timeout", "details_level", "completed_limit"):
        if not raw.isdigit():
            raise _RequestError(f"Query deserialize error: invalid digit found in string for `{name}`: {raw!r}")
        value = int(raw)
        if name == "timeout" and value < 1:
            raise _RequestError("Validation error in query: timeout: value 0 invalid, must be 1 or larger")
        return value
    return raw


class _RequestError(Exception):
    pass


try:  # optional: a little faster on float-heavy bodies (upserts)
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = None


def _loads(body: bytes) -> Any:
    if _fast_loads is not None:
        try:
            return _fast_loads(body)
        except ValueError:
            pass   # malformed, or an integer beyond 64 bits: pydantic-core decides (and words the error)
    try:
        return from_json(body)
    except ValueError as exc:
        raise _RequestError(f"Format error in JSON body: {exc}") from None


def _point_id(raw: str) -> Any:
    if raw.isdigit():
        return int(raw)
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise _RequestError(f"Wrong input: Unable to parse point id `{raw}`: expected an unsigned integer or a UUID") from None


# -- one operation -----------------------------------------------------------------------------------------
class _Endpoint:
    """Answers one operation id: auth, parameters, body, engine call, encoding."""

    def __init__(self, engine: Any, op: Operation, api_key: Optional[str]) -> None:
        self.op = op
        self.api_key = api_key
        self.method = engine_method(engine, op.operation_id)
        self.body_adapter = _adapter(op.body_model) if op.body_model and op.body_model != "multipart" else None
        self.result_adapter = _adapter(op.result_type) if op.result_type else None
        accepts = self.method.accepts if self.method else frozenset()
        # query parameters the engine method itself takes (wire-only ones are validated and dropped)
        self.engine_query = frozenset(q for q in op.query_params if q in accepts and q not in WIRE_ONLY)
        self.query_params = frozenset(op.query_params)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        if self.api_key:
            headers = request.headers
            fail = auth_failure(self.api_key, headers.get("api-key"), headers.get("authorization"))
            if fail is not None:
                return _error(fail, started)
        if self.method is None:
            return _error(unimplemented(self.op.operation_id, self.op.method, self.op.path), started)
        form = None
        try:
            if self.op.body_model == "multipart":
                # snapshot upload: the engine reads the spooled file (field `snapshot`) on the pool
                form = await request.form()
                upload = form.get("snapshot")
                body: Any = getattr(upload, "file", None)
            else:
                body = await request.body() if self.body_adapter is not None else b""
            status, data = await run_in_threadpool(
                self.execute, request.path_params, request.query_params, body, started
            )
        finally:
            if form is not None:
                await form.close()
        if type(data) is bytes:
            return Response(data, status_code=status, media_type=_JSON)
        return self.raw_response(data)

    def execute(self, path_params: dict, query: Any, body: Any, started: float) -> tuple[int, Any]:
        """Everything but socket I/O, on the thread pool: (status, envelope bytes) or (200, raw result)."""
        op = self.op
        try:
            kwargs: dict[str, Any] = {}
            for name, raw in path_params.items():
                kwargs[name] = _point_id(raw) if name == "id" else raw
            for name in self.query_params:
                raw = query.get(name)
                if raw is not None:
                    value = _check_query(name, raw)
                    if name in self.engine_query:
                        kwargs[name] = value
            if self.body_adapter is not None:
                # JSON -> Python, then validate exactly as the in-process client does (in JSON mode
                # pydantic would turn UUID point ids into uuid.UUID objects)
                kwargs["body"] = self.body_adapter.validate_python(_loads(body)) if body.strip() else None
            elif op.body_model == "multipart":
                if body is None:
                    raise _RequestError("Format error in multipart body: missing the `snapshot` file field")
                kwargs["body"] = body
            result = self.method.call(**kwargs)
            if self.result_adapter is None:
                return 200, _Raw(result)
            return 200, _ok(_encode_result(self.result_adapter, result), started)
        except _RequestError as exc:
            return 400, _error_body(str(exc), started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes Qdrant's error answer
            fail = classify(exc, op.operation_id)
            return fail.http_status, _error_body(fail.message, started)

    def raw_response(self, raw: "_Raw") -> Response:
        """Operations answered without the envelope: downloads, text (metrics), bare JSON."""
        value, kind = raw.value, self.op.response_type
        if kind == "bytes":
            if isinstance(value, (bytes, bytearray)):
                return Response(bytes(value), media_type="application/octet-stream")
            path = Path(value)
            return FileResponse(path, media_type="application/octet-stream", filename=path.name)
        if kind == "str":
            return PlainTextResponse(str(value))
        return Response(json.dumps(value, default=_fallback).encode(), media_type=_JSON)


class _Raw:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


# -- the app -------------------------------------------------------------------------------------------------
def _starlette_path(op: Operation) -> str:
    path = op.path
    for name in _INT_PATH_PARAMS & set(op.path_params):
        path = path.replace("{" + name + "}", "{" + name + ":int}")
    return path


def _ordered(ops: dict) -> list[Operation]:
    hot = [ops[name] for name in _HOT if name in ops]
    rest = sorted((op for name, op in ops.items() if name not in _HOT), key=lambda op: op.path)
    return hot + rest


def _service_routes() -> list[Route]:
    async def root(request: Request) -> Response:
        return Response(json.dumps(VERSION_INFO).encode(), media_type=_JSON)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("healthz check passed")

    async def readyz(request: Request) -> Response:
        return PlainTextResponse("all shards are ready")

    return [
        Route("/", root, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/livez", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def create_app(engine: Any, api_key: Optional[str] = None) -> Starlette:
    """The REST app serving ``engine``; with ``api_key`` every request but the health checks must carry it."""
    routes = _service_routes()
    for op in _ordered(OPERATIONS):
        if op.operation_id in _OPEN:
            continue
        routes.append(Route(_starlette_path(op), _Endpoint(engine, op, api_key or None).handle, methods=[op.method]))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        text = "Method not allowed" if status == 405 else f"Not found: no route for {request.method} {request.url.path}"
        return Response(_error_body(text, time.perf_counter()), status_code=status, media_type=_JSON)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.engine = engine
    return app
