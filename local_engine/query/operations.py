"""The engine's query operations (a mixin of ``Engine``): one method per Qdrant operation id.

``query_points``, ``query_batch_points``, ``query_points_groups``, ``search_matrix_pairs`` /
``search_matrix_offsets``, ``batch_update``, and the legacy v1.18 ``search_*`` /
``recommend_*`` / ``discover_*`` operations, which are translated into query requests (so the
legacy endpoints have exactly the universal query's semantics). Each takes the spec's request
model as ``body`` and answers the spec's result model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdk import models

from ..errors import BadRequest, Unsupported
from ..ids import normalize_id
from . import groups as grouping
from .inputs import merge_filters
from .matrix import distance_matrix
from .planner import QueryEngine


def _check_limit(limit: int, what: str = "limit") -> None:
    if limit < 1:
        raise BadRequest(f"Wrong input: {what} value {limit} is invalid. Must be 1 or larger.")


class QueryOperations:
    # -- the universal query ---------------------------------------------------------------------------
    def query_points(self, collection_name: str, body: models.QueryRequest) -> models.QueryResponse:
        collection = self._get(collection_name)
        body = body or models.QueryRequest()
        limit = 10 if body.limit is None else body.limit
        _check_limit(limit)
        offset = body.offset or 0
        if offset < 0:
            raise BadRequest(f"Wrong input: offset value {offset} is invalid. Must be 0 or larger.")
        with_payload = False if body.with_payload is None else body.with_payload
        with_vectors = False if body.with_vector is None else body.with_vector
        qe = QueryEngine(self, collection)
        with collection._lock:
            hits = qe.run(body.query, body.prefetch, body.filter, limit, offset, body.using,
                          body.score_threshold, body.params, body.lookup_from)
            return models.QueryResponse(points=qe.points(hits, with_payload, with_vectors))

    def query_batch_points(self, collection_name: str, body: models.QueryRequestBatch) -> list[models.QueryResponse]:
        self._get(collection_name)
        return [self.query_points(collection_name, request) for request in body.searches]

    def query_points_groups(self, collection_name: str, body: models.QueryGroupsRequest) -> models.GroupsResult:
        collection = self._get(collection_name)
        limit = 10 if body.limit is None else body.limit
        group_size = 3 if body.group_size is None else body.group_size
        _check_limit(limit)
        _check_limit(group_size, "group_size")
        with_payload = False if body.with_payload is None else body.with_payload
        with_vectors = False if body.with_vector is None else body.with_vector
        lookup_collection = with_lookup = None
        if body.with_lookup is not None:
            with_lookup = body.with_lookup
            if isinstance(with_lookup, str):
                with_lookup = models.WithLookup(collection=with_lookup)
            lookup_collection = self._get(with_lookup.collection)
        qe = QueryEngine(self, collection)
        with collection._lock:
            everything = max(1, collection.points_count())
            prefetch = grouping.lift_prefetch_limits(body.prefetch, everything)
            # Fold a growing prefix of the ranked answer: once the first `limit` groups are full,
            # nothing further down can change them (100k points, nearest: 2.7 s -> ms).
            want = min(everything, max(64, 4 * limit * group_size))
            mmr = getattr(body.query, "mmr", None)
            if mmr is not None and mmr.candidates_limit is None:
                want = everything   # MMR's candidates default to the limit: no prefix property
            flt = body.filter
            if not body.prefetch and mmr is None:
                # Points without a value under `group_by` join no group. When they are most of the
                # collection, leave them out up front (not below prefetches, whose lists would
                # change, nor under MMR's candidates): a rare key otherwise ranks everything.
                has_key = models.Filter(must_not=[
                    models.IsEmptyCondition(is_empty=models.PayloadField(key=body.group_by))])
                if int(collection.filter_mask(has_key).sum()) * 2 < everything:
                    flt = merge_filters(flt, has_key)
            while True:
                hits = qe.run(body.query, prefetch, flt, want, 0, body.using,
                              body.score_threshold, body.params, body.lookup_from)
                folded = grouping.fold(collection, hits.offsets.tolist(), body.group_by, limit, group_size)
                complete = len(folded) >= limit and all(len(m) >= group_size for _, m in folded)
                if complete or len(hits.offsets) < want or want >= everything:
                    break
                want = min(everything, want * 4)
            wanted = sorted({pos for _, members in folded for pos in members})
            page = hits.__class__(hits.offsets[wanted], hits.scores[wanted],
                                  None if hits.order_values is None else [hits.order_values[i] for i in wanted])
            points = dict(zip(wanted, qe.points(page, with_payload, with_vectors)))
        result = []
        for gid, members in folded:
            group = models.PointGroup(id=gid, hits=[points[pos].model_copy() for pos in members])
            if lookup_collection is not None:
                group.lookup = grouping.lookup(lookup_collection, with_lookup, gid)
            result.append(group)
        return models.GroupsResult(groups=result)

    # -- distance matrix ----------------------------------------------------------------------------------
    def _matrix(self, collection_name: str, body: Any):
        collection = self._get(collection_name)
        body = body or models.SearchMatrixRequest()
        limit = 3 if body.limit is None else body.limit
        sample = 10 if body.sample is None else body.sample
        _check_limit(limit)
        if sample < 2:
            raise BadRequest(f"Wrong input: sample value {sample} is invalid. Must be 2 or larger.")
        return distance_matrix(collection, body.filter, sample, limit, body.using)

    def search_matrix_pairs(self, collection_name: str, body: models.SearchMatrixRequest) -> models.SearchMatrixPairsResponse:
        ids, rows = self._matrix(collection_name, body)
        return models.SearchMatrixPairsResponse(pairs=[
            models.SearchMatrixPair(a=ids[i], b=ids[j], score=score)
            for i, row in enumerate(rows) for j, score in row
        ])

    def search_matrix_offsets(self, collection_name: str, body: models.SearchMatrixRequest) -> models.SearchMatrixOffsetsResponse:
        ids, rows = self._matrix(collection_name, body)
        return models.SearchMatrixOffsetsResponse(
            offsets_row=[i for i, row in enumerate(rows) for _ in row],
            offsets_col=[j for row in rows for j, _ in row],
            scores=[score for row in rows for _, score in row],
            ids=ids,
        )

    # -- batch updates ------------------------------------------------------------------------------------------
    def batch_update(self, collection_name: str, body: models.UpdateOperations) -> list[models.UpdateResult]:
        """Every operation in order; each is applied atomically, the batch is not (as in Qdrant)."""
        self._get(collection_name)
        dispatch = {
            "UpsertOperation": ("upsert", "upsert_points"),
            "DeleteOperation": ("delete", "delete_points"),
            "SetPayloadOperation": ("set_payload", "set_payload"),
            "OverwritePayloadOperation": ("overwrite_payload", "overwrite_payload"),
            "DeletePayloadOperation": ("delete_payload", "delete_payload"),
            "ClearPayloadOperation": ("clear_payload", "clear_payload"),
            "UpdateVectorsOperation": ("update_vectors", "update_vectors"),
            "DeleteVectorsOperation": ("delete_vectors", "delete_vectors"),
        }
        steps = []
        for op in body.operations:
            kind = type(op).__name__
            if kind not in dispatch:
                raise BadRequest(f"Wrong input: unknown update operation `{kind}`")
            field, method = dispatch[kind]
            if getattr(self, method, None) is None:
                raise Unsupported(f"batch_update: `{field}` is not supported yet by the built-in engine")
            steps.append((method, getattr(op, field)))
        return [getattr(self, method)(collection_name, payload) for method, payload in steps]

    # -- upsert with update_filter / update_mode -------------------------------------------------------------
    def _conditional_points(self, collection: Any, body: Any) -> Any:
        """``body`` reduced to the points ``update_mode`` / ``update_filter`` let through (caller holds the lock)."""
        mode = getattr(body.update_mode, "value", body.update_mode) or "upsert"
        flt = body.update_filter
        if isinstance(body, models.PointsList):
            ids = [normalize_id(p.id) for p in body.points]
        else:
            ids = [normalize_id(i) for i in body.batch.ids]
        matching = collection.filter_mask(flt) if flt is not None else None
        keep = []
        for i, pid in enumerate(ids):
            off = collection._id_to_offset.get(pid)
            if off is None:
                keep.append(mode != "update_only")
            elif mode == "insert_only":
                keep.append(False)
            else:
                keep.append(matching is None or bool(matching[off]))
        if all(keep):
            return body
        if isinstance(body, models.PointsList):
            return models.PointsList(points=[p for p, k in zip(body.points, keep) if k])
        rows = [i for i, k in enumerate(keep) if k]
        batch = body.batch
        vectors = batch.vectors
        if isinstance(vectors, dict):
            vectors = {name: [vs[i] for i in rows] for name, vs in vectors.items()}
        elif isinstance(vectors, np.ndarray) or vectors is not None:
            vectors = [vectors[i] for i in rows]
        payloads = None if batch.payloads is None else [batch.payloads[i] for i in rows]
        return models.PointsBatch(batch=models.Batch(ids=[batch.ids[i] for i in rows], vectors=vectors, payloads=payloads))

    # -- legacy v1.18 operations, answered by the universal query ---------------------------------------
    def search_points(self, collection_name: str, body: models.SearchRequest) -> list[models.ScoredPoint]:
        return self.query_points(collection_name, _from_search(body)).points

    def search_batch_points(self, collection_name: str, body: models.SearchRequestBatch) -> list[list[models.ScoredPoint]]:
        return [self.search_points(collection_name, r) for r in body.searches]

    def recommend_points(self, collection_name: str, body: models.RecommendRequest) -> list[models.ScoredPoint]:
        return self.query_points(collection_name, _from_recommend(body)).points

    def recommend_batch_points(self, collection_name: str, body: models.RecommendRequestBatch) -> list[list[models.ScoredPoint]]:
        return [self.recommend_points(collection_name, r) for r in body.searches]

    def discover_points(self, collection_name: str, body: models.DiscoverRequest) -> list[models.ScoredPoint]:
        return self.query_points(collection_name, _from_discover(body)).points

    def discover_batch_points(self, collection_name: str, body: models.DiscoverRequestBatch) -> list[list[models.ScoredPoint]]:
        return [self.discover_points(collection_name, r) for r in body.searches]

    def search_point_groups(self, collection_name: str, body: models.SearchGroupsRequest) -> models.GroupsResult:
        query = _from_search(body)
        return self.query_points_groups(collection_name, models.QueryGroupsRequest(
            **_common_groups(body), query=query.query, using=query.using))

    def recommend_point_groups(self, collection_name: str, body: models.RecommendGroupsRequest) -> models.GroupsResult:
        query = _from_recommend(body)
        return self.query_points_groups(collection_name, models.QueryGroupsRequest(
            **_common_groups(body), query=query.query, using=query.using, lookup_from=body.lookup_from))


# -- legacy translation ------------------------------------------------------------------------------------------
def _named(vector: Any) -> tuple[Any, str | None]:
    kind = type(vector).__name__
    if kind in ("NamedVector", "NamedSparseVector", "NamedMultiVector"):
        return vector.vector, vector.name
    return vector, None


def _from_search(body: Any) -> models.QueryRequest:
    vector, name = _named(body.vector)
    return models.QueryRequest(
        query=models.NearestQuery(nearest=vector), using=name, filter=body.filter, params=body.params,
        limit=getattr(body, "limit", None), offset=getattr(body, "offset", None), with_payload=body.with_payload,
        with_vector=body.with_vector, score_threshold=body.score_threshold,
    )


def _from_recommend(body: Any) -> models.QueryRequest:
    query = models.RecommendQuery(recommend=models.RecommendInput(
        positive=body.positive, negative=body.negative, strategy=body.strategy))
    return models.QueryRequest(
        query=query, using=body.using, filter=body.filter, params=body.params, limit=getattr(body, "limit", None),
        offset=getattr(body, "offset", None), with_payload=body.with_payload, with_vector=body.with_vector,
        score_threshold=body.score_threshold, lookup_from=body.lookup_from,
    )


def _from_discover(body: Any) -> models.QueryRequest:
    pairs = [models.ContextPair(positive=p.positive, negative=p.negative) for p in body.context or []]
    if body.target is not None:
        query: Any = models.DiscoverQuery(discover=models.DiscoverInput(target=body.target, context=pairs))
    else:
        query = models.ContextQuery(context=pairs)
    return models.QueryRequest(
        query=query, using=body.using, filter=body.filter, params=body.params, limit=body.limit,
        offset=body.offset, with_payload=body.with_payload, with_vector=body.with_vector, lookup_from=body.lookup_from,
    )


def _common_groups(body: Any) -> dict:
    return dict(filter=body.filter, params=body.params, with_payload=body.with_payload, with_vector=body.with_vector,
                score_threshold=body.score_threshold, group_by=body.group_by, group_size=body.group_size,
                limit=body.limit, with_lookup=body.with_lookup)
