"""The client facade, written by hand once, as the asynchronous client;
``tools/unasync.py`` generates ``_sync_client.py`` from it (coroutines become plain methods,
awaits are dropped, Async-prefixed names lose the prefix), and a test fails on drift.

Methods keep qdrant-client 1.20's names, parameters, defaults and return types. Each one turns
its arguments into the OpenAPI request model (``sdk._inputs``) and hands it to the transport as
one operation; all request building lives here or in ``_inputs``, never in a transport.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _inputs as inp
from . import models
from ._exceptions import (
    RateLimitError,
    ServiceUnavailableError,
    TransportError,
    UnsupportedOperationError,
    map_validation_errors,
)
from ._location import RemoteOptions, resolve_location
from ._transport.local import AsyncLocalTransport
from ._upload import Uploader


class AsyncQdrantClient:
    """Qdrant client: the built-in engine (``":memory:"`` or ``path=``) or a remote server.

    ``AsyncQdrantClient(":memory:")`` or ``AsyncQdrantClient(path="./data")`` run the built-in
    engine in this process. Exactly one of ``location``, ``url``, ``host`` or ``path`` may be given.
    Remote clients also take ``http2=True``, ``retries=N`` (attempts per request) and
    ``retry_writes=True`` (retry writes whose outcome is unknown); see docs/transports.md.
    """

    def __init__(
        self,
        location: Optional[str] = None,
        url: Optional[str] = None,
        port: Optional[int] = 6333,
        grpc_port: int = 6334,
        prefer_grpc: bool = False,
        https: Optional[bool] = None,
        api_key: Optional[str] = None,
        prefix: Optional[str] = None,
        timeout: Optional[int] = None,
        host: Optional[str] = None,
        path: Optional[str] = None,
        force_disable_check_same_thread: bool = False,
        grpc_options: Optional[dict[str, Any]] = None,
        auth_token_provider: Optional[Any] = None,
        cloud_inference: bool = False,
        local_inference_batch_size: Optional[int] = None,
        check_compatibility: bool = True,
        pool_size: Optional[int] = None,
        headers: Optional[dict[str, str]] = None,
        **kwargs: Any,
    ) -> None:
        self._init_options = {
            k: v for k, v in locals().items() if k not in ("self", "kwargs") and not k.startswith("_")
        }
        self._init_options.update(kwargs)
        transport_options = {k: kwargs.pop(k) for k in ("http2", "retries", "retry_writes") if k in kwargs}
        inp.check_no_kwargs(kwargs)
        self._location = resolve_location(
            location=location, url=url, port=port, grpc_port=grpc_port, prefer_grpc=prefer_grpc, https=https,
            api_key=api_key, prefix=prefix, timeout=timeout, host=host, path=path,
        )
        if cloud_inference:
            raise UnsupportedOperationError("cloud_inference (server-side embedding) is not supported by this client")
        if self._location.kind == "remote":
            options = RemoteOptions(
                timeout=timeout, headers=dict(headers or {}), auth_token_provider=auth_token_provider,
                grpc_options=dict(grpc_options or {}), pool_size=pool_size, https=https,
                check_compatibility=check_compatibility, **transport_options,
            )
            if prefer_grpc:
                from ._transport.grpc import AsyncGrpcTransport

                self._transport = AsyncGrpcTransport(self._location, options)
            else:
                from ._transport.rest import AsyncRestTransport

                self._transport = AsyncRestTransport(self._location, options)
        else:
            if transport_options:
                raise TypeError(f"{sorted(transport_options)} only apply to remote servers")
            self._transport = AsyncLocalTransport(self._location)
        self._closed = False

    async def __aenter__(self) -> "AsyncQdrantClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self, grpc_grace: Optional[float] = None, **kwargs: Any) -> None:
        """Release the client's resources; in path mode, save a checkpoint and unlock the folder."""
        if not self._closed:
            self._closed = True
            await self._transport.close()

    async def _call(self, operation_id: str, **params: Any) -> Any:
        if self._closed:
            raise RuntimeError("This client is closed")
        return await self._transport.call(operation_id, **params)

    # -- collections ------------------------------------------------------------------------------
    async def get_collections(self, **kwargs: Any) -> models.CollectionsResponse:
        """List the collections."""
        inp.check_no_kwargs(kwargs)
        return await self._call("get_collections")

    async def collection_exists(self, collection_name: str, **kwargs: Any) -> bool:
        """Whether a collection of this name exists (aliases do not count)."""
        inp.check_no_kwargs(kwargs)
        result = await self._call("collection_exists", collection_name=collection_name)
        return result.exists

    async def get_collection(self, collection_name: str, **kwargs: Any) -> models.CollectionInfo:
        """Configuration, status, point count and payload schema of a collection."""
        inp.check_no_kwargs(kwargs)
        return await self._call("get_collection", collection_name=collection_name)

    async def create_collection(
        self,
        collection_name: str,
        vectors_config: Union[models.VectorParams, Mapping[str, models.VectorParams], None] = None,
        sparse_vectors_config: Optional[Mapping[str, models.SparseVectorParams]] = None,
        shard_number: Optional[int] = None,
        sharding_method: Optional[models.ShardingMethod] = None,
        replication_factor: Optional[int] = None,
        write_consistency_factor: Optional[int] = None,
        on_disk_payload: Optional[bool] = None,
        hnsw_config: Optional[models.HnswConfigDiff] = None,
        optimizers_config: Optional[models.OptimizersConfigDiff] = None,
        wal_config: Optional[models.WalConfigDiff] = None,
        quantization_config: Optional[models.QuantizationConfig] = None,
        timeout: Optional[int] = None,
        strict_mode_config: Optional[models.StrictModeConfig] = None,
        metadata: Optional[models.Payload] = None,
        payload: Optional[models.PayloadStorageParams] = None,
        id_tracker: Optional[Any] = None,
        **kwargs: Any,
    ) -> bool:
        """Create a collection; an existing name is an error ("... already exists")."""
        inp.check_no_kwargs(kwargs)
        if id_tracker is not None:
            raise UnsupportedOperationError("id_tracker is not part of Qdrant v1.19's collection API")
        with map_validation_errors():
            body = models.CreateCollection(
                vectors=_vectors_config(vectors_config),
                sparse_vectors=_plain_mapping(sparse_vectors_config),
                shard_number=shard_number,
                sharding_method=sharding_method,
                replication_factor=replication_factor,
                write_consistency_factor=write_consistency_factor,
                on_disk_payload=on_disk_payload,
                hnsw_config=inp.coerce(models.HnswConfigDiff, hnsw_config),
                optimizers_config=inp.coerce(models.OptimizersConfigDiff, optimizers_config),
                wal_config=inp.coerce(models.WalConfigDiff, wal_config),
                quantization_config=inp.coerce(models.QuantizationConfig, quantization_config),
                strict_mode_config=inp.coerce(models.StrictModeConfig, strict_mode_config),
                metadata=metadata,
                payload=inp.coerce(models.PayloadStorageParams, payload),
            )
        return await self._call("create_collection", collection_name=collection_name, body=body, timeout=timeout)

    async def recreate_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        """Delete the collection if it exists, then create it (deprecated in qdrant-client)."""
        await self.delete_collection(collection_name)
        return await self.create_collection(collection_name, *args, **kwargs)

    async def update_collection(
        self,
        collection_name: str,
        optimizers_config: Optional[models.OptimizersConfigDiff] = None,
        collection_params: Optional[models.CollectionParamsDiff] = None,
        vectors_config: Optional[models.VectorsConfigDiff] = None,
        hnsw_config: Optional[models.HnswConfigDiff] = None,
        quantization_config: Optional[models.QuantizationConfigDiff] = None,
        timeout: Optional[int] = None,
        sparse_vectors_config: Optional[Mapping[str, models.SparseVectorParams]] = None,
        strict_mode_config: Optional[models.StrictModeConfig] = None,
        metadata: Optional[models.Payload] = None,
        **kwargs: Any,
    ) -> bool:
        """Change a collection's parameters; ``metadata`` keys are merged (``None`` removes a key)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.UpdateCollection(
                optimizers_config=inp.coerce(models.OptimizersConfigDiff, optimizers_config),
                params=inp.coerce(models.CollectionParamsDiff, collection_params),
                vectors=_plain_mapping(vectors_config),
                hnsw_config=inp.coerce(models.HnswConfigDiff, hnsw_config),
                quantization_config=inp.coerce(models.QuantizationConfigDiff, quantization_config),
                sparse_vectors=_plain_mapping(sparse_vectors_config),
                strict_mode_config=inp.coerce(models.StrictModeConfig, strict_mode_config),
                metadata=metadata,
            )
        return await self._call("update_collection", collection_name=collection_name, body=body, timeout=timeout)

    async def delete_collection(self, collection_name: str, timeout: Optional[int] = None, **kwargs: Any) -> bool:
        """Delete a collection and its aliases; False if it did not exist."""
        inp.check_no_kwargs(kwargs)
        return await self._call("delete_collection", collection_name=collection_name, timeout=timeout)

    # -- aliases ------------------------------------------------------------------------------------
    async def update_collection_aliases(
        self,
        change_aliases_operations: Sequence[models.AliasOperations],
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> bool:
        """Create, delete and rename aliases, all or nothing."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            actions = [inp.coerce(models.AliasOperations, op) for op in change_aliases_operations]
            body = models.ChangeAliasesOperation(actions=actions)
        return await self._call("update_aliases", body=body, timeout=timeout)

    async def get_aliases(self, **kwargs: Any) -> models.CollectionsAliasesResponse:
        """Every alias of every collection."""
        inp.check_no_kwargs(kwargs)
        return await self._call("get_collections_aliases")

    async def get_collection_aliases(self, collection_name: str, **kwargs: Any) -> models.CollectionsAliasesResponse:
        """The aliases of one collection."""
        inp.check_no_kwargs(kwargs)
        return await self._call("get_collection_aliases", collection_name=collection_name)

    # -- points: writes ------------------------------------------------------------------------------
    async def upsert(
        self,
        collection_name: str,
        points: Union[models.Batch, Sequence[models.PointStruct]],
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        update_filter: Optional[models.Filter] = None,
        update_mode: Optional[models.UpdateMode] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Insert or replace whole points (vectors and payload)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = inp.upsert_operation(points, update_filter, update_mode, shard_key_selector)
        return await self._call(
            "upsert_points", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    def upload_points(
        self,
        collection_name: str,
        points: Iterable[models.PointStruct],
        batch_size: int = 64,
        parallel: int = 1,
        method: Optional[str] = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        update_filter: Optional[models.Filter] = None,
        update_mode: Optional[models.UpdateMode] = None,
        **kwargs: Any,
    ) -> None:
        """Upsert points from any iterable, ``batch_size`` at a time. Synchronous in both clients, as
        in qdrant-client: it returns once every batch is written (see ``_upload``)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            batches = inp.iter_batches_from_points(points, batch_size)
            extra = inp.upsert_operation([], update_filter, update_mode, shard_key_selector)
        bodies = (
            models.PointsList.model_construct(
                points=batch, shard_key=extra.shard_key, update_filter=extra.update_filter, update_mode=extra.update_mode
            )
            for batch in batches
        )
        self._upload(collection_name, bodies, wait, max_retries, parallel)

    def upload_collection(
        self,
        collection_name: str,
        vectors: Union[Iterable[models.VectorStruct], dict[str, np.ndarray], np.ndarray],
        payload: Optional[Iterable[dict[Any, Any]]] = None,
        ids: Optional[Iterable[models.ExtendedPointId]] = None,
        batch_size: int = 64,
        parallel: int = 1,
        method: Optional[str] = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        update_filter: Optional[models.Filter] = None,
        update_mode: Optional[models.UpdateMode] = None,
        **kwargs: Any,
    ) -> None:
        """Upsert columns of vectors (a numpy matrix, a dict of them, or an iterable), payloads and ids.

        Without ``ids`` every point gets a random UUID, as in qdrant-client. Synchronous in both
        clients, as in qdrant-client (see ``_upload``).
        """
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            extra = inp.upsert_operation([], update_filter, update_mode, shard_key_selector)
        bodies = (
            models.PointsBatch.model_construct(
                batch=batch, shard_key=extra.shard_key, update_filter=extra.update_filter, update_mode=extra.update_mode
            )
            for batch in inp.iter_collection_batches(vectors, payload, ids, batch_size)
        )
        self._upload(collection_name, bodies, wait, max_retries, parallel)

    def _upload(self, collection_name: str, bodies: Iterable[Any], wait: bool, max_retries: int,
                parallel: int) -> None:
        """Send upload batches, ``parallel`` requests at a time (``sdk/_upload.py``). With
        ``parallel > 1`` batches may land in any order, so an id repeated in two batches may keep
        either version (as with qdrant-client's parallel upload).

        The upload methods are synchronous in the async client too, because qdrant-client's are:
        code written for it calls ``aclient.upload_points(...)`` without ``await``, and a coroutine
        would silently upload nothing. They go through the transport's synchronous twin
        (``transport.blocking()``) and block the caller until done, as qdrant-client's do."""
        if self._closed:
            raise RuntimeError("This client is closed")
        transport = self._transport.blocking()

        def send(body: Any) -> None:
            # Sent again up to ``max_retries`` times if the server could not take it: an upsert
            # is idempotent (same ids, same content), so resending a batch is safe.
            for attempt in range(max_retries + 1):
                try:
                    transport.call("upsert_points", collection_name=collection_name, body=body, wait=wait)
                    return
                except (TransportError, ServiceUnavailableError, RateLimitError):
                    if attempt >= max_retries:
                        raise

        def checked(items: Iterable[Any]) -> Iterable[Any]:   # input errors found while reading the iterable
            with map_validation_errors():
                yield from items

        Uploader(parallel).run(send, checked(bodies))

    async def delete(
        self,
        collection_name: str,
        points_selector: models.PointsSelector,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Delete points by ids or by filter."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = inp.points_selector(points_selector, shard_key_selector)
        return await self._call(
            "delete_points", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    async def set_payload(
        self,
        collection_name: str,
        payload: models.Payload,
        points: models.PointsSelector,
        key: Optional[str] = None,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Merge ``payload`` into the selected points' payloads (into the object at ``key`` if given)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.SetPayload(payload=inp.json_payload(payload), key=key, **inp.selector_fields(points),
                shard_key=inp.shard_key_selector(shard_key_selector))
        return await self._call(
            "set_payload", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    async def overwrite_payload(
        self,
        collection_name: str,
        payload: models.Payload,
        points: models.PointsSelector,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Replace the selected points' whole payloads with ``payload``."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.SetPayload(payload=inp.json_payload(payload), **inp.selector_fields(points),
                shard_key=inp.shard_key_selector(shard_key_selector))
        return await self._call(
            "overwrite_payload", collection_name=collection_name, body=body, wait=wait, ordering=ordering,
            timeout=timeout,
        )

    async def delete_payload(
        self,
        collection_name: str,
        keys: Sequence[str],
        points: models.PointsSelector,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Remove payload keys (JSON paths such as ``a.b`` or ``a[].b``) from the selected points."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.DeletePayload(keys=list(keys), **inp.selector_fields(points),
                shard_key=inp.shard_key_selector(shard_key_selector))
        return await self._call(
            "delete_payload", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    async def clear_payload(
        self,
        collection_name: str,
        points_selector: models.PointsSelector,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Remove the whole payload of the selected points."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = inp.points_selector(points_selector, shard_key_selector)
        return await self._call(
            "clear_payload", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    # -- vectors of existing points, and vector names (docs/vectors.md) ---------------------------
    async def update_vectors(
        self,
        collection_name: str,
        points: Sequence[models.PointVectors],
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        update_filter: Optional[models.Filter] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Replace the given named vectors of existing points; their other vectors stay.
        With ``update_filter``, only points matching it are changed."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.UpdateVectors(
                points=[_point_vectors(p) for p in points],
                update_filter=inp.coerce(models.Filter, update_filter),
                shard_key=inp.shard_key_selector(shard_key_selector),
            )
        return await self._call(
            "update_vectors", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    async def delete_vectors(
        self,
        collection_name: str,
        vectors: Sequence[str],
        points: models.PointsSelector,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Remove the named vectors from the selected points (ids or filter); the points stay."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.DeleteVectors(vector=list(vectors), **inp.selector_fields(points),
                shard_key=inp.shard_key_selector(shard_key_selector))
        return await self._call(
            "delete_vectors", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )

    async def create_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        vector_name_config: Union[models.DenseVectorNameConfig, models.SparseVectorNameConfig],
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Add a dense or sparse vector name to a live collection (existing points lack it)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = inp.coerce(models.VectorNameConfig, vector_name_config)
        return await self._call(
            "create_vector_name", collection_name=collection_name, vector_name=vector_name, body=body, wait=wait,
            ordering=ordering, timeout=timeout,
        )

    async def delete_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Remove a vector name and its vectors from every point (no error if it does not exist)."""
        inp.check_no_kwargs(kwargs)
        return await self._call(
            "delete_vector_name", collection_name=collection_name, vector_name=vector_name, wait=wait,
            ordering=ordering, timeout=timeout,
        )

    async def create_payload_index(
        self,
        collection_name: str,
        field_name: str,
        field_schema: Optional[models.PayloadSchemaType | models.PayloadSchemaParams | str] = None,
        field_type: Optional[models.PayloadSchemaType | models.PayloadSchemaParams | str] = None,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Create a payload index on ``field_name`` (``field_type`` is qdrant-client's older name)."""
        inp.check_no_kwargs(kwargs)
        schema = field_schema if field_schema is not None else field_type
        with map_validation_errors():
            body = models.CreateFieldIndex(
                field_name=field_name, field_schema=inp.coerce(models.PayloadFieldSchema, schema)
            )
        return await self._call(
            "create_field_index", collection_name=collection_name, body=body, wait=wait, ordering=ordering,
            timeout=timeout,
        )

    async def delete_payload_index(
        self,
        collection_name: str,
        field_name: str,
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        """Drop the payload index on ``field_name``."""
        inp.check_no_kwargs(kwargs)
        return await self._call(
            "delete_field_index", collection_name=collection_name, field_name=field_name, wait=wait,
            ordering=ordering, timeout=timeout,
        )

    # -- points: reads --------------------------------------------------------------------------------
    async def retrieve(
        self,
        collection_name: str,
        ids: Sequence[models.ExtendedPointId],
        with_payload: Union[bool, Sequence[str], models.PayloadSelector] = True,
        with_vectors: Union[bool, Sequence[str]] = False,
        consistency: Optional[models.ReadConsistency] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> list[models.Record]:
        """The points with these ids (missing ids are skipped)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.PointRequest(
                ids=inp.point_ids(ids), with_payload=inp.with_payload(with_payload),
                with_vector=inp.with_vectors(with_vectors), shard_key=inp.shard_key_selector(shard_key_selector),
            )
        return await self._call(
            "get_points", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    async def scroll(
        self,
        collection_name: str,
        scroll_filter: Optional[models.Filter] = None,
        limit: int = 10,
        order_by: Optional[models.OrderByInterface] = None,
        offset: Optional[models.ExtendedPointId] = None,
        with_payload: Union[bool, Sequence[str], models.PayloadSelector] = True,
        with_vectors: Union[bool, Sequence[str]] = False,
        consistency: Optional[models.ReadConsistency] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> tuple[list[models.Record], Optional[models.ExtendedPointId]]:
        """A page of points in id order, and the id to pass as ``offset`` for the next page."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.ScrollRequest(
                shard_key=inp.shard_key_selector(shard_key_selector),
                offset=inp.point_id(offset) if offset is not None else None,
                limit=limit,
                filter=inp.coerce(models.Filter, scroll_filter),
                with_payload=inp.with_payload(with_payload),
                with_vector=inp.with_vectors(with_vectors),
                order_by=inp.coerce(models.OrderByInterface, order_by),
            )
        result = await self._call(
            "scroll_points", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )
        return result.points, result.next_page_offset

    async def count(
        self,
        collection_name: str,
        count_filter: Optional[models.Filter] = None,
        exact: bool = True,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.CountResult:
        """How many points match ``count_filter``."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.CountRequest(
                filter=inp.coerce(models.Filter, count_filter), exact=exact,
                shard_key=inp.shard_key_selector(shard_key_selector),
            )
        return await self._call("count_points", collection_name=collection_name, body=body, timeout=timeout)

    async def facet(
        self,
        collection_name: str,
        key: str,
        facet_filter: Optional[models.Filter] = None,
        limit: int = 10,
        exact: bool = False,
        consistency: Optional[models.ReadConsistency] = None,
        timeout: Optional[int] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        **kwargs: Any,
    ) -> models.FacetResponse:
        """Counts of points per value of ``key`` (needs a keyword, integer, bool or uuid index)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.FacetRequest(
                shard_key=inp.shard_key_selector(shard_key_selector),
                key=key, filter=inp.coerce(models.Filter, facet_filter), limit=limit, exact=exact
            )
        return await self._call(
            "facet", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    async def query_points(
        self,
        collection_name: str,
        query: Union[models.QueryInterface, np.ndarray, None] = None,
        using: Optional[str] = None,
        prefetch: Union[models.Prefetch, list[models.Prefetch], None] = None,
        query_filter: Optional[models.Filter] = None,
        search_params: Optional[models.SearchParams] = None,
        limit: int = 10,
        offset: Optional[int] = None,
        with_payload: Union[bool, Sequence[str], models.PayloadSelector] = True,
        with_vectors: Union[bool, Sequence[str]] = False,
        score_threshold: Optional[float] = None,
        lookup_from: Optional[models.LookupLocation] = None,
        consistency: Optional[models.ReadConsistency] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.QueryResponse:
        """The universal query: nearest neighbours of a vector (``using`` names the vector)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.QueryRequest(
                limit=limit, offset=offset,
                **_query_fields(query, using, prefetch, query_filter, search_params, with_payload, with_vectors,
                                score_threshold, lookup_from, shard_key_selector),
            )
        return await self._call(
            "query_points", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    # -- the universal query: batches, groups, distance matrices, batch updates (docs/query.md) ---------
    async def query_batch_points(
        self,
        collection_name: str,
        requests: Sequence[models.QueryRequest],
        consistency: Optional[models.ReadConsistency] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> list[models.QueryResponse]:
        """Several universal queries in one request; one ``QueryResponse`` per request, in order."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.QueryRequestBatch(searches=[_query_request(r) for r in requests])
        return await self._call(
            "query_batch_points", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    async def query_points_groups(
        self,
        collection_name: str,
        group_by: str,
        query: Union[models.QueryInterface, np.ndarray, None] = None,
        using: Optional[str] = None,
        prefetch: Union[models.Prefetch, list[models.Prefetch], None] = None,
        query_filter: Optional[models.Filter] = None,
        search_params: Optional[models.SearchParams] = None,
        limit: int = 10,
        group_size: int = 3,
        with_payload: Union[bool, Sequence[str], models.PayloadSelector] = True,
        with_vectors: Union[bool, Sequence[str]] = False,
        score_threshold: Optional[float] = None,
        with_lookup: Optional[models.WithLookupInterface] = None,
        lookup_from: Optional[models.LookupLocation] = None,
        consistency: Optional[models.ReadConsistency] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> models.GroupsResult:
        """The universal query, its hits grouped by the payload value ``group_by`` (``limit`` groups)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.QueryGroupsRequest(
                group_by=group_by, limit=limit, group_size=group_size,
                with_lookup=inp.coerce(models.WithLookupInterface, with_lookup),
                **_query_fields(query, using, prefetch, query_filter, search_params, with_payload, with_vectors,
                                score_threshold, lookup_from, shard_key_selector),
            )
        return await self._call(
            "query_points_groups", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    async def search_matrix_pairs(
        self,
        collection_name: str,
        query_filter: Optional[models.Filter] = None,
        limit: int = 3,
        sample: int = 10,
        using: Optional[str] = None,
        consistency: Optional[models.ReadConsistency] = None,
        timeout: Optional[int] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        **kwargs: Any,
    ) -> models.SearchMatrixPairsResponse:
        """``sample`` random points and, for each, its ``limit`` nearest other sampled points (pairs)."""
        body = _search_matrix_request(query_filter, limit, sample, using, shard_key_selector, kwargs)
        return await self._call(
            "search_matrix_pairs", collection_name=collection_name, body=body, consistency=consistency, timeout=timeout
        )

    async def search_matrix_offsets(
        self,
        collection_name: str,
        query_filter: Optional[models.Filter] = None,
        limit: int = 3,
        sample: int = 10,
        using: Optional[str] = None,
        consistency: Optional[models.ReadConsistency] = None,
        timeout: Optional[int] = None,
        shard_key_selector: Optional[models.ShardKeySelector] = None,
        **kwargs: Any,
    ) -> models.SearchMatrixOffsetsResponse:
        """The distance matrix of ``search_matrix_pairs`` as sparse offsets into ``ids``."""
        body = _search_matrix_request(query_filter, limit, sample, using, shard_key_selector, kwargs)
        return await self._call(
            "search_matrix_offsets", collection_name=collection_name, body=body, consistency=consistency,
            timeout=timeout,
        )

    async def batch_update_points(
        self,
        collection_name: str,
        update_operations: Sequence[models.UpdateOperation],
        wait: bool = True,
        ordering: Optional[models.WriteOrdering] = None,
        timeout: Optional[int] = None,
        **kwargs: Any,
    ) -> list[models.UpdateResult]:
        """Several point writes in order (upsert, delete, payload and vector operations); one result each."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.UpdateOperations(operations=[_update_operation(op) for op in update_operations])
        return await self._call(
            "batch_update", collection_name=collection_name, body=body, wait=wait, ordering=ordering, timeout=timeout
        )


    # -- snapshots ------------------------------------------------------------------------------------
    async def create_snapshot(
        self, collection_name: str, wait: bool = True, **kwargs: Any
    ) -> Optional[models.SnapshotDescription]:
        """Take a point-in-time snapshot of the collection (docs/snapshots.md) and describe it:
        name, creation time, size and SHA-256 checksum."""
        inp.check_no_kwargs(kwargs)
        return await self._call("create_snapshot", collection_name=collection_name, wait=wait)

    async def list_snapshots(self, collection_name: str, **kwargs: Any) -> list[models.SnapshotDescription]:
        """The snapshots of a collection, oldest first."""
        inp.check_no_kwargs(kwargs)
        return await self._call("list_snapshots", collection_name=collection_name)

    async def delete_snapshot(
        self, collection_name: str, snapshot_name: str, wait: bool = True, **kwargs: Any
    ) -> Optional[bool]:
        """Delete a snapshot file (and its ``.checksum``); a missing snapshot is a NotFoundError."""
        inp.check_no_kwargs(kwargs)
        return await self._call(
            "delete_snapshot", collection_name=collection_name, snapshot_name=snapshot_name, wait=wait
        )

    async def recover_snapshot(
        self,
        collection_name: str,
        location: str,
        api_key: Optional[str] = None,
        checksum: Optional[str] = None,
        priority: Optional[models.SnapshotPriority] = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> Optional[bool]:
        """Replace (or create) the collection from a snapshot at ``location``: an ``http(s)://`` URL
        (``api_key`` is sent as the ``api-key`` header), a ``file://`` URL or, with the built-in
        engine, a plain path. ``checksum`` (SHA-256 hex) is verified first; ``priority`` is accepted
        and has no effect on a single node. A snapshot that fails validation changes nothing."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.SnapshotRecover(
                location=os.fspath(location), api_key=api_key, checksum=checksum, priority=priority
            )
        return await self._call("recover_from_snapshot", collection_name=collection_name, body=body, wait=wait)

    async def create_full_snapshot(self, wait: bool = True, **kwargs: Any) -> Optional[models.SnapshotDescription]:
        """Snapshot every collection into one file (plus the collection and alias tables)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("create_full_snapshot", wait=wait)

    async def list_full_snapshots(self, **kwargs: Any) -> list[models.SnapshotDescription]:
        """The full-storage snapshots, oldest first."""
        inp.check_no_kwargs(kwargs)
        return await self._call("list_full_snapshots")

    async def delete_full_snapshot(self, snapshot_name: str, wait: bool = True, **kwargs: Any) -> Optional[bool]:
        """Delete a full-storage snapshot file (and its ``.checksum``)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("delete_full_snapshot", snapshot_name=snapshot_name, wait=wait)

    # Not in qdrant-client (which has no high-level download or upload): Qdrant's REST endpoints
    # GET .../snapshots/{name} and POST .../snapshots/upload as client methods.
    async def download_snapshot(
        self, collection_name: str, snapshot_name: str, target_path: Union[str, os.PathLike[str]]
    ) -> str:
        """Save a collection snapshot file to ``target_path``; return that path. (Extra method: not
        part of qdrant-client.) The file is written by the calling thread."""
        result = await self._call("get_snapshot", collection_name=collection_name, snapshot_name=snapshot_name)
        return self._save_download(result, target_path)

    async def download_full_snapshot(self, snapshot_name: str, target_path: Union[str, os.PathLike[str]]) -> str:
        """Save a full-storage snapshot file to ``target_path``; return that path. (Extra method.)"""
        result = await self._call("get_full_snapshot", snapshot_name=snapshot_name)
        return self._save_download(result, target_path)

    async def upload_snapshot(
        self,
        collection_name: str,
        snapshot_path: Union[str, os.PathLike[str]],
        checksum: Optional[str] = None,
        priority: Optional[models.SnapshotPriority] = None,
        wait: bool = True,
    ) -> Optional[bool]:
        """Recover a collection from a snapshot file on this machine by uploading it (Qdrant's
        ``POST /collections/{name}/snapshots/upload``). (Extra method: not part of qdrant-client.)"""
        path = os.fspath(snapshot_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        return await self._call(
            "recover_from_uploaded_snapshot", collection_name=collection_name, body=path,
            priority=priority, checksum=checksum, wait=wait,
        )

    # -- service and cluster ----------------------------------------------------------------------
    # Against a server these are Qdrant's own endpoints. The built-in engine answers as one Qdrant
    # node without distributed mode; the cluster-only ones raise UnsupportedOperationError naming
    # the operation (docs/query.md lists them).
    async def info(self) -> models.VersionInfo:
        """Name and version of the server (or of the built-in engine)."""
        return await self._call("root")

    async def cluster_status(self) -> models.ClusterStatus:
        """Cluster state; ``status="disabled"`` for a single node such as the built-in engine."""
        return await self._call("cluster_status")

    async def collection_cluster_info(self, collection_name: str) -> models.CollectionClusterInfo:
        """Shards of a collection and where they live (the built-in engine has one local shard)."""
        return await self._call("collection_cluster_info", collection_name=collection_name)

    async def get_optimizations(
        self,
        collection_name: str,
        completed_limit: Optional[int] = None,
        with_: Union[str, Sequence[str], None] = None,
        **kwargs: Any,
    ) -> models.OptimizationsResponse:
        """Running (and with ``with_``, queued/completed) optimizations of a collection."""
        inp.check_no_kwargs(kwargs)
        if with_ is not None and not isinstance(with_, str):
            with_ = ",".join(with_)
        return await self._call(
            "get_optimizations", collection_name=collection_name, completed_limit=completed_limit, **{"with": with_}
        )

    async def cluster_collection_update(
        self, collection_name: str, cluster_operation: Any, timeout: Optional[int] = None, **kwargs: Any
    ) -> bool:
        """Move, replicate or drop shards, or manage shard keys (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = inp.coerce(models.ClusterOperations, cluster_operation)
        return await self._call("update_collection_cluster", collection_name=collection_name, body=body, timeout=timeout)

    async def cluster_telemetry(
        self, details_level: Optional[int] = None, timeout: Optional[int] = None, **kwargs: Any
    ) -> models.DistributedTelemetryData:
        """Telemetry of every peer of a cluster (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("cluster_telemetry", details_level=details_level, timeout=timeout)

    async def recover_current_peer(self) -> bool:
        """Ask the cluster to re-sync this peer (cluster-only)."""
        return await self._call("recover_current_peer")

    async def remove_peer(
        self, peer_id: int, force: Optional[bool] = None, timeout: Optional[int] = None, **kwargs: Any
    ) -> bool:
        """Remove a peer from the cluster (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("remove_peer", peer_id=peer_id, force=force, timeout=timeout)

    async def create_shard_key(
        self,
        collection_name: str,
        shard_key: Union[int, str],
        shards_number: Optional[int] = None,
        replication_factor: Optional[int] = None,
        placement: Optional[list[int]] = None,
        **kwargs: Any,
    ) -> bool:
        """Create a shard key of a custom-sharded collection (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.CreateShardingKey(
                shard_key=shard_key, shards_number=shards_number, replication_factor=replication_factor,
                placement=placement,
            )
        return await self._call("create_shard_key", collection_name=collection_name, body=body)

    async def delete_shard_key(self, collection_name: str, shard_key: Union[int, str], **kwargs: Any) -> bool:
        """Delete a shard key and its shards (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.DropShardingKey(shard_key=shard_key)
        return await self._call("delete_shard_key", collection_name=collection_name, body=body)

    async def list_shard_keys(self, collection_name: str, **kwargs: Any) -> models.ShardKeysResponse:
        """Shard keys of a custom-sharded collection (cluster-only)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("list_shard_keys", collection_name=collection_name)

    async def create_shard_snapshot(
        self, collection_name: str, shard_id: int, wait: bool = True, **kwargs: Any
    ) -> Optional[models.SnapshotDescription]:
        """Snapshot one shard (cluster-only here; use ``create_snapshot``)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("create_shard_snapshot", collection_name=collection_name, shard_id=shard_id, wait=wait)

    async def list_shard_snapshots(
        self, collection_name: str, shard_id: int, **kwargs: Any
    ) -> list[models.SnapshotDescription]:
        """Snapshots of one shard (cluster-only here; use ``list_snapshots``)."""
        inp.check_no_kwargs(kwargs)
        return await self._call("list_shard_snapshots", collection_name=collection_name, shard_id=shard_id)

    async def delete_shard_snapshot(
        self, collection_name: str, shard_id: int, snapshot_name: str, wait: bool = True, **kwargs: Any
    ) -> Optional[bool]:
        """Delete a shard snapshot (cluster-only here; use ``delete_snapshot``)."""
        inp.check_no_kwargs(kwargs)
        return await self._call(
            "delete_shard_snapshot", collection_name=collection_name, shard_id=shard_id,
            snapshot_name=snapshot_name, wait=wait,
        )

    async def recover_shard_snapshot(
        self,
        collection_name: str,
        shard_id: int,
        location: str,
        api_key: Optional[str] = None,
        checksum: Optional[str] = None,
        priority: Optional[models.SnapshotPriority] = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> Optional[bool]:
        """Restore one shard from a snapshot (cluster-only here; use ``recover_snapshot``)."""
        inp.check_no_kwargs(kwargs)
        with map_validation_errors():
            body = models.ShardSnapshotRecover(location=location, priority=priority, checksum=checksum, api_key=api_key)
        return await self._call(
            "recover_shard_from_snapshot", collection_name=collection_name, shard_id=shard_id, body=body, wait=wait
        )

    async def migrate(
        self,
        dest_client: Any,
        collection_names: Optional[list[str]] = None,
        batch_size: int = 100,
        recreate_on_collision: bool = False,
    ) -> None:
        """Copy collections (config, payload indexes, points) into ``dest_client``, which may be
        any mode of this client or of the official one. A name that already exists there is an
        error unless ``recreate_on_collision``; the copy is checked by counting points."""
        await _migrate(self, dest_client, collection_names, batch_size, recreate_on_collision)

    @property
    def init_options(self) -> dict[str, Any]:
        """The keyword arguments this client was created with."""
        return dict(self._init_options)

    def get_embedding_size(self, model_name: str) -> int:
        """Not available: qdrant-sdk has no fastembed integration; embed your texts yourself."""
        raise UnsupportedOperationError(
            f"get_embedding_size({model_name!r}): qdrant-sdk has no fastembed model integration"
        )

    # qdrant-client lists the models of its fastembed integration; qdrant-sdk has none to list.
    @classmethod
    async def list_text_models(cls) -> dict[str, tuple[int, models.Distance]]:
        """Not available: qdrant-sdk has no fastembed integration."""
        raise _no_fastembed("list_text_models")

    @classmethod
    async def list_image_models(cls) -> dict[str, tuple[int, models.Distance]]:
        """Not available: qdrant-sdk has no fastembed integration."""
        raise _no_fastembed("list_image_models")

    @classmethod
    async def list_late_interaction_text_models(cls) -> dict[str, tuple[int, models.Distance]]:
        """Not available: qdrant-sdk has no fastembed integration."""
        raise _no_fastembed("list_late_interaction_text_models")

    @classmethod
    async def list_late_interaction_multimodal_models(cls) -> dict[str, tuple[int, models.Distance]]:
        """Not available: qdrant-sdk has no fastembed integration."""
        raise _no_fastembed("list_late_interaction_multimodal_models")

    @classmethod
    async def list_sparse_models(cls) -> dict[str, dict[str, Any]]:
        """Not available: qdrant-sdk has no fastembed integration."""
        raise _no_fastembed("list_sparse_models")

    @staticmethod
    def _save_download(result: Any, target_path: Any) -> str:
        """Write a downloaded snapshot to ``target_path``. ``result`` is what the transport returned
        for ``get_snapshot``: a local file path (built-in engine), bytes, a binary file object or an
        iterable of byte chunks (remote transports)."""
        target = os.fspath(target_path)
        if isinstance(result, (str, os.PathLike)):
            shutil.copyfile(result, target)
            return target
        with open(target, "wb") as f:
            if isinstance(result, (bytes, bytearray, memoryview)):
                f.write(result)
            elif hasattr(result, "read"):
                shutil.copyfileobj(result, f)
            else:
                for chunk in result:
                    f.write(chunk)
        return target


async def _migrate(source: Any, dest: Any, names: Optional[list[str]], batch_size: int, recreate: bool) -> None:
    """``migrate``: config first, then payload indexes, then points in batches, then a count check.
    Config parts travel as JSON-shaped dicts so ``dest`` may also be an official client."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if type(dest).__module__.split(".")[0] == "qdrant_client":
        from qdrant_client import models as dest_models
    else:
        dest_models = models
    if names is None:
        names = [c.name for c in (await source.get_collections()).collections]
    for name in names:
        await source.get_collection(name)   # a missing source collection fails before anything is written
        if await dest.collection_exists(name):
            if not recreate:
                raise ValueError(
                    f"Collection `{name}` already exists in the destination; pass recreate_on_collision=True to replace it"
                )
            await dest.delete_collection(name)
    for name in names:
        info = await source.get_collection(name)
        config, params = info.config, info.config.params

        def dump(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, Mapping):
                return {k: dump(v) for k, v in value.items()}
            return value.model_dump(mode="json", exclude_none=True)

        def as_dest(value: Any) -> Any:   # a model of ours as the same-named model of dest's library
            if value is None or dest_models is models or not hasattr(value, "model_dump"):
                if isinstance(value, Mapping):
                    return {k: as_dest(v) for k, v in value.items()}
                return value   # plain vectors (lists) and scalars pass as they are
            return getattr(dest_models, type(value).__name__).model_validate(dump(value))

        await dest.create_collection(
            name,
            vectors_config=as_dest(params.vectors) if params.vectors is not None else {},
            sparse_vectors_config=as_dest(params.sparse_vectors),
            shard_number=params.shard_number,
            replication_factor=params.replication_factor,
            write_consistency_factor=params.write_consistency_factor,
            on_disk_payload=params.on_disk_payload,
            hnsw_config=dump(config.hnsw_config),
            optimizers_config=dump(config.optimizer_config),
            quantization_config=dump(config.quantization_config),
            metadata=config.metadata,
        )
        for field, index in (info.payload_schema or {}).items():
            schema = index.params if index.params is not None else index.data_type
            await dest.create_payload_index(
                name, field, field_schema=dump(schema) if hasattr(schema, "model_dump") else getattr(schema, "value", schema)
            )
        offset = None
        while True:
            records, offset = await source.scroll(
                name, limit=batch_size, offset=offset, with_payload=True, with_vectors=True
            )
            if records:
                points = [
                    dest_models.PointStruct(
                        id=r.id, vector=as_dest(r.vector) if r.vector is not None else {}, payload=r.payload
                    )
                    for r in records
                ]
                await dest.upsert(name, points=points, wait=True)
            if offset is None:
                break
        want = (await source.count(name, exact=True)).count
        got = (await dest.count(name, exact=True)).count
        if want != got:
            raise RuntimeError(f"migrate: collection `{name}` has {want} points here but {got} in the destination")


def _vectors_config(config: Any) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return {name: inp.coerce(models.VectorParams, params) for name, params in config.items()}
    return inp.coerce(models.VectorParams, config)


def _plain_mapping(mapping: Any) -> Any:
    if mapping is None:
        return None
    return {name: inp.plain(value) for name, value in mapping.items()}


def _query_request(request: Any) -> models.QueryRequest:
    """A batch element: our model, an official one or a dict; numpy queries become lists."""
    if isinstance(request, models.QueryRequest):
        if isinstance(request.query, np.ndarray) or (
            isinstance(request.query, list) and request.query and isinstance(request.query[0], np.ndarray)
        ):
            return request.model_copy(update={"query": inp.query_input(request.query)})
        return request
    return inp.coerce(models.QueryRequest, request)


def _update_operation(operation: Any) -> Any:
    """One ``UpdateOperation`` (numpy vectors in upserts become lists)."""
    operation = inp.plain(operation)
    if isinstance(operation, dict):
        return inp.coerce(models.UpdateOperation, operation)
    return operation


def _point_vectors(point: Any) -> models.PointVectors:
    """A ``PointVectors`` with numpy vectors as lists (dict / official model / ours)."""
    point = inp.plain(point)
    if isinstance(point, dict):
        point = models.PointVectors.model_validate({**point, "vector": inp.vector(point.get("vector"))})
    return models.PointVectors.model_construct(id=inp.point_id(point.id), vector=inp.vector(point.vector))


def _search_matrix_request(query_filter: Any, limit: int, sample: int, using: Optional[str],
                           shard_key_selector: Any, kwargs: dict) -> models.SearchMatrixRequest:
    """The request of both ``search_matrix_*`` methods."""
    inp.check_no_kwargs(kwargs)
    with map_validation_errors():
        return models.SearchMatrixRequest(
            filter=inp.coerce(models.Filter, query_filter), limit=limit, sample=sample, using=using,
            shard_key=inp.shard_key_selector(shard_key_selector),
        )


def _query_fields(query: Any, using: Optional[str], prefetch: Any, query_filter: Any, search_params: Any,
                  with_payload: Any, with_vectors: Any, score_threshold: Optional[float], lookup_from: Any,
                  shard_key_selector: Any) -> dict[str, Any]:
    """The request fields ``query_points`` and ``query_points_groups`` share, from their arguments."""
    return dict(
        query=inp.query_input(query),
        using=using,
        prefetch=_prefetches(prefetch),
        filter=inp.coerce(models.Filter, query_filter),
        params=inp.coerce(models.SearchParams, search_params),
        with_payload=inp.with_payload(with_payload),
        with_vector=inp.with_vectors(with_vectors),
        score_threshold=score_threshold,
        lookup_from=inp.coerce(models.LookupLocation, lookup_from),
        shard_key=inp.shard_key_selector(shard_key_selector),
    )


def _prefetches(prefetch: Any) -> Optional[list[models.Prefetch]]:
    """``prefetch=`` of the query methods: one Prefetch or a list of them, any accepted form."""
    if prefetch is None:
        return None
    items = prefetch if isinstance(prefetch, list) else [prefetch]
    return [inp.coerce(models.Prefetch, p) for p in items] or None


def _no_fastembed(method: str) -> UnsupportedOperationError:
    return UnsupportedOperationError(f"{method}(): qdrant-sdk has no fastembed model integration")

