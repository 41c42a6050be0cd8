"""The framing every engine blob file shares (HNSW graphs, segment sets, quantization codes).

    magic (8 bytes) | format (u32 LE) | header length (u64 LE) | JSON header | payload ...

``head`` writes the first three fields and the header; ``read_head`` checks them and returns the
parsed header and where the payload starts. A wrong magic or format is a ``ValueError`` naming
the file kind, which the loaders treat as "rebuild from the rows" (a blob is a cache).
"""

from __future__ import annotations

import json
import struct
from typing import Any

_PREFIX = struct.Struct("<IQ")
HEAD_FIXED = 8 + _PREFIX.size   # bytes before the JSON header


def head(magic: bytes, fmt: int, header: dict) -> bytes:
    """``magic``, ``fmt`` and the JSON ``header``, framed."""
    assert len(magic) == 8
    text = json.dumps(header).encode()
    return magic + _PREFIX.pack(fmt, len(text)) + text


def read_head(buf: Any, magic: bytes, fmt: int, what: str) -> tuple[dict, int, memoryview]:
    """(header, offset just past it, byte view of ``buf``); ``ValueError`` when ``buf`` is not a
    ``what`` file of format ``fmt``."""
    view = memoryview(buf).cast("B")
    if bytes(view[:8]) != magic:
        raise ValueError(f"not {what}")
    if len(view) < HEAD_FIXED:
        raise ValueError(f"{what} is truncated")
    found, length = _PREFIX.unpack(view[8:HEAD_FIXED])
    if found != fmt:
        raise ValueError(f"{what} format {found} (this engine reads {fmt})")
    end = HEAD_FIXED + length
    if end > len(view):
        raise ValueError(f"{what} is truncated")
    return json.loads(bytes(view[HEAD_FIXED:end])), end, view
