"""qdrant-sdk: a Qdrant client with a built-in engine.

    from sdk import QdrantClient, models

    client = QdrantClient(":memory:")          # or QdrantClient(path="./data")
"""

from . import models
from ._async_client import AsyncQdrantClient
from ._exceptions import (
    ApiError,
    BadRequestError,
    ConflictError,
    ConnectError,
    ForbiddenError,
    InternalServerError,
    NotFoundError,
    QdrantError,
    RateLimitError,
    RequestTimeoutError,
    ServiceUnavailableError,
    StorageCorruptedError,
    StorageError,
    StorageLockedError,
    TransportError,
    UnauthorizedError,
    UnprocessableEntityError,
    UnsupportedOperationError,
)
from ._sync_client import QdrantClient

__version__ = "0.1.0"

__all__ = [
    "QdrantClient",
    "AsyncQdrantClient",
    "models",
    "QdrantError",
    "ApiError",
    "BadRequestError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "UnsupportedOperationError",
    "ServiceUnavailableError",
    "TransportError",
    "ConnectError",
    "RequestTimeoutError",
    "StorageError",
    "StorageLockedError",
    "StorageCorruptedError",
]
