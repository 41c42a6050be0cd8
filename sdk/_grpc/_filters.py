"""Filters and the small shared shapes: conditions, match, ranges, selectors, shard keys, consistency.

Where gRPC and REST differ (QDRANT_REFERENCE.md §3): ``Match`` is a oneof where REST infers the
kind from the JSON type; ``FieldCondition`` has separate ``range`` (doubles) and ``datetime_range``
(Timestamps) where REST has one ``range``; ``IsEmpty``/``IsNull``/``Nested`` conditions are flat
where REST nests a ``PayloadField``/``Nested`` object; ``Filter`` clauses are repeated, so REST's
single-condition shorthand becomes a list and ``should: []`` arrives as absent.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict

from pydantic import BaseModel

from .. import models
from .._exceptions import BadRequestError
from ._codec import (
    RENAMES, as_list, decode_fields, decode_point_id, decode_timestamp, decoder, encode_fields, encode_point_id,
    encode_timestamp, encoder, get, has, plain, unsupported,
)

# -- Filter ----------------------------------------------------------------------------------------------------------
_CLAUSES = ("should", "must", "must_not")


@encoder("qdrant.Filter")
def encode_filter(value: Any, msg: Any) -> None:
    if not isinstance(value, (BaseModel, dict)):
        raise BadRequestError(f"Wrong input: a filter must be an object, got {type(value).__name__}")
    msg.SetInParent()
    for clause in _CLAUSES:
        conditions = get(value, clause)
        if conditions is None:
            continue
        container = getattr(msg, clause)
        for condition in as_list(conditions):
            encode_condition(condition, container.add())
    min_should = get(value, "min_should")
    if min_should is not None:
        msg.min_should.min_count = get(min_should, "min_count")
        container = msg.min_should.conditions
        for condition in as_list(get(min_should, "conditions") or []):
            encode_condition(condition, container.add())
    if isinstance(value, dict):
        extra = set(value) - {*_CLAUSES, "min_should"}
        if extra:
            raise BadRequestError(f"Wrong input: unknown filter field(s) {sorted(extra)}")


@decoder("qdrant.Filter")
def decode_filter(msg: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for clause in _CLAUSES:
        conditions = getattr(msg, clause)
        if conditions:
            out[clause] = [decode_condition(c) for c in conditions]
    if msg.HasField("min_should"):
        out["min_should"] = {
            "conditions": [decode_condition(c) for c in msg.min_should.conditions],
            "min_count": msg.min_should.min_count,
        }
    return out


# -- Condition ---------------------------------------------------------------------------------------------------------
_CONDITION_BY_CLASS = {
    "FieldCondition": "field",
    "IsEmptyCondition": "is_empty",
    "IsNullCondition": "is_null",
    "HasIdCondition": "has_id",
    "HasVectorCondition": "has_vector",
    "SliceCondition": "slice",
    "NestedCondition": "nested",
    "Filter": "filter",
}


def condition_kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        kind = _CONDITION_BY_CLASS.get(type(value).__name__)
        if kind is not None:
            return kind
    elif isinstance(value, dict):
        if "key" in value:
            return "field"
        for kind in ("is_empty", "is_null", "has_id", "has_vector", "slice", "nested"):
            if kind in value:
                return kind
        if not value or set(value) <= {*_CLAUSES, "min_should"}:
            return "filter"
    raise BadRequestError(f"Wrong input: not a filter condition: {value!r}")


@encoder("qdrant.Condition")
def encode_condition(value: Any, msg: Any) -> None:
    kind = condition_kind(value)
    if kind == "field":
        encode_field_condition(value, msg.field)
    elif kind in ("is_empty", "is_null"):
        getattr(msg, kind).key = get(get(value, kind), "key")
    elif kind == "has_id":
        msg.has_id.SetInParent()
        container = msg.has_id.has_id
        for point_id in as_list(get(value, "has_id")):
            encode_point_id(point_id, container.add())
    elif kind == "has_vector":
        msg.has_vector.has_vector = get(value, "has_vector")
    elif kind == "slice":
        piece = get(value, "slice")
        msg.slice.total = get(piece, "total")
        msg.slice.index = get(piece, "index")
    elif kind == "nested":
        nested = get(value, "nested")
        msg.nested.key = get(nested, "key")
        encode_filter(get(nested, "filter"), msg.nested.filter)
    else:
        encode_filter(value, msg.filter)


@decoder("qdrant.Condition")
def decode_condition(msg: Any) -> Any:
    kind = msg.WhichOneof("condition_one_of")
    if kind == "field":
        return decode_field_condition(msg.field)
    if kind in ("is_empty", "is_null"):
        return {kind: {"key": getattr(msg, kind).key}}
    if kind == "has_id":
        return {"has_id": [decode_point_id(p) for p in msg.has_id.has_id]}
    if kind == "has_vector":
        return {"has_vector": msg.has_vector.has_vector}
    if kind == "slice":
        return {"slice": {"total": msg.slice.total, "index": msg.slice.index}}
    if kind == "nested":
        return {"nested": {"key": msg.nested.key, "filter": decode_filter(msg.nested.filter)}}
    if kind == "filter":
        return decode_filter(msg.filter)
    raise BadRequestError("Wrong input: empty filter condition")


# -- FieldCondition, Match, ranges ---------------------------------------------------------------------------------
@encoder("qdrant.FieldCondition")
def encode_field_condition(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("match", "range", "datetime_range"))
    match = get(value, "match")
    if match is not None:
        encode_match(match, msg.match)
    rng = get(value, "range")
    if rng is not None:
        if _is_datetime_range(rng):
            encode_datetime_range(rng, msg.datetime_range)
        else:
            encode_fields(rng, msg.range)


def _is_datetime_range(rng: Any) -> bool:
    if isinstance(rng, models.DatetimeRange):
        return True
    if isinstance(rng, models.Range):
        return False
    return any(isinstance(get(rng, k), (str, _dt.date)) for k in ("lt", "gt", "gte", "lte"))


def encode_datetime_range(rng: Any, msg: Any) -> None:
    msg.SetInParent()
    for bound in ("lt", "gt", "gte", "lte"):
        v = get(rng, bound)
        if v is not None:
            encode_timestamp(v, getattr(msg, bound))


@decoder("qdrant.FieldCondition")
def decode_field_condition(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("datetime_range",))
    if msg.HasField("datetime_range"):
        rng = msg.datetime_range
        out["range"] = {b: decode_timestamp(getattr(rng, b)) for b in ("lt", "gt", "gte", "lte") if rng.HasField(b)}
    return out


_MATCH_KINDS = ("value", "text", "text_any", "phrase", "prefix", "any", "except")


@encoder("qdrant.Match")
def encode_match(value: Any, msg: Any) -> None:
    if isinstance(value, models.MatchExcept):
        kind, target = "except", value.except_
    else:
        kind = next((k for k in _MATCH_KINDS if get(value, k) is not None), None)
        if kind is None:
            raise BadRequestError(f"Wrong input: unknown match condition {value!r}")
        target = get(value, kind)
    if kind == "value":
        target = plain(target)
        if isinstance(target, bool):
            msg.boolean = target
        elif isinstance(target, int):
            msg.integer = target
        elif isinstance(target, str):
            msg.keyword = target
        else:
            raise BadRequestError(f"Wrong input: match value must be a string, integer or boolean, got {target!r}")
    elif kind in ("text", "text_any", "phrase", "prefix"):
        setattr(msg, kind, target)
    else:
        items = [plain(item) for item in as_list(target)]
        integers = bool(items) and all(isinstance(i, int) and not isinstance(i, bool) for i in items)
        if kind == "any":
            field = msg.integers if integers else msg.keywords
        else:
            field = msg.except_integers if integers else msg.except_keywords
        field.SetInParent()
        (field.integers if integers else field.strings).extend(items)


@decoder("qdrant.Match")
def decode_match(msg: Any) -> Dict[str, Any]:
    kind = msg.WhichOneof("match_value")
    if kind in ("keyword", "integer", "boolean"):
        return {"value": getattr(msg, kind)}
    if kind in ("text", "text_any", "phrase", "prefix"):
        return {kind: getattr(msg, kind)}
    if kind == "keywords":
        return {"any": list(msg.keywords.strings)}
    if kind == "integers":
        return {"any": list(msg.integers.integers)}
    if kind == "except_keywords":
        return {"except": list(msg.except_keywords.strings)}
    if kind == "except_integers":
        return {"except": list(msg.except_integers.integers)}
    if kind is None:
        raise BadRequestError("Wrong input: empty match condition")
    raise unsupported(f"Match `{kind}` (not in Qdrant v1.19's REST API)")


# -- selectors ---------------------------------------------------------------------------------------------------------------
@encoder("qdrant.PointsSelector")
def encode_points_selector(value: Any, msg: Any) -> None:
    points = get(value, "points")
    if points is not None:
        msg.points.SetInParent()
        container = msg.points.ids
        for point_id in as_list(points):
            encode_point_id(point_id, container.add())
        return
    flt = get(value, "filter")
    if flt is None:
        raise BadRequestError("Wrong input: a points selector needs `points` or `filter`")
    encode_filter(flt, msg.filter)


@decoder("qdrant.PointsSelector")
def decode_points_selector(msg: Any) -> Dict[str, Any]:
    kind = msg.WhichOneof("points_selector_one_of")
    if kind == "points":
        return {"points": [decode_point_id(p) for p in msg.points.ids]}
    if kind == "filter":
        return {"filter": decode_filter(msg.filter)}
    raise BadRequestError("Wrong input: empty points selector")


def encode_selector_fields(value: Any, msg: Any, field: str = "points_selector") -> None:
    """REST's flat ``points`` / ``filter`` (SetPayload, DeletePayload, DeleteVectors) into a PointsSelector."""
    if get(value, "points") is not None or get(value, "filter") is not None:
        if get(value, "points") is not None and get(value, "filter") is not None:
            raise BadRequestError("Wrong input: give either `points` or `filter`, not both")
        encode_points_selector(value, getattr(msg, field))


def decode_selector_fields(msg: Any, field: str = "points_selector") -> Dict[str, Any]:
    return decode_points_selector(getattr(msg, field)) if msg.HasField(field) else {}


@encoder("qdrant.WithPayloadSelector")
def encode_with_payload(value: Any, msg: Any) -> None:
    if isinstance(value, bool):
        msg.enable = value
    elif isinstance(value, (list, tuple)):
        msg.include.SetInParent()
        msg.include.fields.extend(value)
    elif get(value, "include") is not None:
        msg.include.SetInParent()
        msg.include.fields.extend(get(value, "include"))
    elif get(value, "exclude") is not None:
        msg.exclude.SetInParent()
        msg.exclude.fields.extend(get(value, "exclude"))
    else:
        raise BadRequestError(f"Wrong input: with_payload must be a bool, a list of keys or a selector, got {value!r}")


@decoder("qdrant.WithPayloadSelector")
def decode_with_payload(msg: Any) -> Any:
    kind = msg.WhichOneof("selector_options")
    if kind == "enable":
        return msg.enable
    if kind == "include":
        return {"include": list(msg.include.fields)}
    if kind == "exclude":
        return {"exclude": list(msg.exclude.fields)}
    return None


@encoder("qdrant.WithVectorsSelector")
def encode_with_vectors(value: Any, msg: Any) -> None:
    if isinstance(value, bool):
        msg.enable = value
    elif isinstance(value, (list, tuple)):
        msg.include.SetInParent()
        msg.include.names.extend(value)
    else:
        raise BadRequestError(f"Wrong input: with_vector must be a bool or a list of vector names, got {value!r}")


@decoder("qdrant.WithVectorsSelector")
def decode_with_vectors(msg: Any) -> Any:
    kind = msg.WhichOneof("selector_options")
    if kind == "enable":
        return msg.enable
    if kind == "include":
        return list(msg.include.names)
    return None


@encoder("qdrant.VectorsSelector")
def encode_vectors_selector(value: Any, msg: Any) -> None:
    msg.SetInParent()
    msg.names.extend(as_list(value))


@decoder("qdrant.VectorsSelector")
def decode_vectors_selector(msg: Any) -> Any:
    return list(msg.names)


# -- shard keys, consistency, ordering -------------------------------------------------------------------------------------
@encoder("qdrant.ShardKey")
def encode_shard_key(value: Any, msg: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequestError(f"Wrong input: a shard key is a string or an unsigned integer, got {value!r}")
    if isinstance(value, int):
        msg.number = value
    else:
        msg.keyword = value


@decoder("qdrant.ShardKey")
def decode_shard_key(msg: Any) -> Any:
    kind = msg.WhichOneof("key")
    return getattr(msg, kind) if kind else None


@encoder("qdrant.ShardKeySelector")
def encode_shard_key_selector(value: Any, msg: Any) -> None:
    msg.SetInParent()
    if has(value, "target") and has(value, "fallback"):
        for key in as_list(get(value, "target")):
            encode_shard_key(key, msg.shard_keys.add())
        encode_shard_key(get(value, "fallback"), msg.fallback)
        return
    for key in as_list(value):
        encode_shard_key(key, msg.shard_keys.add())


@decoder("qdrant.ShardKeySelector")
def decode_shard_key_selector(msg: Any) -> Any:
    keys = [decode_shard_key(k) for k in msg.shard_keys]
    if msg.HasField("fallback"):
        if len(keys) != 1:
            raise unsupported("a shard key selector with a fallback and several targets")
        return {"target": keys[0], "fallback": decode_shard_key(msg.fallback)}
    return keys[0] if len(keys) == 1 else keys


@encoder("qdrant.ReadConsistency")
def encode_read_consistency(value: Any, msg: Any) -> None:
    value = plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        msg.factor = value
    else:
        from ._codec import enum_to_pb

        msg.type = enum_to_pb("qdrant.ReadConsistencyType", value)


@decoder("qdrant.ReadConsistency")
def decode_read_consistency(msg: Any) -> Any:
    from ._codec import enum_from_pb

    if msg.WhichOneof("value") == "factor":
        return msg.factor
    return enum_from_pb("qdrant.ReadConsistencyType", msg.type)


@encoder("qdrant.WriteOrdering")
def encode_write_ordering(value: Any, msg: Any) -> None:
    from ._codec import enum_to_pb

    msg.type = enum_to_pb("qdrant.WriteOrderingType", value)


@decoder("qdrant.WriteOrdering")
def decode_write_ordering(msg: Any) -> Any:
    from ._codec import enum_from_pb

    return enum_from_pb("qdrant.WriteOrderingType", msg.type)


# REST names that differ from the protobuf ones, for messages the default rule handles.
RENAMES.update({
    "qdrant.LookupLocation": {"collection_name": "collection", "vector_name": "vector"},
})
