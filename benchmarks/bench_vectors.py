"""Sparse, multivector and datatype figures of the built-in engine (docs/vectors.md).

    python benchmarks/bench_vectors.py [--sparse-points 100000] [--multi-points 10000] [--dense-points 100000]

Runs in memory mode through the engine (no client overhead). Prints one line per figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from local_engine import Engine
from sdk import models


def _timed(fn, repeat: int) -> float:
    """Best of ``repeat`` calls, in milliseconds (the machine these figures come from is shared:
    the minimum is the least disturbed measurement)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(min(times))


def bench_sparse(n: int, vocab: int = 30_000, nnz: int = 40, q_nnz: int = 10) -> None:
    rng = np.random.default_rng(0)
    engine = Engine()
    engine.create_collection("s", models.CreateCollection(
        vectors={}, sparse_vectors={"t": models.SparseVectorParams(modifier=models.Modifier.IDF)}))
    # Zipf-like term frequencies, as text has
    cdf = np.cumsum(1.0 / np.arange(1, vocab + 1) ** 1.1)
    cdf /= cdf[-1]

    def terms(k: int) -> np.ndarray:
        return np.unique(np.searchsorted(cdf, rng.random(k)))

    batches = []
    for start in range(0, n, 2000):
        pts = []
        for i in range(start, min(n, start + 2000)):
            idx = terms(nnz)
            pts.append(models.PointStruct(id=i, vector={"t": models.SparseVector(
                indices=idx.tolist(), values=rng.random(len(idx)).astype(np.float32).tolist())},
                payload={"g": i % 10}))
        batches.append(pts)
    t0 = time.perf_counter()
    for pts in batches:
        engine.upsert_points("s", models.PointsList(points=pts))
    ingest = time.perf_counter() - t0
    coll = engine._get("s")
    store = coll.vector_store("t")
    queries = []
    for _ in range(20):
        idx = terms(q_nnz).tolist()
        queries.append(models.SparseVector(indices=idx, values=[1.0] * len(idx)))
    flt = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=3))])
    store._ensure_index()
    it = iter(range(10**9))
    index_ms = _timed(lambda: coll.search(queries[next(it) % 20], "t", None, 10, 0, None, False, False), 20)
    filt_ms = _timed(lambda: coll.search(queries[next(it) % 20], "t", flt, 10, 0, None, False, False), 20)
    all_offs = np.flatnonzero(store.present_mask(coll.size))
    brute_ms = _timed(lambda: store.scores(store.prepare_query(queries[next(it) % 20]), all_offs), 3)
    # writes since the last index build land in the tail postings
    engine.upsert_points("s", models.PointsList(points=[models.PointStruct(
        id=n + i, vector={"t": models.SparseVector(indices=[1, 2, 3], values=[1.0, 1.0, 1.0])}) for i in range(500)]))
    tail_ms = _timed(lambda: coll.search(queries[next(it) % 20], "t", None, 10, 0, None, False, False), 20)
    t0 = time.perf_counter()
    store._main = None
    store._ensure_index()
    rebuild = time.perf_counter() - t0
    print(f"sparse  {n} points x ~{nnz} nnz (vocab {vocab}, zipf), idf: ingest {ingest:.1f} s; "
          f"query {q_nnz} terms: index {index_ms:.2f} ms, filtered 10% {filt_ms:.2f} ms, "
          f"with 500 tail points {tail_ms:.2f} ms, brute force over all {brute_ms:.1f} ms; "
          f"index rebuild {rebuild:.2f} s")


def bench_multi(n: int, rows: int = 8, dim: int = 128, q_rows: int = 16) -> None:
    rng = np.random.default_rng(1)
    engine = Engine()
    engine.create_collection("m", models.CreateCollection(vectors={"c": models.VectorParams(
        size=dim, distance="Cosine", multivector_config=models.MultiVectorConfig(comparator="max_sim"))}))
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        pts = [models.PointStruct(id=i, vector={"c": rng.normal(size=(rows, dim)).astype(np.float32).tolist()})
               for i in range(start, min(n, start + 1000))]
        engine.upsert_points("m", models.PointsList(points=pts))
    ingest = time.perf_counter() - t0
    coll = engine._get("m")
    q = rng.normal(size=(q_rows, dim)).astype(np.float32)
    ms = _timed(lambda: coll.search(q, "c", None, 10, 0, None, False, False), 5)
    print(f"multi   {n} points x {rows} rows x {dim} dims, Cosine max_sim, query {q_rows} rows: "
          f"ingest {ingest:.1f} s; exact scan {ms:.1f} ms ({n * rows / ms / 1000:.1f} M rows/s)")


def bench_datatypes(n: int, dim: int = 384) -> None:
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, size=(n, dim)).astype(np.float32)
    q = rng.integers(0, 256, size=dim).astype(np.float32)
    for dt in ("float32", "float16", "uint8"):
        engine = Engine()
        engine.create_collection(dt, models.CreateCollection(
            vectors=models.VectorParams(size=dim, distance="Cosine", datatype=dt),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0)))   # exact scans only
        for start in range(0, n, 10_000):
            engine.upsert_points(dt, models.PointsBatch(batch=models.Batch(
                ids=list(range(start, min(n, start + 10_000))), vectors=data[start:start + 10_000])))
        coll = engine._get(dt)
        store = coll.vector_store("")
        ms = _timed(lambda: coll.search(q, "", None, 10, 0, None, False, False, models.SearchParams(exact=True)), 5)
        print(f"dense   {n} x {dim} {dt:7s} Cosine: matrix {store.data[:n].nbytes / 1e6:.1f} MB, exact scan {ms:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sparse-points", type=int, default=100_000)
    ap.add_argument("--multi-points", type=int, default=10_000)
    ap.add_argument("--dense-points", type=int, default=100_000)
    args = ap.parse_args()
    bench_sparse(args.sparse_points)
    bench_multi(args.multi_points)
    bench_datatypes(args.dense_points)


if __name__ == "__main__":
    main()
