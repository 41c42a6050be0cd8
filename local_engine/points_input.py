"""Turn upsert bodies (``PointsList`` / ``PointsBatch``) into validated column batches.

Everything is checked before anything is written: ids, vector names, kinds (dense, sparse,
multivector), dimensions, value types. A batch that fails validation raises ``BadRequest``
and the collection is untouched. The collection describes its vector names with
``VectorSpec``s (a plain ``int`` still means a dense vector of that dimension).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BadRequest, Unsupported
from .ids import normalize_id
from .sparse import parse_sparse, parse_sparse_many


@dataclass(frozen=True)
class VectorSpec:
    """What a vector name holds: ``kind`` is "dense", "sparse" or "multi"; ``dim`` the size of
    a dense vector or of each multivector row (0 for sparse)."""

    kind: str
    dim: int = 0


@dataclass
class PointBatch:
    ids: list                                   # canonical ids, duplicates resolved (last wins)
    payloads: list[dict]                        # aligned with ids ({} = no payload)
    # vector name -> (row indices into ids, matrix of those rows); rows not listed lack the vector
    dense: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # vector name -> (row indices, [(sorted uint32 indices, float32 values)])
    sparse: dict[str, tuple[np.ndarray, list]] = field(default_factory=dict)
    # vector name -> (row indices, [float32 matrix (rows, dim)])
    multi: dict[str, tuple[np.ndarray, list]] = field(default_factory=dict)


def _is_sparse(value: Any) -> bool:
    return hasattr(value, "indices") and hasattr(value, "values") or (
        isinstance(value, dict) and "indices" in value and "values" in value
    )


def _kind_error(name: str, value: Any) -> Exception:
    label = f"vector `{name}`" if name else "the default vector"
    if _is_sparse(value):
        return BadRequest("Wrong input: Conversion between sparse and regular vectors failed")
    if _is_matrix(value):
        return BadRequest("Wrong input: Conversion between multi and regular vectors failed")
    kind = type(value).__name__
    if kind in ("Document", "Image", "InferenceObject"):
        return Unsupported(f"Inference objects ({kind}) need an inference service; the built-in engine has none")
    return BadRequest(f"Wrong input: invalid value for {label}: expected a list of numbers")


def _dense_matrix(name: str, rows: list, dim: int) -> np.ndarray:
    """Stack rows into an (n, dim) float32 matrix, or say precisely which row is wrong."""
    if isinstance(rows, np.ndarray):
        matrix = rows
    else:
        try:
            matrix = np.asarray(rows, dtype=np.float32)
        except (ValueError, TypeError):
            matrix = None
    if matrix is None or matrix.ndim != 2 or matrix.dtype == object:
        for row in rows:
            if not isinstance(row, (list, tuple, np.ndarray)) or (len(row) and isinstance(row[0], (list, tuple, np.ndarray, dict))):
                raise _kind_error(name, row)
            if len(row) != dim:
                raise BadRequest(f"Wrong input: Vector dimension error: expected dim: {dim}, got {len(row)}")
        raise BadRequest(f"Wrong input: vector `{name}` contains values that are not numbers")
    if matrix.shape[1] != dim:
        raise BadRequest(f"Wrong input: Vector dimension error: expected dim: {dim}, got {matrix.shape[1]}")
    matrix = matrix.astype(np.float32, copy=False)
    if not np.isfinite(matrix).all():
        raise BadRequest(f"Wrong input: vector `{name}` contains NaN or infinite values")
    return matrix


def _unknown_vector(name: str) -> BadRequest:
    return BadRequest(f"Wrong input: Not existing vector name error: {name}")


def _specs(dims: dict) -> dict[str, VectorSpec]:
    return {name: spec if isinstance(spec, VectorSpec) else VectorSpec("dense", int(spec)) for name, spec in dims.items()}


def _is_matrix(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    return isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], (list, tuple, np.ndarray))


def parse_multivector(name: str, value: Any, dim: int) -> np.ndarray:
    """One multivector (a list of rows, or a 2-D array) as a float32 matrix (rows, dim)."""
    label = f"vector `{name}`" if name else "the default vector"
    if _is_sparse(value):
        raise BadRequest("Wrong input: Conversion between sparse and regular vectors failed")
    if not _is_matrix(value):
        if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 0:
            raise BadRequest(f"Wrong input: {label}: a multivector must hold at least one vector")
        raise BadRequest("Wrong input: Conversion between multi and regular vectors failed")
    for row in value:
        if len(row) != dim:
            raise BadRequest(f"Wrong input: Vector dimension error: expected dim: {dim}, got {len(row)}")
    try:
        matrix = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadRequest(f"Wrong input: {label} contains values that are not numbers") from None
    if not np.isfinite(matrix).all():
        raise BadRequest(f"Wrong input: {label} contains NaN or infinite values")
    return matrix


def parse_points(body: Any, dims: dict) -> PointBatch:
    """Validate an upsert body against the collection's vector names (name -> ``VectorSpec``,
    or name -> size for a dense vector)."""
    dims = _specs(dims)
    points = getattr(body, "points", None)
    if points is not None:
        ids = [normalize_id(p.id) for p in points]
        payloads = [dict(p.payload) if p.payload else {} for p in points]
        structs = [p.vector for p in points]
        per_name = _split_point_vectors(structs, dims)
    else:
        batch = getattr(body, "batch", None)
        if batch is None:
            raise BadRequest("Wrong input: upsert needs `points` or `batch`")
        ids = [normalize_id(i) for i in batch.ids]
        n = len(ids)
        payloads_in = batch.payloads
        if payloads_in is None:
            payloads = [{} for _ in range(n)]
        else:
            if len(payloads_in) != n:
                raise BadRequest(f"Wrong input: batch has {n} ids but {len(payloads_in)} payloads")
            payloads = [dict(p) if p else {} for p in payloads_in]
        per_name = _split_batch_vectors(batch.vectors, n, dims)

    batch = PointBatch(ids=ids, payloads=payloads)
    for name, (rows, values) in per_name.items():
        spec = dims[name]
        if spec.kind == "sparse":
            label = f"vector `{name}`" if name else "the default vector"
            for v in values:
                if not _is_sparse(v):
                    _sparse_value(v, label)     # raises the conversion error
            batch.sparse[name] = (rows, parse_sparse_many(values, label))
        elif spec.kind == "multi":
            batch.multi[name] = (rows, [parse_multivector(name, v, spec.dim) for v in values])
        else:
            batch.dense[name] = (rows, _dense_matrix(name, values, spec.dim))
    return _dedupe(batch)


def _sparse_value(value: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    if not _is_sparse(value):
        if _is_matrix(value):
            raise BadRequest("Wrong input: Conversion between multi and sparse vectors failed")
        raise BadRequest("Wrong input: Conversion between sparse and regular vectors failed")
    return parse_sparse(value, label)


def _split_point_vectors(structs: list, dims: dict[str, VectorSpec]) -> dict[str, tuple[np.ndarray, list]]:
    rows: dict[str, list[int]] = {}
    values: dict[str, list] = {}
    for i, struct in enumerate(structs):
        if isinstance(struct, dict):
            items = struct.items()
        elif struct is None:
            continue
        else:
            items = (("", struct),)
        for name, vec in items:
            if name not in dims:
                if name == "" and struct is not None:
                    raise BadRequest("Wrong input: this collection has only named vectors; give the vector as {name: vector}")
                raise _unknown_vector(name)
            if vec is None:
                continue
            rows.setdefault(name, []).append(i)
            values.setdefault(name, []).append(vec)
    return {name: (np.asarray(rows[name], dtype=np.int64), values[name]) for name in rows}


def _split_batch_vectors(vectors: Any, n: int, dims: dict[str, VectorSpec]) -> dict[str, tuple[np.ndarray, Any]]:
    if isinstance(vectors, dict):
        named = vectors.items()
    elif vectors is None:
        named = ()
    else:
        named = (("", vectors),)
    out = {}
    for name, column in named:
        if name not in dims:
            if name == "":
                raise BadRequest("Wrong input: this collection has only named vectors; give batch vectors as {name: [vectors]}")
            raise _unknown_vector(name)
        if len(column) != n:
            raise BadRequest(f"Wrong input: batch has {n} ids but {len(column)} vectors for `{name}`")
        if isinstance(column, np.ndarray) or all(v is not None for v in column):
            out[name] = (np.arange(n, dtype=np.int64), column)
        else:  # a None in a batch column: that point lacks this vector
            keep = [i for i, v in enumerate(column) if v is not None]
            out[name] = (np.asarray(keep, dtype=np.int64), [column[i] for i in keep])
    return out


def _dedupe(batch: PointBatch) -> PointBatch:
    """Within one batch a repeated id means the last occurrence wins, as in Qdrant."""
    last = {}
    for i, pid in enumerate(batch.ids):
        last[pid] = i
    if len(last) == len(batch.ids):
        return batch
    keep = np.fromiter(sorted(last.values()), dtype=np.int64)
    remap = np.full(len(batch.ids), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    dense = {}
    for name, (rows, matrix) in batch.dense.items():
        new_rows = remap[rows]
        sel = new_rows >= 0
        dense[name] = (new_rows[sel], matrix[sel])
    others: list[dict] = [{}, {}]
    for target, source in zip(others, (batch.sparse, batch.multi)):
        for name, (rows, items) in source.items():
            new_rows = remap[rows]
            sel = np.flatnonzero(new_rows >= 0)
            target[name] = (new_rows[sel], [items[i] for i in sel.tolist()])
    return PointBatch(
        ids=[batch.ids[i] for i in keep],
        payloads=[batch.payloads[i] for i in keep],
        dense=dense,
        sparse=others[0],
        multi=others[1],
    )
