"""``VectorQuantization``: the codes of a collection's dense vectors — when they are trained, kept
current, saved and reloaded.

Rules:

* **When.** Like Qdrant, which quantizes only segments the optimizer has indexed, a vector name
  gets codes once its stored vectors reach ``indexing_threshold`` KB (``0`` = never). Smaller
  collections are searched on the originals, whatever ``quantization_config`` says.
* **Trained once.** The codec is trained on (a sample of) the vectors present at that moment;
  every later write encodes its rows with that codec (``after_upsert``), so codes never lag
  behind a write that returned and new points never retrain. ``update_collection`` with another
  quantization config retrains (or, ``Disabled``, drops the codes).
* **Codes are a cache of the originals.** A deleted point needs nothing: searches only look at
  offsets whose vector is present. A lost or damaged blob is retrained from the vectors.
* **Persistence (path mode).** ``save`` stores codec + codes as one blob (``quant/<name>``) with
  the sequence-number watermark of the data it covers, on close and at checkpoints once the
  codes changed by as many rows as they hold; ``load`` re-encodes only the points written after
  that watermark with the saved codec — no retraining.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .. import blob_format
from ..vectors import DenseVectors
from .codecs import TRAIN_ROWS, Codec, make_codec
from .config import QuantSpec
from .ondisk import map_originals

log = logging.getLogger("local_engine.quantization")

_MAGIC = b"QSDKQUAN"
_FORMAT = 1
SAVE_GROWTH = 1.0


def blob_key(name: str) -> str:
    return f"quant/{name}"


class QuantizedVectors:
    """The codec and codes (one ``uint8`` row per offset) of one vector name."""

    def __init__(self, codec: Codec, capacity: int) -> None:
        self.codec = codec
        self.codes = np.zeros((max(capacity, 1), codec.code_bytes), dtype=np.uint8)
        self.changes = 0

    def reserve(self, size: int) -> None:
        cap = self.codes.shape[0]
        if size <= cap:
            return
        grown = np.zeros((max(size, cap * 3 // 2), self.codes.shape[1]), dtype=np.uint8)
        grown[:cap] = self.codes
        self.codes = grown

    def set(self, offsets: np.ndarray, rows: np.ndarray) -> None:
        if len(offsets) == 0:
            return
        self.reserve(int(offsets.max()) + 1)
        self.codes[offsets] = self.codec.encode(rows)
        self.changes += len(offsets)

    def scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return self.codec.scores(query, self.codes[offsets])

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes

    # -- blob ------------------------------------------------------------------------------------
    def serialize(self, size: int, fingerprint: str) -> list:
        arrays = dict(self.codec.arrays())
        codes = self.codes[:size]
        table, parts, pos = [], [], 0
        for key, arr in arrays.items():
            arr = np.ascontiguousarray(arr)
            table.append([key, arr.dtype.str, list(arr.shape), pos])
            parts.append(arr.tobytes())
            pos += arr.nbytes
        head = blob_format.head(_MAGIC, _FORMAT, {
            "spec": fingerprint, "kind": self.codec.kind, "dim": self.codec.dim, "rows": int(size),
            "code_bytes": int(codes.shape[1]), "arrays": table, "codes_at": pos,
        })
        return [head, *parts, memoryview(codes).cast("B")]

    @classmethod
    def deserialize(cls, buf: Any, codec: Codec, fingerprint: str) -> tuple["QuantizedVectors", int]:
        """(restored codes, rows covered); ``ValueError`` when the blob is not for ``codec``."""
        meta, base, view = blob_format.read_head(buf, _MAGIC, _FORMAT, "a quantization file")
        if meta["spec"] != fingerprint or meta["kind"] != codec.kind or meta["dim"] != codec.dim:
            raise ValueError("saved with another quantization config")
        arrays = {}
        for key, dtype, shape, pos in meta["arrays"]:
            count = int(np.prod(shape)) if shape else 1
            arrays[key] = np.frombuffer(view, dtype=np.dtype(dtype), count=count, offset=base + pos).reshape(shape).copy()
        codec.restore(arrays)
        rows, width = int(meta["rows"]), int(meta["code_bytes"])
        if width != codec.code_bytes:
            raise ValueError("saved codes have another width")
        start = base + int(meta["codes_at"])
        if start + rows * width > len(view):
            raise ValueError("quantization file is truncated")
        out = cls(codec, rows)
        out.codes[:rows] = np.frombuffer(view, dtype=np.uint8, count=rows * width, offset=start).reshape(rows, width)
        return out, rows


class VectorQuantization:
    """The quantized vectors of one collection, per dense vector name that has codes."""

    def __init__(self, dense: dict[str, DenseVectors], specs: dict[str, QuantSpec | None],
                 indexing_kb: dict[str, int]) -> None:
        self._dense = dense
        self.specs = specs
        self.indexing_kb = indexing_kb
        self.codes: dict[str, QuantizedVectors] = {}
        self._dirty: set[str] = set()
        self._dropped: set[str] = set()
        self.stats = {"trained": 0, "loaded": 0, "reencoded": 0}

    # -- state -----------------------------------------------------------------------------------
    def for_name(self, name: str) -> QuantizedVectors | None:
        return self.codes.get(name)

    def spec(self, name: str) -> QuantSpec | None:
        return self.specs.get(name)

    def wants_codes(self, name: str, size: int) -> bool:
        if self.specs.get(name) is None:
            return False
        kb = self.indexing_kb.get(name, 0)
        if kb <= 0:
            return False
        vec = self._dense[name]
        if size * vec.dim * 4 < kb * 1024:     # cheap bound first
            return False
        return int(np.count_nonzero(vec.present_mask(size))) * vec.dim * 4 >= kb * 1024

    # -- writes ----------------------------------------------------------------------------------
    def after_upsert(self, offsets: np.ndarray, size: int) -> None:
        for name, spec in self.specs.items():
            if spec is None:
                continue
            q = self.codes.get(name)
            if q is None:
                if self.wants_codes(name, size):
                    self._train(name, size)
                continue
            vec = self._dense[name]
            offs = np.unique(offsets)
            offs = offs[vec.present[offs]]
            q.set(offs, vec.data[offs])
            self._dirty.add(name)

    def reconfigure(self, specs: dict[str, QuantSpec | None], indexing_kb: dict[str, int], size: int) -> None:
        old = self.specs
        self.specs, self.indexing_kb = specs, indexing_kb
        for name in set(old) | set(specs):
            before, now = old.get(name), specs.get(name)
            changed = before is None or now is None or before.fingerprint() != now.fingerprint()
            if changed and name in self.codes:
                del self.codes[name]
                self._dropped.add(name)
                self._dirty.discard(name)
            elif name in self.codes and now is not None:
                self.codes[name].codec.spec = now      # e.g. a new query_encoding or always_ram
            if name not in self.codes and self.wants_codes(name, size):
                self._train(name, size)

    def _train(self, name: str, size: int) -> None:
        vec = self._dense[name]
        spec = self.specs[name]
        present = np.flatnonzero(vec.present_mask(size))
        rng = np.random.default_rng(0x5EED)
        sample_offs = present if len(present) <= TRAIN_ROWS else np.sort(rng.choice(present, TRAIN_ROWS, replace=False))
        codec = make_codec(spec, vec)
        codec.train(vec.data[sample_offs], rng)
        q = QuantizedVectors(codec, size)
        for start in range(0, len(present), 65536):
            part = present[start : start + 65536]
            q.set(part, vec.data[part])
        self.codes[name] = q
        self._dirty.add(name)
        self._dropped.discard(name)
        self.stats["trained"] += 1
        log.debug("trained %s quantization of vector %r on %d vectors", spec.kind, name, len(sample_offs))

    # -- persistence -----------------------------------------------------------------------------
    def save(self, store: Any, size: int, final: bool = False) -> None:
        """Save changed codes (path mode): on close, or at a checkpoint once they changed by as
        many rows as they hold."""
        if not getattr(store, "persistent", False):
            return
        keys = store.blob_keys()
        for name in list(self._dropped):
            if blob_key(name) in keys:
                store.drop_blob(blob_key(name))
            self._dropped.discard(name)
        for name in list(self._dirty):
            q = self.codes.get(name)
            if q is None:
                self._dirty.discard(name)
                continue
            if not final and blob_key(name) in keys and q.changes < SAVE_GROWTH * max(size, 1):
                continue
            store.save_blob(blob_key(name), q.serialize(size, self.specs[name].fingerprint()))
            q.changes = 0
            self._dirty.discard(name)

    def load(self, store: Any, size: int, offsets: np.ndarray, seqs: np.ndarray | None) -> None:
        """Restore saved codes (re-encoding the points written after their watermark with the
        saved codec); train the names that need codes and have none usable."""
        persistent = getattr(store, "persistent", False)
        keys = set(store.blob_keys()) if persistent else set()
        for name, spec in self.specs.items():
            key = blob_key(name)
            if spec is None:
                if key in keys:
                    self._dropped.add(name)
                continue
            restored = None
            if key in keys:
                try:
                    saved = store.load_blob(key)
                    if saved is None:
                        raise ValueError("missing or damaged file")
                    buf, watermark = saved
                    q, rows = QuantizedVectors.deserialize(buf, make_codec(spec, self._dense[name]), spec.fingerprint())
                    vec = self._dense[name]
                    q.reserve(size)
                    stale = np.zeros(size, dtype=bool)
                    stale[rows:] = True
                    if seqs is None:
                        stale[:] = True
                    else:
                        stale[offsets[seqs > watermark]] = True
                    redo = np.flatnonzero(stale & vec.present_mask(size))
                    q.set(redo, vec.data[redo])
                    q.changes = len(redo)
                    restored = q
                    self.stats["loaded"] += 1
                    self.stats["reencoded"] += len(redo)
                    if len(redo):
                        self._dirty.add(name)
                except (ValueError, KeyError, TypeError) as e:
                    log.warning("the saved quantization of vector %r is unusable (%s); retraining it", name, e)
                    self._dropped.add(name)
            if restored is not None:
                self.codes[name] = restored
            elif self.wants_codes(name, size):
                self._train(name, size)
        watermark = getattr(store, "_watermark", None)
        if persistent and seqs is not None and isinstance(watermark, int):
            self._map_originals(store, size, offsets[seqs > watermark])

    def _map_originals(self, store: Any, size: int, stale: np.ndarray | None) -> None:
        """Quantized vectors with originals on disk: serve them from the checkpoint's file."""
        for name, spec in self.specs.items():
            if spec is None or not spec.originals_on_disk or name not in self.codes:
                continue
            if map_originals(store, name, self._dense[name], size, stale):
                self.stats["mapped"] = self.stats.get("mapped", 0) + 1
