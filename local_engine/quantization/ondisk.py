"""Originals on disk: a quantized vector whose ``VectorParams`` say ``on_disk: true`` (or
``memory: cold``) serves its rescoring from a memory map of the storage's checkpoint file
instead of a resident matrix (path mode, from the first reopen on).

How: path mode's checkpoint writes each dense matrix as a standard ``.npy`` file
(``storage/_sqlite_collection.py``). After a reopen and after every checkpoint, the vector's
matrix (``DenseVectors.data``) is replaced by ``np.load(file, mmap_mode="c")`` when the
collection is opened (``VectorQuantization.load``): a
*copy-on-write* map. Reads (rescoring a few hundred candidates, ``with_vectors``) fault in only
the pages they touch, which the kernel may evict again; writes (upserts, deletes) go to private
pages, so the file is never modified and a crash cannot corrupt it. What stays resident: the
codes, the HNSW graph (hnswlib keeps its own float32 copy, see docs/quantization.md), and the
pages written since the map was made.

Rules kept here:

* The map is used only when it is provably the matrix: same shape and dtype, it covers every
  row in use, the rows written after the checkpoint's watermark are copied into it, and a
  sample of rows is compared. Otherwise the matrix stays in RAM (logged at debug level).
* It relies on two facts of the SQLite store — ``store._checkpoint[name]`` (rows, file, ...) and
  ``store._watermark`` — read defensively: a store without them keeps everything in RAM.
* A matrix that must grow (``DenseVectors.reserve``: new points beyond the rows it holds) becomes
  an ordinary resident array again, until the next reopen maps it. (Mapping at every checkpoint
  during an ingest would only add a copy per checkpoint: the next batch grows the matrix.)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..vectors import DenseVectors

log = logging.getLogger("local_engine.quantization")
_SPOT_CHECKS = 32


def originals_on_disk(vector_params: Any) -> bool:
    get = vector_params.get if isinstance(vector_params, dict) else (lambda k: getattr(vector_params, k, None))
    memory = getattr(get("memory"), "value", get("memory"))
    return bool(get("on_disk")) or memory == "cold"


def is_mapped(vec: DenseVectors) -> bool:
    return isinstance(vec.data, np.memmap)


def map_originals(store: Any, name: str, vec: DenseVectors, size: int,
                  stale: np.ndarray | None = None) -> bool:
    """Replace ``vec.data`` by a copy-on-write map of the checkpoint of ``name``; ``stale``: offsets
    whose current vector may differ from the checkpoint (written after its watermark). True when
    the matrix is now mapped."""
    records = getattr(store, "_checkpoint", None)
    directory = getattr(store, "directory", None)
    if not isinstance(records, dict) or directory is None or name not in records:
        return False
    rec = records[name]
    try:
        rows, file = int(rec[0]), rec[1]
        mapped = np.load(directory / file, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, TypeError, IndexError) as e:
        log.debug("vector %r stays in RAM: its checkpoint cannot be mapped (%s)", name, e)
        return False
    if mapped.shape != (rows, vec.dim) or mapped.dtype != vec.data.dtype or rows < size:
        log.debug("vector %r stays in RAM: the checkpoint (%s rows) does not cover %d rows", name, rows, size)
        return False
    present = vec.present_mask(size)
    if stale is not None and len(stale):
        stale = stale[stale < size]
        mapped[stale] = vec.data[stale]
    absent = np.flatnonzero(~present)
    if len(absent):
        mapped[absent] = 0          # as DenseVectors.clear leaves them
    live = np.flatnonzero(present)
    if len(live):
        probe = live[np.linspace(0, len(live) - 1, min(_SPOT_CHECKS, len(live))).astype(np.int64)]
        if not np.array_equal(mapped[probe], vec.data[probe]):
            log.debug("vector %r stays in RAM: the checkpoint differs from the matrix", name)
            return False
    # Capacity is the matrix's row count; the present mask must have exactly as many rows.
    resized = np.zeros(rows, dtype=bool)
    keep = min(rows, len(vec.present))
    resized[:keep] = vec.present[:keep]
    vec.data, vec.present = mapped, resized
    return True
