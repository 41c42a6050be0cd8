"""Errors raised by the engine.

The engine knows nothing of HTTP or gRPC; it says *what kind* of failure happened and the
facade (``sdk._exceptions.map_engine_errors``) or the server maps the kind to a status.

    EngineError
     ├── BadRequest        invalid input: wrong dimension, unknown vector, malformed filter, bad id
     │    └── AlreadyExists    creating something that exists ("... already exists")
     ├── NotFound          unknown collection, point (GET /points/{id}), snapshot
     ├── Unsupported       a valid request this engine does not implement (named in the message)
     ├── StorageLocked     another process owns the storage path
     └── StorageCorrupted  a data file failed its integrity check
"""


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(EngineError):
    pass


class AlreadyExists(BadRequest):
    pass


class NotFound(EngineError):
    pass


class Unsupported(EngineError):
    pass


class StorageLocked(EngineError):
    pass


class StorageCorrupted(EngineError):
    pass
