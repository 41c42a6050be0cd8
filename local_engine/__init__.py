"""The built-in Qdrant-compatible engine: collections, vectors, payloads, filters, storage.

Pure objects, no I/O protocol: ``Engine`` answers Qdrant's operations (named after the
OpenAPI operation ids) on ``sdk.models`` requests. The client's local mode calls it in
process; ``local_engine.server`` serves it over Qdrant's REST and gRPC protocols.
"""

from .engine import Engine
from .errors import AlreadyExists, BadRequest, EngineError, NotFound, StorageCorrupted, StorageLocked, Unsupported

__all__ = [
    "Engine",
    "EngineError",
    "BadRequest",
    "AlreadyExists",
    "NotFound",
    "Unsupported",
    "StorageLocked",
    "StorageCorrupted",
]
