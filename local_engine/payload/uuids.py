"""UUID strings as Qdrant's payload indexes read them (Rust ``uuid::Uuid::parse_str``).

Accepted spellings, any hex case: 32 hex digits; hyphenated 8-4-4-4-12; the hyphenated form in
braces; ``urn:uuid:`` (prefix in any case) + hyphenated. Everything else, including Python's
laxer forms (braced simple, hyphens elsewhere, surrounding spaces), is not a UUID.
Measured in Edge 0.9: ``URN:UUID:…``, ``Urn:uuid:…`` and ``{UPPER-HYPHENATED}`` are indexed,
``{simple}``, ``urn:uuid:simple``, misplaced hyphens and padded strings are not.
"""

from __future__ import annotations

import re

_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")
_HYPHENATED = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def parse_uuid(text: str) -> int | None:
    """The 128-bit value of a UUID string, or None when Qdrant would not read it as one."""
    n = len(text)
    if n == 32:
        return int(text, 16) if _HEX32.fullmatch(text) else None
    if n == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    elif n == 45 and text[:9].lower() == "urn:uuid:":
        text = text[9:]
    elif n != 36:
        return None
    if not _HYPHENATED.fullmatch(text):
        return None
    return int(text.replace("-", ""), 16)


def canonical(value: int) -> str:
    """Lower-case hyphenated form (what facet hits report)."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
