"""``VectorIndexes``: when the graphs of a collection's dense vectors are built, kept current,
saved and loaded.

Rules:

* **Writes queue graph work; readers wait for the queue.** The collection calls
  ``after_upsert`` / ``after_delete`` once the batch is applied to the dense matrices. An
  upsert's graph work (the first build, insertions, removals of vectors a point lost) is queued
  to one helper thread (hnswlib releases the GIL) and the upsert returns: an ingest runs at the
  speed of parsing and storing, as in Qdrant, where indexing is the optimizer's background work.
  Work items hold private copies of their rows and run in write order; consecutive insertions
  into one graph are merged. While no reader waits they insert on one thread, in small chunks,
  leaving the other core to the writer; a waiting reader gets every thread at the next chunk.
  Every other entry point here — searches, ``get_collection``'s indexed count and status,
  snapshots, deletes, settings changes, the close — first waits for the queue to drain
  (``join``), so **no search sees a graph that lags behind a returned write**; the first search
  after an ingest pays for whatever indexing is still queued. The queue is bounded
  (``QUEUE_MAX_BYTES`` of rows): a writer that gets that far ahead waits for it.
* **When.** A name gets a graph once its stored vectors reach ``indexing_threshold`` KB (and
  ``m > 0``). The first build inserts every vector in one bulk ``add_items`` call, which uses
  all cores; later writes insert their own points. Below the threshold, search stays exact and
  ``indexed_vectors_count`` is 0. A graph, once built, stays (Qdrant keeps indexed segments
  too) until its parameters change or it is mostly deleted elements (then it is rebuilt).
* **Failures degrade to exact search, never to wrong answers.** If building or updating a
  graph raises, the graph is dropped and the name is *pending*: searches score exactly
  (``indexed_only`` searches see nothing), ``get_collection`` reports ``yellow``, and the next
  write or search tries the build again.
* **Persistence (path mode).** ``save`` stores a changed graph as a blob with the
  sequence-number watermark of the data it covers: on close always, at storage checkpoints
  only once the graph has changed by as many offsets as it holds (``SAVE_GROWTH``), so an
  ingest writes its graph about twice over rather than at every checkpoint. ``load`` restores
  it and re-applies only the points written after that watermark, so reopening does not
  rebuild. A missing, damaged or mismatched file is logged and the graph is rebuilt.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from functools import partial
from typing import Any

import numpy as np

from ..vectors import DenseVectors
from .hnsw import HnswIndex
from .segments import GraphSet
from .settings import IndexSettings

log = logging.getLogger("local_engine.index")

VACUUM_MIN_DELETED = 1000   # rebuild a graph once it holds more deleted elements than live ones, and at least this many
PIPELINE_MIN_POINTS = 256   # smaller insertions run inline: a thread costs more than it overlaps
SAVE_GROWTH = 1.0           # at a checkpoint, save a graph once changes since its last save >= this x its size
QUEUE_MAX_BYTES = 128 << 20  # rows queued for graph insertion before a writer waits for the helper thread
MERGE_MAX_POINTS = 8192      # queued insertions into one graph are merged into calls of up to about this many points
SINGLE_THREAD_CHUNK = 512    # points per one-thread insertion call while no reader waits for the graph


def blob_key(name: str, seg: int | None = None) -> str:
    """The blob of one segment, or (``seg`` None) of all segments in one container, which is
    how snapshot recovery hands a vector's graphs over (``GraphSet.serialize``)."""
    return f"hnsw/{name}" if seg is None else f"hnsw/{name}/{seg}"


def blob_segments(keys: list[str], name: str) -> dict[int, str]:
    """segment -> key of the saved graphs of vector ``name`` (names may contain "/")."""
    prefix = f"hnsw/{name}/"
    return {int(k[len(prefix):]): k for k in keys if k.startswith(prefix) and k[len(prefix):].isdigit()}


class VectorIndexes:
    """The HNSW graphs of one collection: a ``GraphSet`` (one graph per segment) per dense
    vector name that needs one."""

    def __init__(self, dense: dict[str, DenseVectors], settings: dict[str, IndexSettings]) -> None:
        self._dense = dense
        self.settings = settings
        self.graphs: dict[str, GraphSet] = {}
        self._pending: set[str] = set()     # names whose graph should exist but does not (a build failed)
        self._dirty: set[str] = set()       # graphs changed since they were last saved
        self._dropped: set[str] = set()     # names whose saved graph must be removed
        # Observable counters (tests, benchmarks): full builds and graphs restored from storage.
        self.stats = {"builds": 0, "loaded": 0, "reapplied": 0}
        self._prefetch: threading.Thread | None = None
        self._prefetched: dict[str, tuple] = {}
        # The graph work queue (see the module docstring): items run in order on ``_worker``.
        self._queue: collections.deque = collections.deque()
        self._queued_bytes = 0
        self._busy = False                               # the worker is running an item
        self._waiting = 0                                # threads in join()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._building: set[str] = set()                 # names whose first build is queued
        self._job_failed: list[tuple[str, BaseException]] = []

    # -- state ------------------------------------------------------------------------------------
    def graph_for(self, name: str) -> GraphSet | None:
        self.join()
        return self.graphs.get(name)

    def is_pending(self, name: str) -> bool:
        self.join()
        return name in self._pending

    @property
    def indexed_vectors_count(self) -> int:
        self.join()
        return sum(g.live for g in self.graphs.values())

    @property
    def green(self) -> bool:
        self.join()
        return not self._pending

    # -- the graph work queue ---------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Graph work is queued or running (a checkpoint then skips saving graphs)."""
        with self._cond:
            return bool(self._queue) or self._busy

    def join(self) -> None:
        """Wait until the queued graph work is done; a failed item leaves its vector pending."""
        with self._cond:
            self._waiting += 1
            try:
                while self._queue or self._busy:
                    self._cond.wait()
            finally:
                self._waiting -= 1
        self._collect_failures()

    def _collect_failures(self) -> None:
        failed, self._job_failed = self._job_failed, []
        for name, exc in failed:
            log.error("updating the HNSW graph of vector %r failed (%r); searching it exactly until "
                      "it is rebuilt", name, exc)
            self.graphs.pop(name, None)
            self._dropped.add(name)
            self._pending.add(name)

    def _run_item(self, name: str, action: Any) -> None:
        try:
            action()
            self._dirty.add(name)
        except Exception as exc:  # reported by join(), on the caller's thread
            self._job_failed.append((name, exc))

    def cancel(self) -> None:
        """The collection is going away (deleted, or closed in memory mode): drop the queued
        graph work instead of spending CPU on graphs nobody will search. An item already
        running finishes on its own."""
        with self._cond:
            self._drop_queue_locked()

    def _drop_queue_locked(self) -> None:
        """Forget the queued items (the caller holds ``_cond``) and wake whoever waits on them."""
        self._queue.clear()
        self._queued_bytes = 0
        self._cond.notify_all()

    def _work(self) -> None:
        try:
            while self._work_one():
                pass
        except BaseException as exc:  # never leave join() waiting on a dead worker
            with self._cond:
                self._job_failed.extend((name, exc) for name, _, _ in self._queue)
                self._busy = False
                self._worker = None
                self._drop_queue_locked()
            raise

    def _work_one(self) -> bool:
        """Run the next queued item (consecutive insertions into one graph merged); False once
        the queue is empty and the worker has signed off."""
        with self._cond:
            if not self._queue:
                self._worker = None
                self._cond.notify_all()
                return False
            name, action, nbytes = self._queue.popleft()
            self._busy = True
            # Consecutive insertions into one vector's graph run as one item: small upsert
            # batches would otherwise pay hnswlib's per-call cost each.
            parts = [action]
            points = len(action.offsets) if isinstance(action, _Insert) else MERGE_MAX_POINTS
            while (points < MERGE_MAX_POINTS and self._queue and self._queue[0][0] == name
                   and isinstance(self._queue[0][1], _Insert)):
                _, more, more_bytes = self._queue.popleft()
                parts.append(more)
                points += len(more.offsets)
                nbytes += more_bytes
        try:
            self._run_item(name, action if len(parts) == 1 else lambda: _Insert.merged(parts)())
        finally:
            with self._cond:
                self._busy = False
                self._queued_bytes = max(0, self._queued_bytes - nbytes)   # cancel() may have zeroed it
                self._cond.notify_all()
        return True

    def _submit(self, work: list, points: int) -> None:
        """Queue ``work`` ([(name, action, bytes)]); small work with nothing queued runs inline."""
        if not work:
            return
        with self._cond:
            idle = not self._queue and not self._busy
        if idle and points < PIPELINE_MIN_POINTS:  # not worth a thread
            for name, action, _ in work:
                self._run_item(name, action)
            self._collect_failures()
            return
        with self._cond:
            while self._queue and self._queued_bytes >= QUEUE_MAX_BYTES:
                self._cond.wait()
            self._queue.extend(work)
            self._queued_bytes += sum(nbytes for _, _, nbytes in work)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="hnsw-insert", daemon=True)
                self._worker.start()

    # -- writes -----------------------------------------------------------------------------------
    def after_upsert(self, offsets: np.ndarray, size: int) -> None:
        """Points at ``offsets`` were (re)written: queue their graph entries to follow the dense
        matrices (the first build of a vector that reached its threshold, insertions, removals)."""
        if len(offsets) == 0:
            return
        uniq = np.unique(offsets)
        work = []
        points = 0
        for name, vec in self._dense.items():
            if name not in self.graphs and name not in self._building:
                if self.wants_graph(name, size):
                    present = np.flatnonzero(vec.present[:size])
                    rows = vec.data[present]
                    self._building.add(name)
                    work.append((name, partial(self._queued_build, name, present, rows), rows.nbytes))
                    points += len(present)
                else:
                    self._pending.discard(name)
                continue
            has = vec.present[uniq]
            if not has.all():
                work.append((name, partial(self._queued_remove, name, uniq[~has]), 0))
            add = uniq[has]
            if len(add):
                rows = vec.data[add]
                work.append((name, _Insert(self, name, add, rows, vec.data), rows.nbytes))
                points += len(add)
        self._submit(work, points)

    def _queued_build(self, name: str, offsets: np.ndarray, rows: np.ndarray) -> None:
        try:
            self._build(name, offsets, rows)
        finally:
            self._building.discard(name)

    def _queued_remove(self, name: str, offsets: np.ndarray) -> None:
        """A queued removal, on the graph as it is when the item runs (a failed build leaves
        none: the pending vector is rebuilt from the matrix later)."""
        graph = self.graphs.get(name)
        if graph is not None:
            graph.remove(offsets)

    def after_delete(self, offsets: np.ndarray, size: int) -> None:
        self.join()
        for name, graph in list(self.graphs.items()):
            self._guarded(name, lambda: graph.remove(offsets))
            for seg, g in list(graph.segments.items()):
                if g.deleted > max(g.live, VACUUM_MIN_DELETED - 1):
                    log.info("rebuilding segment %d of the HNSW graph of vector %r: %d deleted vs %d live elements",
                             seg, name, g.deleted, g.live)
                    self._build_segment(name, graph, seg, size)

    def ensure_ready(self, size: int) -> None:
        """Retry builds that failed before (called before searching)."""
        self.join()
        for name in list(self._pending):
            self._maybe_build(name, size)

    def reconfigure(self, settings: dict[str, IndexSettings], size: int) -> None:
        """New settings (update_collection): rebuild graphs whose parameters changed."""
        self.join()
        old = self.settings
        self.settings = settings
        for name, new in settings.items():
            before = old.get(name)
            if before is None or before.params != new.params:
                if name in self.graphs:
                    del self.graphs[name]
                    self._dropped.add(name)
                self._pending.discard(name)
            elif name in self.graphs and new.threads != before.threads:
                self.graphs[name].threads = new.threads
                for g in self.graphs[name].segments.values():
                    g.threads = new.threads
            if name not in self.graphs:
                self._maybe_build(name, size)

    def drop(self, name: str) -> None:
        """Vector name ``name`` was deleted: forget its graph (its saved blobs go at the next save)."""
        self.join()
        if self.graphs.pop(name, None) is not None:
            self._dropped.add(name)
        self._pending.discard(name)
        self._dirty.discard(name)

    # -- building ---------------------------------------------------------------------------------
    def wants_graph(self, name: str, size: int) -> bool:
        settings = self.settings.get(name)
        if settings is None or settings.params is None or settings.indexing_kb <= 0:
            return False
        if not settings.wants_graph(size):       # cheap bound: size >= vectors present
            return False
        return settings.wants_graph(int(np.count_nonzero(self._dense[name].present_mask(size))))

    def _maybe_build(self, name: str, size: int) -> None:
        if self.wants_graph(name, size):
            self._build(name, size)
        else:
            self._pending.discard(name)

    def _build(self, name: str, size_or_offsets: int | np.ndarray, rows: np.ndarray | None = None) -> None:
        """Build the graph of ``name`` over every present vector (``size_or_offsets`` = the
        collection size), or over given offsets and their rows (a snapshot taken for a job)."""
        settings = self.settings[name]
        vec = self._dense[name]
        if isinstance(size_or_offsets, np.ndarray):
            offsets = size_or_offsets
        else:
            offsets = np.flatnonzero(vec.present_mask(size_or_offsets))
        graph = GraphSet(settings.params, settings.threads)
        t0 = time.perf_counter()
        try:
            graph.build(vec.data, offsets, rows)
        except Exception:
            log.exception("building the HNSW graph of vector %r failed; searching it exactly for now", name)
            self.graphs.pop(name, None)
            self._pending.add(name)
            return
        self.graphs[name] = graph
        self._pending.discard(name)
        self._dirty.add(name)
        self._dropped.discard(name)
        self.stats["builds"] += 1
        log.debug("built the HNSW graph of vector %r: %d vectors in %.2f s", name, len(offsets), time.perf_counter() - t0)

    def _build_segment(self, name: str, graph: GraphSet, seg: int, size: int) -> None:
        """(Re)build one segment of ``name`` from the present vectors of its offsets."""
        lo, hi = graph.bounds(seg)
        hi = min(hi, size)
        vec = self._dense[name]
        offsets = np.flatnonzero(vec.present_mask(size)[lo:hi]) + lo
        self._guarded(name, lambda: graph.build_segment(seg, vec.data, offsets))
        self.stats["builds"] += 1

    def _guarded(self, name: str, action: Any) -> None:
        try:
            action()
            self._dirty.add(name)
        except Exception:
            log.exception("updating the HNSW graph of vector %r failed; it will be rebuilt", name)
            self.graphs.pop(name, None)
            self._dropped.add(name)
            self._pending.add(name)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, store: Any, size: int, final: bool = False) -> None:
        """Save the graph segments changed since their last save (path mode; the caller holds the
        lock, so the graphs reflect every write that has returned). ``final`` (close): every
        changed segment; otherwise (a checkpoint) only those that changed by ``SAVE_GROWTH`` x
        their size. Each segment is its own blob."""
        if not getattr(store, "persistent", False):
            return
        if not final and self.busy:
            return      # an ingest is being indexed: graphs are saved at a later checkpoint or the close
        self.join()
        keys = store.blob_keys()
        for name in list(self._dropped):
            for key in [*blob_segments(keys, name).values(), blob_key(name)]:
                if key in keys:
                    store.drop_blob(key)
            self._dropped.discard(name)
        for name in list(self._dirty):
            graph = self.graphs.get(name)
            unsaved = False
            force = final
            if graph is not None:
                saved = blob_segments(keys, name)
                if blob_key(name) in keys:
                    # Graphs restored from a container (snapshot recovery) change over to one
                    # blob per segment: every segment is written, then the container goes.
                    for g in graph.segments.values():
                        g.changes = max(g.changes, 1)
                    force = True
                for seg, key in saved.items():
                    if seg not in graph.segments:
                        store.drop_blob(key)
                for seg, g in graph.segments.items():
                    if g.changes == 0:
                        continue
                    if not force and g.changes < SAVE_GROWTH * max(g.live, 1):
                        unsaved = True
                        continue
                    if g.has_graph and not g.empty:
                        store.save_blob(blob_key(name, seg), g.serialize(size))
                    elif seg in saved:
                        store.drop_blob(saved[seg])
                    g.changes = 0
                if blob_key(name) in keys:
                    store.drop_blob(blob_key(name))
            if not unsaved:
                self._dirty.discard(name)

    def prefetch(self, store: Any) -> None:
        """Start reading and deserialising the saved graphs on a thread (reopen), so the file
        reads and CRC checks overlap with the storage load; ``load`` collects the result."""
        if not getattr(store, "persistent", False) or not store.blob_keys():
            return
        self._prefetch = threading.Thread(target=self._read_all, args=(store,), name="hnsw-prefetch", daemon=True)
        self._prefetch.start()

    def abandon_prefetch(self) -> None:
        """The open failed: wait for the prefetch thread (it reads the store's files) and drop
        what it read, so nothing touches the store after the error is raised."""
        if self._prefetch is not None:
            self._prefetch.join()
            self._prefetch = None
        self._prefetched = {}

    def _read_all(self, store: Any) -> None:
        keys = store.blob_keys()
        for name in self.settings:
            self._prefetched[name] = self._read_name(store, name, keys)

    def _read_name(self, store: Any, name: str, keys: list[str]) -> dict[int, tuple]:
        """segment -> ("ok", graph, watermark) | ("bad", reason) for the saved graphs of ``name``
        (one blob per segment, or else one container of them all, from snapshot recovery)."""
        settings = self.settings[name]
        out: dict[int, tuple] = {}
        segments = blob_segments(keys, name)
        if not segments:
            try:
                saved = store.load_blob(blob_key(name))
                if saved is not None and settings.params is not None:
                    buf, watermark = saved
                    restored = GraphSet.deserialize(buf, settings.params, settings.threads)
                    if restored.segment_points == GraphSet(settings.params).segment_points:
                        return {seg: ("ok", g, watermark) for seg, g in restored.segments.items()}
                    return {seg: ("bad", "saved with another segment size") for seg in restored.segments}
            except (ValueError, RuntimeError, MemoryError) as e:
                return {0: ("bad", str(e))}
        for seg, key in sorted(segments.items()):
            try:
                saved = store.load_blob(key)
                if saved is None:
                    out[seg] = ("bad", "missing or damaged file")
                elif settings.params is None:
                    out[seg] = ("bad", "the vector has no graph (m = 0)")
                else:
                    buf, watermark = saved
                    out[seg] = ("ok", HnswIndex.deserialize(buf, settings.params, settings.threads), watermark)
            except (ValueError, RuntimeError, MemoryError) as e:
                out[seg] = ("bad", str(e))
        return out

    def load(self, store: Any, size: int, offsets: np.ndarray, seqs: np.ndarray | None) -> None:
        """Restore the graphs saved by ``save``: each saved segment is reconciled with the points
        (re-adding those written after its watermark); segments that are missing or unusable
        are built; nothing else is."""
        persistent = getattr(store, "persistent", False)
        if self._prefetch is not None:
            self._prefetch.join()
            self._prefetch = None
        prefetched, self._prefetched = self._prefetched, {}
        keys = store.blob_keys() if persistent else []
        for name, settings in self.settings.items():
            wanted = self.wants_graph(name, size)
            found = prefetched[name] if name in prefetched else (self._read_name(store, name, keys) if persistent else {})
            if settings.params is None or not found:
                if found:
                    self._dropped.add(name)
                if wanted:
                    if persistent:
                        log.info("no saved HNSW graph for vector %r; building it", name)
                    self._build(name, size)
                continue
            vec = self._dense[name]
            current = vec.present_mask(size)
            graph = GraphSet(settings.params, settings.threads)
            changed = 0
            for seg, item in found.items():
                lo, hi = graph.bounds(seg)
                if item[0] == "ok":
                    _, g, watermark = item
                    stale = np.zeros(size, dtype=bool)
                    if seqs is None:
                        stale[:] = True
                    else:
                        stale[offsets[seqs > watermark]] = True
                    try:
                        changed += g.reconcile(current, stale, vec.data, lo, hi)
                        graph.segments[seg] = g
                        self.stats["loaded"] += 1
                        continue
                    except (ValueError, RuntimeError, MemoryError) as e:
                        item = ("bad", str(e))
                log.warning("the saved HNSW graph of vector %r, segment %d, is unusable (%s); rebuilding it",
                            name, seg, item[1])
                changed += 1
            # Segments holding vectors but no usable saved graph (written after the last save, or
            # damaged) are built now; the others were restored.
            needed = np.unique(np.flatnonzero(current) // graph.segment_points)
            for seg in needed.tolist():
                if seg not in graph.segments:
                    if graph.segments:
                        log.info("building segment %d of the HNSW graph of vector %r (not saved)", seg, name)
                    self._build_segment(name, graph, seg, size)
                    changed += 1
            self.graphs[name] = graph
            self.stats["reapplied"] += changed
            if changed:
                self._dirty.add(name)


class _Insert:
    """A queued insertion of ``rows`` (private copies) at ``offsets`` into the graph of vector
    ``name``, run on the graph as it is when the item runs (none after a failed build: the
    pending vector is rebuilt from the matrix later). ``data`` is the matrix, for a Dot graph
    that must rebuild itself around new outliers."""

    __slots__ = ("indexes", "name", "offsets", "rows", "data")

    def __init__(self, indexes: VectorIndexes, name: str, offsets: np.ndarray, rows: np.ndarray,
                 data: np.ndarray) -> None:
        self.indexes, self.name, self.offsets, self.rows, self.data = indexes, name, offsets, rows, data

    @staticmethod
    def merged(parts: list["_Insert"]) -> "_Insert":
        """Insertions into one graph, in write order, as one: a sorted, unique set of offsets
        where a point written more than once keeps its last row."""
        offsets = np.concatenate([p.offsets for p in parts])
        rows = np.concatenate([p.rows for p in parts])
        # np.unique keeps the first occurrence: search the reversed arrays to keep the last
        uniq, first_in_reversed = np.unique(offsets[::-1], return_index=True)
        keep = len(offsets) - 1 - first_in_reversed
        last = parts[-1]
        return _Insert(last.indexes, last.name, uniq, rows[keep], last.data)

    def __call__(self) -> None:
        graph = self.indexes.graphs.get(self.name)
        if graph is None:
            return
        # While nobody waits for the graph, insert on one thread, SINGLE_THREAD_CHUNK points at a
        # time: the other core keeps ingesting. Once a reader waits (``join``), the rest goes in
        # one call on every thread.
        offsets, rows, start = self.offsets, self.rows, 0
        while start < len(offsets):
            if self.indexes._waiting:
                graph.add(self.data, offsets[start:], rows[start:])
                return
            graph.add(self.data, offsets[start:start + SINGLE_THREAD_CHUNK], rows[start:start + SINGLE_THREAD_CHUNK], 1)
            start += SINGLE_THREAD_CHUNK
