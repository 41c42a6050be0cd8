"""Every error the client raises on purpose.

    QdrantError
     ├── ApiError                     the server (or the built-in engine) refused the request
     │    ├── BadRequestError           400: wrong dimension, unknown vector, malformed filter, bad id,
     │    │                                  "... already exists"  (also a ValueError)
     │    ├── UnauthorizedError         401: missing or wrong API key
     │    ├── ForbiddenError            403
     │    ├── NotFoundError             404: unknown collection, point, alias  (also a ValueError)
     │    ├── ConflictError             409
     │    ├── UnprocessableEntityError  422
     │    ├── RateLimitError            429
     │    ├── InternalServerError       500
     │    ├── UnsupportedOperationError 501: valid, but not implemented by this server or engine
     │    └── ServiceUnavailableError   503
     ├── TransportError               the request did not get an answer
     │    ├── ConnectError
     │    └── RequestTimeoutError
     └── StorageError                 path mode storage problems
          ├── StorageLockedError        another client instance owns the folder
          └── StorageCorruptedError     a data file failed its integrity check

Local mode raises the same ``ApiError`` classes a server would answer with, so code handles
a missing collection the same way in every mode. Engine errors are translated in exactly one
place, ``map_engine_errors``.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Iterator

import pydantic


class QdrantError(Exception):
    """Base class of every error raised by this package."""


class ApiError(QdrantError):
    status_code: ClassVar[int] = 500

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        self.body = body

    def __str__(self) -> str:
        return self.message


class BadRequestError(ApiError, ValueError):
    status_code = 400


class UnauthorizedError(ApiError):
    status_code = 401


class ForbiddenError(ApiError):
    status_code = 403


class NotFoundError(ApiError, ValueError):
    status_code = 404


class ConflictError(ApiError):
    status_code = 409


class UnprocessableEntityError(ApiError, ValueError):
    status_code = 422


class RateLimitError(ApiError):
    status_code = 429


class InternalServerError(ApiError):
    status_code = 500


class UnsupportedOperationError(ApiError):
    status_code = 501


class ServiceUnavailableError(ApiError):
    status_code = 503


class TransportError(QdrantError):
    pass


class ConnectError(TransportError):
    pass


class RequestTimeoutError(TransportError):
    pass


class StorageError(QdrantError):
    pass


class StorageLockedError(StorageError):
    pass


class StorageCorruptedError(StorageError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError, ConflictError,
        UnprocessableEntityError, RateLimitError, InternalServerError, UnsupportedOperationError,
        ServiceUnavailableError,
    )
}


def error_for_status(status_code: int, message: str, body: Any = None) -> ApiError:
    """The typed error for an HTTP status (unknown statuses become a plain ApiError)."""
    cls = _BY_STATUS.get(status_code, ApiError)
    return cls(message, status_code=status_code, body=body)


@contextlib.contextmanager
def map_engine_errors() -> Iterator[None]:
    """Translate the built-in engine's error kinds into the client's typed errors."""
    from local_engine import errors as engine_errors

    try:
        yield
    except engine_errors.NotFound as exc:
        raise NotFoundError(exc.message) from None
    except engine_errors.BadRequest as exc:
        raise BadRequestError(exc.message) from None
    except engine_errors.Unsupported as exc:
        raise UnsupportedOperationError(exc.message) from None
    except engine_errors.StorageLocked as exc:
        raise StorageLockedError(exc.message) from None
    except engine_errors.StorageCorrupted as exc:
        raise StorageCorruptedError(exc.message) from None
    except pydantic.ValidationError as exc:
        raise BadRequestError(f"Format error in request: {exc}") from None


@contextlib.contextmanager
def map_validation_errors() -> Iterator[None]:
    """Invalid arguments given to a client method become a BadRequestError before any I/O."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise BadRequestError(f"Invalid request: {exc}") from None
