"""The Query API and the legacy search/recommend/discover requests.

Where gRPC and REST differ: REST accepts a bare vector / id / document as a query and means
"nearest"; gRPC always names the variant (``Query.nearest``), and a nearest query with MMR is a
variant of its own (``nearest_with_mmr``). A formula is ``{expression, defaults}`` where REST puts
the expression under ``formula``; expressions are a oneof where REST uses single-key objects or
bare numbers (constants) and strings (variables). Legacy requests spell vectors their own way:
``vector`` + ``vector_name`` + ``sparse_indices`` for search, ids and vectors in separate lists
for recommend, ``TargetVector``/``VectorExample`` for discover.

Round trips normalise a few REST spellings: a bare query becomes ``NearestQuery``, a single
context pair becomes a list, ``with_lookup="c"`` becomes ``WithLookup(collection="c")``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, List
from uuid import UUID

from pydantic import BaseModel

from .._exceptions import BadRequestError
from ._codec import (
    RENAMES, as_list, decode, decode_fields, decode_payload, decode_point_id, decode_timestamp, decoder, encode,
    encode_fields, encode_payload, encode_point_id, encode_timestamp, encoder, enum_from_pb, enum_to_pb, get,
    plain, unsupported,
)
from ._filters import condition_kind, decode_condition, encode_condition
from ._points import _decode_vector_kind, decode_vector, encode_vector

RENAMES.update({
    "qdrant.QueryPoints": {"with_vectors": "with_vector"},
    "qdrant.QueryPointGroups": {"with_vectors": "with_vector"},
    "qdrant.SearchPoints": {"with_vectors": "with_vector"},
    "qdrant.SearchPointGroups": {"with_vectors": "with_vector"},
    "qdrant.RecommendPoints": {"with_vectors": "with_vector"},
    "qdrant.RecommendPointGroups": {"with_vectors": "with_vector"},
    "qdrant.DiscoverPoints": {"with_vectors": "with_vector"},
    "qdrant.QueryResponse": {"result": "points"},
    "qdrant.QueryBatchPoints": {"query_points": "searches"},
    "qdrant.SearchBatchPoints": {"search_points": "searches"},
    "qdrant.RecommendBatchPoints": {"recommend_points": "searches"},
    "qdrant.DiscoverBatchPoints": {"discover_points": "searches"},
})


def _is_point_id(value: Any) -> bool:
    return (isinstance(value, (int, str, UUID)) and not isinstance(value, bool)) or (
        type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0
    )


# -- VectorInput ---------------------------------------------------------------------------------------------------------
@encoder("qdrant.VectorInput")
def encode_vector_input(value: Any, msg: Any) -> None:
    if _is_point_id(value):
        encode_point_id(value, msg.id)
    else:
        encode_vector(value, msg)


@decoder("qdrant.VectorInput")
def decode_vector_input(msg: Any) -> Any:
    kind = msg.WhichOneof("variant")
    if kind == "id":
        return decode_point_id(msg.id)
    return _decode_vector_kind(msg, kind)


# -- Query --------------------------------------------------------------------------------------------------------------------
_QUERY_BY_CLASS = {
    "NearestQuery": "nearest", "RecommendQuery": "recommend", "DiscoverQuery": "discover",
    "ContextQuery": "context", "OrderByQuery": "order_by", "FusionQuery": "fusion", "RrfQuery": "rrf",
    "FormulaQuery": "formula", "SampleQuery": "sample", "RelevanceFeedbackQuery": "relevance_feedback",
}
_QUERY_KEYS = tuple(_QUERY_BY_CLASS.values())


def _query_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _QUERY_BY_CLASS.get(type(value).__name__)
    if isinstance(value, dict):
        return next((k for k in _QUERY_KEYS if k in value), None)
    return None


@encoder("qdrant.Query")
def encode_query(value: Any, msg: Any) -> None:
    kind = _query_kind(value)
    if kind is None:
        encode_vector_input(value, msg.nearest)
    elif kind == "nearest":
        mmr = get(value, "mmr")
        if mmr is not None:
            encode_vector_input(get(value, "nearest"), msg.nearest_with_mmr.nearest)
            encode_fields(mmr, msg.nearest_with_mmr.mmr)
        else:
            encode_vector_input(get(value, "nearest"), msg.nearest)
    elif kind in ("recommend", "discover", "rrf", "relevance_feedback"):
        encode_fields(get(value, kind), getattr(msg, kind))
    elif kind == "context":
        encode_context_input(get(value, "context"), msg.context)
    elif kind == "order_by":
        encode_order_by(get(value, "order_by"), msg.order_by)
    elif kind in ("fusion", "sample"):
        setattr(msg, kind, enum_to_pb(f"qdrant.{kind.capitalize()}", get(value, kind)))
    else:  # formula
        msg.formula.SetInParent()
        encode_expression(get(value, "formula"), msg.formula.expression)
        defaults = get(value, "defaults")
        if defaults:
            encode_payload(defaults, msg.formula.defaults)


@decoder("qdrant.Query")
def decode_query(msg: Any) -> Any:
    kind = msg.WhichOneof("variant")
    if kind == "nearest":
        return {"nearest": decode_vector_input(msg.nearest)}
    if kind == "nearest_with_mmr":
        return {"nearest": decode_vector_input(msg.nearest_with_mmr.nearest),
                "mmr": decode_fields(msg.nearest_with_mmr.mmr)}
    if kind in ("recommend", "discover", "rrf", "relevance_feedback"):
        return {kind: decode_fields(getattr(msg, kind))}
    if kind == "context":
        return {"context": decode_context_input(msg.context)}
    if kind == "order_by":
        return {"order_by": decode_order_by(msg.order_by)}
    if kind in ("fusion", "sample"):
        return {kind: enum_from_pb(f"qdrant.{kind.capitalize()}", getattr(msg, kind))}
    if kind == "formula":
        out: Dict[str, Any] = {"formula": decode_expression(msg.formula.expression)}
        if msg.formula.defaults:
            out["defaults"] = decode_payload(msg.formula.defaults)
        return out
    if kind is None:
        raise BadRequestError("Wrong input: empty query")
    raise unsupported(f"Query `{kind}` (not in Qdrant v1.19's REST API)")


@encoder("qdrant.ContextInput")
def encode_context_input(value: Any, msg: Any) -> None:
    msg.SetInParent()
    if value is None:
        return
    pairs = [value] if get(value, "positive") is not None else as_list(value)
    for pair in pairs:
        encode_fields(pair, msg.pairs.add())


@decoder("qdrant.ContextInput")
def decode_context_input(msg: Any) -> List[Any]:
    return [decode_fields(pair) for pair in msg.pairs]


# -- order by ------------------------------------------------------------------------------------------------------------------
@encoder("qdrant.OrderBy")
def encode_order_by(value: Any, msg: Any) -> None:
    if isinstance(plain(value), str):
        msg.key = plain(value)
    else:
        encode_fields(value, msg)


@decoder("qdrant.OrderBy")
def decode_order_by(msg: Any) -> Dict[str, Any]:
    return decode_fields(msg)


@encoder("qdrant.StartFrom")
def encode_start_from(value: Any, msg: Any) -> None:
    if isinstance(value, bool):
        raise BadRequestError("Wrong input: start_from must be a number or a date-time")
    if isinstance(value, int):
        msg.integer = value
    elif isinstance(value, float):
        msg.float = value
    elif isinstance(value, (_dt.date, _dt.datetime)):
        encode_timestamp(value, msg.timestamp)
    elif isinstance(value, str):
        msg.datetime = value
    else:
        raise BadRequestError(f"Wrong input: start_from must be a number or a date-time, got {value!r}")


@decoder("qdrant.StartFrom")
def decode_start_from(msg: Any) -> Any:
    kind = msg.WhichOneof("value")
    if kind == "timestamp":
        return decode_timestamp(msg.timestamp)
    return getattr(msg, kind) if kind else None


# -- formula expressions -----------------------------------------------------------------------------------------------------------
_UNARY = ("neg", "abs", "sqrt", "exp", "log10", "ln")
_PARAMS = ("div", "pow", "lin_decay", "exp_decay", "gauss_decay", "geo_distance")
_LISTS = ("mult", "sum")
_STRINGS = ("datetime", "datetime_key")
_EXPRESSION_KEYS = _UNARY + _PARAMS + _LISTS + _STRINGS


def _expression_kind(value: Any) -> str:
    if isinstance(value, bool):
        raise BadRequestError("Wrong input: a boolean is not an expression")
    if isinstance(value, (int, float)):
        return "constant"
    if isinstance(value, str):
        return "variable"
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        if len(fields) == 1:
            (only,) = fields
            if only in _EXPRESSION_KEYS:
                return only
    elif isinstance(value, dict) and len(value) == 1:
        (only,) = value
        if only in _EXPRESSION_KEYS:
            return only
    condition_kind(value)  # raises for anything that is not a condition either
    return "condition"


@encoder("qdrant.Expression")
def encode_expression(value: Any, msg: Any) -> None:
    kind = _expression_kind(value)
    if kind == "constant":
        msg.constant = value
    elif kind == "variable":
        msg.variable = value
    elif kind == "condition":
        encode_condition(value, msg.condition)
    elif kind in _STRINGS:
        setattr(msg, kind, get(value, kind))
    elif kind in _UNARY:
        encode_expression(get(value, kind), getattr(msg, kind))
    elif kind in _LISTS:
        target = getattr(msg, kind)
        target.SetInParent()
        container = getattr(target, kind)
        for item in as_list(get(value, kind)):
            encode_expression(item, container.add())
    else:
        encode_fields(get(value, kind), getattr(msg, kind))


@decoder("qdrant.Expression")
def decode_expression(msg: Any) -> Any:
    kind = msg.WhichOneof("variant")
    if kind in ("constant", "variable"):
        return getattr(msg, kind)
    if kind == "condition":
        return decode_condition(msg.condition)
    if kind in _STRINGS:
        return {kind: getattr(msg, kind)}
    if kind in _UNARY:
        return {kind: decode_expression(getattr(msg, kind))}
    if kind in _LISTS:
        return {kind: [decode_expression(e) for e in getattr(getattr(msg, kind), kind)]}
    if kind in _PARAMS:
        return {kind: decode_fields(getattr(msg, kind))}
    if kind is None:
        raise BadRequestError("Wrong input: empty expression")
    raise unsupported(f"formula expression `{kind}` (not in Qdrant v1.19's REST API)")


# -- search parameters, lookups, groups, facets ----------------------------------------------------------------------------------
@encoder("qdrant.IdfParams")
def encode_idf(value: Any, msg: Any) -> None:
    msg.SetInParent()
    if plain(value) != "global":
        encode(get(value, "corpus"), msg.corpus)


@decoder("qdrant.IdfParams")
def decode_idf(msg: Any) -> Any:
    return {"corpus": decode(msg.corpus)} if msg.HasField("corpus") else "global"


@encoder("qdrant.WithLookup")
def encode_with_lookup(value: Any, msg: Any) -> None:
    if isinstance(value, str):
        msg.collection = value
    else:
        encode_fields(value, msg)


@encoder("qdrant.GroupId")
def encode_group_id(value: Any, msg: Any) -> None:
    if isinstance(value, bool):
        raise BadRequestError("Wrong input: a group id is a string or an integer")
    if isinstance(value, int):
        if value >= 0:
            msg.unsigned_value = value
        else:
            msg.integer_value = value
    else:
        msg.string_value = value


@decoder("qdrant.GroupId")
def decode_group_id(msg: Any) -> Any:
    kind = msg.WhichOneof("kind")
    return getattr(msg, kind) if kind else None


@encoder("qdrant.FacetValue")
def encode_facet_value(value: Any, msg: Any) -> None:
    if isinstance(value, bool):
        msg.bool_value = value
    elif isinstance(value, int):
        msg.integer_value = value
    else:
        msg.string_value = str(value)


@decoder("qdrant.FacetValue")
def decode_facet_value(msg: Any) -> Any:
    kind = msg.WhichOneof("variant")
    return getattr(msg, kind) if kind else None


# -- legacy: search ----------------------------------------------------------------------------------------------------------------
_SEARCH_VECTOR = ("vector", "vector_name", "sparse_indices")


@encoder("qdrant.SearchPoints", "qdrant.SearchPointGroups")
def encode_search(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=_SEARCH_VECTOR, extra_ok=("vector",))
    vector = get(value, "vector")
    if vector is None:
        raise BadRequestError("Wrong input: a search needs a `vector`")
    if get(vector, "name") is not None and not isinstance(vector, (list, tuple)):
        msg.vector_name = get(vector, "name")
        vector = get(vector, "vector")
        if get(vector, "indices") is not None:
            msg.sparse_indices.data.extend(as_list(get(vector, "indices")))
            msg.vector.extend(as_list(get(vector, "values")))
            return
    msg.vector.extend(as_list(vector))


@decoder("qdrant.SearchPoints", "qdrant.SearchPointGroups")
def decode_search(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=_SEARCH_VECTOR)
    data = list(msg.vector)
    if msg.HasField("sparse_indices"):
        out["vector"] = {"name": msg.vector_name if msg.HasField("vector_name") else "",
                         "vector": {"indices": list(msg.sparse_indices.data), "values": data}}
    elif msg.HasField("vector_name"):
        out["vector"] = {"name": msg.vector_name, "vector": data}
    else:
        out["vector"] = data
    return out


# -- legacy: recommend -------------------------------------------------------------------------------------------------------------
_RECOMMEND_EXAMPLES = ("positive", "negative", "positive_vectors", "negative_vectors")


@encoder("qdrant.RecommendPoints", "qdrant.RecommendPointGroups")
def encode_recommend(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=_RECOMMEND_EXAMPLES, extra_ok=("positive", "negative"))
    for side in ("positive", "negative"):
        ids, vectors = getattr(msg, side), getattr(msg, f"{side}_vectors")
        for example in as_list(get(value, side) or []):
            if _is_point_id(example):
                encode_point_id(example, ids.add())
            else:
                encode_vector(example, vectors.add())


@decoder("qdrant.RecommendPoints", "qdrant.RecommendPointGroups")
def decode_recommend(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=_RECOMMEND_EXAMPLES)
    for side in ("positive", "negative"):
        examples = [decode_point_id(p) for p in getattr(msg, side)]
        examples += [decode_vector(v) for v in getattr(msg, f"{side}_vectors")]
        if examples:
            out[side] = examples
    return out


# -- legacy: discover ---------------------------------------------------------------------------------------------------------------
@encoder("qdrant.VectorExample")
def encode_vector_example(value: Any, msg: Any) -> None:
    if _is_point_id(value):
        encode_point_id(value, msg.id)
    else:
        encode_vector(value, msg.vector)


@decoder("qdrant.VectorExample")
def decode_vector_example(msg: Any) -> Any:
    kind = msg.WhichOneof("example")
    if kind == "id":
        return decode_point_id(msg.id)
    if kind == "vector":
        return decode_vector(msg.vector)
    raise BadRequestError("Wrong input: empty vector example")


@encoder("qdrant.TargetVector")
def encode_target(value: Any, msg: Any) -> None:
    encode_vector_example(value, msg.single)


@decoder("qdrant.TargetVector")
def decode_target(msg: Any) -> Any:
    return decode_vector_example(msg.single) if msg.HasField("single") else None
