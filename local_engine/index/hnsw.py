"""``HnswIndex``: the HNSW graph (hnswlib) of one dense vector name.

The rules this module keeps (the collection relies on them):

* **Labels are point offsets.** The graph never stores ids; a returned label is an offset
  into the collection's arrays.
* **``state[o]`` says what the graph holds for offset ``o``**: ``ABSENT`` (never added),
  ``LIVE`` (its current vector is in the graph and searchable) or ``DELETED`` (added once,
  now marked deleted in hnswlib, never returned), plus the ``OUTLIER`` flag (Dot only:
  searchable, but kept outside the graph, see below). Every change goes through
  ``_set_state``, which keeps the counters exact.
* **The graph is a cache of the dense matrix.** Scores are never taken from hnswlib: the
  caller rescores the returned labels exactly from ``DenseVectors``. So the graph only decides
  *which* candidates are looked at, and a graph that is lost or damaged is rebuilt from the
  matrix.
* **A label re-added with ``add``** is the same point rewritten, or a new point that took a
  deleted point's offset (the collection reuses them): either way hnswlib updates the element
  in place (and un-deletes it), so the element count does not grow.

hnswlib spaces: ``ip`` (distance ``1 - a·b``) for Cosine (vectors are normalised when
stored); ``l2`` (squared distance) for Euclid and Manhattan. Manhattan has no hnswlib space:
the L2 graph proposes candidates (oversampled by the planner) and the exact Manhattan
rescoring orders them. Dot is maximum inner product search, which a graph built on ``ip``
distances answers badly beyond the first few neighbours (measured: 0.63 recall of the top 210
on clustered data), so Dot vectors get the classic MIPS-to-L2 reduction: each vector gains one
coordinate ``sqrt(phi² - |x|²)`` and the query a ``0``, which makes L2 order equal inner-product
order. ``phi`` is 1.2x the 99.9th-percentile norm at build time. A vector longer than ``phi``
cannot be reduced: it becomes an *outlier*, kept out of the graph and returned as a candidate
by every search (the exact rescoring ranks it); past ``OUTLIER_MIN`` (or 1 %) outliers the graph
is rebuilt with a new ``phi``. One huge vector would otherwise stretch ``phi`` until the
reduction means nothing (measured: recall 1.0 -> 0.97 after one vector 20x longer).

Not thread-safe by itself: the collection calls every method under its lock.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
import hnswlib
import numpy as np

from .. import blob_format

log = logging.getLogger("local_engine.index")

# ``state`` per offset: the low two bits say what hnswlib holds for it, bit 2 marks an outlier.
ABSENT, LIVE, DELETED = 0, 1, 2
OUTLIER = 4         # searchable outside the graph (a Dot vector longer than the norm bound)
OUTLIER_MIN = 64    # outliers allowed before a rebuild, or 1 % of the live vectors if more

_MAGIC = b"QSDKHNSW"
_FORMAT = 1
_ALIGN = 64
# hnswlib's pickle state: these entries are numpy arrays, every other entry is a scalar.
_ARRAY_KEYS = ("label_lookup_external", "label_lookup_internal", "element_levels", "data_level0", "link_lists")


@dataclass(frozen=True)
class HnswParams:
    """What the graph is built with; a change of any field means a rebuild."""

    dim: int
    distance: str
    m: int
    ef_construct: int

    @property
    def space(self) -> str:
        # "CosineRaw": uint8 Cosine vectors are stored unnormalised; hnswlib's cosine space
        # normalises what it is given (local_engine/vectors.py).
        return "ip" if self.distance == "Cosine" else "cosine" if self.distance == "CosineRaw" else "l2"

    @property
    def graph_dim(self) -> int:
        return self.dim + 1 if self.distance == "Dot" else self.dim


class HnswIndex:
    """One hnswlib graph over the vectors of one dense vector name, labels = offsets."""

    def __init__(self, params: HnswParams, threads: int | None = None) -> None:
        self.params = params
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._graph: hnswlib.Index | None = None
        self._ef = -1                   # last ef set on the graph (set_ef is skipped when unchanged)
        self.state = np.zeros(0, dtype=np.uint8)
        self.live = 0                   # searchable offsets: LIVE graph elements plus outliers
        self.deleted = 0                # graph elements marked deleted (never returned)
        self.elements = 0               # graph elements, deleted ones included (hnswlib's element count)
        self.builds = 0                 # full builds since this object was created (tests watch it)
        self.phi = 0.0                  # Dot only: the norm bound of the MIPS reduction
        self.changes = 0                # offsets added or removed since the graph was last saved
        self._outliers: np.ndarray | None = np.zeros(0, dtype=np.int64)   # cache of OUTLIER offsets

    # -- sizes ------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.live == 0

    @property
    def has_graph(self) -> bool:
        """False while every searchable offset is an outlier (nothing for hnswlib to hold)."""
        return self._graph is not None

    @property
    def outliers(self) -> np.ndarray:
        """Offsets searched outside the graph (Dot vectors longer than ``phi``), sorted."""
        if self._outliers is None:
            self._outliers = np.flatnonzero(self.state & OUTLIER)
        return self._outliers

    def _grow_state(self, size: int) -> None:
        if size > len(self.state):
            grown = np.zeros(max(size, 2 * len(self.state), 1024), dtype=np.uint8)
            grown[: len(self.state)] = self.state
            self.state = grown

    def _set_state(self, offsets: np.ndarray, new: np.ndarray | int) -> None:
        """Change the state of ``offsets``, keeping the counters exact."""
        before = self.state[offsets]
        self.state[offsets] = new
        after = self.state[offsets]
        self.live += _count_live(after) - _count_live(before)
        self.deleted += int(np.count_nonzero((after & 3) == DELETED)) - int(np.count_nonzero((before & 3) == DELETED))
        self.elements += int(np.count_nonzero(after & 3)) - int(np.count_nonzero(before & 3))
        if ((before | after) & OUTLIER).any():
            self._outliers = None

    def _ensure_capacity(self, extra: int) -> None:
        """Room for ``extra`` more hnswlib elements; grows geometrically (x1.5)."""
        graph = self._graph
        need = self.elements + extra
        if graph is None:
            self._graph = graph = hnswlib.Index(space=self.params.space, dim=self.params.graph_dim)
            graph.init_index(max_elements=max(need, 1024), M=self.params.m,
                             ef_construction=self.params.ef_construct, random_seed=100)
            graph.set_num_threads(self.threads)
            self._ef = -1
            return
        cap = graph.get_max_elements()
        if need > cap:
            graph.resize_index(max(need, cap + cap // 2))

    # -- writes -----------------------------------------------------------------------------
    def build(self, data: np.ndarray, offsets: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Replace the graph with one over ``data[offsets]`` (bulk insert, all threads);
        ``rows``, when given, is that gather already made (a private copy)."""
        self._graph = None
        self.state = np.zeros(0, dtype=np.uint8)
        self.live = self.deleted = self.elements = 0
        self._outliers = np.zeros(0, dtype=np.int64)
        self.builds += 1
        self.phi = 0.0
        if self.params.distance == "Dot" and len(offsets):
            # 1.2x the 99.9th percentile norm: the rare longer vectors become outliers rather than
            # stretching the bound for everyone (a huge phi makes the reduction meaningless).
            norms = np.sqrt(_sq_norms(_gather(data, offsets) if rows is None else rows))
            self.phi = 1.2 * float(np.quantile(norms, 0.999)) or 1.0
        self.add(data, offsets, rows)

    def add(self, data: np.ndarray, offsets: np.ndarray, rows: np.ndarray | None = None,
            threads: int | None = None) -> None:
        """Insert or rewrite the vectors ``data[offsets]`` (``offsets`` sorted, unique);
        ``rows``, when given, is that gather already made (a private copy); ``threads``
        overrides the graph's insertion threads for this call."""
        if len(offsets) == 0:
            return
        self._grow_state(int(offsets[-1]) + 1)
        if rows is None:
            rows = _gather(data, offsets)
        if self.params.distance == "Dot":
            sq = _sq_norms(rows)
            long = sq > self.phi * self.phi
            if long.any():
                current = self.outliers
                total = len(np.union1d(current, offsets[long]))
                if total > max(OUTLIER_MIN, self.live // 100):
                    log.info("%d Dot vectors are longer than the graph's norm bound %.4g: rebuilding it", total, self.phi)
                    self.build(data, np.union1d(_live_offsets(self.state), offsets))
                    return
                self._make_outliers(offsets[long])
                offsets, rows, sq = offsets[~long], rows[~long], sq[~long]
                if len(offsets) == 0:
                    return
            rows = np.hstack([rows, np.sqrt(np.maximum(self.phi * self.phi - sq, 0.0))[:, None]]).astype(np.float32)
        before = self.state[offsets]
        self._ensure_capacity(int(np.count_nonzero((before & 3) == ABSENT)))
        self._graph.add_items(rows, offsets, num_threads=threads or self.threads)
        self.changes += len(offsets)
        self._set_state(offsets, LIVE)          # also clears OUTLIER for vectors that got shorter

    def _make_outliers(self, offsets: np.ndarray) -> None:
        graph_live = offsets[(self.state[offsets] & 3) == LIVE]
        self._mark_deleted(graph_live)
        self._set_state(offsets, (self.state[offsets] & 3) | OUTLIER)

    def _mark_deleted(self, offsets: np.ndarray) -> None:
        mark = self._graph.mark_deleted
        for label in offsets.tolist():
            mark(label)
        self._set_state(offsets, (self.state[offsets] & OUTLIER) | DELETED)

    def remove(self, offsets: np.ndarray) -> None:
        """Stop returning ``offsets`` (deleted points, or points that lost this vector)."""
        if len(offsets) == 0:
            return
        offsets = offsets[offsets < len(self.state)]
        st = self.state[offsets]
        self.changes += len(offsets)
        self._mark_deleted(offsets[(st & 3) == LIVE])
        out = offsets[(st & OUTLIER) != 0]
        if len(out):
            self._set_state(out, self.state[out] & 3)

    # -- reads ------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, ef: int) -> np.ndarray | None:
        """Labels of (about) the ``k`` nearest searchable offsets (graph results nearest first,
        then any outliers, which the caller's exact rescoring puts in place).

        ``None`` when the graph cannot answer (hnswlib found fewer than ``k``, which happens when
        deletions cut a region off); the caller then scores exactly.
        """
        graph = self._graph
        outliers = self.outliers
        k = min(k, self.live - len(outliers))
        if k <= 0:
            return outliers if len(outliers) else None
        ef = max(ef, k)
        if ef != self._ef:
            graph.set_ef(ef)
            self._ef = ef
        if self.params.distance == "Dot":
            query = np.append(query, np.float32(0.0))
        try:
            labels, _ = graph.knn_query(query, k=k, num_threads=1)
        except RuntimeError:
            return None
        labels = labels[0].astype(np.int64, copy=False)
        return np.concatenate([labels, outliers]) if len(outliers) else labels

    # -- persistence ------------------------------------------------------------------------
    def serialize(self, size: int) -> list:
        """The graph as a list of buffers (header first), for ``CollectionStore.save_blob``.

        Uses hnswlib's pickle state (plain arrays) rather than ``save_index``: loading it back
        is a read plus memcpy, with no per-element parsing.
        """
        assert self._graph is not None
        state = self._graph.__getstate__()[0]
        scalars = {k: v for k, v in state.items() if k not in _ARRAY_KEYS}
        arrays = [(k, np.ascontiguousarray(state[k])) for k in _ARRAY_KEYS]
        arrays.append(("offset_state", np.ascontiguousarray(self.state[:size])))
        specs = []
        pos = 0
        for name, arr in arrays:
            specs.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": pos})
            pos += _aligned(arr.nbytes)
        head = blob_format.head(_MAGIC, _FORMAT, {
            "format": _FORMAT,
            "params": [self.params.dim, self.params.distance, self.params.m, self.params.ef_construct],
            "hnswlib": scalars,
            "counts": [self.live, self.deleted, self.elements],
            "phi": self.phi,
            "arrays": specs,
        })
        head += b"\0" * (_aligned(len(head)) - len(head))
        parts: list = [head]
        for _, arr in arrays:
            parts.append(arr.reshape(-1).view(np.uint8) if arr.nbytes else b"")
            pad = _aligned(arr.nbytes) - arr.nbytes
            if pad:
                parts.append(b"\0" * pad)
        return parts

    @classmethod
    def deserialize(cls, buf: bytes | bytearray | memoryview, params: HnswParams,
                    threads: int | None = None) -> "HnswIndex":
        """Rebuild an index from ``serialize``'s bytes. Raises ``ValueError`` when the bytes
        are not such a file or were built with other ``params``."""
        meta, end, view = blob_format.read_head(buf, _MAGIC, _FORMAT, "an HNSW index file")
        saved = HnswParams(int(meta["params"][0]), str(meta["params"][1]), int(meta["params"][2]), int(meta["params"][3]))
        if saved != params:
            raise ValueError(f"HNSW index file was built with {saved}, the collection wants {params}")
        base = _aligned(end)
        arrays = {}
        for spec in meta["arrays"]:
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            start = base + int(spec["offset"])
            if start + count * dtype.itemsize > len(view):
                raise ValueError("HNSW index file is truncated")
            arrays[spec["name"]] = np.frombuffer(view, dtype=dtype, count=count, offset=start).reshape(spec["shape"])
        state = dict(meta["hnswlib"])
        for key in _ARRAY_KEYS:
            state[key] = arrays[key]
        # hnswlib seeds the generator of new elements' levels with ``seed`` when an index is
        # rebuilt from its state, so every reopened graph would draw the *same* levels again (with
        # seed 100 the first 11 are all 0): graphs grown over many sessions got upper layers
        # built from the same few draws, and queries that a one-session graph answers got lost in
        # them (recall@10 0.96 vs 0.99, 29 of 800 queries below 0.5 vs 5). A seed that depends on
        # the element count continues with fresh draws instead.
        count = int(state.get("cur_element_count", 0))
        state["seed"] = (int(state.get("seed", 100)) + count * 0x9E3779B1) % 2147483647
        index = cls(params, threads)
        try:
            graph = hnswlib.Index(state)
        except (RuntimeError, TypeError, KeyError) as e:
            raise ValueError(f"hnswlib rejected the index file: {e}") from None
        graph.set_num_threads(index.threads)
        index._graph = graph
        index.state = np.array(arrays["offset_state"], dtype=np.uint8)   # owned copy
        index.live, index.deleted, index.elements = (int(c) for c in meta["counts"])
        index._outliers = None
        index.phi = float(meta.get("phi", 0.0))
        if graph.element_count != index.elements:
            raise ValueError("HNSW index file: element count does not match its offset states")
        return index

    def reconcile(self, current: np.ndarray, stale: np.ndarray, data: np.ndarray,
                  lo: int = 0, hi: int | None = None) -> int:
        """Bring a loaded graph up to date with the collection, for the offsets in ``[lo, hi)``
        (the graph's segment; nothing outside it may stay searchable).

        ``current``: bool mask over offsets whose vector must be searchable now.
        ``stale``: bool mask over offsets written after the graph was saved (their graph
        element, if any, may hold an old vector). Returns the number of offsets changed.
        """
        size = len(current)
        hi = size if hi is None else min(hi, size)
        lo = min(lo, hi)
        self._grow_state(hi)
        want = np.zeros(len(self.state), dtype=bool)
        want[lo:hi] = current[lo:hi]
        gone = np.flatnonzero(_searchable(self.state) & ~want)
        self.remove(gone)
        todo = np.flatnonzero(current[lo:hi] & (~_searchable(self.state[lo:hi]) | stale[lo:hi])) + lo
        self.add(data, todo)
        return len(gone) + len(todo)


def _searchable(state: np.ndarray) -> np.ndarray:
    return ((state & 3) == LIVE) | ((state & OUTLIER) != 0)


def _count_live(state: np.ndarray | int) -> int:
    return int(np.count_nonzero(_searchable(np.asarray(state))))


def _live_offsets(state: np.ndarray) -> np.ndarray:
    return np.flatnonzero(_searchable(state))


def _gather(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``data[offsets]``; a view when the offsets are one contiguous run (no copy)."""
    if offsets[-1] - offsets[0] + 1 == len(offsets):
        return data[offsets[0] : offsets[-1] + 1]
    return data[offsets]


def _sq_norms(rows: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", rows, rows, dtype=np.float64)


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN
