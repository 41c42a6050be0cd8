"""Reading filter objects: what kind of condition is this, and is the filter well formed?

Filters arrive as pydantic models with the class and attribute names of Qdrant's OpenAPI
schema, from ``sdk.models`` or from the official ``qdrant_client.models``; other objects with
the same attributes work too. So conditions are recognised by class name first and by their
distinctive attribute second, never with ``isinstance`` against one module's classes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..errors import BadRequest, Unsupported
from ..ids import normalize_id
from .json_path import parse_path, strip_trailing_all

# (class name, attribute that only this kind has); order matters for the attribute fallback
_CONDITIONS = (
    ("Filter", "must"),
    ("FieldCondition", "key"),
    ("IsEmptyCondition", "is_empty"),
    ("IsNullCondition", "is_null"),
    ("HasIdCondition", "has_id"),
    ("HasVectorCondition", "has_vector"),
    ("NestedCondition", "nested"),
    ("SliceCondition", "slice"),
)
_MATCHES = (
    ("MatchValue", "value"),
    ("MatchAny", "any"),
    ("MatchExcept", "except_"),
    ("MatchTextAny", "text_any"),
    ("MatchText", "text"),
    ("MatchPhrase", "phrase"),
    ("MatchPrefix", "prefix"),
    ("MatchSubstring", "substring"),
)
# FieldCondition's alternatives, in the order qdrant-client's local mode looks at them: the
# first one set decides (see the module docstring of filters.py).
FIELD_PARTS = (
    "values_count",
    "is_empty",
    "is_null",
    "match",
    "range",
    "geo_bounding_box",
    "geo_radius",
    "geo_polygon",
)


def _classify(obj: Any, table: tuple, what: str) -> str:
    name = type(obj).__name__
    for kind, attr in table:
        if name == kind:
            return kind
    for kind, attr in table:
        if hasattr(obj, attr) and not isinstance(obj, (dict, list, str)):
            return kind
    raise Unsupported(f"{what} {name} is not supported by the built-in engine")


def condition_kind(condition: Any) -> str:
    return _classify(condition, _CONDITIONS, "Filter condition")


def match_kind(match: Any) -> str:
    if type(match).__name__ == "MatchExcept" or hasattr(match, "except_"):
        return "MatchExcept"
    return _classify(match, _MATCHES, "Match condition")


def except_values(match: Any) -> list:
    values = getattr(match, "except_", None)
    return values if values is not None else getattr(match, "except")


def is_datetime_range(rng: Any) -> bool:
    name = type(rng).__name__
    if name in ("Range", "DatetimeRange"):
        return name == "DatetimeRange"
    return any(isinstance(getattr(rng, b, None), (date, str)) for b in ("lt", "lte", "gt", "gte"))


def as_list(clause: Any) -> list | None:
    """``must``/``should``/``must_not`` hold one condition, a list of them, or None."""
    if clause is None:
        return None
    if isinstance(clause, (list, tuple)):
        return list(clause)
    return [clause]


def field_part(condition: Any) -> str | None:
    for part in FIELD_PARTS:
        if getattr(condition, part, None) is not None:
            return part
    return None


# ---- validation ------------------------------------------------------------------------------


def check_filter(flt: Any) -> None:
    """Raise BadRequest / Unsupported for what the server would reject, without evaluating."""
    if condition_kind(flt) != "Filter":
        raise BadRequest(f"Format error in JSON body: expected a Filter, got {type(flt).__name__}")
    for clause in (flt.must, flt.should, flt.must_not):
        for condition in as_list(clause) or ():
            check_condition(condition)
    min_should = getattr(flt, "min_should", None)
    if min_should is not None:
        if min_should.min_count < 1:
            raise BadRequest(f"min_count value {min_should.min_count} is invalid. Must be 1 or larger.")
        for condition in min_should.conditions:
            check_condition(condition)


def check_condition(condition: Any) -> None:
    kind = condition_kind(condition)
    if kind == "Filter":
        check_filter(condition)
    elif kind == "FieldCondition":
        _check_field_condition(condition)
    elif kind == "IsEmptyCondition":
        parse_path(condition.is_empty.key)
    elif kind == "IsNullCondition":
        parse_path(condition.is_null.key)
    elif kind == "HasIdCondition":
        for point_id in condition.has_id:
            normalize_id(point_id)
    elif kind == "HasVectorCondition":
        if not isinstance(condition.has_vector, str):
            raise BadRequest("Format error in JSON body: has_vector must be a vector name")
    elif kind == "NestedCondition":
        parse_path(strip_trailing_all(condition.nested.key))
        check_filter(condition.nested.filter)
    elif kind == "SliceCondition":
        total, index = condition.slice.total, condition.slice.index
        if total < 1:
            raise BadRequest(f"Validation error in JSON body: slice total must be >= 1, got {total}")
        if not 0 <= index < total:
            raise BadRequest(f"Validation error in JSON body: slice index must be in [0;{total - 1}], got {index}")


def _check_field_condition(condition: Any) -> None:
    parse_path(condition.key)
    part = field_part(condition)
    if part is None:
        raise BadRequest(
            "Validation error in JSON body: [filter: At least one field condition must be specified]"
        )
    match = condition.match
    if match is not None:
        kind = match_kind(match)
        if kind == "MatchValue":
            _check_operands([match.value], "match.value")
        elif kind == "MatchAny":
            _check_operands(match.any, "match.any")
        elif kind == "MatchExcept":
            _check_operands(except_values(match), "match.except")
        else:
            attr = dict(_MATCHES)[kind]
            if not isinstance(getattr(match, attr), str):
                raise BadRequest(f"Format error in JSON body: match.{attr} must be a string")
    polygon = condition.geo_polygon
    if polygon is not None:
        for ring in [polygon.exterior, *(polygon.interiors or ())]:
            points = ring.points
            first, last = points[0] if points else None, points[-1] if points else None
            if len(points) < 4 or (first.lat, first.lon) != (last.lat, last.lon):
                raise BadRequest(
                    "Validation error in JSON body: geo_polygon: a ring must have at least 4 points "
                    "and its first and last points must be the same"
                )


def _check_operands(values: Any, where: str) -> None:
    if not isinstance(values, (list, tuple)):
        raise BadRequest(f"Format error in JSON body: {where} must be a list")
    for value in values:
        if not isinstance(value, (str, int)):  # bool is an int
            raise BadRequest(f"Format error in JSON body: {where} accepts strings, integers and booleans, got {value!r}")
