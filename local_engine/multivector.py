"""Multivectors (``VectorParams.multivector_config``, comparator ``max_sim``): storage and scoring.

Rules kept here (QDRANT_REFERENCE.md §5.1, checked against qdrant-client's local mode):

* A point holds a matrix of rows (at least one), each of the name's dimension; rows are stored
  the way a dense vector of the same params is (Cosine rows normalised, datatype applied, see
  ``local_engine/vectors.py``).
* ``max_sim`` score = Σ over query rows of max over the point's rows of the row *similarity*:
  Cosine/Dot the dot product (uint8 Cosine: a·b/(|a||b|) from the bytes), Euclid
  ``-|a-b|²``, Manhattan ``-Σ|a-b|``. The returned score is that sum for Cosine/Dot
  (larger is better), ``sqrt(|sum|)`` for Euclid and ``|sum|`` for Manhattan (smaller is better).
* Search is an exact scan: hnswlib cannot index max_sim, so there is no graph. The scan is
  vectorised: the candidates' rows are gathered in blocks, one matrix product (or one
  broadcast for Manhattan) scores every row against every query row, and
  ``np.maximum.reduceat`` takes the per-point maxima.

Storage: one growing row matrix; ``start[o]``/``count[o]`` locate point ``o``'s rows. A
rewritten point appends new rows and leaves garbage; the matrix is compacted when garbage
outgrows the live rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BadRequest
from .vectors import DTYPES, higher_is_better, normalize_rows, to_uint8

_BLOCK_ROWS = 32_768        # candidate rows scored per block
_MANHATTAN_CELLS = 1 << 22  # rows x query rows x dim per Manhattan broadcast block


class MultiVectors:
    """All multivectors of one name, addressed by point offset (the vector-store contract of
    ``local_engine/vectors.py``; ``higher_is_better`` is a bool attribute)."""

    kind = "multi"

    def __init__(self, dim: int, distance: str, datatype: str = "float32", capacity: int = 1024) -> None:
        self.dim = dim
        self.distance = distance
        self.higher_is_better = higher_is_better(distance)
        self.datatype = datatype
        self.dtype = np.dtype(DTYPES[datatype])
        self.raw_cosine = distance == "Cosine" and datatype == "uint8"
        self.present = np.zeros(capacity, dtype=bool)
        self.start = np.zeros(capacity, dtype=np.int64)
        self.count = np.zeros(capacity, dtype=np.int64)
        self.rows = np.zeros((max(capacity, 16), dim), dtype=self.dtype)
        self._used = 0        # rows [0, _used) have been written
        self._live = 0        # rows belonging to present points

    # -- writes ---------------------------------------------------------------------------
    def reserve(self, size: int) -> None:
        cap = len(self.present)
        if size <= cap:
            return
        new_cap = max(size, cap * 2)
        for attr in ("present", "start", "count"):
            old = getattr(self, attr)
            grown = np.zeros(new_cap, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, attr, grown)

    def prepare(self, matrix: np.ndarray) -> np.ndarray:
        """The stored form of one validated multivector (float32 rows of this name's dim)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        if self.datatype == "uint8":
            return to_uint8(matrix)
        if self.distance == "Cosine":
            matrix = normalize_rows(matrix)
        return matrix.astype(self.dtype, copy=False)

    def set_rows(self, offsets: np.ndarray, matrices: list[np.ndarray]) -> None:
        """Store multivectors already in stored form (``prepare``) at ``offsets``."""
        if len(offsets) == 0:
            return
        self.reserve(int(offsets.max()) + 1)
        self.clear(offsets)
        total = sum(len(m) for m in matrices)
        self._grow_rows(self._used + total)
        pos = self._used
        for off, m in zip(offsets.tolist(), matrices):
            n = len(m)
            self.rows[pos : pos + n] = m
            self.start[off], self.count[off] = pos, n
            pos += n
        self._used = pos
        self._live += total
        self.present[offsets] = True

    def _grow_rows(self, needed: int) -> None:
        cap = self.rows.shape[0]
        if needed <= cap:
            return
        extra = needed - self._used
        if self._used - self._live > self._live:      # mostly garbage: compact before growing
            self._compact()
            if self._used + extra <= cap:
                return
        grown = np.zeros((max(self._used + extra, cap * 2), self.dim), dtype=self.dtype)
        grown[: self._used] = self.rows[: self._used]
        self.rows = grown

    def _compact(self) -> None:
        offs = np.flatnonzero(self.present)
        take = _ranges(self.start[offs], self.count[offs])
        kept = self.rows[take]
        self.rows[: len(kept)] = kept
        self.start[offs] = np.cumsum(self.count[offs]) - self.count[offs]
        self._used = self._live = len(kept)

    def clear(self, offsets: np.ndarray) -> None:
        offsets = offsets[offsets < len(self.present)]
        gone = offsets[self.present[offsets]]
        self._live -= int(self.count[gone].sum())
        self.present[offsets] = False
        self.count[offsets] = 0

    def get(self, offset: int) -> np.ndarray | None:
        if offset < len(self.present) and self.present[offset]:
            s, n = int(self.start[offset]), int(self.count[offset])
            return self.rows[s : s + n].astype(np.float32)
        return None

    def raw(self, offset: int) -> np.ndarray | None:
        """The stored rows of ``offset`` in the stored dtype (storage, snapshots)."""
        if offset < len(self.present) and self.present[offset]:
            s, n = int(self.start[offset]), int(self.count[offset])
            return self.rows[s : s + n].copy()
        return None

    def present_mask(self, size: int) -> np.ndarray:
        self.reserve(size)
        return self.present[:size]

    def nbytes(self) -> int:
        return int(self.rows.nbytes)

    # -- reads ----------------------------------------------------------------------------
    def prepare_query(self, query: Any) -> np.ndarray:
        """A query multivector (a list of rows or a 2-D array; one dense row is one-row
        multivector) in the form scoring uses."""
        try:
            q = np.asarray(query, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadRequest("Wrong input: a multivector query must be a list of vectors") from None
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[0] == 0:
            raise BadRequest("Wrong input: a multivector query must hold at least one vector")
        if q.shape[1] != self.dim:
            raise BadRequest(f"Wrong input: Vector dimension error: expected dim: {self.dim}, got {q.shape[1]}")
        if not np.isfinite(q).all():
            raise BadRequest("Wrong input: the query contains NaN or infinite values")
        if self.datatype == "uint8":
            q = to_uint8(q).astype(np.float32)
            if self.raw_cosine:
                q = normalize_rows(q)
            return q
        if self.distance == "Cosine":
            q = normalize_rows(q)
        if self.datatype == "float16":
            q = q.astype(np.float16).astype(np.float32)
        return q

    def scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Qdrant scores of a prepared query against the multivectors at ``offsets`` (0.0 for
        offsets without one)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        out = np.zeros(len(offsets), dtype=np.float32)
        inside = offsets < len(self.present)
        has = np.zeros(len(offsets), dtype=bool)
        has[inside] = self.present[offsets[inside]]
        if has.any():
            out[has] = self._scores(query, offsets[has])
        return out

    def search(self, query: np.ndarray, candidates: np.ndarray | None, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, scores) of every point holding a multivector among ``candidates`` (a bool
        mask over ``[0, size)``; None = all), in offset order."""
        mask = self.present_mask(size)
        if candidates is not None:
            mask = mask & candidates[:size]
        offs = np.flatnonzero(mask)
        return offs, self._scores(query, offs)

    def _scores(self, q: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        n = len(offsets)
        out = np.empty(n, dtype=np.float32)
        if n == 0:
            return out
        counts = self.count[offsets]
        ends = np.cumsum(counts)
        i = 0
        while i < n:
            # a block of whole points holding about _BLOCK_ROWS rows
            base = ends[i - 1] if i else 0
            j = int(np.searchsorted(ends, base + _BLOCK_ROWS, side="right"))
            j = max(j, i + 1)
            block_offs = offsets[i:j]
            rows = self.rows[_ranges(self.start[block_offs], counts[i:j])]
            sim = self._similarity(rows, q)                       # (rows, query rows)
            seg = np.cumsum(counts[i:j]) - counts[i:j]
            best = np.maximum.reduceat(sim, seg, axis=0)         # (points, query rows)
            out[i:j] = best.sum(axis=1)
            i = j
        if self.distance == "Euclid":
            return np.sqrt(np.abs(out))
        if self.distance == "Manhattan":
            return np.abs(out)
        return out

    def _similarity(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Row similarity as Qdrant's metrics define it (larger is better)."""
        r = rows.astype(np.float32, copy=False)
        if self.distance in ("Cosine", "Dot"):
            sim = r @ q.T
            if self.raw_cosine:
                norms = np.sqrt(np.einsum("ij,ij->i", r, r))[:, None]
                sim = np.divide(sim, norms, out=np.zeros_like(sim), where=norms > 0)
            return sim
        if self.distance == "Euclid":
            r64, q64 = r.astype(np.float64), q.astype(np.float64)
            sq = (r64 * r64).sum(1)[:, None] + (q64 * q64).sum(1)[None, :] - 2.0 * (r64 @ q64.T)
            return -np.maximum(sq, 0.0)
        # Manhattan: a broadcast per block of rows, bounded in memory
        out = np.empty((len(r), len(q)), dtype=np.float32)
        step = max(1, _MANHATTAN_CELLS // max(1, len(q) * self.dim))
        for s in range(0, len(r), step):
            out[s : s + step] = -np.abs(r[s : s + step, None, :] - q[None, :, :]).sum(axis=2)
        return out


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + count)`` for every pair, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift
