"""Dense vector storage and exact scoring with Qdrant's score semantics.

Rules kept here (see QDRANT_REFERENCE.md §5.1):

* Cosine vectors are normalised when stored (zero vectors stay zero), and so is the query;
  the score is then a dot product.
* Dot returns the dot product; Euclid returns the distance sqrt(sum((a-b)^2)); Manhattan
  returns sum(|a-b|). For Cosine/Dot larger is better, for Euclid/Manhattan smaller is better.
* ``score_threshold`` is strict: Cosine/Dot keep ``score > t``, Euclid/Manhattan ``score < t``.
* Datatypes (``VectorParams.datatype``): vectors are *stored* as float32, float16 or uint8, so
  the matrix really is 2x / 4x smaller. float16: Cosine normalises in float32, then rounds;
  queries are rounded to float16 too. uint8: values are converted like Rust's ``x as u8``
  (truncated toward zero, saturated to 0..255, no error), queries as well; Cosine is *not*
  normalised at insert (a byte vector cannot hold a unit vector): the score is
  ``a·b / (|a| |b|)`` computed from the bytes, as Qdrant's ``cosine_similarity_bytes``.
  Scoring upcasts each block of rows to float32.

All scoring is vectorised over candidate offsets; nothing loops over points in Python.

**The vector-store contract** (``Collection.vector_store(name)`` returns one; the query
engine — prefetch, fusion, recommend, formula — scores through it, whatever the kind):

* ``kind``: ``"dense"``, ``"sparse"`` or ``"multi"``.
* ``higher_is_better``: a plain ``bool`` *attribute* (not a method): True for Cosine/Dot
  and for every sparse vector, False for Euclid/Manhattan.
* ``present_mask(size)``: bool mask over offsets ``[0, size)`` holding this vector.
* ``get(offset)``: the stored value or ``None`` (dense: 1-D float array; sparse:
  ``models.SparseVector``; multi: 2-D float array); ``prepare_query`` accepts it back.
* ``prepare_query(q)``: validate and convert a query input (raises ``BadRequest`` in Qdrant's
  words on a wrong dimension or shape).
* ``scores(prepared, offsets) -> np.ndarray`` (float32): Qdrant's returned scores of those
  offsets (0.0 for offsets without the vector; sparse: 0.0 where no index is shared).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import BadRequest

DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")
# Rows per scoring block. Small on purpose: a gathered block stays in cache, and OpenBLAS runs a
# matrix-vector product of 2,048+ rows on several threads, which on a busy 2-core machine turned
# a 0.8 ms scan of 10,000 rows into 6-20 ms (measured; docs/indexing.md). Blocks of 1,024 stay
# single-threaded.
_CHUNK = 1024
_SMALL_SORT = 256  # below this many scores, one stable argsort beats argpartition + sort (measured)
# Contiguous scans of at least this many rows are split between the caller and a helper thread:
# 100,000 x 128 float32 took 5.25 ms in 1,024-row blocks on one thread, 3.6 ms on two (one
# OpenBLAS call: 2.9 ms idle, but 8+ ms once another process holds a core; docs/indexing.md).
_SPLIT_ROWS = 16384
_SCAN_POOL: list = []
_SCAN_POOL_LOCK = threading.Lock()


def _scan_pool() -> "ThreadPoolExecutor":
    """One helper thread for the second half of large scans, shared by every collection."""
    if not _SCAN_POOL:
        with _SCAN_POOL_LOCK:
            if not _SCAN_POOL:
                _SCAN_POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-scan"))
    return _SCAN_POOL[0]


def higher_is_better(distance: str) -> bool:
    return distance in ("Cosine", "Dot")


DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


def to_uint8(matrix: np.ndarray) -> np.ndarray:
    """Rust's ``f32 as u8``: truncate toward zero, saturate to [0, 255] (NaN -> 0)."""
    return np.clip(np.trunc(np.nan_to_num(matrix, nan=0.0)), 0, 255).astype(np.uint8)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


class DenseVectors:
    """All vectors of one dense vector name, addressed by point offset.

    ``data`` grows by doubling; ``present[o]`` says whether offset ``o`` has this vector.
    """

    kind = "dense"

    def __init__(self, dim: int, distance: str, capacity: int = 1024, datatype: str = "float32") -> None:
        self.dim = dim
        self.distance = distance
        self.higher_is_better = higher_is_better(distance)
        self.datatype = datatype
        self.dtype = np.dtype(DTYPES[datatype])
        # uint8 Cosine vectors stay raw (not normalised): the score divides by both norms.
        self.raw_cosine = distance == "Cosine" and datatype == "uint8"
        self.data = np.zeros((capacity, dim), dtype=self.dtype)
        self.present = np.zeros(capacity, dtype=bool)

    # -- writes ---------------------------------------------------------------------------
    def reserve(self, size: int) -> None:
        cap = self.data.shape[0]
        if size <= cap:
            return
        new_cap = max(size, cap * 2)
        data = np.zeros((new_cap, self.dim), dtype=self.dtype)
        data[:cap] = self.data
        present = np.zeros(new_cap, dtype=bool)
        present[:cap] = self.present
        self.data, self.present = data, present

    def prepare(self, matrix: np.ndarray) -> np.ndarray:
        """The form a batch of validated rows is stored in (normalised for Cosine, in the
        vector's datatype)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        if self.datatype == "uint8":
            return to_uint8(matrix)
        if self.distance == "Cosine":
            matrix = normalize_rows(matrix)
        if self.datatype == "float16":
            return matrix.astype(np.float16)
        return matrix

    def set_rows(self, offsets: np.ndarray, prepared: np.ndarray) -> None:
        if len(offsets) == 0:
            return
        self.reserve(int(offsets.max()) + 1)
        self.data[offsets] = prepared
        self.present[offsets] = True

    def clear(self, offsets: np.ndarray) -> None:
        offsets = offsets[offsets < len(self.present)]
        self.present[offsets] = False
        self.data[offsets] = 0.0

    def get(self, offset: int) -> np.ndarray | None:
        if offset < len(self.present) and self.present[offset]:
            row = self.data[offset]
            return row if row.dtype == np.float32 else row.astype(np.float32)
        return None

    def present_mask(self, size: int) -> np.ndarray:
        self.reserve(size)
        return self.present[:size]

    # -- reads ----------------------------------------------------------------------------
    def prepare_query(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1 or q.shape[0] != self.dim:
            got = q.shape[0] if q.ndim == 1 else "x".join(map(str, q.shape))
            raise BadRequest(f"Wrong input: Vector dimension error: expected dim: {self.dim}, got {got}")
        if self.datatype == "uint8":
            q = to_uint8(q).astype(np.float32)
            if self.raw_cosine:
                n = float(np.sqrt(np.dot(q, q)))
                return q / n if n > 0 else q   # rows are divided by their own norms when scored
            return q
        if self.distance == "Cosine":
            n = float(np.sqrt(np.dot(q, q)))
            if n > 0:
                q = q / n
        if self.datatype == "float16":
            q = q.astype(np.float16).astype(np.float32)
        return q

    def scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Qdrant scores of ``query`` (already prepared) against the vectors at ``offsets``."""
        n = len(offsets)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        data = self.data
        if n <= _CHUNK:
            return self._score_rows(query, data[offsets])
        out = np.empty(n, dtype=np.float32)
        # A contiguous run of offsets (the unfiltered case) is scored on views: no gather copy.
        first = int(offsets[0])
        if int(offsets[-1]) - first + 1 == n:
            if n >= _SPLIT_ROWS:
                # The scan is bound by memory bandwidth, which one core does not saturate: the
                # second half of the blocks goes to a helper thread (numpy releases the GIL).
                half = (n // 2) // _CHUNK * _CHUNK
                other = _scan_pool().submit(self._score_span, query, data, first, half, n, out)
                self._score_span(query, data, first, 0, half, out)
                other.result()
            else:
                self._score_span(query, data, first, 0, n, out)
            return out
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            out[start:stop] = self._score_rows(query, data[offsets[start:stop]])
        return out

    def _score_span(self, query: np.ndarray, data: np.ndarray, first: int, lo: int, hi: int, out: np.ndarray) -> None:
        """Scores of rows ``first + lo .. first + hi`` into ``out[lo:hi]``, a block at a time."""
        for start in range(lo, hi, _CHUNK):
            stop = min(hi, start + _CHUNK)
            out[start:stop] = self._score_rows(query, data[first + start : first + stop])

    def scores_of_rows(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Qdrant scores of ``query`` against ``rows`` (a matrix of stored-form vectors)."""
        n = rows.shape[0]
        if n <= _CHUNK:
            return self._score_rows(query, rows)
        out = np.empty(n, dtype=np.float32)
        for start in range(0, n, _CHUNK):
            out[start : start + _CHUNK] = self._score_rows(query, rows[start : start + _CHUNK])
        return out

    def _score_rows(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if rows.dtype != np.float32:
            rows = rows.astype(np.float32)
            if self.raw_cosine:
                norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
                dots = rows @ q
                return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        if self.distance in ("Cosine", "Dot"):
            return rows @ q
        block = rows - q
        if self.distance == "Euclid":
            return np.sqrt(np.einsum("ij,ij->i", block, block))
        return np.abs(block).sum(axis=1)


def passes_threshold(scores: np.ndarray, threshold: float | None, distance: str) -> np.ndarray | None:
    """Mask of scores strictly better than ``threshold`` (None when there is no threshold)."""
    if threshold is None:
        return None
    if higher_is_better(distance):
        return scores > threshold
    return scores < threshold


def top_k(scores: np.ndarray, k: int, distance: str) -> np.ndarray:
    """Indices of the ``k`` best scores, best first; ties keep the lower index first."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    keyed = -scores if higher_is_better(distance) else scores
    if n <= _SMALL_SORT:
        return np.argsort(keyed, kind="stable")[:k]
    if k < n:
        part = np.argpartition(keyed, k - 1)[:k]
        # argpartition may cut a tie group anywhere; include every tie of the k-th value so the
        # stable sort below decides ties by position.
        kth = keyed[part].max()
        part = np.flatnonzero(keyed <= kth)
        order = part[np.argsort(keyed[part], kind="stable")]
        return order[:k]
    return np.argsort(keyed, kind="stable")[:k]
