"""One collection: points addressed by offset, their vectors, payloads and versions.

Invariants (everything that changes them lives in this module):

* A point owns one *offset* (row number) for its whole life; ``_id_to_offset`` and
  ``_ext_ids`` are inverse maps over live points, ``_alive[o]`` is True exactly for them.
  The offsets of deleted points are reused by new ids (lowest first, ``_free_offsets``) before
  ``_size`` grows, so churn of new ids keeps the arrays, checkpoints and graphs bounded
  (docs/storage.md, "Offset reuse"); whatever is keyed by offset (graphs, codes, payload
  indexes, storage rows) treats a reused offset as a deleted point followed by a new one.
* Every write is validated completely, then persisted (``store.write``, atomic), then applied
  in memory. A rejected request changes nothing; a failed persist changes nothing in memory.
* All writes and reads hold ``_lock``: one writer at a time, readers see whole batches.
* Reads never loop over points in Python: candidate sets are numpy masks, scoring is numpy.
* Vector indexes (``self._indexes``, see local_engine/index) follow every applied write before
  the write returns, so a search never sees a stale graph; which path answers a query is the
  planner's choice (``index.planner``), and scores are always the exact ones.
* Search keeps the masks of recent filters (``self._filter_cache``). Anything that can change a
  filter's answer (point writes, deletes, payload writes, payload index changes) must call
  ``invalidate_search_caches``.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any, Iterable

import numpy as np

from sdk import models

from .errors import BadRequest, NotFound, Unsupported
from .ids import normalize_id
from .index import IndexSettings, plan_search, resolve
from .index.filter_cache import CachedFilter, FilterCache, filter_key
from .index.maintainer import VectorIndexes
from . import quantization
from .quantization import VectorQuantization
from .payload import PayloadStore
from .points_input import PointBatch, parse_points
from .storage.base import CollectionStore, LoadedPoints, PointRecord
from sdk.models._fast import fast_construct

from .sparse import SparseVectors
from .storage.base import SparseVec
from .vectors import DenseVectors, passes_threshold, top_k
from .points_input import VectorSpec

_SCORED_FIELDS = frozenset(("id", "version", "score", "payload", "vector", "shard_key", "order_value"))


class Collection:
    def __init__(self, name: str, config: models.CollectionConfig, store: CollectionStore) -> None:
        self.name = name
        self.config = config
        self.payload_schema: dict[str, Any] = {}   # field -> PayloadSchemaType | *IndexParams
        self._store = store
        self._lock = threading.RLock()
        self._id_to_offset: dict[int | str, int] = {}
        self._ext_ids: list = []
        self._size = 0                              # offsets [0, _size) have been used
        self._alive = np.zeros(1024, dtype=bool)
        self._versions = np.zeros(1024, dtype=np.int64)
        self._last_op = 0                           # the last operation id handed out (next_op_id)
        self._free: np.ndarray | None = None       # dead offsets below _size, ascending (None: recompute)
        # Id sort keys, so scroll order (numeric ids, then UUIDs) is a numpy lexsort.
        self._id_kind = np.zeros(1024, dtype=np.uint8)
        self._id_hi = np.zeros(1024, dtype=np.uint64)
        self._id_lo = np.zeros(1024, dtype=np.uint64)
        self._order_cache: np.ndarray | None = None
        self._payloads = PayloadStore()
        self._dense: dict[str, DenseVectors] = {
            name: DenseVectors(params.size, _enum_value(params.distance),
                               datatype=_enum_value(params.datatype) or "float32")
            for name, params in self.vector_params().items()
        }
        # Sparse vectors and multivectors: no HNSW graph, no quantization (docs/vectors.md).
        self._others: dict[str, Any] = {
            name: _sparse_store(params) for name, params in self.sparse_params().items()
        }
        self._others.update({name: _multi_store(p) for name, p in self.multivector_params().items()})
        self._indexes = VectorIndexes(self._dense, self._index_settings())
        self._quant = VectorQuantization(self._dense, *self._quant_settings())
        self._last_plan = None                      # the planner's last decision (tests, benchmarks)
        self._filter_cache = FilterCache()
        # Reopen: saved graphs are read, verified and deserialised on a thread while the storage
        # loads the points; load() collects them (nothing happens for a new collection).
        self._indexes.prefetch(store)

    # -- configuration ----------------------------------------------------------------------
    def _all_vector_params(self) -> dict[str, models.VectorParams]:
        vectors = self.config.params.vectors
        if vectors is None:
            return {}
        if isinstance(vectors, dict):
            return dict(vectors)
        return {"": vectors}

    def vector_params(self) -> dict[str, models.VectorParams]:
        """The dense single-vector names (the ones with HNSW graphs and quantization)."""
        return {n: p for n, p in self._all_vector_params().items() if p.multivector_config is None}

    def multivector_params(self) -> dict[str, models.VectorParams]:
        return {n: p for n, p in self._all_vector_params().items() if p.multivector_config is not None}

    def _index_settings(self) -> dict[str, IndexSettings]:
        return {
            name: resolve(self.config, params, _graph_distance(params), params.size)
            for name, params in self.vector_params().items()
        }

    def reconfigure_indexes(self) -> None:
        """The config changed (update_collection): graphs whose parameters changed are rebuilt."""
        with self._lock:
            self._reconfigure_sparse()
            self._indexes.reconfigure(self._index_settings(), self._size)
            self._quant.reconfigure(*self._quant_settings(), self._size)

    def _reconfigure_sparse(self) -> None:
        """Sparse params changed (update_collection): modifier, full_scan_threshold, datatype."""
        for name, params in self.sparse_params().items():
            store = self._others.get(name)
            if store is None:
                continue
            fresh = _sparse_store(params)
            store.use_idf, store.full_scan_threshold = fresh.use_idf, fresh.full_scan_threshold
            if fresh.value_dtype != store.value_dtype:
                store.value_dtype = fresh.value_dtype
                store._val = [None if v is None else v.astype(fresh.value_dtype) for v in store._val]
                store._main = None       # the postings hold values: rebuilt at the next search

    def _quant_settings(self) -> tuple[dict, dict]:
        """(spec per vector name, indexing threshold KB per name): codes come with indexing."""
        params = self.vector_params()
        specs = {name: quantization.resolve(self.config, p) for name, p in params.items()}
        kb = {name: s.indexing_kb for name, s in self._index_settings().items()}
        return specs, kb

    def invalidate_search_caches(self) -> None:
        """Forget cached filter answers (call after anything that can change them)."""
        self._filter_cache.clear()

    def index_status(self) -> tuple[int, bool]:
        """(indexed_vectors_count, green): vectors held by graphs; False while a build is pending."""
        with self._lock:
            return self._indexes.indexed_vectors_count, self._indexes.green

    def sparse_params(self) -> dict[str, models.SparseVectorParams]:
        return dict(self.config.params.sparse_vectors or {})

    def _all_stores(self) -> dict[str, Any]:
        """Every vector name's store: dense ones first, then sparse and multivector ones."""
        return {**self._dense, **self._others}

    def _dims(self) -> dict[str, VectorSpec]:
        specs = {name: VectorSpec("dense", vec.dim) for name, vec in self._dense.items()}
        for name, store in self._others.items():
            specs[name] = VectorSpec(store.kind, getattr(store, "dim", 0))
        return specs

    def _dense_for(self, name: str) -> DenseVectors:
        try:
            return self._dense[name]
        except KeyError:
            raise BadRequest(f"Wrong input: Not existing vector name error: {name}") from None

    def vector_store(self, using: str):
        """The store of vector name ``using`` (see the contract in ``local_engine/vectors.py``);
        BadRequest in Qdrant's words for an unknown name."""
        store = self._dense.get(using)
        if store is None:
            store = self._others.get(using)
        if store is None:
            raise BadRequest(f"Wrong input: Not existing vector name error: {using}")
        return store

    # -- growth -------------------------------------------------------------------------------
    def _reserve(self, size: int) -> None:
        cap = len(self._alive)
        if size <= cap:
            return
        new_cap = max(size, cap * 2)
        for attr in ("_alive", "_versions", "_id_kind", "_id_hi", "_id_lo"):
            old = getattr(self, attr)
            grown = np.zeros(new_cap, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, attr, grown)
        for vec in self._all_stores().values():
            vec.reserve(new_cap)

    def _set_id_keys(self, offset: int, ext_id: int | str) -> None:
        if isinstance(ext_id, int):
            self._id_kind[offset] = 0
            self._id_hi[offset] = ext_id >> 64
            self._id_lo[offset] = ext_id
        else:
            value = uuid.UUID(ext_id).int
            self._id_kind[offset] = 1
            self._id_hi[offset] = value >> 64
            self._id_lo[offset] = value & (2**64 - 1)

    def _set_id_keys_batch(self, offsets: np.ndarray, ids: list) -> None:
        if ids and type(ids[0]) is int:
            # One numpy conversion decides "all ints" (dtype int64/uint64; any UUID string makes
            # it a string or object array) faster than a Python loop over the ids.
            try:
                arr = np.array(ids)
            except (OverflowError, ValueError):  # pragma: no cover - defensive
                arr = None
            if arr is not None and arr.dtype.kind in "iu" and arr.ndim == 1:
                self._id_kind[offsets] = 0
                self._id_hi[offsets] = 0
                self._id_lo[offsets] = arr.astype(np.uint64)
                return
        for off, pid in zip(offsets.tolist(), ids):
            self._set_id_keys(off, pid)

    # -- loading --------------------------------------------------------------------------------
    def load(self, loaded: LoadedPoints) -> None:
        """Rebuild the in-memory state from storage (path mode reopen)."""
        size = max(loaded.next_offset, int(loaded.offsets.max()) + 1 if len(loaded.offsets) else 0)
        self._reserve(size)
        self._size = size
        self._free = None
        for name, (matrix, present) in loaded.dense.items():
            vec = self._dense.get(name)
            if vec is None or matrix.shape[1] != vec.dim:
                continue
            rows = min(matrix.shape[0], size)
            if (rows == size and matrix.dtype == vec.dtype and matrix.flags.c_contiguous
                    and matrix.flags.writeable and present.flags.writeable):
                # The loaded checkpoint arrays belong to nobody else: adopt them, no copy.
                vec.data, vec.present = matrix, present.astype(bool, copy=False)
                continue
            vec.reserve(size)
            vec.data[:rows] = matrix[:rows]
            vec.present[:rows] = present[:rows]
        for name, values in loaded.vectors.items():
            other = self._others.get(name)
            if other is not None and values:
                _load_other(other, values)
                continue
            vec = self._dense.get(name)
            if vec is None or not values:
                continue
            offs = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
            vec.data[offs] = np.stack([np.asarray(v, dtype=vec.dtype) for v in values.values()])
            vec.present[offs] = True
        offsets = loaded.offsets
        self._alive[offsets] = True
        if loaded.seqs is not None and len(loaded.seqs):   # a point's version: its last write's sequence number
            self._versions[offsets] = loaded.seqs
            self._last_op = max(self._last_op, int(loaded.seqs.max()))
        self._last_op = max(self._last_op, self._store.sequence)
        offs = offsets.tolist()
        if len(offs) == size:   # no holes: offsets are exactly 0..size-1, in order
            self._ext_ids = list(loaded.ext_ids)
        else:
            self._ext_ids = [None] * size
            for off, ext_id in zip(offs, loaded.ext_ids):
                self._ext_ids[off] = ext_id
        self._id_to_offset = dict(zip(loaded.ext_ids, offs))
        self._payloads.adopt(offs, loaded.payloads)
        self._set_id_keys_batch(offsets, loaded.ext_ids)
        # Offsets that are not live must not carry vectors (rows may remain in a checkpoint).
        dead = np.flatnonzero(~self._alive[:size])
        for vec in self._all_stores().values():
            vec.clear(dead)
        self._indexes.load(self._store, size, offsets, loaded.seqs)
        self._quant.load(self._store, size, offsets, loaded.seqs)
        for field, schema in self.payload_schema.items():
            self._payloads.create_index(field, schema)
        self.invalidate_search_caches()

    def abandon_open(self) -> None:
        """Reopening failed (``load`` raised): stop the helper threads the open started."""
        self._indexes.abandon_prefetch()

    def checkpoint_if_needed(self) -> None:
        if self._store.wants_checkpoint():
            self._store.checkpoint(
                {name: (vec.data[: self._size], vec.present[: self._size]) for name, vec in self._dense.items()}
            )
            self._indexes.save(self._store, self._size)
            self._quant.save(self._store, self._size)

    def close(self) -> None:
        with self._lock:
            self._store.checkpoint(
                {name: (vec.data[: self._size], vec.present[: self._size]) for name, vec in self._dense.items()}
            )
            self._indexes.save(self._store, self._size, final=True)   # path mode: waits for queued graph work
            self._indexes.cancel()                                      # memory mode: nothing will search it
            self._quant.save(self._store, self._size, final=True)
            self._store.close()

    def discard(self) -> None:
        """The collection was deleted: drop the graph work still queued for it."""
        self._indexes.cancel()

    # -- filter context (local_engine.payload.FilterContext) ------------------------------------
    @property
    def size(self) -> int:
        return self._size

    def offsets_of_ids(self, ids: list) -> np.ndarray:
        found = [self._id_to_offset[i] for i in ids if i in self._id_to_offset]
        return np.asarray(found, dtype=np.int64)

    def point_ids(self) -> list:
        """Id per offset (None for unused offsets), for conditions hashing ids (slice)."""
        return self._ext_ids

    def has_vector_mask(self, name: str) -> np.ndarray:
        return self.vector_store(name).present_mask(self._size).copy()

    # -- candidates -------------------------------------------------------------------------------
    def _matching_mask(self, flt: Any) -> np.ndarray:
        """Live offsets matching ``flt``, as a bool mask over [0, size)."""
        alive = self._alive[: self._size]
        if flt is None:
            return alive.copy()
        self._payloads.check_filter_schema(flt)
        return self._payloads.evaluate(flt, self) & alive

    def filter_mask(self, flt: Any) -> np.ndarray:
        """Live offsets matching ``flt`` as a fresh bool mask over [0, size) (the query engine's)."""
        with self._lock:
            return self._matching_mask(flt)

    def matching_offsets(self, flt: Any) -> np.ndarray:
        return np.flatnonzero(self._matching_mask(flt))

    def offsets_for_selector(self, selector: Any) -> np.ndarray:
        """Offsets of live points named by a PointsSelector (ids list or filter)."""
        points = getattr(selector, "points", None)
        if points is not None:
            ids = [normalize_id(i) for i in points]
            return self.offsets_of_ids(list(dict.fromkeys(ids)))
        flt = getattr(selector, "filter", None)
        if flt is not None or hasattr(selector, "filter"):
            return self.matching_offsets(flt)
        raise BadRequest("Wrong input: a points selector needs `points` or `filter`")

    # -- writes -------------------------------------------------------------------------------------
    def next_op_id(self) -> int:
        """The id of a new operation on this collection, which becomes the version of the points
        it writes. Per collection and monotonic across reopens: storage commits the write with
        this id as its sequence number (``store.write(..., seq=op_id)``), ``load`` restores every
        point's version from its row's sequence number and continues after the highest one.
        (An id whose operation wrote nothing, e.g. a payload index change, is not persisted.)"""
        with self._lock:
            self._last_op = max(self._last_op, self._store.sequence) + 1
            return self._last_op

    def _free_offsets(self) -> np.ndarray:
        """Offsets of deleted points below ``_size``, ascending: new ids take these first.
        Cached until the next delete; one scan of ``_alive`` when there are holes at all."""
        if self._free is None:
            if len(self._id_to_offset) < self._size:
                self._free = np.flatnonzero(~self._alive[: self._size])
            else:
                self._free = np.zeros(0, dtype=np.int64)
        return self._free

    def upsert(self, body: Any, op_id: int) -> None:
        batch = parse_points(body, self._dims())
        with self._lock:
            self._apply_batch(batch, op_id)

    def _apply_batch(self, batch: PointBatch, op_id: int) -> None:
        n = len(batch.ids)
        if n == 0:
            return
        offsets = np.empty(n, dtype=np.int64)
        next_off = self._size
        free = self._free_offsets()
        reused = 0
        for i, pid in enumerate(batch.ids):
            off = self._id_to_offset.get(pid)
            if off is None:
                if reused < len(free):   # a deleted point's offset first, then a new one
                    off = int(free[reused])
                    reused += 1
                else:
                    off = next_off
                    next_off += 1
            offsets[i] = off
        prepared = {name: (rows, self._dense[name].prepare(m)) for name, (rows, m) in batch.dense.items()}
        others = {**batch.sparse, **self._prepared_multi(batch.multi)}
        if self._store.persistent:
            per_point: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
            for name, (rows, matrix) in prepared.items():
                for r, row in zip(rows.tolist(), matrix):
                    per_point[r][name] = row
            for name, (rows, items) in others.items():
                for r, item in zip(rows.tolist(), items):
                    per_point[r][name] = SparseVec(*item) if isinstance(item, tuple) else item
            offs = offsets.tolist()
            records = [PointRecord(offs[i], batch.ids[i], batch.payloads[i], per_point[i]) for i in range(n)]
            self._store.write(records, [], seq=op_id)

        # Persisted: apply in memory. Upsert replaces the whole point (vectors not given are removed).
        if reused:
            self._free = free[reused:]
        self._reserve(next_off)
        if next_off > self._size:
            self._ext_ids.extend([None] * (next_off - self._size))
            self._size = next_off
        for name, vec in self._dense.items():
            vec.clear(offsets)
            if name in prepared:
                rows, matrix = prepared[name]
                vec.set_rows(offsets[rows], matrix)
        for name, store in self._others.items():
            store.clear(offsets)
            if name in others:
                rows, items = others[name]
                store.set_rows(offsets[rows], items)
        ext_ids = self._ext_ids
        for off, pid, payload in zip(offsets.tolist(), batch.ids, batch.payloads):
            self._id_to_offset[pid] = off
            ext_ids[off] = pid
            self._payloads.set(off, payload)
        self._set_id_keys_batch(offsets, batch.ids)
        self._alive[offsets] = True
        self._versions[offsets] = op_id
        self._order_cache = None
        self.invalidate_search_caches()
        self._indexes.after_upsert(offsets, self._size)
        self._quant.after_upsert(offsets, self._size)
        self.checkpoint_if_needed()

    def delete(self, selector: Any, op_id: int) -> None:
        with self._lock:
            offsets = self.offsets_for_selector(selector)
            if len(offsets) == 0:
                return
            self._store.write([], offsets.tolist(), seq=op_id)
            for off in offsets.tolist():
                del self._id_to_offset[self._ext_ids[off]]
                self._ext_ids[off] = None
                self._payloads.delete(off)
            self._alive[offsets] = False
            self._free = None
            for vec in self._all_stores().values():
                vec.clear(offsets)
            self._order_cache = None
            self.invalidate_search_caches()
            self._indexes.after_delete(offsets, self._size)

    def update_payloads(self, selector: Any, op_id: int, mutate) -> None:
        """Apply ``mutate(payload_store, offset)`` to every selected point, atomically.

        Named ids must all exist (Qdrant answers 404 otherwise); a filter may match nothing.
        """
        with self._lock:
            if getattr(selector, "points", None) is not None:
                for pid in (normalize_id(i) for i in selector.points):
                    if pid not in self._id_to_offset:
                        raise NotFound(f"Not found: No point with id {pid} found")
            offsets = self.offsets_for_selector(selector).tolist()
            if not offsets:
                return
            before = {off: copy.deepcopy(self._payloads.get(off)) for off in offsets}
            self.invalidate_search_caches()
            try:
                for off in offsets:
                    mutate(self._payloads, off)
                self._store.write([self._record(off) for off in offsets], [], seq=op_id)
            except BaseException:
                for off, payload in before.items():
                    self._payloads.set(off, payload)
                raise
            self._versions[offsets] = op_id

    def _record(self, off: int, drop: Iterable[str] = ()) -> PointRecord:
        """The whole point at ``off`` as storage writes it (without the vectors named in ``drop``)."""
        vectors = {name: vec.data[off].copy() for name, vec in self._dense.items() if vec.get(off) is not None}
        for name, store in self._others.items():
            value = store.raw(off)
            if value is not None:
                vectors[name] = SparseVec(*value) if isinstance(value, tuple) else value
        for name in drop:
            vectors.pop(name, None)
        return PointRecord(off, self._ext_ids[off], self._payloads.get(off), vectors)

    # -- vector writes: update_vectors, delete_vectors, vector names ----------------------------
    def _prepared_multi(self, multi: dict) -> dict:
        """Multivectors of a batch in their stored form (normalised rows, datatype applied)."""
        return {name: (rows, [self._others[name].prepare(m) for m in items]) for name, (rows, items) in multi.items()}

    def _check_ids_exist(self, ids: Iterable) -> None:
        for pid in ids:
            if pid not in self._id_to_offset:
                raise NotFound(f"Not found: No point with id {pid} found")

    def _after_vectors_changed(self, offsets: np.ndarray, op_id: int) -> None:
        self._versions[offsets] = op_id
        self.invalidate_search_caches()              # has_vector filters may answer differently
        self._indexes.after_upsert(offsets, self._size)   # graphs follow present/absent vectors
        quant = getattr(self, "_quant", None)
        if quant is not None:
            quant.after_upsert(offsets, self._size)
        self.checkpoint_if_needed()

    def update_vectors(self, points: list, update_filter: Any, op_id: int) -> None:
        """Replace the given vectors of existing points; their other vectors and payload stay.

        Every id must exist (404 otherwise, and nothing is written: the same deliberate
        difference as payload writes, docs/engine.md); with ``update_filter`` the points that
        do not match it are left alone.
        """
        if not points:
            raise BadRequest("Wrong input: must specify points to update")
        structs = [models.PointStruct.model_construct(id=p.id, vector=p.vector, payload=None) for p in points]
        batch = parse_points(models.PointsList.model_construct(points=structs), self._dims())
        with self._lock:
            self._check_ids_exist(batch.ids)
            offsets = np.fromiter((self._id_to_offset[pid] for pid in batch.ids), dtype=np.int64, count=len(batch.ids))
            keep = np.ones(len(offsets), dtype=bool)
            if update_filter is not None:
                keep = self._matching_mask(update_filter)[offsets]
            dense = {}
            for name, (rows, matrix) in batch.dense.items():
                sel = keep[rows]
                dense[name] = (offsets[rows[sel]], self._dense[name].prepare(matrix[sel]))
            others = {}
            for name, (rows, items) in {**batch.sparse, **self._prepared_multi(batch.multi)}.items():
                sel = np.flatnonzero(keep[rows])
                others[name] = (offsets[rows[sel]], [items[i] for i in sel.tolist()])
            touched = np.unique(np.concatenate([o for o, _ in (*dense.values(), *others.values())] or [np.zeros(0, np.int64)]))
            if len(touched) == 0:
                return
            if self._store.persistent:
                records = {off: self._record(off) for off in touched.tolist()}
                for name, (offs, matrix) in dense.items():
                    for off, row in zip(offs.tolist(), matrix):
                        records[off].vectors[name] = row
                for name, (offs, items) in others.items():
                    for off, item in zip(offs.tolist(), items):
                        records[off].vectors[name] = SparseVec(*item) if isinstance(item, tuple) else item
                self._store.write(list(records.values()), [], seq=op_id)
            for name, (offs, matrix) in dense.items():
                self._dense[name].set_rows(offs, matrix)
            for name, (offs, items) in others.items():
                self._others[name].set_rows(offs, items)
            self._after_vectors_changed(touched, op_id)

    def delete_vectors(self, selector: Any, names: list[str], op_id: int) -> None:
        """Remove the named vectors from the selected points (named ids must exist)."""
        names = list(dict.fromkeys(names or []))
        if not names:
            raise BadRequest("Wrong input: must specify vector names to delete")
        with self._lock:
            if getattr(selector, "points", None) is not None:
                self._check_ids_exist(normalize_id(i) for i in selector.points)
            stores = [self.vector_store(name) for name in names]
            offsets = self.offsets_for_selector(selector)
            if len(offsets) == 0:
                return
            if self._store.persistent:
                self._store.write([self._record(off, drop=names) for off in offsets.tolist()], [], seq=op_id)
            for store in stores:
                store.clear(offsets)
            self._after_vectors_changed(offsets, op_id)

    def add_vector_name(self, name: str) -> None:
        """A vector name was added to ``self.config`` (create_vector_name): make its empty store."""
        with self._lock:
            if name in self.sparse_params():
                store = self._others[name] = _sparse_store(self.sparse_params()[name])
            elif name in self.multivector_params():
                store = self._others[name] = _multi_store(self.multivector_params()[name])
            else:
                params = self.vector_params()[name]
                store = self._dense[name] = DenseVectors(
                    params.size, _enum_value(params.distance), datatype=_enum_value(params.datatype) or "float32")
            store.reserve(len(self._alive))
            self.reconfigure_indexes()
            self.invalidate_search_caches()

    def drop_vector_name(self, name: str) -> None:
        """Remove vector name ``name`` and its vectors from every point (the engine updates the
        config); stored points are rewritten without it so a later name of the same spelling
        never sees old vectors."""
        with self._lock:
            store = self.vector_store(name)
            offsets = np.flatnonzero(store.present_mask(self._size) & self._alive[: self._size])
            if self._store.persistent and len(offsets):
                self._store.write([self._record(off, drop=[name]) for off in offsets.tolist()], [])
            store.clear(offsets)
            if name in self._dense:
                self._indexes.drop(name)
                del self._dense[name]            # in place: the graphs and codes share this dict
            else:
                del self._others[name]
            self.reconfigure_indexes()
            self.invalidate_search_caches()

    # -- reads ----------------------------------------------------------------------------------------
    def count(self, flt: Any) -> int:
        with self._lock:
            return int(self._matching_mask(flt).sum())

    def retrieve(self, ids: Iterable, with_payload: Any, with_vectors: Any) -> list[models.Record]:
        with self._lock:
            wanted = [normalize_id(i) for i in ids]
            out = []
            seen = set()
            for pid in wanted:
                off = self._id_to_offset.get(pid)
                if off is None or pid in seen:
                    continue
                seen.add(pid)
                out.append(self._make_record(off, with_payload, with_vectors))
            return out

    def get_one(self, point_id: Any, with_payload: Any = True, with_vectors: Any = True) -> models.Record:
        with self._lock:
            pid = normalize_id(point_id)
            off = self._id_to_offset.get(pid)
            if off is None:
                raise NotFound(f"Not found: No point with id {pid} found")
            return self._make_record(off, with_payload, with_vectors)

    def _id_order(self) -> np.ndarray:
        """All used offsets sorted by point id (numeric ids first, then UUIDs)."""
        if self._order_cache is None:
            n = self._size
            self._order_cache = np.lexsort((self._id_lo[:n], self._id_hi[:n], self._id_kind[:n]))
        return self._order_cache

    def scroll(self, flt: Any, limit: int, start: Any, with_payload: Any, with_vectors: Any):
        with self._lock:
            mask = self._matching_mask(flt)
            order = self._id_order()
            order = order[mask[order]]
            if start is not None:
                pid = normalize_id(start)
                kind, hi, lo = _id_keys(pid)
                k = self._id_kind[order]
                h = self._id_hi[order]
                lw = self._id_lo[order]
                before = (k < kind) | ((k == kind) & ((h < hi) | ((h == hi) & (lw < lo))))
                order = order[~before]
            page = order[: limit + 1]
            records = [self._make_record(int(o), with_payload, with_vectors) for o in page[:limit]]
            next_id = self._ext_ids[int(page[limit])] if len(page) > limit else None
            return records, next_id

    def search(self, query: np.ndarray, using: str, flt: Any, limit: int, offset: int,
               score_threshold: float | None, with_payload: Any, with_vectors: Any,
               params: Any = None) -> list[models.ScoredPoint]:
        """Nearest neighbours of ``query`` among the points with vector ``using`` that match
        ``flt``; ``params`` is a ``SearchParams`` (hnsw_ef, exact, indexed_only) or None."""
        with self._lock:
            offsets, scores = self.search_offsets(query, using, flt, limit, offset, score_threshold, params)
            return self._scored_points(offsets, scores, with_payload, with_vectors)

    def search_offsets(self, query: Any, using: str, flt: Any, limit: int, offset: int,
                       score_threshold: float | None, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``search``'s page as (offsets, scores), best first, with no models built: what the
        query planner composes (local_engine/query)."""
        with self._lock:
            store = self.vector_store(using)
            if store.kind != "dense":
                return self._search_other(store, query, using, flt, limit, offset, score_threshold, params)
            vec = store
            q = vec.prepare_query(query)
            size = self._size
            filtered = None if flt is None else self._filtered(flt, using, vec, size)
            indexes = self._indexes
            if indexes.is_pending(using):
                indexes.ensure_ready(size)
            plan = plan_search(
                vec, indexes.graph_for(using), indexes.settings[using], q, filtered, size, offset + limit,
                hnsw_ef=getattr(params, "hnsw_ef", None),
                exact=bool(getattr(params, "exact", False)),
                indexed_only=bool(getattr(params, "indexed_only", False)),
                score_threshold=score_threshold,
                graph_pending=indexes.is_pending(using),
                quantized=self._quantized_search(using, params, offset + limit),
            )
            self._last_plan = plan
            return plan.offsets[offset:], plan.scores[offset:]

    def _quantized_search(self, using: str, params: Any, needed: int) -> tuple | None:
        """(codes, QuantSearch) when this search ranks candidates by codes (docs/quantization.md)."""
        codes = self._quant.for_name(using)
        spec = self._quant.spec(using) if codes is not None else None
        options = quantization.search_options(spec, params, needed)   # validates params even without codes
        return None if options is None else (codes, options)

    def _filtered(self, flt: Any, using: str, vec: DenseVectors, size: int) -> CachedFilter:
        """The points matching ``flt`` that hold vector ``using`` (cached until the next write)."""
        key = filter_key(flt)
        entry = self._filter_cache.get((using, key)) if key is not None else None
        if entry is None:
            # A point holding the vector is alive (deletes clear vectors), so no alive mask.
            self._payloads.check_filter_schema(flt)
            mask = self._payloads.evaluate(flt, self) & vec.present_mask(size)
            entry = CachedFilter(mask, int(np.count_nonzero(mask)))
            if key is not None:
                self._filter_cache.put((using, key), entry)
        return entry

    def _search_other(self, store: Any, query: Any, using: str, flt: Any, limit: int, offset: int,
                      score_threshold: float | None, params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact search of a sparse vector (inverted index) or a multivector (max_sim scan)."""
        size = self._size
        if store.kind == "sparse":
            corpus = getattr(getattr(params, "idf", None), "corpus", None)
            q = store.prepare_query(query, None if corpus is None else self._matching_mask(corpus))
        else:
            q = store.prepare_query(query)
        cand = None if flt is None else self._filtered(flt, using, store, size).mask
        offsets, scores = store.search(q, cand, size)
        keep = passes_threshold(scores, score_threshold, store.distance)
        if keep is not None:
            offsets, scores = offsets[keep], scores[keep]
        best = top_k(scores, offset + limit, store.distance)[offset:]
        return offsets[best], scores[best]

    def _scored_points(self, offsets: np.ndarray, scores: np.ndarray, with_payload: Any,
                       with_vectors: Any) -> list[models.ScoredPoint]:
        ext_ids = self._ext_ids
        payloads = self._payloads
        versions = self._versions[offsets].tolist()
        out = []
        for off, score, version in zip(offsets.tolist(), scores.tolist(), versions):
            out.append(fast_construct(models.ScoredPoint, {
                "id": ext_ids[off],
                "version": version,
                "score": score,
                "payload": None if with_payload is False else payloads.select(payloads.get(off), with_payload),
                "vector": self._vectors_of(off, with_vectors) if with_vectors else None,
                "shard_key": None,
                "order_value": None,
            }, _SCORED_FIELDS))
        return out

    def ordered_by_id(self, flt: Any, limit: int, offset: int, with_payload: Any, with_vectors: Any):
        """``query_points`` without a query: points in id order, score 0."""
        records, _ = self.scroll(flt, offset + limit, None, with_payload, with_vectors)
        return [
            models.ScoredPoint(id=r.id, version=self._versions[self._id_to_offset[r.id]].item(), score=0.0,
                               payload=r.payload, vector=r.vector)
            for r in records[offset:]
        ]

    # -- result building -------------------------------------------------------------------------------
    def _vectors_of(self, off: int, with_vectors: Any):
        if not with_vectors:
            return None
        stores = self._all_stores()
        if with_vectors is True:
            names = list(stores)
        else:
            names = list(with_vectors)
            for name in names:
                self.vector_store(name)
        out = {}
        for name in names:
            v = stores[name].get(off)
            if v is not None:
                out[name] = v.tolist() if isinstance(v, np.ndarray) else v
        if set(stores) == {""}:
            return out.get("")
        return out

    def _make_record(self, off: int, with_payload: Any, with_vectors: Any) -> models.Record:
        return models.Record.model_construct(
            id=self._ext_ids[off],
            payload=self._payloads.select(self._payloads.get(off), with_payload),
            vector=self._vectors_of(off, with_vectors),
            shard_key=None,
            order_value=None,
        )

    def _make_scored(self, off: int, score: float, with_payload: Any, with_vectors: Any) -> models.ScoredPoint:
        return fast_construct(models.ScoredPoint, {
            "id": self._ext_ids[off],
            "version": int(self._versions[off]),
            "score": score,
            "payload": None if with_payload is False else self._payloads.select(self._payloads.get(off), with_payload),
            "vector": self._vectors_of(off, with_vectors),
            "shard_key": None,
            "order_value": None,
        }, _SCORED_FIELDS)

    # -- info ----------------------------------------------------------------------------------------------
    def points_count(self) -> int:
        return len(self._id_to_offset)

    def field_points(self, field: str) -> int:
        """Number of points the payload index on ``field`` holds (reported in payload_schema)."""
        with self._lock:
            return self._payloads.index_points(field)

    # -- payload indexes ---------------------------------------------------------------------------------
    def create_index(self, field: str, schema: Any) -> None:
        """Build (or rebuild) the payload index on ``field``; filters use it from now on."""
        with self._lock:
            self._payloads.create_index(field, schema)
            self.invalidate_search_caches()

    def drop_index(self, field: str) -> None:
        with self._lock:
            self._payloads.drop_index(field)
            self.invalidate_search_caches()

    def ordered_by_payload(self, flt: Any, order_by: Any, limit: int) -> list[tuple[int, Any]]:
        """(offset, order value) of the first ``limit`` matching points in ``order_by`` order.

        ``order_by`` is a key string or an ``OrderBy``; it needs a range-capable index (the
        payload store says so in Qdrant's words otherwise).
        """
        if isinstance(order_by, str):
            key, direction, start = order_by, "asc", None
        else:
            key = order_by.key
            direction = _enum_value(order_by.direction) or "asc"
            start = order_by.start_from
        with self._lock:
            mask = self._matching_mask(flt)
            offsets, values = self._payloads.order_by(key, direction, start, mask, limit)
            return list(zip(offsets.tolist()[:limit], values[:limit]))

    def facet(self, key: str, flt: Any, limit: int, exact: bool) -> list[tuple[Any, int]]:
        with self._lock:
            return self._payloads.facet(key, self._matching_mask(flt), limit, exact)

    def records_with_order(self, ordered: list[tuple[int, Any]], with_payload: Any, with_vectors: Any):
        out = []
        for off, value in ordered:
            record = self._make_record(off, with_payload, with_vectors)
            record.order_value = value
            out.append(record)
        return out

    def scored_with_order(self, ordered: list[tuple[int, Any]], with_payload: Any, with_vectors: Any):
        out = []
        for off, value in ordered:
            point = self._make_scored(off, 1.0, with_payload, with_vectors)
            point.order_value = value
            out.append(point)
        return out


def _graph_distance(params: Any) -> str:
    """The distance an HNSW graph is built with: uint8 Cosine vectors are stored raw, so their
    graph normalises them itself (hnswlib's ``cosine`` space)."""
    distance = _enum_value(params.distance)
    if distance == "Cosine" and _enum_value(params.datatype) == "uint8":
        return "CosineRaw"
    return distance


def _sparse_store(params: Any) -> SparseVectors:
    index = getattr(params, "index", None)
    datatype = _enum_value(getattr(index, "datatype", None)) or "float32"
    return SparseVectors(
        use_idf=_enum_value(getattr(params, "modifier", None)) == "idf",
        datatype=datatype,
        full_scan_threshold=getattr(index, "full_scan_threshold", None),
    )


def _multi_store(params: Any) -> Any:
    from .multivector import MultiVectors
    return MultiVectors(params.size, _enum_value(params.distance), datatype=_enum_value(params.datatype) or "float32")


def _load_other(store: Any, values: dict) -> None:
    """Vectors of a sparse or multivector name read back from storage."""
    offs = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
    if store.kind == "sparse":
        store.set_rows(offs, [(np.asarray(v.indices, dtype=np.uint32), np.asarray(v.values, dtype=np.float32))
                              for v in values.values()])
    else:
        store.set_rows(offs, [np.asarray(v, dtype=store.dtype) for v in values.values()])


def _id_keys(pid: int | str) -> tuple[int, int, int]:
    if isinstance(pid, int):
        return 0, pid >> 64, pid & (2**64 - 1)
    value = uuid.UUID(pid).int
    return 1, value >> 64, value & (2**64 - 1)


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


__all__ = ["Collection", "Unsupported"]
