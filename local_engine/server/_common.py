"""What the REST app and the gRPC service share: how a failure is answered, how a key is checked,
which operations the engine implements.

One table decides every error answer, for both protocols (``classify``):

    engine NotFound                      404  NOT_FOUND
    engine BadRequest (AlreadyExists)    400  INVALID_ARGUMENT
    pydantic ValidationError / bad JSON  400  INVALID_ARGUMENT  "Format error in JSON body: ..."
    engine Unsupported / no such method  501  UNIMPLEMENTED     (the message names the operation)
    missing or wrong API key             401  UNAUTHENTICATED
    anything else                        500  INTERNAL          (logged with its traceback)

This module imports neither Starlette nor grpcio, so either server can use it alone.
"""

from __future__ import annotations

import hmac
import inspect
import keyword
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pydantic

from .. import errors
from ..engine_service import QDRANT_VERSION, VERSION_INFO   # the Qdrant API version (one definition)

__all__ = [
    "QDRANT_VERSION", "Failure", "classify", "unimplemented", "auth_failure", "engine_method",
    "VERSION_INFO", "WIRE_ONLY",
]

log = logging.getLogger("local_engine.server")

# Query parameters that only mean something on a cluster: accepted and not passed to the engine.
WIRE_ONLY = frozenset({"wait", "ordering", "consistency", "timeout"})


@dataclass(frozen=True)
class Failure:
    """How to answer a failed request: HTTP status, gRPC status code name, message."""

    http_status: int
    grpc_code: str        # a ``grpc.StatusCode`` member name, e.g. "NOT_FOUND"
    message: str


_GRPC_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
               503: "UNAVAILABLE"}


def failure(http_status: int, message: str) -> Failure:
    return Failure(http_status, _GRPC_CODES.get(http_status, "UNKNOWN"), message)


def classify(exc: BaseException, operation_id: str = "") -> Failure:
    """The answer for an exception raised while serving ``operation_id``."""
    if isinstance(exc, errors.NotFound):
        return failure(404, exc.message)
    if isinstance(exc, errors.BadRequest):
        return failure(400, exc.message)
    if isinstance(exc, errors.Unsupported):
        return failure(501, exc.message)
    if isinstance(exc, pydantic.ValidationError):
        return failure(400, f"Format error in JSON body: {_validation_text(exc)}")
    if isinstance(exc, (errors.StorageLocked, errors.StorageCorrupted)):
        log.error("storage failure in %s: %s", operation_id, exc)
        return failure(500, f"Service internal error: {exc.message}")
    log.exception("unexpected error in %s", operation_id or "request", exc_info=exc)
    return failure(500, f"Service internal error: {type(exc).__name__}: {exc}")


def _validation_text(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def unimplemented(operation_id: str, method: str = "", path: str = "") -> Failure:
    where = f" ({method} {path})" if method else ""
    return failure(501, f"Operation `{operation_id}`{where} is not implemented by this server")


def auth_failure(expected: Optional[str], api_key: Optional[str], authorization: Optional[str]) -> Optional[Failure]:
    """None when the request may pass; otherwise Qdrant's 401 answer.

    Like Qdrant, the key is read from the ``api-key`` header or ``Authorization: Bearer <key>``,
    and compared in constant time.
    """
    if not expected:
        return None
    key = api_key
    if key is None and authorization and authorization.startswith("Bearer "):
        key = authorization[len("Bearer "):]
    if key is None:
        return failure(401, "Unauthorized: Must provide an API key or an Authorization bearer token")
    if not hmac.compare_digest(key.encode(), expected.encode()):
        return failure(401, "Unauthorized: Invalid API key or JWT")
    return None


@dataclass(frozen=True)
class EngineMethod:
    call: Callable[..., Any]
    accepts: frozenset       # parameter names the engine method takes (besides ``self``)


def engine_method(engine: Any, operation_id: str) -> Optional[EngineMethod]:
    """The engine's method for an operation id, or None when the engine does not implement it."""
    method = getattr(engine, operation_id, None)
    if method is None or operation_id.startswith("_") or not callable(method):
        return None
    try:
        names = frozenset(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        names = frozenset()
    # A wire parameter named like a Python keyword (`with`) is `with_` in the engine's signature.
    escaped = {n[:-1]: n for n in names if n.endswith("_") and keyword.iskeyword(n[:-1])}
    if not escaped:
        return EngineMethod(method, names)

    def call(**kwargs: Any) -> Any:
        return method(**{escaped.get(k, k): v for k, v in kwargs.items()})

    return EngineMethod(call, (names - set(escaped.values())) | set(escaped))
