"""Points and vectors: PointStruct, batches, vectors in every form, records, update operations.

Where gRPC and REST differ: REST's ``vector`` (a list, a list of lists, or a dict of named
vectors) is a ``Vectors`` oneof holding ``Vector`` messages, themselves a oneof of dense /
sparse / multi-dense / inference objects; REST's column-oriented ``PointsBatch`` has no gRPC
form, so a batch is sent as a list of ``PointStruct``; SetPayload/DeletePayload/DeleteVectors
carry REST's flat ``points`` / ``filter`` in a ``PointsSelector``.

Vectors are the bulk of the bytes: a numpy matrix in a batch is cut into serialized ``DenseVector``
rows (packed float32) that protobuf parses in C; other numpy arrays are turned into lists once
(``tolist`` runs in C) and copied into ``repeated float`` fields with one ``extend`` per vector.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List

from pydantic import BaseModel

from .. import models
from .._exceptions import BadRequestError
from ._codec import (
    RENAMES, as_list, decode, decode_fields, decode_payload, decode_point_id, decoder, encode, encode_fields,
    encode_payload, encode_point_id, encoder, get, has, unsupported,
)
from ._filters import decode_selector_fields, encode_selector_fields


def _ndarray() -> Any:
    numpy = sys.modules.get("numpy")
    return numpy.ndarray if numpy is not None else ()


# -- one vector ----------------------------------------------------------------------------------------------------------
def _inference_kind(value: Any) -> str | None:
    if isinstance(value, models.Document) or (isinstance(value, dict) and "text" in value and "model" in value):
        return "document"
    if isinstance(value, models.Image) or (isinstance(value, dict) and "image" in value):
        return "image"
    if isinstance(value, models.InferenceObject) or (isinstance(value, dict) and "object" in value):
        return "object"
    return None


def encode_vector(value: Any, msg: Any, multi_field: str = "multi_dense") -> None:
    """A REST vector (dense list, multi-vector, SparseVector, inference object) into a ``Vector``-like
    message (``Vector``, ``VectorOutput``, ``VectorInput``: the oneof field names are shared)."""
    if isinstance(value, _ndarray()):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (list, tuple, *_as_tuple(_ndarray()))):
            multi = getattr(msg, multi_field)
            multi.SetInParent()
            rows = multi.vectors
            for row in value:
                rows.add().data.extend(row.tolist() if isinstance(row, _ndarray()) else row)
        else:
            msg.dense.SetInParent()
            msg.dense.data.extend(value)
        return
    if has(value, "indices") and has(value, "values"):
        msg.sparse.SetInParent()
        msg.sparse.indices.extend(as_list(get(value, "indices")))
        msg.sparse.values.extend(as_list(get(value, "values")))
        return
    kind = _inference_kind(value)
    if kind is not None and kind in msg.DESCRIPTOR.fields_by_name:
        encode_inference(value, getattr(msg, kind))
        return
    raise BadRequestError(f"Wrong input: not a vector: {type(value).__name__}")


def _as_tuple(t: Any) -> tuple:
    return t if isinstance(t, tuple) else (t,)


def encode_inference(value: Any, msg: Any) -> None:
    options = get(value, "options")
    if isinstance(options, BaseModel):  # Bm25Config
        options = options.model_dump(mode="json", exclude_none=True)
    encode_fields(value, msg, skip=("options",))
    if options:
        encode_payload(options, msg.options)


def decode_vector(msg: Any) -> Any:
    """A ``Vector`` / ``VectorOutput`` as its REST value."""
    return _decode_vector_kind(msg, msg.WhichOneof("vector"))


def _decode_vector_kind(msg: Any, kind: Any) -> Any:
    """The REST value of the vector variant ``kind`` of ``msg`` (``Vector``, ``VectorOutput``, ``VectorInput``)."""
    if kind == "dense":
        return list(msg.dense.data)
    if kind == "sparse":
        return {"indices": list(msg.sparse.indices), "values": list(msg.sparse.values)}
    if kind == "multi_dense":
        return [list(v.data) for v in msg.multi_dense.vectors]
    if kind in ("document", "image", "object"):
        return decode_fields(getattr(msg, kind))
    if kind is None and "data" in msg.DESCRIPTOR.fields_by_name:
        # The deprecated flat form (servers before v1.13 answer with it).
        data = list(msg.data)
        if msg.HasField("indices"):
            return {"indices": list(msg.indices.data), "values": data}
        if msg.HasField("vectors_count") and msg.vectors_count > 1:
            size = len(data) // msg.vectors_count
            return [data[i:i + size] for i in range(0, len(data), size)]
        return data
    if kind is None:
        raise BadRequestError("Wrong input: empty vector")
    raise unsupported(f"vector kind `{kind}`")


encoder("qdrant.Vector", "qdrant.VectorOutput")(encode_vector)
decoder("qdrant.Vector", "qdrant.VectorOutput")(decode_vector)


@decoder("qdrant.Document", "qdrant.Image", "qdrant.InferenceObject")
def decode_inference(msg: Any) -> Dict[str, Any]:
    return decode_fields(msg)


@encoder("qdrant.Document", "qdrant.Image", "qdrant.InferenceObject")
def _encode_inference(value: Any, msg: Any) -> None:
    encode_inference(value, msg)


@encoder("qdrant.SparseVector")
def encode_sparse(value: Any, msg: Any) -> None:
    msg.SetInParent()
    msg.indices.extend(as_list(get(value, "indices")))
    msg.values.extend(as_list(get(value, "values")))


@decoder("qdrant.SparseVector")
def decode_sparse(msg: Any) -> Dict[str, Any]:
    return {"indices": list(msg.indices), "values": list(msg.values)}


@decoder("qdrant.DenseVector")
def decode_dense(msg: Any) -> List[float]:
    return list(msg.data)


@encoder("qdrant.DenseVector")
def encode_dense(value: Any, msg: Any) -> None:
    msg.SetInParent()
    msg.data.extend(as_list(value))


# -- vectors of a point (named or not) -----------------------------------------------------------------------------------
def _named_vectors(value: Any) -> bool:
    return isinstance(value, dict) and _inference_kind(value) is None and not ("indices" in value and "values" in value)


@encoder("qdrant.Vectors", "qdrant.VectorsOutput")
def encode_vectors(value: Any, msg: Any) -> None:
    if _named_vectors(value):
        msg.vectors.SetInParent()
        container = msg.vectors.vectors
        for name, vector in value.items():
            encode_vector(vector, container[name])
    else:
        encode_vector(value, msg.vector)


@decoder("qdrant.Vectors", "qdrant.VectorsOutput")
def decode_vectors(msg: Any) -> Any:
    kind = msg.WhichOneof("vectors_options")
    if kind == "vector":
        return decode_vector(msg.vector)
    if kind == "vectors":
        named = msg.vectors.vectors
        return {name: decode_vector(named[name]) for name in named}
    return None


# -- points ---------------------------------------------------------------------------------------------------------------
@encoder("qdrant.PointStruct")
def encode_point(value: Any, msg: Any) -> None:
    encode_point_id(get(value, "id"), msg.id)
    vector = get(value, "vector")
    if vector is not None:
        encode_vectors(vector, msg.vectors)
    payload = get(value, "payload")
    if payload:
        encode_payload(payload, msg.payload)
    if isinstance(value, dict) and set(value) - {"id", "vector", "payload"}:
        raise BadRequestError(f"Wrong input: unknown point field(s) {sorted(set(value) - {'id', 'vector', 'payload'})}")


@decoder("qdrant.PointStruct")
def decode_point(msg: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": decode_point_id(msg.id)}
    if msg.HasField("vectors"):
        out["vector"] = decode_vectors(msg.vectors)
    else:
        out["vector"] = {}
    if msg.payload:
        out["payload"] = decode_payload(msg.payload)
    return out


def _rows(vectors: Any, count: int, what: str) -> List[Any]:
    rows = vectors.tolist() if isinstance(vectors, _ndarray()) else list(vectors)
    if len(rows) != count:
        raise BadRequestError(f"Wrong input: the batch has {count} ids but {len(rows)} {what}")
    return rows


def _packed_rows(matrix: Any) -> List[bytes] | None:
    """A 2-D numeric numpy matrix as one serialized ``DenseVector`` per row (field 1, packed
    little-endian float32), so that upb parses the floats in C instead of Python converting each
    one; None for anything else (lists, multivectors, objects), which takes the general path."""
    if not isinstance(matrix, _ndarray()) or matrix.ndim != 2 or matrix.dtype.kind not in "fiub" or not matrix.shape[1]:
        return None
    data = matrix.astype("<f4", copy=False).tobytes()
    width = matrix.shape[1] * 4
    size, prefix = width, bytearray(b"\x0a")
    while size > 0x7F:
        prefix.append((size & 0x7F) | 0x80)
        size >>= 7
    prefix.append(size)
    head = bytes(prefix)
    return [head + data[start:start + width] for start in range(0, len(data), width)]


def _column(column: Any, count: int, what: str) -> tuple:
    """(rows, packed): the rows of a vector column, packed as ``DenseVector`` bytes when it is a matrix."""
    packed = _packed_rows(column)
    if packed is not None:
        if len(packed) != count:
            raise BadRequestError(f"Wrong input: the batch has {count} ids but {len(packed)} {what}")
        return packed, True
    return _rows(column, count, what), False


def encode_batch_points(batch: Any, container: Any) -> None:
    """REST's column-oriented ``Batch`` as rows of ``PointStruct`` (the only gRPC form)."""
    ids = as_list(get(batch, "ids"))
    count = len(ids)
    vectors = get(batch, "vectors")
    payloads = get(batch, "payloads")
    if payloads is not None:
        payloads = _rows(payloads, count, "payloads")
    named = isinstance(vectors, dict)
    if named:
        columns = {name: _column(column, count, f"`{name}` vectors") for name, column in vectors.items()}
    else:
        rows, packed = _column(vectors, count, "vectors")
    for i, point_id in enumerate(ids):
        point = container.add()
        encode_point_id(point_id, point.id)
        if named:
            named_msg = point.vectors.vectors
            named_msg.SetInParent()
            for name, (column, column_packed) in columns.items():
                if column_packed:
                    named_msg.vectors[name].dense.MergeFromString(column[i])
                elif column[i] is not None:
                    encode_vector(column[i], named_msg.vectors[name])
        elif packed:
            point.vectors.vector.dense.MergeFromString(rows[i])
        else:
            encode_vector(rows[i], point.vectors.vector)
        if payloads is not None and payloads[i]:
            encode_payload(payloads[i], point.payload)


def _dense_bytes(vector: Any) -> Any:
    """The packed little-endian floats of a dense ``Vector``, or None for any other kind."""
    if vector.WhichOneof("vector") != "dense":
        return None
    raw = vector.dense.SerializeToString()      # 0x0a, varint length, the floats
    start = 1
    while raw[start] & 0x80:
        start += 1
    return memoryview(raw)[start + 1:]


def fast_insert_batch(msg: Any) -> Any:
    """A server-side shortcut for the common upsert (plain points, dense vectors only, no filter / shard
    key / mode): a ``PointsBatch`` holding one float32 matrix per vector name, read straight from
    the packed floats, instead of lists validated float by float. None when the shortcut does not
    apply; the caller then takes the general path. The engine validates ids and dimensions as usual."""
    import numpy as np

    points = msg.points
    count = len(points)
    if count < 2 or msg.HasField("update_filter") or msg.HasField("update_mode") or msg.HasField("shard_key_selector"):
        return None
    first = points[0].vectors
    kind = first.WhichOneof("vectors_options")
    names = sorted(first.vectors.vectors) if kind == "vectors" else None
    if kind is None or names == []:
        return None
    columns: Dict[Any, List[Any]] = {name: [] for name in names} if names is not None else {None: []}
    for point in points:
        vectors = point.vectors
        if vectors.WhichOneof("vectors_options") != kind:
            return None
        if names is None:
            data = _dense_bytes(vectors.vector)
            if data is None:
                return None
            columns[None].append(data)
        else:
            named = vectors.vectors.vectors
            if len(named) != len(names):
                return None
            for name in names:
                if name not in named:
                    return None
                data = _dense_bytes(named[name])
                if data is None:
                    return None
                columns[name].append(data)
    matrices = {}
    for name, rows in columns.items():
        width = len(rows[0])
        if width == 0 or width % 4 or any(len(row) != width for row in rows):
            return None   # ragged: let the engine report the dimension error the general way
        matrices[name] = np.frombuffer(b"".join(rows), dtype="<f4").reshape(count, width // 4).astype(np.float32, copy=False)
    ids = [decode_point_id(p.id) for p in points]
    payloads = [decode_payload(p.payload) if p.payload else None for p in points]
    vectors = matrices[None] if names is None else matrices
    batch = models.Batch.model_construct(ids=ids, vectors=vectors, payloads=payloads)
    return models.PointsBatch.model_construct(batch=batch, shard_key=None, update_filter=None, update_mode=None)


# UpsertPoints and PointsUpdateOperation.PointStructList: points + shard key + update filter/mode.
@encoder("qdrant.UpsertPoints", "qdrant.PointsUpdateOperation.PointStructList")
def encode_insert(value: Any, msg: Any) -> None:
    batch = get(value, "batch")
    if batch is not None:
        encode_fields(value, msg, skip=("points",), extra_ok=("batch",))
        encode_batch_points(batch, msg.points)
    else:
        encode_fields(value, msg)


# DeletePoints, ClearPayloadPoints and their batch forms: the REST body *is* the PointsSelector.
@encoder(
    "qdrant.DeletePoints", "qdrant.ClearPayloadPoints",
    "qdrant.PointsUpdateOperation.DeletePoints", "qdrant.PointsUpdateOperation.ClearPayload",
)
def encode_selector_body(value: Any, msg: Any) -> None:
    encode(value, msg.points)
    shard_key = get(value, "shard_key")
    if shard_key is not None:
        encode(shard_key, msg.shard_key_selector)


@decoder(
    "qdrant.DeletePoints", "qdrant.ClearPayloadPoints",
    "qdrant.PointsUpdateOperation.DeletePoints", "qdrant.PointsUpdateOperation.ClearPayload",
)
def decode_selector_body(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("points",))
    if msg.HasField("points"):
        out.update(decode(msg.points))
    return out


# SetPayload / DeletePayload / DeleteVectors: REST's flat points/filter in a PointsSelector.
_WITH_SELECTOR = (
    "qdrant.SetPayloadPoints", "qdrant.DeletePayloadPoints", "qdrant.DeletePointVectors",
    "qdrant.PointsUpdateOperation.SetPayload", "qdrant.PointsUpdateOperation.OverwritePayload",
    "qdrant.PointsUpdateOperation.DeletePayload", "qdrant.PointsUpdateOperation.DeleteVectors",
)


@encoder(*_WITH_SELECTOR)
def encode_with_selector(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("points_selector",), extra_ok=("points", "filter"))
    encode_selector_fields(value, msg)


@decoder(*_WITH_SELECTOR)
def decode_with_selector(msg: Any) -> Dict[str, Any]:
    out = decode_fields(msg, skip=("points_selector",))
    out.update(decode_selector_fields(msg))
    return out


@decoder("qdrant.SetPayloadPoints", "qdrant.PointsUpdateOperation.SetPayload",
         "qdrant.PointsUpdateOperation.OverwritePayload")
def decode_set_payload(msg: Any) -> Dict[str, Any]:
    out = decode_with_selector(msg)
    out.setdefault("payload", {})
    return out


# batch_update: REST's single-key variants are the oneof, except `delete` <-> `delete_points`.
_DEPRECATED_OPS = {"delete_deprecated": "delete", "clear_payload_deprecated": "clear_payload"}


@decoder("qdrant.PointsUpdateOperation")
def decode_update_operation(msg: Any) -> Dict[str, Any]:
    kind = msg.WhichOneof("operation")
    if kind is None:
        raise BadRequestError("Wrong input: empty update operation")
    if kind in _DEPRECATED_OPS:
        return {_DEPRECATED_OPS[kind]: decode(getattr(msg, kind))}
    return {"delete" if kind == "delete_points" else kind: decode(getattr(msg, kind))}


# -- records ---------------------------------------------------------------------------------------------------------------
# The hot path of every read: written out rather than left to the default rule.
@decoder("qdrant.RetrievedPoint")
def decode_record(msg: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": decode_point_id(msg.id)}
    if msg.payload:
        out["payload"] = decode_payload(msg.payload)
    if msg.HasField("vectors"):
        out["vector"] = decode_vectors(msg.vectors)
    if msg.HasField("shard_key"):
        out["shard_key"] = decode(msg.shard_key)
    if msg.HasField("order_value"):
        out["order_value"] = decode_order_value(msg.order_value)
    return out


@decoder("qdrant.ScoredPoint")
def decode_scored_point(msg: Any) -> Dict[str, Any]:
    out = decode_record(msg)
    out["score"] = msg.score
    out["version"] = msg.version
    return out


@encoder("qdrant.RetrievedPoint", "qdrant.ScoredPoint")
def encode_record(value: Any, msg: Any) -> None:
    encode_fields(value, msg, skip=("payload", "vectors"), extra_ok=("vector",))
    payload = get(value, "payload")
    if payload:
        encode_payload(payload, msg.payload)
    vector = get(value, "vector")
    if vector is not None:
        encode_vectors(vector, msg.vectors)


@encoder("qdrant.OrderValue")
def encode_order_value(value: Any, msg: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        msg.int = value
    else:
        msg.float = float(value)


@decoder("qdrant.OrderValue")
def decode_order_value(msg: Any) -> Any:
    kind = msg.WhichOneof("variant")
    return getattr(msg, kind) if kind else None


RENAMES.update({
    "qdrant.PointVectors": {"vectors": "vector"},
    "qdrant.DeletePointVectors": {"vectors": "vector"},
    "qdrant.PointsUpdateOperation.DeleteVectors": {"vectors": "vector"},
    "qdrant.PointsUpdateOperation": {"delete_points": "delete"},
    "qdrant.GetPoints": {"with_vectors": "with_vector"},
    "qdrant.ScrollPoints": {"with_vectors": "with_vector"},
    "qdrant.ScrollResponse": {"result": "points"},
})
