"""The three codecs: how vectors become codes and how a query scores codes.

Every codec is trained once on a sample of the stored vectors (``train``), then encodes any
later vector with the same parameters (``encode``), so new points never retrain. ``scores``
returns *approximate* scores with Qdrant's score semantics (Cosine/Dot: larger is better;
Euclid/Manhattan: a distance, smaller is better), so the planner ranks code scores and exact
scores with the same ``top_k``. Codes are ``uint8`` rows; a codec's learned parameters are a
dict of numpy arrays (``arrays``), which is what a saved blob holds next to the codes.

* **Scalar int8** (Qdrant's ``EncodedVectorsU8``): one affine map for all dimensions,
  ``x ~ lo + alpha * c`` with ``c`` in 0..255; ``lo``/``hi`` cut ``n * (1 - quantile) / 2`` of the
  sample's values at each end, ``n`` being the number of sample *vectors* (Qdrant's
  ``find_quantile_interval`` counts the cut that way), or min/max without ``quantile``.
  4x smaller than float32. Scores: the query against the dequantised rows.
* **Product** (``EncodedVectorsPQ``): the vector is cut into sub-vectors of ``x/4`` dimensions
  (x4: 1, x8: 2, x16: 4, x32: 8, x64: 16), each replaced by the index of the nearest of 256
  k-means centroids of its subspace: one byte per sub-vector, ``compression`` x smaller.
* **Binary** (``EncodedVectorsBin``): each dimension, centred and scaled by the sample's mean and
  standard deviation, gives bits: ``one_bit`` its sign; ``two_bits`` a 3-level thermometer code
  (``v > -t``, ``v > t``, so a Hamming distance is the level difference); ``one_and_half_bits``
  the sign bits plus one sign bit per pair of dimensions (of their sum), 1.5 bits a dimension.
  The bit layouts are this engine's own (Qdrant's are internal); the sizes are Qdrant's.
  ``query_encoding`` ``default``/``binary`` encode the query the same way and score
  ``bits - 2 * hamming``; ``scalar4bits``/``scalar8bits`` keep the query's projections as 4/8-bit
  levels and score ``sum((2b - 1) * q)`` (asymmetric, more precise).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vectors import DenseVectors
from .config import QuantSpec

BLOCK = 1024                 # rows scored per step (as DenseVectors does)
PQ_CENTROIDS = 256
PQ_ITERATIONS = 8
PQ_TRAIN_ROWS = 10_000
TRAIN_ROWS = 100_000         # scalar / binary statistics sample
TWO_BIT_T = 0.43             # thermometer thresholds (+-0.43 sigma cut a normal into thirds)


def _higher_is_better(distance: str) -> bool:
    return distance in ("Cosine", "Dot")


class Codec:
    kind = ""

    def __init__(self, spec: QuantSpec, vec: DenseVectors) -> None:
        self.spec = spec
        self.dim = vec.dim
        self.distance = vec.distance
        self._vec = vec          # scoring semantics (scores_of_rows), never its data

    # learned parameters ------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    @property
    def code_bytes(self) -> int:
        raise NotImplementedError

    def train(self, sample: np.ndarray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def encode(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, query: np.ndarray) -> Any:
        """Per-query state (a dequantisation needs none; binary encodes the query)."""
        return query

    def score_block(self, prepared: Any, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def scores(self, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Approximate Qdrant scores of ``query`` (prepared, e.g. normalised) for code rows."""
        n = codes.shape[0]
        out = np.empty(n, dtype=np.float32)
        prepared = self.prepare(query)
        for start in range(0, n, BLOCK):
            out[start : start + BLOCK] = self.score_block(prepared, query, codes[start : start + BLOCK])
        return out


class ScalarCodec(Codec):
    kind = "scalar"

    def __init__(self, spec: QuantSpec, vec: DenseVectors) -> None:
        super().__init__(spec, vec)
        self.lo = np.float32(0.0)
        self.alpha = np.float32(1.0)

    @property
    def code_bytes(self) -> int:
        return self.dim

    def arrays(self) -> dict[str, np.ndarray]:
        return {"range": np.array([self.lo, self.alpha], dtype=np.float32)}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.lo, self.alpha = (np.float32(v) for v in arrays["range"])

    def train(self, sample: np.ndarray, rng: np.random.Generator) -> None:
        values = sample.ravel()
        q = self.spec.quantile
        if q is None or q >= 1.0 or sample.shape[0] < 127 or len(values) < 4:
            lo, hi = float(values.min()), float(values.max())
        else:
            # Qdrant's find_quantile_interval: the cut is counted in *vectors* of the sample, not
            # in values, so quantile 0.99 clips n * 0.005 of the n * dim values at each end.
            cut = max(1, min((len(values) - 1) // 2, int(sample.shape[0] * (1.0 - q) / 2.0)))
            part = np.partition(values, (cut, len(values) - cut))
            lo, hi = float(part[cut]), float(part[len(values) - cut])
        span = hi - lo
        self.lo = np.float32(lo)
        self.alpha = np.float32(span / 255.0 if span > 0 else 1.0)

    def encode(self, rows: np.ndarray) -> np.ndarray:
        c = np.rint((np.asarray(rows, dtype=np.float32) - self.lo) / self.alpha)
        return np.clip(c, 0, 255).astype(np.uint8)

    def score_block(self, prepared: Any, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        if _higher_is_better(self.distance):
            # q . (lo + alpha c) = lo * sum(q) + alpha * (c . q): no dequantised copy needed.
            return (codes.astype(np.float32) @ (query * self.alpha)) + self.lo * float(query.sum())
        rows = codes.astype(np.float32)
        rows *= self.alpha
        rows += self.lo
        return self._vec.scores_of_rows(query, rows)


class ProductCodec(Codec):
    kind = "product"

    def __init__(self, spec: QuantSpec, vec: DenseVectors) -> None:
        super().__init__(spec, vec)
        self.sub = max(1, min(spec.sub_dims, self.dim))
        self.parts = -(-self.dim // self.sub)
        self.centroids = np.zeros((self.parts, PQ_CENTROIDS, self.sub), dtype=np.float32)

    @property
    def code_bytes(self) -> int:
        return self.parts

    def arrays(self) -> dict[str, np.ndarray]:
        return {"centroids": self.centroids}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        c = np.asarray(arrays["centroids"], dtype=np.float32)
        if c.shape[0] != self.parts or c.shape[2] != self.sub:
            raise ValueError("product quantization codebook has another shape")
        self.centroids = np.ascontiguousarray(c)

    def _split(self, rows: np.ndarray) -> np.ndarray:
        """(parts, n, sub) view of rows, zero-padded to parts * sub dimensions."""
        rows = np.asarray(rows, dtype=np.float32)
        pad = self.parts * self.sub - self.dim
        if pad:
            rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.float32)], axis=1)
        return rows.reshape(rows.shape[0], self.parts, self.sub).transpose(1, 0, 2)

    def _assign(self, split: np.ndarray, centroids: np.ndarray) -> np.ndarray:
        """(parts, n) index of the nearest centroid per sub-vector (groups of subspaces at once)."""
        parts, n, sub = split.shape
        k = centroids.shape[1]
        out = np.empty((parts, n), dtype=np.int64)
        if sub == 1:
            # One dimension: the nearest centroid is found by bisection between sorted centroids.
            for p in range(parts):
                c = centroids[p, :, 0]
                order = np.argsort(c, kind="stable")
                cs = c[order]
                mids = (cs[1:] + cs[:-1]) * 0.5
                out[p] = order[np.searchsorted(mids, split[p, :, 0])]
            return out
        cn = np.einsum("pks,pks->pk", centroids, centroids)
        rows = max(256, 1_000_000 // k)      # distance blocks of ~4 MB stay in cache
        for p in range(parts):
            ct = np.ascontiguousarray(centroids[p].T) * np.float32(-2.0)
            for a in range(0, n, rows):
                d = split[p, a : a + rows] @ ct
                d += cn[p]
                out[p, a : a + rows] = d.argmin(axis=1)
        return out

    def train(self, sample: np.ndarray, rng: np.random.Generator) -> None:
        if sample.shape[0] > PQ_TRAIN_ROWS:
            sample = sample[np.sort(rng.choice(sample.shape[0], PQ_TRAIN_ROWS, replace=False))]
        split = np.ascontiguousarray(self._split(sample))            # (parts, n, sub)
        n = split.shape[1]
        k = min(PQ_CENTROIDS, n)
        centroids = split[:, rng.choice(n, k, replace=False), :].copy()
        for _ in range(PQ_ITERATIONS):
            assign = self._assign(split, centroids)                  # (parts, n)
            flat = (assign + np.arange(self.parts)[:, None] * k).ravel()
            counts = np.bincount(flat, minlength=self.parts * k).reshape(self.parts, k)
            sums = np.stack([np.bincount(flat, weights=split[:, :, t].ravel(), minlength=self.parts * k)
                             for t in range(self.sub)], axis=1).reshape(self.parts, k, self.sub)
            filled = counts > 0
            centroids[filled] = (sums[filled] / counts[filled][:, None]).astype(np.float32)
            # An empty centroid keeps its place (it stays a valid, if unused, code).
        full = np.zeros((self.parts, PQ_CENTROIDS, self.sub), dtype=np.float32)
        full[:, :k] = centroids
        if k < PQ_CENTROIDS:
            full[:, k:] = centroids[:, :1]
        self.centroids = full

    def encode(self, rows: np.ndarray) -> np.ndarray:
        n = rows.shape[0]
        out = np.empty((n, self.parts), dtype=np.uint8)
        for start in range(0, n, 4096):
            split = self._split(rows[start : start + 4096])
            out[start : start + 4096] = self._assign(split, self.centroids).T
        return out

    def score_block(self, prepared: Any, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        rows = self.centroids[np.arange(self.parts), codes]          # (n, parts, sub)
        rows = rows.reshape(codes.shape[0], self.parts * self.sub)[:, : self.dim]
        return self._vec.scores_of_rows(query, rows)


class BinaryCodec(Codec):
    kind = "binary"

    def __init__(self, spec: QuantSpec, vec: DenseVectors) -> None:
        super().__init__(spec, vec)
        self.mean = np.zeros(self.dim, dtype=np.float32)
        self.scale = np.ones(self.dim, dtype=np.float32)
        d = self.dim
        enc = spec.encoding
        self.bits = 2 * d if enc == "two_bits" else (d + (d + 1) // 2 if enc == "one_and_half_bits" else d)
        self._bytes = -(-self.bits // 64) * 8       # padded to whole uint64 words
        if enc == "two_bits":
            self.thresholds = np.concatenate([np.full(d, -TWO_BIT_T), np.full(d, TWO_BIT_T)]).astype(np.float32)
        else:
            self.thresholds = np.zeros(self.bits, dtype=np.float32)

    @property
    def code_bytes(self) -> int:
        return self._bytes

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.mean = np.asarray(arrays["mean"], dtype=np.float32)
        self.scale = np.asarray(arrays["scale"], dtype=np.float32)

    def train(self, sample: np.ndarray, rng: np.random.Generator) -> None:
        self.mean = sample.mean(axis=0).astype(np.float32)
        std = sample.std(axis=0).astype(np.float32)
        std[std == 0] = 1.0
        self.scale = (1.0 / std).astype(np.float32)

    def _features(self, rows: np.ndarray) -> np.ndarray:
        v = (np.asarray(rows, dtype=np.float32) - self.mean) * self.scale
        enc = self.spec.encoding
        if enc == "two_bits":
            return np.concatenate([v, v], axis=1)
        if enc == "one_and_half_bits":
            if self.dim % 2:
                v2 = np.concatenate([v, np.zeros((v.shape[0], 1), np.float32)], axis=1)
            else:
                v2 = v
            return np.concatenate([v, v2[:, 0::2] + v2[:, 1::2]], axis=1)
        return v

    def encode(self, rows: np.ndarray) -> np.ndarray:
        bits = self._features(rows) > self.thresholds
        packed = np.packbits(bits, axis=1)
        out = np.zeros((bits.shape[0], self._bytes), dtype=np.uint8)
        out[:, : packed.shape[1]] = packed
        return out

    def prepare(self, query: np.ndarray) -> Any:
        qe = self.spec.query_encoding
        if qe in ("default", "binary"):
            return self.encode(query[None, :]).view(np.uint64)[0]
        f = self._features(query[None, :])[0] - self.thresholds
        levels = 7 if qe == "scalar4bits" else 127
        top = float(np.abs(f).max()) or 1.0
        f = np.rint(f / top * levels) * (top / levels)
        return f.astype(np.float32)

    def score_block(self, prepared: Any, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        if prepared.dtype == np.uint64:
            words = np.ascontiguousarray(codes).view(np.uint64)
            ham = np.bitwise_count(words ^ prepared).sum(axis=1, dtype=np.int64).astype(np.float32)
            sim = self.bits - 2.0 * ham
            full = float(self.bits)
        else:
            signs = np.unpackbits(codes, axis=1, count=self.bits).astype(np.float32)
            sim = 2.0 * (signs @ prepared) - float(prepared.sum())
            full = float(np.abs(prepared).sum())
        if _higher_is_better(self.distance):
            return sim.astype(np.float32)
        # A distance proxy, monotone in the code distance (Qdrant's own is a proxy too).
        gap = np.maximum(full - sim, 0.0)
        return (np.sqrt(gap) if self.distance == "Euclid" else gap).astype(np.float32)


CODECS = {"scalar": ScalarCodec, "product": ProductCodec, "binary": BinaryCodec}


def make_codec(spec: QuantSpec, vec: DenseVectors) -> Codec:
    return CODECS[spec.kind](spec, vec)
