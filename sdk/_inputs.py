"""Forgiving inputs: turn what users pass into ``sdk.models`` requests.

Shared by the sync and async clients (one place for every conversion). Accepted everywhere a
model is expected: an ``sdk.models`` instance, a plain dict in the JSON shape, or an instance of
the official ``qdrant_client.models`` class of the same name (that is what lets LangChain's and
LlamaIndex's Qdrant integrations hand their objects to this client). Vectors may be lists or
numpy arrays; ids may be ints, UUID strings or ``uuid.UUID``.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pydantic
from pydantic_core import to_jsonable_python

from . import models
from ._exceptions import BadRequestError


_SCALARS = (float, int, str, bool)


def _is_foreign_model(value: Any) -> bool:
    return isinstance(value, pydantic.BaseModel) and not type(value).__module__.startswith("sdk.")


def plain(value: Any) -> Any:
    """Foreign pydantic models (e.g. qdrant_client.models) as JSON-shaped data; the rest unchanged."""
    if _is_foreign_model(value):
        return value.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if isinstance(value, (list, tuple)) and value:
        if type(value[0]) in _SCALARS:
            return value  # a vector or a list of ids: nothing to convert, don't walk it
        if any(_is_foreign_model(v) for v in value):
            return [plain(v) for v in value]
    return value


@lru_cache(maxsize=None)
def _adapter(tp: Any) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(tp)


def coerce(tp: Any, value: Any) -> Any:
    """Validate ``value`` as type ``tp`` (a model class or a Union alias); None stays None."""
    if value is None:
        return None
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    value = plain(value)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return tp.model_validate(value)
    return _adapter(tp).validate_python(value)


def point_id(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def point_ids(values: Iterable[Any]) -> list:
    return [point_id(v) for v in values]


def _json_fallback(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"payload value of type {type(value).__name__} is not JSON-serialisable")


def json_payload(payload: Any) -> Any:
    """Payload values as JSON data (datetimes, UUIDs, numpy scalars...), identically in every mode."""
    if payload is None:
        return None
    try:
        return to_jsonable_python(payload, fallback=_json_fallback)
    except (TypeError, ValueError) as exc:
        raise BadRequestError(f"Invalid payload: {exc}") from None


def vector(value: Any) -> Any:
    """A vector struct with numpy arrays turned into lists (recursively through dicts)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: vector(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [v.tolist() for v in value]
    return plain(value)


# -- selectors -----------------------------------------------------------------------------------
def shard_key_selector(value: Any) -> Any:
    """``shard_key_selector=``: a shard key (int or str), a list of them, or ``ShardKeyWithFallback``
    (also as a dict or an official model), validated; None stays None."""
    value = plain(value)
    if value is None:
        return None
    return coerce(models.ShardKeySelector, value)


def points_selector(selector: Any, shard_key: Any = None) -> Any:
    """ids list / Filter / PointIdsList / FilterSelector -> PointIdsList | FilterSelector; a
    ``shard_key`` given separately (``shard_key_selector=``) is set on it."""
    sel = _points_selector(selector)
    shard_key = shard_key_selector(shard_key)
    return sel if shard_key is None else sel.model_copy(update={"shard_key": shard_key})


def _points_selector(selector: Any) -> Any:
    selector = plain(selector)
    if isinstance(selector, (models.PointIdsList, models.FilterSelector)):
        return selector
    if isinstance(selector, models.Filter):
        return models.FilterSelector(filter=selector)
    if isinstance(selector, dict):
        if "points" in selector:
            return models.PointIdsList.model_validate(selector)
        if "filter" in selector:
            return models.FilterSelector.model_validate(selector)
        return models.FilterSelector(filter=models.Filter.model_validate(selector))
    if isinstance(selector, (list, tuple)):
        return models.PointIdsList(points=point_ids(selector))
    raise TypeError(f"Unsupported points selector type: {type(selector).__name__}")


def selector_fields(selector: Any) -> dict[str, Any]:
    """The ``points``/``filter`` fields of a selector, for bodies that embed them (SetPayload...)."""
    sel = points_selector(selector)
    if isinstance(sel, models.PointIdsList):
        return {"points": sel.points}
    return {"filter": sel.filter}


def with_payload(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, (bool, list)) or value is None:
        return value
    return coerce(models.WithPayloadInterface, value)


def with_vectors(value: Any) -> Any:
    return plain(value)


def query_input(query: Any) -> Any:
    """The ``query`` argument of query_points in its model form."""
    if query is None:
        return None
    if isinstance(query, np.ndarray):
        return query.tolist()
    if isinstance(query, (uuid.UUID, np.integer)):
        return point_id(query)
    if isinstance(query, (int, str)):
        return query
    if isinstance(query, list):
        if query and isinstance(query[0], np.ndarray):
            return [q.tolist() for q in query]
        return query
    # QueryInterface = VectorInput | Query: a foreign SparseVector/Document is a vector input too
    return coerce(models.QueryInterface, query) if _is_foreign_model(query) or isinstance(query, dict) else query


# -- points --------------------------------------------------------------------------------------
def upsert_operation(points: Any, update_filter: Any = None, update_mode: Any = None, shard_key: Any = None) -> Any:
    """``upsert(points=...)`` argument -> PointsList | PointsBatch."""
    points = plain(points)
    extra = {}
    if shard_key is not None:
        extra["shard_key"] = shard_key_selector(shard_key)
    if update_filter is not None:
        extra["update_filter"] = coerce(models.Filter, update_filter)
    if update_mode is not None:
        extra["update_mode"] = coerce(models.UpdateMode, update_mode)
    if isinstance(points, dict) and "ids" in points:
        points = models.Batch.model_validate(points)
    if isinstance(points, models.Batch):
        batch = models.Batch.model_construct(
            ids=point_ids(points.ids),
            vectors=points.vectors,
            payloads=[json_payload(p) for p in points.payloads] if points.payloads is not None else None,
        )
        return models.PointsBatch(batch=batch, **extra)
    return models.PointsList(points=[point_struct(p) for p in points], **extra)


def point_struct(point: Any) -> models.PointStruct:
    if isinstance(point, models.PointStruct):
        return models.PointStruct.model_construct(
            id=point_id(point.id), vector=vector(point.vector), payload=json_payload(point.payload)
        )
    point = plain(point)
    if isinstance(point, dict):
        point = dict(point)
        point["vector"] = vector(point.get("vector"))
        point = models.PointStruct.model_validate(point)
    return models.PointStruct.model_construct(
        id=point_id(point.id), vector=point.vector, payload=json_payload(point.payload)
    )


def iter_batches_from_points(points: Iterable[Any], batch_size: int) -> Iterator[list[models.PointStruct]]:
    batch: list[models.PointStruct] = []
    for p in points:
        batch.append(point_struct(p))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_collection_batches(
    vectors: Any, payload: Iterable[Any] | None, ids: Iterable[Any] | None, batch_size: int
) -> Iterator[models.Batch]:
    """``upload_collection`` input -> Batch chunks. Numpy matrices are sliced, not listed.

    A numpy chunk stays an ndarray inside the (constructed, already valid) Batch: the built-in
    engine reads it directly and the wire transports serialise arrays themselves.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if isinstance(vectors, np.ndarray):
        total = vectors.shape[0]
        vec_chunks: Iterator[Any] = (vectors[i : i + batch_size] for i in range(0, total, batch_size))
    elif isinstance(vectors, dict):
        arrays = {name: np.asarray(v) if isinstance(v, np.ndarray) else list(v) for name, v in vectors.items()}
        total = min(len(v) for v in arrays.values()) if arrays else 0
        vec_chunks = ({n: a[i : i + batch_size] for n, a in arrays.items()} for i in range(0, total, batch_size))
    else:
        vec_chunks = _chunks(iter(vectors), batch_size)
    id_iter = iter(ids) if ids is not None else None
    payload_iter = iter(payload) if payload is not None else None
    for chunk in vec_chunks:
        n = len(chunk) if not isinstance(chunk, dict) else min(len(v) for v in chunk.values())
        if not isinstance(chunk, (np.ndarray, dict)):
            chunk = [vector(v) for v in chunk]
        if id_iter is not None:
            chunk_ids = point_ids(_take(id_iter, n, "ids"))
        else:
            chunk_ids = [str(uuid.uuid4()) for _ in range(n)]
        chunk_payloads = None
        if payload_iter is not None:
            chunk_payloads = [json_payload(p) or {} for p in _take(payload_iter, n, "payload")]
        yield models.Batch.model_construct(ids=chunk_ids, vectors=chunk, payloads=chunk_payloads)


def _chunks(it: Iterator[Any], size: int) -> Iterator[list]:
    while True:
        chunk = []
        for _ in range(size):
            try:
                chunk.append(next(it))
            except StopIteration:
                break
        if not chunk:
            return
        yield chunk


def _take(it: Iterator[Any], n: int, what: str) -> list:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            raise ValueError(f"upload_collection: fewer {what} than vectors") from None
    return out


def check_no_kwargs(kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"Unknown arguments: {sorted(kwargs)}")


def sequence(value: Any) -> Sequence[Any]:
    return list(value) if not isinstance(value, list) else value
