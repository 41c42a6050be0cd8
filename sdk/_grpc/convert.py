"""Conversion between ``sdk.models`` and Qdrant's protobuf messages, both directions.

The public face of ``sdk._grpc``; the work is split by subject:

    _codec.py        the reflective core: field-by-field default rule, renames, enums, JSON values,
                     point ids, timestamps (read its docstring first)
    _filters.py      Filter, Condition, Match, ranges, selectors, shard keys, consistency
    _points.py       vectors, points, batches, payload/vector update bodies, records
    _collections.py  collection parameters and info, payload index parameters
    _query.py        the Query API, formulas, groups, facets, legacy search/recommend/discover
    operations.py    operation id -> rpc, and where each request/result sits in its messages

    request_to_pb("query_points", {"collection_name": "c", "body": models.QueryRequest(...)})
    result_from_pb("query_points", response, params)      # -> models.QueryResponse
    request_from_pb("query_points", request)              # -> {"collection_name": "c", "body": ...}
    result_to_pb("query_points", result)                  # -> QueryResponse message (no time)
"""

from __future__ import annotations

from typing import Any, Dict

from ._codec import decode, encode
from .operations import NOT_CONVERTED, REST_ONLY, RPCS, not_converted

__all__ = [
    "encode", "decode", "RPCS", "REST_ONLY", "NOT_CONVERTED",
    "request_to_pb", "result_from_pb", "request_from_pb", "result_to_pb",
]


def _spec(operation_id: str) -> Any:
    spec = RPCS.get(operation_id)
    if spec is None:
        if operation_id in NOT_CONVERTED:
            raise not_converted(operation_id)
        raise KeyError(f"operation `{operation_id}` has no gRPC rpc in Qdrant's API")
    return spec


def request_to_pb(operation_id: str, params: Dict[str, Any]) -> Any:
    """The request message for ``transport.call(operation_id, **params)``."""
    return _spec(operation_id).build(params)


def result_from_pb(operation_id: str, response: Any, params: Dict[str, Any]) -> Any:
    """The result model of a response message (``params`` as given to ``request_to_pb``)."""
    return _spec(operation_id).parse(response, params)


def request_from_pb(operation_id: str, request: Any) -> Dict[str, Any]:
    """Keyword arguments of ``engine.<operation_id>`` for a request message."""
    return _spec(operation_id).accept(request)


def result_to_pb(operation_id: str, result: Any, request: Any = None) -> Any:
    """The response message for an engine result (``time`` left for the server to set)."""
    spec = _spec(operation_id)
    return spec.reply(result, request if request is not None else spec.request())
