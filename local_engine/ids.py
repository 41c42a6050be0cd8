"""Point ids: unsigned 64-bit integers or UUIDs.

Every id that enters the engine goes through ``normalize_id`` once; afterwards an id is either
a Python ``int`` in [0, 2**64) or a canonical (lower-case, hyphenated) UUID ``str``. Qdrant
accepts UUIDs as hyphenated, simple (32 hex), upper-case, braced or ``urn:uuid:`` strings and
treats them as the same id.
"""

from __future__ import annotations

import uuid
from typing import Any

from .errors import BadRequest

MAX_ID = 2**64 - 1

ExtId = "int | str"


def normalize_id(value: Any) -> int | str:
    """Return the canonical form of a point id, or raise BadRequest naming the bad value."""
    if isinstance(value, bool):
        raise BadRequest(f"Format error in JSON body: invalid point id {value!r}: expected an unsigned integer or a UUID")
    if isinstance(value, int):
        if 0 <= value <= MAX_ID:
            return value
        raise BadRequest(f"Format error in JSON body: invalid point id {value}: must be an unsigned 64-bit integer or a UUID")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise BadRequest(
                f"Format error in JSON body: invalid point id {value!r}: a string id must be a UUID"
            ) from None
    # numpy integers and the like
    if hasattr(value, "__index__"):
        return normalize_id(int(value.__index__()))
    raise BadRequest(f"Format error in JSON body: invalid point id {value!r}: expected an unsigned integer or a UUID")


def id_sort_key(ext_id: int | str) -> tuple[int, int]:
    """Qdrant's order of ids: numeric ids ascending, then UUIDs by their 128-bit value."""
    if isinstance(ext_id, int):
        return (0, ext_id)
    return (1, uuid.UUID(ext_id).int)
