"""Datetime payload strings, as Qdrant's ``DateTimeWrapper::from_str`` reads them.

Every datetime becomes an exact integer: microseconds since the Unix epoch, UTC. A string
without an offset is UTC. Accepted (reference §4.2): RFC 3339 and chrono's display form
(``2024-01-02 03:04:05.123 UTC`` / ``... +01:00``), with ``T`` or space, optional fraction,
offsets ``Z``/``z``/``+HH:MM``/``+HHMM``/``+HH``; naive ``YYYY-MM-DD[ T]HH:MM[:SS[.f]]`` and
``YYYY-MM-DD``. Fractions beyond microseconds are truncated (Python's datetime stops there).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ..errors import BadRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)

# Tried in order with strptime. Zoned forms first; core also reads its own Display output,
# which has a space before the offset.
_FORMATS = tuple(
    f"%Y-%m-%d{sep}%H:%M:%S{frac}{zone}"
    for zone in ("%z", " %z")
    for sep in ("T", " ")
    for frac in (".%f", "")
) + tuple(
    f"%Y-%m-%d{sep}{clock}"
    for clock in ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")
    for sep in ("T", " ")
) + ("%Y-%m-%d",)


def _normalise(text: str) -> str:
    text = text.lstrip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    elif text.endswith("z"):
        text = text[:-1] + "Z"
    dot = text.find(".")
    if dot != -1:
        stop = dot + 1
        while stop < len(text) and text[stop].isdigit():
            stop += 1
        if stop - dot > 7:  # more than six fraction digits: keep the microseconds
            text = text[: dot + 7] + text[stop:]
    return text


def _strptime_any(text: str) -> datetime | None:
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_micros(text: str) -> int | None:
    """Microseconds since the epoch of a payload datetime string, or None if it is not one."""
    text = _normalise(text)
    parsed = _strptime_any(text)
    if parsed is None:
        # an hour-only offset (`+01`) is valid for core but not for strptime's %z
        tail = text[-3:]
        if len(tail) == 3 and tail[0] in "+-" and tail[1:].isdigit():
            parsed = _strptime_any(text + ":00")
    if parsed is None:
        return None
    return to_micros(parsed)


def to_micros(value: Any) -> int:
    """A range bound (datetime, date or datetime string; naive = UTC) as microseconds since the epoch."""
    if isinstance(value, str):
        micros = parse_micros(value)
        if micros is None:
            raise BadRequest(f"Format error in JSON body: {value!r} is not a valid datetime")
        return micros
    if not isinstance(value, datetime) and isinstance(value, date):
        value = datetime.combine(value, time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - _EPOCH) // _MICRO
