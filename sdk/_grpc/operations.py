"""The operation set on gRPC: which rpc answers each OpenAPI operation id, and how its request and
result cross the wire in both directions.

One table (``RPCS``) serves both ends:

* the client transport calls ``spec.build(params)`` (the ``transport.call`` keyword arguments:
  ``collection_name``, ``body``, ``wait``, ``ordering``, ``consistency``, ``timeout``, path
  parameters) to get the request message, and ``spec.parse(response, params)`` for the result model;
* the server calls ``spec.accept(request)`` for the keyword arguments of ``engine.<operation id>``
  (wire-only parameters dropped, ``body`` validated into the spec's request model) and
  ``spec.reply(result, request)`` for the response message (the servicer sets ``time``).

Operations Qdrant serves only over REST (snapshot download/upload/recover, ``GET`` of one point,
telemetry, ...) are not in the table: ``REST_ONLY`` lists them. ``NOT_CONVERTED`` lists the
cluster rpcs this package does not convert; calling them over gRPC raises
``UnsupportedOperationError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from pydantic import TypeAdapter

from .. import models
from .._exceptions import UnsupportedOperationError
from .._operations_spec import OPERATIONS
from . import _collections, _filters, _points, _query  # noqa: F401 - register the shapes
from . import collections_pb2 as cpb
from . import points_pb2 as ppb
from . import qdrant_pb2 as qpb
from . import snapshots_service_pb2 as spb
from ._codec import (
    REST_MODELS, decode, decode_fields, decode_timestamp, decoder, encode, encode_fields, encode_timestamp, encoder, get,
)

PATH_PARAMS = ("collection_name", "field_name", "vector_name", "snapshot_name")
WIRE_PARAMS = ("wait", "ordering", "read_consistency", "timeout")


@dataclass
class RpcSpec:
    op: str
    service: str                  # "qdrant.Points"
    method: str                   # "Upsert"
    request: type
    response: type
    result: str                   # how the result sits in the response, see _RESULT_KINDS
    result_model: Any = None      # type the client validates the decoded result into
    batch_field: Optional[str] = None    # repeated inner requests that carry their own envelope
    payload_default: Optional[bool] = None   # with_payload when not given (None: no points in result)
    fast_body: Optional[Callable[[Any], Any]] = None   # server shortcut: request -> body model, or None
    _fields: frozenset = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self._fields = frozenset(f.name for f in self.request.DESCRIPTOR.fields)
        self.path = f"/{self.service}/{self.method}"
        operation = OPERATIONS.get(self.op)
        body = operation.body_model if operation is not None else None
        self.body_model = None if body in (None, "multipart") else getattr(models, body)
        self.path_params = tuple(p for p in (operation.path_params if operation else ()) if p in self._fields)

    # -- client ---------------------------------------------------------------------------------------------------
    def build(self, params: Dict[str, Any]) -> Any:
        msg = self.request()
        body = params.get("body")
        if body is not None:
            encode(body, msg)
        _set_envelope(msg, self._fields, self.path_params, params)
        if self.batch_field is not None:
            for inner in getattr(msg, self.batch_field):
                inner.collection_name = msg.collection_name
        return msg

    def parse(self, response: Any, params: Dict[str, Any]) -> Any:
        data = _RESULT_KINDS[self.result][0](self, response)
        if self.payload_default is not None:
            _fill_payloads(self, data, params.get("body"))
        return _validate(self.result_model, data) if self.result_model is not None else data

    # -- server ---------------------------------------------------------------------------------------------------
    def accept(self, request: Any) -> Dict[str, Any]:
        if self.fast_body is not None:
            body = self.fast_body(request)
            if body is not None:
                return {**{name: getattr(request, name) for name in self.path_params}, "body": body}
        data = decode(request)
        kwargs: Dict[str, Any] = {}
        for name in self.path_params:
            if name in data:
                kwargs[name] = data.pop(name)
        for name in WIRE_PARAMS:
            data.pop(name, None)
        if self.batch_field is not None:
            for inner in data.get("searches", ()):
                for name in (*PATH_PARAMS, *WIRE_PARAMS):
                    inner.pop(name, None)
        if self.body_model is not None:
            kwargs["body"] = _validate(self.body_model, data)
        return kwargs

    def reply(self, result: Any, request: Any) -> Any:
        response = self.response()
        _RESULT_KINDS[self.result][1](self, result, response)
        return response


def _set_envelope(msg: Any, fields: frozenset, path_params: Tuple[str, ...], params: Dict[str, Any]) -> None:
    for name in path_params:
        value = params.get(name)
        if value is not None and name in fields:
            setattr(msg, name, value)
    wait = params.get("wait")
    if wait is not None and "wait" in fields:
        msg.wait = bool(wait)
    ordering = params.get("ordering")
    if ordering is not None and "ordering" in fields:
        encode(ordering, msg.ordering)
    consistency = params.get("consistency")
    if consistency is not None and "read_consistency" in fields:
        encode(consistency, msg.read_consistency)
    timeout = params.get("timeout")
    if timeout is not None and "timeout" in fields:
        msg.timeout = int(math.ceil(timeout))


_ADAPTERS: Dict[Any, TypeAdapter] = {}


def _validate(model: Any, data: Any) -> Any:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter.validate_python(data)


# -- where results sit in responses ----------------------------------------------------------------------------------------
_ENVELOPE_ONLY = ("time", "usage")


def _get_self(spec: RpcSpec, response: Any) -> Any:
    return decode_fields(response, skip=_ENVELOPE_ONLY)


def _put_self(spec: RpcSpec, result: Any, response: Any) -> None:
    encode_fields(result, response, skip=_ENVELOPE_ONLY)


def _get_result(spec: RpcSpec, response: Any) -> Any:
    return decode(response.result)


def _put_result(spec: RpcSpec, result: Any, response: Any) -> None:
    encode(result, response.result)


def _get_bool(spec: RpcSpec, response: Any) -> Any:
    return response.result


def _put_bool(spec: RpcSpec, result: Any, response: Any) -> None:
    response.result = bool(result)


def _get_true(spec: RpcSpec, response: Any) -> Any:
    return True


def _put_nothing(spec: RpcSpec, result: Any, response: Any) -> None:
    return None


def _list_field(response: Any) -> str:
    return "snapshot_descriptions" if "snapshot_descriptions" in response.DESCRIPTOR.fields_by_name else "result"


def _get_list(spec: RpcSpec, response: Any) -> Any:
    return [decode(item) for item in getattr(response, _list_field(response))]


def _put_list(spec: RpcSpec, result: Any, response: Any) -> None:
    container = getattr(response, _list_field(response))
    for item in result:
        encode(item, container.add())


def _get_batch(spec: RpcSpec, response: Any) -> Any:
    """Query batch: one ``{"points": [...]}`` per request; legacy batches: one list per request."""
    lists = [[decode(p) for p in batch.result] for batch in response.result]
    if spec.op == "query_batch_points":
        return [{"points": points} for points in lists]
    return lists


def _put_batch(spec: RpcSpec, result: Any, response: Any) -> None:
    for item in result:
        points = item.points if spec.op == "query_batch_points" else item
        container = response.result.add().result
        for point in points:
            encode(point, container.add())


def _get_snapshot(spec: RpcSpec, response: Any) -> Any:
    return decode(response.snapshot_description)


def _put_snapshot(spec: RpcSpec, result: Any, response: Any) -> None:
    encode(result, response.snapshot_description)


_RESULT_KINDS: Dict[str, Tuple[Callable, Callable]] = {
    "self": (_get_self, _put_self),
    "result": (_get_result, _put_result),
    "bool": (_get_bool, _put_bool),
    "true": (_get_true, _put_nothing),
    "list": (_get_list, _put_list),
    "batch": (_get_batch, _put_batch),
    "snapshot": (_get_snapshot, _put_snapshot),
}


# -- payloads: gRPC cannot tell "no payload" from "empty payload" -------------------------------------------------------------
def _wants_payload(selector: Any, default: bool) -> bool:
    if selector is None:
        return default
    return selector is not False


def _fill(points: List[Dict[str, Any]], wanted: bool) -> None:
    if wanted:
        for point in points:
            point.setdefault("payload", {})


def _fill_payloads(spec: RpcSpec, data: Any, body: Any) -> None:
    """Give points an empty payload where one was asked for and the wire carried none (REST says
    ``{}`` there and ``null`` where no payload was asked for)."""
    default = bool(spec.payload_default)
    if spec.result == "batch":
        searches = get(body, "searches") or []
        for i, item in enumerate(data):
            wanted = _wants_payload(get(searches[i], "with_payload") if i < len(searches) else None, default)
            _fill(item["points"] if isinstance(item, dict) else item, wanted)
        return
    wanted = _wants_payload(get(body, "with_payload"), default)
    if isinstance(data, list):
        _fill(data, wanted)
    elif "points" in data:
        _fill(data["points"], wanted)
    elif "groups" in data:
        lookup = get(body, "with_lookup")
        lookup_wanted = _wants_payload(get(lookup, "with_payload"), True) if lookup is not None else False
        for group in data["groups"]:
            _fill(group.get("hits", []), wanted)
            if "lookup" in group:
                _fill([group["lookup"]], lookup_wanted)


REST_MODELS.update({
    "qdrant.CollectionClusterInfoResponse": "CollectionClusterInfo",
    "qdrant.ListCollectionsResponse": "CollectionsResponse",
    "qdrant.ListAliasesResponse": "CollectionsAliasesResponse",
    "qdrant.ScrollResponse": "ScrollResult",
    "qdrant.SearchMatrixOffsets": "SearchMatrixOffsetsResponse",
    "qdrant.SearchMatrixPairs": "SearchMatrixPairsResponse",
    "qdrant.ChangeAliases": "ChangeAliasesOperation",
    "qdrant.DeletePayloadPoints": "DeletePayload",
    "qdrant.PointsUpdateOperation.DeletePayload": "DeletePayload",
    "qdrant.UpdateBatchPoints": "UpdateOperations",
    "qdrant.QueryBatchPoints": "QueryRequestBatch",
    "qdrant.SearchBatchPoints": "SearchRequestBatch",
    "qdrant.RecommendBatchPoints": "RecommendRequestBatch",
    "qdrant.DiscoverBatchPoints": "DiscoverRequestBatch",
    "qdrant.UpdatePointVectors": "UpdateVectors",
    "qdrant.PointsUpdateOperation.UpdateVectors": "UpdateVectors",
    "qdrant.UpsertPoints": "PointsList",
    "qdrant.PointsUpdateOperation.PointStructList": "PointsList",
    "qdrant.GetPoints": "PointRequest",
    "qdrant.CollectionInfo": "CollectionInfo",
})


# -- snapshots and health ------------------------------------------------------------------------------------------------------------
@decoder("qdrant.SnapshotDescription")
def decode_snapshot_description(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("creation_time",))
    if msg.HasField("creation_time"):
        out["creation_time"] = decode_timestamp(msg.creation_time).replace(tzinfo=None).isoformat()
    return out


@encoder("qdrant.SnapshotDescription")
def encode_snapshot_description(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("creation_time",))
    created = get(value, "creation_time")
    if created is not None:
        encode_timestamp(created, msg.creation_time)


# -- the table ----------------------------------------------------------------------------------------------------------------------
_C, _P, _S, _Q = "qdrant.Collections", "qdrant.Points", "qdrant.Snapshots", "qdrant.Qdrant"
M = models

_TABLE: List[RpcSpec] = [
    # collections
    RpcSpec("get_collections", _C, "List", cpb.ListCollectionsRequest, cpb.ListCollectionsResponse, "self", M.CollectionsResponse),
    RpcSpec("collection_exists", _C, "CollectionExists", cpb.CollectionExistsRequest, cpb.CollectionExistsResponse, "result", M.CollectionExistence),
    RpcSpec("get_collection", _C, "Get", cpb.GetCollectionInfoRequest, cpb.GetCollectionInfoResponse, "result", M.CollectionInfo),
    RpcSpec("collection_cluster_info", _C, "CollectionClusterInfo", cpb.CollectionClusterInfoRequest, cpb.CollectionClusterInfoResponse, "self", M.CollectionClusterInfo),
    RpcSpec("create_collection", _C, "Create", cpb.CreateCollection, cpb.CollectionOperationResponse, "bool"),
    RpcSpec("update_collection", _C, "Update", cpb.UpdateCollection, cpb.CollectionOperationResponse, "bool"),
    RpcSpec("delete_collection", _C, "Delete", cpb.DeleteCollection, cpb.CollectionOperationResponse, "bool"),
    RpcSpec("update_aliases", _C, "UpdateAliases", cpb.ChangeAliases, cpb.CollectionOperationResponse, "bool"),
    RpcSpec("get_collections_aliases", _C, "ListAliases", cpb.ListAliasesRequest, cpb.ListAliasesResponse, "self", M.CollectionsAliasesResponse),
    RpcSpec("get_collection_aliases", _C, "ListCollectionAliases", cpb.ListCollectionAliasesRequest, cpb.ListAliasesResponse, "self", M.CollectionsAliasesResponse),
    # points: writes
    RpcSpec("upsert_points", _P, "Upsert", ppb.UpsertPoints, ppb.PointsOperationResponse, "result", M.UpdateResult,
            fast_body=_points.fast_insert_batch),
    RpcSpec("delete_points", _P, "Delete", ppb.DeletePoints, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("update_vectors", _P, "UpdateVectors", ppb.UpdatePointVectors, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("delete_vectors", _P, "DeleteVectors", ppb.DeletePointVectors, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("set_payload", _P, "SetPayload", ppb.SetPayloadPoints, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("overwrite_payload", _P, "OverwritePayload", ppb.SetPayloadPoints, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("delete_payload", _P, "DeletePayload", ppb.DeletePayloadPoints, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("clear_payload", _P, "ClearPayload", ppb.ClearPayloadPoints, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("create_field_index", _P, "CreateFieldIndex", ppb.CreateFieldIndexCollection, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("delete_field_index", _P, "DeleteFieldIndex", ppb.DeleteFieldIndexCollection, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("create_vector_name", _P, "CreateVectorName", ppb.CreateVectorNameRequest, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("delete_vector_name", _P, "DeleteVectorName", ppb.DeleteVectorNameRequest, ppb.PointsOperationResponse, "result", M.UpdateResult),
    RpcSpec("batch_update", _P, "UpdateBatch", ppb.UpdateBatchPoints, ppb.UpdateBatchResponse, "list", List[M.UpdateResult]),
    # points: reads
    RpcSpec("get_points", _P, "Get", ppb.GetPoints, ppb.GetResponse, "list", List[M.Record], payload_default=True),
    RpcSpec("scroll_points", _P, "Scroll", ppb.ScrollPoints, ppb.ScrollResponse, "self", M.ScrollResult, payload_default=True),
    RpcSpec("count_points", _P, "Count", ppb.CountPoints, ppb.CountResponse, "result", M.CountResult),
    RpcSpec("query_points", _P, "Query", ppb.QueryPoints, ppb.QueryResponse, "self", M.QueryResponse, payload_default=False),
    RpcSpec("query_batch_points", _P, "QueryBatch", ppb.QueryBatchPoints, ppb.QueryBatchResponse, "batch", List[M.QueryResponse], batch_field="query_points", payload_default=False),
    RpcSpec("query_points_groups", _P, "QueryGroups", ppb.QueryPointGroups, ppb.QueryGroupsResponse, "result", M.GroupsResult, payload_default=False),
    RpcSpec("facet", _P, "Facet", ppb.FacetCounts, ppb.FacetResponse, "self", M.FacetResponse),
    RpcSpec("search_matrix_pairs", _P, "SearchMatrixPairs", ppb.SearchMatrixPoints, ppb.SearchMatrixPairsResponse, "result", M.SearchMatrixPairsResponse),
    RpcSpec("search_matrix_offsets", _P, "SearchMatrixOffsets", ppb.SearchMatrixPoints, ppb.SearchMatrixOffsetsResponse, "result", M.SearchMatrixOffsetsResponse),
    # points: the deprecated rpcs (legacy REST operations)
    RpcSpec("search_points", _P, "Search", ppb.SearchPoints, ppb.SearchResponse, "list", List[M.ScoredPoint], payload_default=False),
    RpcSpec("search_batch_points", _P, "SearchBatch", ppb.SearchBatchPoints, ppb.SearchBatchResponse, "batch", List[List[M.ScoredPoint]], batch_field="search_points", payload_default=False),
    RpcSpec("search_point_groups", _P, "SearchGroups", ppb.SearchPointGroups, ppb.SearchGroupsResponse, "result", M.GroupsResult, payload_default=False),
    RpcSpec("recommend_points", _P, "Recommend", ppb.RecommendPoints, ppb.RecommendResponse, "list", List[M.ScoredPoint], payload_default=False),
    RpcSpec("recommend_batch_points", _P, "RecommendBatch", ppb.RecommendBatchPoints, ppb.RecommendBatchResponse, "batch", List[List[M.ScoredPoint]], batch_field="recommend_points", payload_default=False),
    RpcSpec("recommend_point_groups", _P, "RecommendGroups", ppb.RecommendPointGroups, ppb.RecommendGroupsResponse, "result", M.GroupsResult, payload_default=False),
    RpcSpec("discover_points", _P, "Discover", ppb.DiscoverPoints, ppb.DiscoverResponse, "list", List[M.ScoredPoint], payload_default=False),
    RpcSpec("discover_batch_points", _P, "DiscoverBatch", ppb.DiscoverBatchPoints, ppb.DiscoverBatchResponse, "batch", List[List[M.ScoredPoint]], batch_field="discover_points", payload_default=False),
    # snapshots
    RpcSpec("create_snapshot", _S, "Create", spb.CreateSnapshotRequest, spb.CreateSnapshotResponse, "snapshot", M.SnapshotDescription),
    RpcSpec("list_snapshots", _S, "List", spb.ListSnapshotsRequest, spb.ListSnapshotsResponse, "list", List[M.SnapshotDescription]),
    RpcSpec("delete_snapshot", _S, "Delete", spb.DeleteSnapshotRequest, spb.DeleteSnapshotResponse, "true"),
    RpcSpec("create_full_snapshot", _S, "CreateFull", spb.CreateFullSnapshotRequest, spb.CreateSnapshotResponse, "snapshot", M.SnapshotDescription),
    RpcSpec("list_full_snapshots", _S, "ListFull", spb.ListFullSnapshotsRequest, spb.ListSnapshotsResponse, "list", List[M.SnapshotDescription]),
    RpcSpec("delete_full_snapshot", _S, "DeleteFull", spb.DeleteFullSnapshotRequest, spb.DeleteSnapshotResponse, "true"),
    # service
    RpcSpec("root", _Q, "HealthCheck", qpb.HealthCheckRequest, qpb.HealthCheckReply, "self", M.VersionInfo),
]

RPCS: Dict[str, RpcSpec] = {spec.op: spec for spec in _TABLE}
BY_PATH: Dict[str, RpcSpec] = {spec.path: spec for spec in _TABLE}

# rpcs of Qdrant's public services whose messages this package does not convert (cluster-only).
NOT_CONVERTED: Dict[str, str] = {
    "update_collection_cluster": f"/{_C}/UpdateCollectionClusterSetup",
    "create_shard_key": f"/{_C}/CreateShardKey",
    "delete_shard_key": f"/{_C}/DeleteShardKey",
    "list_shard_keys": f"/{_C}/ListShardKeys",
}

# Operations with no rpc at all in Qdrant's public gRPC API: a gRPC client sends them over REST.
REST_ONLY = frozenset(op for op in OPERATIONS if op not in RPCS and op not in NOT_CONVERTED)


def not_converted(op: str) -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"Operation `{op}` ({NOT_CONVERTED[op]}) is a cluster operation this client does not convert to gRPC; "
        "use a REST client (prefer_grpc=False) for it"
    )


__all__ = ["RPCS", "BY_PATH", "NOT_CONVERTED", "REST_ONLY", "RpcSpec", "not_converted", "decode", "encode"]
