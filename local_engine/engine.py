"""The engine: a set of collections and aliases, answering Qdrant's operations.

Each public method is named after an operation id of Qdrant's OpenAPI spec and takes the
spec's request model as ``body`` (plus the path parameters), returning the spec's result
model. That makes the operation set the one seam every transport shares: the in-process
client calls these methods directly, the server (``local_engine.server``) routes HTTP and
gRPC requests to them.

Wire-only parameters (``wait``, ``ordering``, ``consistency``, ``timeout``) are accepted by
the transports and not passed here: on one node every write is complete when it returns
and every read sees every acknowledged write.
"""

from __future__ import annotations

import copy
import itertools
import threading
from enum import Enum
from typing import Any

import numpy as np
import pydantic

from sdk import models

from . import quantization
from .collection import Collection
from .engine_service import ServiceOperations
from .engine_snapshots import SnapshotOperations
from .query import QueryOperations
from .sharding import guard_shard_keys
from .errors import AlreadyExists, BadRequest, NotFound, Unsupported
from .storage.base import Storage
from .storage.memory import MemoryStorage

_DEFAULT_HNSW = dict(m=16, ef_construct=100, full_scan_threshold=10000, max_indexing_threads=0, on_disk=False)
_DEFAULT_OPTIMIZERS = dict(
    deleted_threshold=0.2, vacuum_min_vector_number=1000, default_segment_number=0,
    max_segment_size=None, memmap_threshold=None, indexing_threshold=10000,
    flush_interval_sec=5, max_optimization_threads=None,
)
_DEFAULT_WAL = dict(wal_capacity_mb=32, wal_segments_ahead=0, wal_retain_closed=1)


def _dump(model: Any) -> Any:
    if model is None:
        return None
    if isinstance(model, Enum):
        return model.value
    if isinstance(model, (str, int, float, bool)):
        return model
    if isinstance(model, dict):
        return {k: _dump(v) for k, v in model.items()}
    return model.model_dump(mode="json", exclude_none=True)


def _merge(base: dict, diff: Any) -> dict:
    out = dict(base)
    if diff is not None:
        out.update({k: v for k, v in _dump(diff).items() if v is not None})
    return out


@guard_shard_keys
class Engine(SnapshotOperations, QueryOperations, ServiceOperations):
    def __init__(self, storage: Storage | None = None) -> None:
        self._storage = storage or MemoryStorage()
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._op_ids = itertools.count(1)
        self._closed = False
        for name in self._storage.collection_names():
            store = self._storage.open_collection(name)
            saved = store.load_config()
            collection = Collection(name, models.CollectionConfig.model_validate(saved["config"]), store)
            try:
                collection.payload_schema = dict(saved.get("payload_schema", {}))
                collection.load(store.load())
            except BaseException:
                collection.abandon_open()
                raise
            self._collections[name] = collection
        self._aliases: dict[str, str] = self._storage.load_aliases()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for collection in self._collections.values():
                collection.close()
            self._storage.close()

    # -- helpers --------------------------------------------------------------------------------
    def _get(self, name: str) -> Collection:
        collection = self._collections.get(name)
        if collection is None:
            real = self._aliases.get(name)
            collection = self._collections.get(real) if real is not None else None
        if collection is None:
            raise NotFound(f"Not found: Collection `{name}` doesn't exist!")
        return collection

    def _next_op(self, collection: Collection | None = None) -> int:
        """A new operation id: the collection's own (it becomes the version of the points the
        operation writes; per collection, monotonic across reopens, see Collection.next_op_id)."""
        if collection is not None:
            return collection.next_op_id()
        return next(self._op_ids)

    def _update_result(self, op_id: int) -> models.UpdateResult:
        return models.UpdateResult(operation_id=op_id, status=models.UpdateStatus.COMPLETED)

    def _persist_config(self, collection: Collection) -> None:
        collection._store.save_config(
            {"config": collection.config.model_dump(mode="json"), "payload_schema": _dump(collection.payload_schema)}
        )

    # -- collections ------------------------------------------------------------------------------
    def get_collections(self) -> models.CollectionsResponse:
        with self._lock:
            return models.CollectionsResponse(
                collections=[models.CollectionDescription(name=n) for n in self._collections]
            )

    def collection_exists(self, collection_name: str) -> models.CollectionExistence:
        with self._lock:
            return models.CollectionExistence(exists=collection_name in self._collections)

    def create_collection(self, collection_name: str, body: models.CreateCollection) -> bool:
        body = body or models.CreateCollection()
        _check_name(collection_name)
        config = _build_config(body)
        with self._lock:
            if collection_name in self._collections:
                raise AlreadyExists(f"Wrong input: Collection `{collection_name}` already exists!")
            if collection_name in self._aliases:
                raise AlreadyExists(f"Wrong input: Alias `{collection_name}` already exists!")
            saved = {"config": config.model_dump(mode="json"), "payload_schema": {}}
            store = self._storage.create_collection(collection_name, saved)
            self._collections[collection_name] = Collection(collection_name, config, store)
            return True

    def get_collection(self, collection_name: str) -> models.CollectionInfo:
        collection = self._get(collection_name)
        with collection._lock:
            count = collection.points_count()
            indexed, green = collection.index_status()
            schema = {}
            for field, spec in collection.payload_schema.items():
                data_type, params = _schema_type(spec)
                schema[field] = models.PayloadIndexInfo(
                    data_type=data_type, params=params, points=collection.field_points(field)
                )
            return models.CollectionInfo(
                status=models.CollectionStatus.GREEN if green else models.CollectionStatus.YELLOW,
                optimizer_status="ok",
                warnings=[],
                indexed_vectors_count=indexed,
                points_count=count,
                segments_count=1,
                config=collection.config.model_copy(deep=True),
                payload_schema=schema,
            )

    def update_collection(self, collection_name: str, body: models.UpdateCollection) -> bool:
        collection = self._get(collection_name)
        body = body or models.UpdateCollection()
        with collection._lock:
            cfg = collection.config.model_dump(mode="json", exclude_none=True)
            if body.optimizers_config is not None:
                cfg["optimizer_config"] = _merge(cfg["optimizer_config"], body.optimizers_config)
            if body.hnsw_config is not None:
                cfg["hnsw_config"] = _merge(cfg["hnsw_config"], body.hnsw_config)
            if body.params is not None:
                cfg["params"] = _merge(cfg["params"], body.params)
            if body.vectors is not None:
                vectors = cfg["params"].get("vectors")
                for name, diff in body.vectors.items():
                    target = vectors if (name == "" and "size" in (vectors or {})) else (vectors or {}).get(name)
                    if target is None or not isinstance(target, dict):
                        raise BadRequest(f"Wrong input: Not existing vector name error: {name}")
                    for key, value in _dump(diff).items():
                        if value is None:
                            continue
                        if key == "hnsw_config" and isinstance(target.get(key), dict):
                            value = {**target[key], **value}  # a diff: fields not given keep their value
                        if key == "quantization_config":
                            _reject_quantization(value)
                            if _quantization_dump(value) is None:     # Disabled: the collection's applies
                                target.pop(key, None)
                                continue
                        target[key] = value
            if body.quantization_config is not None:
                _reject_quantization(body.quantization_config)   # validates; Disabled drops the codes
                cfg["quantization_config"] = _quantization_dump(body.quantization_config)
            if body.sparse_vectors is not None:
                # like Qdrant: unset fields keep their values, `index` merges field by field
                sparse = dict(cfg["params"].get("sparse_vectors") or {})
                for name, diff in body.sparse_vectors.items():
                    if name not in sparse:
                        raise BadRequest(f"Wrong input: Not existing vector name error: {name}")
                    update = _dump(diff) or {}
                    if "index" in update:
                        update["index"] = {**(sparse[name].get("index") or {}), **update["index"]}
                    merged = {**sparse[name], **update}
                    _check_sparse_params({name: models.SparseVectorParams.model_validate(merged)}, {})
                    sparse[name] = merged
                cfg["params"]["sparse_vectors"] = sparse
            if body.strict_mode_config is not None:
                cfg["strict_mode_config"] = _merge(cfg.get("strict_mode_config") or {}, body.strict_mode_config)
            if body.metadata is not None:
                meta = dict(cfg.get("metadata") or {})
                for key, value in body.metadata.items():
                    if value is None:
                        meta.pop(key, None)
                    else:
                        meta[key] = value
                cfg["metadata"] = meta
            new_config = models.CollectionConfig.model_validate(cfg)
            _check_quantized_datatypes(new_config)
            self._replace_config(collection, new_config)
            collection.reconfigure_indexes()  # hnsw_config / indexing_threshold changes take effect now
            return True

    def delete_collection(self, collection_name: str) -> bool:
        with self._lock:
            collection = self._collections.get(collection_name)
            if collection is None:
                return False
            self._storage.drop_collection(collection_name)
            del self._collections[collection_name]
            collection.discard()
            stale = [a for a, c in self._aliases.items() if c == collection_name]
            if stale:
                for alias in stale:
                    del self._aliases[alias]
                self._storage.save_aliases(self._aliases)
            return True

    # -- aliases ------------------------------------------------------------------------------------
    def update_aliases(self, body: models.ChangeAliasesOperation) -> bool:
        with self._lock:
            aliases = dict(self._aliases)
            for action in body.actions:
                if hasattr(action, "create_alias"):
                    op = action.create_alias
                    if op.collection_name not in self._collections:
                        raise NotFound(f"Not found: Collection `{op.collection_name}` doesn't exist!")
                    if op.alias_name in self._collections:
                        raise AlreadyExists(f"Wrong input: Collection `{op.alias_name}` already exists!")
                    aliases[op.alias_name] = op.collection_name
                elif hasattr(action, "delete_alias"):
                    name = action.delete_alias.alias_name
                    if name not in aliases:
                        raise NotFound(f"Not found: Alias `{name}` doesn't exist!")
                    del aliases[name]
                elif hasattr(action, "rename_alias"):
                    op = action.rename_alias
                    if op.old_alias_name not in aliases:
                        raise NotFound(f"Not found: Alias `{op.old_alias_name}` doesn't exist!")
                    if op.new_alias_name in self._collections:
                        raise AlreadyExists(f"Wrong input: Collection `{op.new_alias_name}` already exists!")
                    aliases[op.new_alias_name] = aliases.pop(op.old_alias_name)
                else:
                    raise BadRequest(f"Wrong input: unknown alias operation {type(action).__name__}")
            self._storage.save_aliases(aliases)
            self._aliases = aliases
            return True

    def get_collections_aliases(self) -> models.CollectionsAliasesResponse:
        with self._lock:
            return models.CollectionsAliasesResponse(
                aliases=[models.AliasDescription(alias_name=a, collection_name=c) for a, c in sorted(self._aliases.items())]
            )

    def get_collection_aliases(self, collection_name: str) -> models.CollectionsAliasesResponse:
        with self._lock:
            if collection_name not in self._collections:
                raise NotFound(f"Not found: Collection `{collection_name}` doesn't exist!")
            return models.CollectionsAliasesResponse(
                aliases=[
                    models.AliasDescription(alias_name=a, collection_name=c)
                    for a, c in sorted(self._aliases.items())
                    if c == collection_name
                ]
            )

    # -- points: writes -------------------------------------------------------------------------------
    def upsert_points(self, collection_name: str, body: models.PointInsertOperations) -> models.UpdateResult:
        collection = self._get(collection_name)
        op_id = self._next_op(collection)
        if getattr(body, "update_filter", None) is not None or getattr(body, "update_mode", None) is not None:
            with collection._lock:   # decide which points pass and write them as one step
                collection.upsert(self._conditional_points(collection, body), op_id)
            return self._update_result(op_id)
        collection.upsert(body, op_id)
        return self._update_result(op_id)

    def delete_points(self, collection_name: str, body: models.PointsSelector) -> models.UpdateResult:
        collection = self._get(collection_name)
        op_id = self._next_op(collection)
        collection.delete(body, op_id)
        return self._update_result(op_id)

    def set_payload(self, collection_name: str, body: models.SetPayload) -> models.UpdateResult:
        collection = self._get(collection_name)
        payload, key = dict(body.payload), body.key
        op_id = self._next_op(collection)
        collection.update_payloads(body, op_id, lambda store, off: store.set_payload(off, payload, key))
        return self._update_result(op_id)

    def overwrite_payload(self, collection_name: str, body: models.SetPayload) -> models.UpdateResult:
        collection = self._get(collection_name)
        if body.key is not None:
            raise BadRequest("Wrong input: `key` is not allowed when overwriting the whole payload")
        payload = dict(body.payload)
        op_id = self._next_op(collection)
        collection.update_payloads(body, op_id, lambda store, off: store.overwrite_payload(off, copy.deepcopy(payload)))
        return self._update_result(op_id)

    def delete_payload(self, collection_name: str, body: models.DeletePayload) -> models.UpdateResult:
        collection = self._get(collection_name)
        keys = list(body.keys)
        op_id = self._next_op(collection)
        collection.update_payloads(body, op_id, lambda store, off: store.delete_keys(off, keys))
        return self._update_result(op_id)

    def clear_payload(self, collection_name: str, body: models.PointsSelector) -> models.UpdateResult:
        collection = self._get(collection_name)
        op_id = self._next_op(collection)
        collection.update_payloads(body, op_id, lambda store, off: store.clear(off))
        return self._update_result(op_id)

    # -- vectors of points, vector names (docs/vectors.md) ------------------------------------------------
    def update_vectors(self, collection_name: str, body: models.UpdateVectors) -> models.UpdateResult:
        collection = self._get(collection_name)
        op_id = self._next_op(collection)
        collection.update_vectors(list(body.points or []), body.update_filter, op_id)
        return self._update_result(op_id)

    def delete_vectors(self, collection_name: str, body: models.DeleteVectors) -> models.UpdateResult:
        collection = self._get(collection_name)
        if body.points is None and body.filter is None:
            raise BadRequest("Wrong input: delete_vectors needs `points` or `filter`")
        op_id = self._next_op(collection)
        collection.delete_vectors(body, list(body.vector or []), op_id)
        return self._update_result(op_id)

    def create_vector_name(self, collection_name: str, vector_name: str, body: Any) -> models.UpdateResult:
        """Add a dense (``{"dense": {...}}``) or sparse (``{"sparse": {...}}``) vector name; the same
        name with the same config again is a no-op, as in Qdrant."""
        collection = self._get(collection_name)
        _check_vector_name(vector_name)
        with collection._lock:
            cfg = collection.config.model_dump(mode="json", exclude_none=True)
            params = cfg["params"]
            vectors = params.get("vectors")
            dense = {"": vectors} if isinstance(vectors, dict) and "size" in vectors else dict(vectors or {})
            sparse = dict(params.get("sparse_vectors") or {})
            if getattr(body, "dense", None) is not None:
                new = _dump(body.dense)
                size = new.get("size")
                if not isinstance(size, int) or not 1 <= size <= 65536:
                    raise BadRequest(f"Wrong input: Vector size {size} is invalid. Must be from 1 to 65536.")
                _check_vector_params(models.VectorParams.model_validate(new))
                if vector_name in sparse:
                    raise BadRequest(f"Wrong input: Vector {vector_name} already exists as a sparse vector")
                existing = dense.get(vector_name)
                if existing is not None:
                    same = all(existing.get(k) == new.get(k) for k in ("size", "distance", "multivector_config", "datatype")
                               if not (k == "datatype" and existing.get(k, "float32") == new.get(k, "float32")))
                    if not same:
                        raise BadRequest(f"Wrong input: Vector {vector_name} already exists with a different configuration")
                    return self._update_result(self._next_op(collection))
                dense[vector_name] = new
                params["vectors"] = dense
            elif getattr(body, "sparse", None) is not None:
                new = _check_sparse_params({vector_name: models.SparseVectorParams(
                    modifier=body.sparse.modifier,
                    index=models.SparseIndexParams(datatype=body.sparse.datatype) if body.sparse.datatype else None,
                )}, dense)[vector_name]
                existing = sparse.get(vector_name)
                if existing is not None:
                    if (existing.get("modifier") or "none") != (new.get("modifier") or "none"):
                        raise BadRequest(f"Wrong input: Sparse vector {vector_name} already exists with a different configuration")
                    return self._update_result(self._next_op(collection))
                sparse[vector_name] = new
                params["sparse_vectors"] = sparse
            else:
                raise BadRequest("Wrong input: a vector name config needs `dense` or `sparse`")
            self._replace_config(collection, models.CollectionConfig.model_validate(cfg))
            collection.add_vector_name(vector_name)
        return self._update_result(self._next_op(collection))

    def delete_vector_name(self, collection_name: str, vector_name: str) -> models.UpdateResult:
        """Remove a vector name and its vectors; an unknown name is a no-op, as in Qdrant."""
        collection = self._get(collection_name)
        with collection._lock:
            cfg = collection.config.model_dump(mode="json", exclude_none=True)
            params = cfg["params"]
            vectors = params.get("vectors")
            sparse = dict(params.get("sparse_vectors") or {})
            if isinstance(vectors, dict) and "size" in vectors:
                if vector_name == "":
                    raise BadRequest("Wrong input: Cannot delete the unnamed vector when it is the only dense vector in the collection")
                return self._update_result(self._next_op(collection))
            if vector_name in (vectors or {}):
                params["vectors"] = {k: v for k, v in vectors.items() if k != vector_name}
            elif vector_name in sparse:
                del sparse[vector_name]
                params["sparse_vectors"] = sparse or None
            else:
                return self._update_result(self._next_op(collection))
            collection.drop_vector_name(vector_name)
            self._replace_config(collection, models.CollectionConfig.model_validate(cfg))
        return self._update_result(self._next_op(collection))

    def _replace_config(self, collection: Collection, config: models.CollectionConfig) -> None:
        old = collection.config
        collection.config = config
        try:
            self._persist_config(collection)
        except BaseException:
            collection.config = old
            raise

    def create_field_index(self, collection_name: str, body: models.CreateFieldIndex) -> models.UpdateResult:
        collection = self._get(collection_name)
        if body.field_schema is None:
            raise BadRequest("Wrong input: `field_schema` is required to create a payload index")
        with collection._lock:
            old = dict(collection.payload_schema)
            previous = old.get(body.field_name)
            # Building first rejects unsupported or malformed schemas before anything is stored.
            collection.create_index(body.field_name, body.field_schema)
            collection.payload_schema[body.field_name] = body.field_schema
            try:
                self._persist_config(collection)
            except BaseException:
                collection.payload_schema = old
                if previous is None:
                    collection.drop_index(body.field_name)
                else:
                    collection.create_index(body.field_name, previous)
                raise
        return self._update_result(self._next_op(collection))

    def delete_field_index(self, collection_name: str, field_name: str) -> models.UpdateResult:
        collection = self._get(collection_name)
        with collection._lock:
            old = dict(collection.payload_schema)
            collection.payload_schema.pop(field_name, None)
            try:
                self._persist_config(collection)
            except BaseException:
                collection.payload_schema = old
                raise
            collection.drop_index(field_name)
        return self._update_result(self._next_op(collection))

    # -- points: reads ------------------------------------------------------------------------------------
    def get_points(self, collection_name: str, body: models.PointRequest) -> list[models.Record]:
        collection = self._get(collection_name)
        with_payload = True if body.with_payload is None else body.with_payload
        return collection.retrieve(body.ids, with_payload, body.with_vector or False)

    def get_point(self, collection_name: str, id: Any) -> models.Record:
        return self._get(collection_name).get_one(id)

    def scroll_points(self, collection_name: str, body: models.ScrollRequest) -> models.ScrollResult:
        collection = self._get(collection_name)
        body = body or models.ScrollRequest()
        limit = 10 if body.limit is None else body.limit
        if limit < 1:
            raise BadRequest("Wrong input: limit must be at least 1")
        with_payload = True if body.with_payload is None else body.with_payload
        with_vectors = body.with_vector or False
        if body.order_by is not None:
            # Qdrant: ordered scrolls ignore `offset` and never return a next page offset.
            ordered = collection.ordered_by_payload(body.filter, body.order_by, limit)
            points = collection.records_with_order(ordered, with_payload, with_vectors)
            return models.ScrollResult(points=points, next_page_offset=None)
        points, next_id = collection.scroll(body.filter, limit, body.offset, with_payload, with_vectors)
        return models.ScrollResult(points=points, next_page_offset=next_id)

    def facet(self, collection_name: str, body: models.FacetRequest) -> models.FacetResponse:
        collection = self._get(collection_name)
        limit = 10 if body.limit is None else body.limit
        if limit < 1:
            raise BadRequest("Wrong input: limit must be at least 1")
        hits = collection.facet(body.key, body.filter, limit, bool(body.exact))
        return models.FacetResponse(hits=[models.FacetValueHit(value=v, count=c) for v, c in hits])

    def count_points(self, collection_name: str, body: models.CountRequest) -> models.CountResult:
        collection = self._get(collection_name)
        body = body or models.CountRequest()
        return models.CountResult(count=collection.count(body.filter))

    # query_points, query_batch_points, query_points_groups, search_matrix_*, batch_update and the
    # legacy search/recommend/discover operations: local_engine/query (QueryOperations).


# -- module helpers ----------------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not name or len(name) > 255 or any(c in name for c in "/\\\0"):
        raise BadRequest(f"Wrong input: invalid collection name {name!r}")


def _reject_quantization(config: Any) -> None:
    """Validate a quantization config (BadRequest for bad values, e.g. quantile outside 0.5..1)."""
    quantization.parse(config)


def _quantization_dump(config: Any) -> Any:
    """The config as stored and reported (as given, unset fields omitted); None for Disabled."""
    if config is None or type(config).__name__ == "Disabled" or getattr(config, "value", config) == "Disabled":
        return None
    return _dump(config)


def _build_config(body: models.CreateCollection) -> models.CollectionConfig:
    if body.quantization_config is not None:
        _reject_quantization(body.quantization_config)
    vectors = body.vectors
    params_list = list(vectors.values()) if isinstance(vectors, dict) else ([vectors] if vectors is not None else [])
    for p in params_list:
        _check_vector_params(p)
    if body.sharding_method is not None and getattr(body.sharding_method, "value", body.sharding_method) == "custom":
        raise Unsupported("Custom sharding is cluster-only; the built-in engine has one shard")
    params = dict(
        vectors=_dump(vectors) if vectors is not None else {},
        shard_number=body.shard_number or 1,
        replication_factor=body.replication_factor or 1,
        write_consistency_factor=body.write_consistency_factor or 1,
        on_disk_payload=True if body.on_disk_payload is None else body.on_disk_payload,
    )
    if body.sparse_vectors:
        params["sparse_vectors"] = _check_sparse_params(body.sparse_vectors, vectors)
    if body.payload is not None:
        params["payload"] = _dump(body.payload)
    cfg = dict(
        params=params,
        hnsw_config=_merge(_DEFAULT_HNSW, body.hnsw_config),
        optimizer_config=_merge(_DEFAULT_OPTIMIZERS, body.optimizers_config),
        wal_config=_merge(_DEFAULT_WAL, body.wal_config),
        quantization_config=_quantization_dump(body.quantization_config),
        strict_mode_config=_dump(body.strict_mode_config) if body.strict_mode_config is not None else {"enabled": False},
        metadata=dict(body.metadata) if body.metadata else None,
    )
    config = models.CollectionConfig.model_validate(cfg)
    _check_quantized_datatypes(config)
    return config


def _check_quantized_datatypes(config: models.CollectionConfig) -> None:
    """uint8 Cosine vectors are stored unnormalised (docs/vectors.md) and the quantization codes
    assume normalised Cosine rows: refuse the combination rather than rank by wrong codes."""
    vectors = config.params.vectors
    params = (vectors if isinstance(vectors, dict) else {"": vectors}) if vectors is not None else {}
    for name, p in params.items():
        if p is None or getattr(p.distance, "value", p.distance) != "Cosine" \
                or getattr(p.datatype, "value", p.datatype) != "uint8":
            continue
        quant = p.quantization_config if p.quantization_config is not None else config.quantization_config
        if quant is not None and _quantization_dump(quant) is not None:
            raise Unsupported(f"Quantization of uint8 Cosine vectors is not supported yet by the built-in engine "
                              f"(vector `{name}`)")


def _check_vector_params(p: models.VectorParams) -> None:
    if p.size is None or p.size < 1:
        raise BadRequest("Wrong input: vector size must be at least 1")
    if p.multivector_config is not None:
        comparator = getattr(p.multivector_config.comparator, "value", p.multivector_config.comparator)
        if comparator != "max_sim":
            raise BadRequest(f"Wrong input: unknown multivector comparator {comparator!r} (Qdrant has max_sim)")
    if p.quantization_config is not None:
        _reject_quantization(p.quantization_config)
    datatype = getattr(p.datatype, "value", p.datatype)
    if datatype not in (None, "float32", "float16", "uint8"):
        raise Unsupported(f"Vector datatype `{datatype}` is not supported yet by the built-in engine")


def _check_vector_name(name: str) -> None:
    """Qdrant keeps a vector in a directory named after it: the same rules as its server."""
    if len(name.encode()) > 200:
        raise BadRequest(f"Wrong input: Invalid vector name `{name}`: must be at most 200 bytes long")
    for char in "<>:\"/\\|?*\0":
        if char in name:
            raise BadRequest(f"Wrong input: Invalid vector name `{name}`: cannot contain {char!r} char")
    if name in (".", ".."):
        raise BadRequest(f"Wrong input: Invalid vector name `{name}`")


def _check_sparse_params(sparse: dict, vectors: Any) -> dict:
    """The ``sparse_vectors`` config as stored, after Qdrant's checks (names unique across kinds)."""
    dense_names = set(vectors) if isinstance(vectors, dict) else ({""} if vectors is not None else set())
    out = {}
    for name, p in sparse.items():
        if name in dense_names:
            raise BadRequest(f"Wrong input: Vector name `{name}` is used by both a dense and a sparse vector")
        p = p if p is not None else models.SparseVectorParams()
        datatype = getattr(getattr(getattr(p, "index", None), "datatype", None), "value", None)
        if datatype == "uint8":
            raise Unsupported("Sparse vectors with datatype `uint8` are not supported yet by the built-in engine")
        out[name] = _dump(p)
    return out


def _schema_type(spec: Any) -> tuple[Any, Any]:
    """(PayloadSchemaType, params or None) of a stored field schema."""
    if isinstance(spec, dict):   # a schema saved by path mode comes back as JSON
        if len(spec) == 1 and "type" in spec:
            spec = spec["type"]
        else:
            spec = pydantic.TypeAdapter(models.PayloadSchemaParams).validate_python(spec)
    if isinstance(spec, str):
        return models.PayloadSchemaType(spec), None
    if isinstance(spec, models.PayloadSchemaType):
        return spec, None
    return models.PayloadSchemaType(getattr(spec.type, "value", spec.type)), spec
