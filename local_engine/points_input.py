"""Turn upsert bodies (``PointsList`` / ``PointsBatch``) into validated column batches.

Everything is checked before anything is written: ids, vector names, dimensions, value types.
A batch that fails validation raises ``BadRequest`` and the collection is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BadRequest, Unsupported
from .ids import normalize_id


@dataclass
class PointBatch:
    ids: list                                   # canonical ids, duplicates resolved (last wins)
    payloads: list[dict]                        # aligned with ids ({} = no payload)
    # vector name -> (row indices into ids, matrix of those rows); rows not listed lack the vector
    dense: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _is_sparse(value: Any) -> bool:
    return hasattr(value, "indices") and hasattr(value, "values") or (
        isinstance(value, dict) and "indices" in value and "values" in value
    )


def _kind_error(name: str, value: Any) -> Exception:
    label = f"vector `{name}`" if name else "the default vector"
    if _is_sparse(value):
        return Unsupported(f"Sparse vectors are not supported yet by the built-in engine ({label})")
    if isinstance(value, (list, np.ndarray)) and len(value) and isinstance(value[0], (list, np.ndarray)):
        return Unsupported(f"Multivectors are not supported yet by the built-in engine ({label})")
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
            if not isinstance(row, (list, tuple, np.ndarray)) or (len(row) and isinstance(row[0], (list, np.ndarray, dict))):
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


def parse_points(body: Any, dims: dict[str, int]) -> PointBatch:
    """Validate an upsert body against the collection's dense vector dims (name -> size)."""
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

    dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (rows, values) in per_name.items():
        dense[name] = (rows, _dense_matrix(name, values, dims[name]))
    return _dedupe(PointBatch(ids=ids, payloads=payloads, dense=dense))


def _split_point_vectors(structs: list, dims: dict[str, int]) -> dict[str, tuple[np.ndarray, list]]:
    rows: dict[str, list[int]] = {}
    values: dict[str, list] = {}
    for i, struct in enumerate(structs):
        if isinstance(struct, dict):
            items = struct.items()
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


def _split_batch_vectors(vectors: Any, n: int, dims: dict[str, int]) -> dict[str, tuple[np.ndarray, Any]]:
    if isinstance(vectors, dict):
        named = vectors.items()
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
        out[name] = (np.arange(n, dtype=np.int64), column)
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
    return PointBatch(
        ids=[batch.ids[i] for i in keep],
        payloads=[batch.payloads[i] for i in keep],
        dense=dense,
    )
