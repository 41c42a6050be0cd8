"""JSON-path keys: parsing and value resolution.

A key such as ``a.b``, ``a[]``, ``a[].b``, ``a[0]`` or ``"dotted.key".x`` is parsed once (cached)
into a tuple of *items*:

    str   a key of an object            ``a``, ``"a.b"``
    int   an index into an array        ``[3]``
    ALL   every element of an array     ``[]``   (``ALL`` is ``None``)

Grammar (Qdrant's ``json_path/parse.rs``): segments separated by ``.``; a segment is a raw key of
alphanumeric / ``_`` / ``-`` characters or a ``"quoted key"``, followed by any number of ``[]`` or
``[digits]``. Everything else is a BadRequest.

Resolution follows Qdrant's rules, which are not what one expects from JSONPath:

* a key step looks into objects only, it never descends into arrays: ``a.b`` on
  ``{"a": [{"b": 1}]}`` resolves to nothing, ``a[].b`` resolves to ``1``;
* ``[]`` steps into the elements of an array, exactly one level;
* ``resolve`` returns the *raw* values the path lands on (arrays kept whole); conditions that
  compare values (match, range, geo) look at ``flatten(raw)``, where a raw array is unwrapped one
  level; conditions about the value as a whole (is_empty, is_null, values_count) look at ``raw``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import BadRequest

ALL = None  # the `[]` item
_U64_MAX = 2**64 - 1

Path = tuple  # tuple[str | int | None, ...]


def _invalid(text: str) -> BadRequest:
    return BadRequest(f"Invalid JSON path (payload key) {text!r}")


@lru_cache(maxsize=4096)
def parse_path(text: str) -> Path:
    """Parse a JSON-path key into a tuple of items; BadRequest when it is not a valid key."""
    if not isinstance(text, str) or not text:
        raise _invalid(text)
    items: list = []
    pos, end = 0, len(text)
    while True:
        # one segment: a quoted key or a raw key
        if text[pos] == '"':
            close = text.find('"', pos + 1)
            if close == -1:
                raise _invalid(text)
            items.append(text[pos + 1 : close])
            pos = close + 1
        else:
            start = pos
            while pos < end and (text[pos].isalnum() or text[pos] in "_-"):
                pos += 1
            if pos == start:
                raise _invalid(text)
            items.append(text[start:pos])
        # any number of [] / [n]
        while pos < end and text[pos] == "[":
            close = text.find("]", pos + 1)
            if close == -1:
                raise _invalid(text)
            inner = text[pos + 1 : close]
            if inner == "":
                items.append(ALL)
            elif inner.isascii() and inner.isdigit() and int(inner) <= _U64_MAX:
                items.append(int(inner))
            else:
                raise _invalid(text)
            pos = close + 1
        if pos == end:
            return tuple(items)
        # a separator must be a dot followed by another segment
        if text[pos] != "." or pos + 1 == end:
            raise _invalid(text)
        pos += 1


def resolve(doc: Any, path: Path) -> list:
    """The raw values ``path`` lands on in ``doc`` (arrays kept whole), in document order."""
    if len(path) == 1:  # the overwhelmingly common case: a top-level key
        key = path[0]
        if type(key) is str and isinstance(doc, dict) and key in doc:
            return [doc[key]]
        if type(key) is str:
            return []
    current = [doc]
    for item in path:
        found: list = []
        if type(item) is str:
            for value in current:
                if isinstance(value, dict) and item in value:
                    found.append(value[item])
        elif item is ALL:
            for value in current:
                if isinstance(value, list):
                    found.extend(value)
        else:
            for value in current:
                if isinstance(value, list) and item < len(value):
                    found.append(value[item])
        if not found:
            return found
        current = found
    return current


def flatten(raw: list) -> list:
    """The values compared by match/range/geo conditions: raw arrays unwrapped one level."""
    out: list = []
    for value in raw:
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def strip_trailing_all(text: str) -> str:
    """``nested`` keys may be written ``arr`` or ``arr[]``; both name the array itself."""
    if len(text) > 2 and text.endswith("[]"):
        return text[:-2]
    return text
