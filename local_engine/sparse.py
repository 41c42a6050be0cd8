"""Sparse vectors: storage per point, an inverted index, and Qdrant's sparse scoring.

Rules kept here (QDRANT_REFERENCE.md §5.1, checked against qdrant-client's local mode):

* A stored sparse vector has sorted, unique ``uint32`` indices and ``float32`` values (float16
  with ``datatype: float16``). Input order does not matter: indices are sorted with their values.
  Duplicate indices, a length mismatch, negative / >u32 indices and NaN values are rejected.
* The score is the dot product over the indices both vectors hold; larger is better.
  A nearest search returns only points sharing at least one index with the query (a shared
  index whose product is 0 still counts); ``scores`` gives 0.0 to the others.
* ``modifier: idf`` multiplies each *query* weight by ``ln((N - df + 0.5) / (df + 0.5) + 1)``,
  N = live points holding this vector (optionally restricted to an ``idf`` corpus filter),
  df = those among them holding the index. Statistics are always current (no stale index).

The inverted index is two posting sets: a *main* one built over every vector at some point,
and a small *tail* one over the vectors written since. A point rewritten or removed after the
main build is masked out of it (``_in_main``) and, if it still has the vector, lives in the
tail. When the tail plus the masked entries grow past a fraction of the main set, everything
is rebuilt (one argsort over all entries). Queries gather the posting ranges of their indices
from both sets with numpy and accumulate with ``np.bincount``: no Python loop over points.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from sdk import models

from .errors import BadRequest

_REBUILD_MIN = 1024        # tail + stale entries (points) tolerated before a rebuild, at least...
_REBUILD_FRACTION = 8      # ... or 1/8 of the points of the main index
_U32 = 2**32


def parse_sparse(value: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted uint32 indices, float32 values) of a sparse vector input, validated as Qdrant does."""
    if isinstance(value, dict):
        indices, values = value.get("indices"), value.get("values")
    else:
        indices, values = getattr(value, "indices", None), getattr(value, "values", None)
    if indices is None or values is None:
        raise BadRequest(f"Wrong input: {label}: a sparse vector needs `indices` and `values`")
    try:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        val = np.asarray(values, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"Wrong input: {label}: sparse indices must be integers and values numbers") from None
    if len(idx) != len(val):
        raise BadRequest(f"Wrong input: {label}: values must be the same length as indices "
                         f"({len(val)} values, {len(idx)} indices)")
    if len(idx) and (idx.min() < 0 or idx.max() >= _U32):
        raise BadRequest(f"Wrong input: {label}: sparse indices must be between 0 and 4294967295")
    if not np.isfinite(val).all():
        raise BadRequest(f"Wrong input: {label}: sparse values must be finite numbers")
    if len(idx) > 1:
        order = np.argsort(idx, kind="stable")
        idx, val = idx[order], val[order]
        if (idx[1:] == idx[:-1]).any():
            raise BadRequest(f"Wrong input: {label}: sparse indices must be unique")
    return idx.astype(np.uint32), val


def parse_sparse_many(values: list, label: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``parse_sparse`` of every item, validated and sorted in a few numpy passes over the whole
    batch (a per-item pass costs ~10 numpy calls per point); any problem falls back to the
    per-item parser, which names it."""
    if len(values) < 8:
        return [parse_sparse(v, label) for v in values]
    try:
        idx_lists, val_lists = [], []
        for v in values:
            if isinstance(v, dict):
                idx_lists.append(v["indices"])
                val_lists.append(v["values"])
            else:
                idx_lists.append(v.indices)
                val_lists.append(v.values)
        lengths = np.fromiter(map(len, idx_lists), dtype=np.int64, count=len(values))
        if not np.array_equal(lengths, np.fromiter(map(len, val_lists), dtype=np.int64, count=len(values))):
            raise ValueError
        total = int(lengths.sum())
        all_idx = np.fromiter(itertools.chain.from_iterable(idx_lists), dtype=np.int64, count=total)
        all_val = np.fromiter(itertools.chain.from_iterable(val_lists), dtype=np.float32, count=total)
    except (KeyError, AttributeError, TypeError, ValueError, OverflowError):
        return [parse_sparse(v, label) for v in values]
    if total and (all_idx.min() < 0 or all_idx.max() >= _U32 or not np.isfinite(all_val).all()):
        return [parse_sparse(v, label) for v in values]
    owner = np.repeat(np.arange(len(values)), lengths)
    order = np.lexsort((all_idx, owner))
    all_idx, all_val = all_idx[order], all_val[order]
    if total > 1 and bool(((all_idx[1:] == all_idx[:-1]) & (owner[1:] == owner[:-1])).any()):
        return [parse_sparse(v, label) for v in values]
    bounds = np.cumsum(lengths)[:-1]
    return list(zip(np.split(all_idx.astype(np.uint32), bounds), np.split(all_val, bounds)))


def idf(df: np.ndarray, n: int) -> np.ndarray:
    """Qdrant's IDF (``query_context.rs``): ln((N - df + 0.5) / (df + 0.5) + 1)."""
    df = df.astype(np.float64)
    return np.log((n - df + 0.5) / (df + 0.5) + 1.0)


class _Postings:
    """A static inverted index: for each index (``dims``, sorted), the offsets and values of
    the vectors holding it, in ``off[ptr[i]:ptr[i+1]]`` / ``val[...]``."""

    def __init__(self, offsets: list[int], idx: list[np.ndarray], val: list[np.ndarray]) -> None:
        if idx:
            lengths = np.fromiter((len(i) for i in idx), dtype=np.int64, count=len(idx))
            all_idx = np.concatenate(idx)
            all_val = np.concatenate(val).astype(np.float32, copy=False)
            all_off = np.repeat(np.asarray(offsets, dtype=np.int64), lengths)
        else:
            all_idx = np.zeros(0, np.uint32)
            all_val = np.zeros(0, np.float32)
            all_off = np.zeros(0, np.int64)
        order = np.argsort(all_idx, kind="stable")
        sorted_idx = all_idx[order]
        self.off = all_off[order]
        self.val = all_val[order]
        self.dims, starts = np.unique(sorted_idx, return_index=True)
        self.ptr = np.append(starts, len(sorted_idx)).astype(np.int64)
        self.points = len(offsets)

    def count(self, q_idx: np.ndarray) -> int:
        """How many postings the query's indices have (the cost of ``lookup``)."""
        if len(self.dims) == 0 or len(q_idx) == 0:
            return 0
        pos = np.minimum(np.searchsorted(self.dims, q_idx), len(self.dims) - 1)
        found = self.dims[pos] == q_idx
        return int((self.ptr[pos[found] + 1] - self.ptr[pos[found]]).sum())

    def lookup(self, q_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(offsets, values, query slot) of every posting of the query's indices."""
        dims = self.dims
        if len(dims) == 0 or len(q_idx) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
        pos = np.searchsorted(dims, q_idx)
        pos_c = np.minimum(pos, len(dims) - 1)
        found = (pos < len(dims)) & (dims[pos_c] == q_idx)
        slots = np.flatnonzero(found)
        starts = self.ptr[pos_c[found]]
        lengths = self.ptr[pos_c[found] + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
        # Concatenated ranges [start, start+length) without a Python loop.
        shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        take = np.arange(total, dtype=np.int64) + shift
        return self.off[take], self.val[take], np.repeat(slots, lengths)


class SparseVectors:
    """All sparse vectors of one name, addressed by point offset (the vector-store contract
    of ``local_engine/vectors.py``; ``higher_is_better`` is always True)."""

    kind = "sparse"
    distance = "Dot"
    higher_is_better = True

    def __init__(self, use_idf: bool = False, datatype: str = "float32", full_scan_threshold: int | None = None,
                 capacity: int = 1024) -> None:
        self.use_idf = use_idf
        self.value_dtype = np.float16 if datatype == "float16" else np.float32
        self.full_scan_threshold = 5000 if full_scan_threshold is None else int(full_scan_threshold)
        self.present = np.zeros(capacity, dtype=bool)
        self._idx: list = [None] * capacity
        self._val: list = [None] * capacity
        self._in_main = np.zeros(capacity, dtype=bool)   # the main postings hold this offset's current vector
        self._main: _Postings | None = None
        self._main_stale = 0                              # main points masked out since its build
        self._tail: set[int] = set()                      # present offsets not (currently) in main
        self._tail_postings: _Postings | None = None

    # -- writes ---------------------------------------------------------------------------
    def reserve(self, size: int) -> None:
        cap = len(self.present)
        if size <= cap:
            return
        new_cap = max(size, cap * 2)
        for attr in ("present", "_in_main"):
            old = getattr(self, attr)
            grown = np.zeros(new_cap, dtype=bool)
            grown[:cap] = old
            setattr(self, attr, grown)
        self._idx.extend([None] * (new_cap - cap))
        self._val.extend([None] * (new_cap - cap))

    def set_rows(self, offsets: np.ndarray, vectors: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Store validated ``(indices, values)`` pairs (see ``parse_sparse``) at ``offsets``."""
        if len(offsets) == 0:
            return
        self.reserve(int(offsets.max()) + 1)
        self._forget(offsets)
        for off, (idx, val) in zip(offsets.tolist(), vectors):
            self._idx[off] = np.asarray(idx, dtype=np.uint32)
            self._val[off] = np.asarray(val, dtype=self.value_dtype)
            self._tail.add(off)
        self.present[offsets] = True
        self._tail_postings = None

    def clear(self, offsets: np.ndarray) -> None:
        offsets = offsets[offsets < len(self.present)]
        if len(offsets) == 0:
            return
        self._forget(offsets)
        for off in offsets[self.present[offsets]].tolist():
            self._idx[off] = self._val[off] = None
        self.present[offsets] = False

    def _forget(self, offsets: np.ndarray) -> None:
        """Take ``offsets`` out of both posting sets (their vectors are about to change)."""
        in_main = offsets[self._in_main[offsets]]
        self._main_stale += len(in_main)
        self._in_main[in_main] = False
        if self._tail:
            for off in offsets.tolist():
                self._tail.discard(off)
        self._tail_postings = None

    def get(self, offset: int) -> models.SparseVector | None:
        if offset < len(self.present) and self.present[offset]:
            return models.SparseVector(indices=self._idx[offset].tolist(),
                                       values=self._val[offset].astype(np.float32).tolist())
        return None

    def raw(self, offset: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The stored (indices, values) arrays of ``offset`` (storage, snapshots)."""
        if offset < len(self.present) and self.present[offset]:
            return self._idx[offset], self._val[offset]
        return None

    def present_mask(self, size: int) -> np.ndarray:
        self.reserve(size)
        return self.present[:size]

    # -- the inverted index -----------------------------------------------------------------
    def _ensure_index(self) -> None:
        main_points = self._main.points if self._main is not None else 0
        if self._main is None or len(self._tail) + self._main_stale > max(_REBUILD_MIN, main_points // _REBUILD_FRACTION):
            offs = np.flatnonzero(self.present).tolist()
            self._main = _Postings(offs, [self._idx[o] for o in offs], [self._val[o] for o in offs])
            self._in_main[:] = False
            self._in_main[offs] = True
            self._main_stale = 0
            self._tail.clear()
            self._tail_postings = None
        if self._tail_postings is None:
            offs = sorted(self._tail)
            self._tail_postings = _Postings(offs, [self._idx[o] for o in offs], [self._val[o] for o in offs])

    def _postings(self, q_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every current (offset, value, query slot) for the query's indices."""
        self._ensure_index()
        off, val, slot = self._main.lookup(q_idx)
        if self._main_stale:
            keep = self._in_main[off]
            off, val, slot = off[keep], val[keep], slot[keep]
        if self._tail_postings.points:
            t_off, t_val, t_slot = self._tail_postings.lookup(q_idx)
            off = np.concatenate([off, t_off])
            val = np.concatenate([val, t_val])
            slot = np.concatenate([slot, t_slot])
        return off, val, slot

    # -- reads ----------------------------------------------------------------------------
    def prepare_query(self, query: Any, corpus: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(sorted indices, float64 weights) of a query; with ``modifier: idf`` the weights are
        multiplied by the IDF over the points holding this vector (``corpus``: a bool mask
        restricting them further, ``SearchParams.idf = {"corpus": filter}``)."""
        if isinstance(query, tuple) and len(query) == 2 and isinstance(query[0], np.ndarray):
            idx, val = query
        else:
            idx, val = parse_sparse(query, "sparse query")
        weights = np.asarray(val, dtype=np.float64)
        if self.use_idf and len(idx):
            holders = self.present if corpus is None else self.present_mask(len(corpus)) & corpus
            n = int(np.count_nonzero(holders))
            off, _, slot = self._postings(idx)
            if corpus is not None:
                keep = off < len(holders)
                keep[keep] = holders[off[keep]]
                slot = slot[keep]
            df = np.bincount(slot, minlength=len(idx))
            weights = weights * idf(df, n)
        return np.asarray(idx, dtype=np.uint32), weights

    def scores(self, prepared: tuple[np.ndarray, np.ndarray], offsets: np.ndarray) -> np.ndarray:
        """Dot products of the prepared query with the vectors at ``offsets`` (0.0 without one)."""
        scores, _ = self._score_offsets(prepared, offsets)
        return scores

    def overlaps(self, prepared: tuple[np.ndarray, np.ndarray], offsets: np.ndarray) -> np.ndarray:
        """Which of ``offsets`` share at least one index with the query (a nearest search
        returns only those)."""
        _, hit = self._score_offsets(prepared, offsets)
        return hit

    def _score_offsets(self, prepared, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q_idx, q_w = prepared
        offsets = np.asarray(offsets, dtype=np.int64)
        n = len(offsets)
        if n == 0 or len(q_idx) == 0:
            return np.zeros(n, np.float32), np.zeros(n, bool)
        present = np.zeros(n, dtype=bool)
        inside = offsets < len(self.present)
        present[inside] = self.present[offsets[inside]]
        rows = np.flatnonzero(present)
        if len(rows) == 0:
            return np.zeros(n, np.float32), np.zeros(n, bool)
        offs = offsets[rows].tolist()
        lengths = np.fromiter((len(self._idx[o]) for o in offs), dtype=np.int64, count=len(offs))
        if lengths.sum() == 0:
            return np.zeros(n, np.float32), np.zeros(n, bool)
        idx = np.concatenate([self._idx[o] for o in offs])
        val = np.concatenate([self._val[o] for o in offs]).astype(np.float64)
        owner = np.repeat(rows, lengths)
        pos = np.minimum(np.searchsorted(q_idx, idx), len(q_idx) - 1)
        match = q_idx[pos] == idx
        scores = np.bincount(owner[match], weights=val[match] * q_w[pos[match]], minlength=n)
        hit = np.bincount(owner[match], minlength=n) > 0
        return scores.astype(np.float32), hit

    def search(self, prepared: tuple[np.ndarray, np.ndarray], candidates: np.ndarray | None, size: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, scores) of every point sharing an index with the query, among
        ``candidates`` (a bool mask over ``[0, size)``; None = all points holding the vector),
        in offset order."""
        q_idx, q_w = prepared
        if len(q_idx) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if candidates is not None:
            count = int(np.count_nonzero(candidates))
            self._ensure_index()
            main = self._main
            per_point = len(main.off) / max(1, main.points)
            # Few candidates (a selective filter) holding fewer entries than the query's posting
            # lists: score them directly.
            if count <= self.full_scan_threshold and count * per_point < main.count(q_idx):
                cand = np.flatnonzero(candidates)
                scores, hit = self._score_offsets(prepared, cand)
                return cand[hit], scores[hit]
        off, val, slot = self._postings(q_idx)
        if len(off) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if candidates is not None:
            inside = off < size
            inside[inside] = candidates[off[inside]]
            off, val, slot = off[inside], val[inside], slot[inside]
        weights = val.astype(np.float64) * q_w[slot]
        if len(off) * 16 < size:
            # few postings for a large collection: accumulate over the touched offsets only
            found, inverse = np.unique(off, return_inverse=True)
            return found, np.bincount(inverse, weights=weights, minlength=len(found)).astype(np.float32)
        hits = np.bincount(off, minlength=size)
        sums = np.bincount(off, weights=weights, minlength=size)
        found = np.flatnonzero(hits)
        return found, sums[found].astype(np.float32)

    def nbytes(self) -> int:
        """Bytes held by the stored vectors (not the index)."""
        return int(sum(i.nbytes + v.nbytes for i, v in zip(self._idx, self._val) if i is not None))
