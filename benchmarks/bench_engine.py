"""The built-in engine's approximate search against raw hnswlib, Qdrant Edge and qdrant-client.

    python benchmarks/bench_engine.py              # 100,000 x 128 (about 5-8 minutes)
    python benchmarks/bench_engine.py --quick      # 20,000 points, fewer queries (smoke run)
    python benchmarks/bench_engine.py --million    # also 1,000,000 x 128 for qdrant-sdk and Edge (~20 min more)
    python benchmarks/bench_engine.py --points 50000 --json /tmp/engine.json
    python benchmarks/bench_engine.py --quantized --systems edge,ours-path   # + scalar int8, originals on disk

Data: ``_common.clustered_dataset`` (100 random centres in 128-d, point = centre + 0.3 N(0,1)),
Cosine, ids 0..n-1, payload ``{"group": 0..9, "bucket": 0..99}`` (uniform, independent of the
clusters; both fields get an integer payload index). Each system runs in its own fresh
interpreter, one after the other, on the same deterministic data:

* ``hnswlib``: raw hnswlib 0.8 (space ``ip`` on normalised vectors, M=16, ef_construction=100,
  bulk ``add_items`` on all cores; search ef=100, one query per call). Filtered searches use
  hnswlib's per-node Python filter callback. Reopen = ``load_index`` of a saved file.
* ``edge``: qdrant-edge-py (``EdgeShard`` with default HNSW/optimizer config, both payload
  fields indexed, upsert in batches, then ``optimize()``); ingest = upsert + optimize.
  Queries get their vectors as ready-made lists (Edge's best case). Reopen = ``EdgeShard.load``
  + the first query.
* ``official``: qdrant-client local mode, ``:memory:``; brute force, so only a few queries.
* ``ours-memory`` / ``ours-path``: qdrant-sdk's ``QdrantClient(":memory:")`` and
  ``QdrantClient(path=...)`` through the full public API (``upload_collection``, then
  ``query_points(query=ndarray, limit=10, query_filter=...)`` with the facade's defaults, so
  payloads are returned). The graph is built during the upload, so ingest = the upload.
  Reopen = ``QdrantClient(path)`` + ``count`` (and, separately, the first search after it).

``--quantized`` adds ``edge-sq`` and ``ours-path-sq``: the same collection with scalar int8
quantization (``quantile`` 0.99, ``always_ram``) and the originals on disk (``on_disk: true``),
searched with ``quantization: {rescore: true, oversampling: 2.0}`` on both. Their searches and
RSS are measured in a *fresh process* that reopens the stored collection (``probe`` worker: the
data generator's arrays are freed first, RSS is read after the open and after the searches),
and the unquantized ``edge`` / ``ours-path`` runs get the same probe, so the RSS ratio compares
like with like.

Search latency is the p50 over ``--passes`` passes over the queries (wall clock around one
API call; the machine is shared and noisy, so compare systems within one run). Recall@10 is
against exact numpy ground truth computed by the parent process.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
import tempfile
import time
import warnings
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    Timer,
    clustered_dataset,
    collect,
    current_rss_mb,
    dir_size_mb,
    fmt_num,
    log,
    machine_info,
    peak_rss_mb,
    render_markdown_table,
    render_table,
    run_worker,
    temp_dir,
    write_json,
)
from _engine_common import (  # noqa: E402
    FILTERS,
    KINDS,
    LIMIT,
    buckets,
    ground_truth,
    masks,
    normalise,
    payload_columns,
    summary,
    time_queries,
)

DIM = 128
COLLECTION = "bench"
SYSTEMS = ("hnswlib", "edge", "official", "ours-memory", "ours-path", "edge-sq", "ours-path-sq")
QUANT_SYSTEMS = ("edge-sq", "ours-path-sq")
QUANT_OVERSAMPLING = 2.0
MILLION_SYSTEMS = ("edge", "ours-path")
LABEL = {
    "hnswlib": "raw hnswlib",
    "edge": "Qdrant Edge",
    "official": "qdrant-client local",
    "ours-memory": "qdrant-sdk :memory:",
    "ours-path": "qdrant-sdk path",
    "edge-sq": "Qdrant Edge, int8 on disk",
    "ours-path-sq": "qdrant-sdk path, int8 on disk",
}


# =================================================================================================
# workers: each runs in a fresh interpreter for one system
# =================================================================================================
def _data(args: argparse.Namespace):
    data = clustered_dataset(args.points, dim=DIM, n_queries=args.queries, seed=args.seed)
    bucket = buckets(args.points, args.seed)
    return data, bucket


def _peak() -> float:
    return max(peak_rss_mb(), current_rss_mb())


def worker(args: argparse.Namespace) -> dict[str, Any]:
    system = args._worker
    data, bucket = _data(args)
    truth = dict(np.load(args.truth))
    collect()
    out: dict[str, Any] = {"system": system, "points": args.points, "notes": [],
                           "rss": {"baseline_mb": current_rss_mb()}}
    if system == "probe":
        return _probe(args)
    run = {"hnswlib": _hnswlib, "edge": _edge, "official": _official,
           "ours-memory": _ours, "ours-path": _ours, "edge-sq": _edge, "ours-path-sq": _ours}[system]
    run(args, data, bucket, truth, out)
    out["rss"]["peak_mb"] = _peak()
    return out


def _record_ingest(out: dict, walls: list, cpus: list) -> None:
    out["ingest_s"] = float(np.median(walls))
    out["ingest_all_s"] = walls
    out["ingest_cpu_s"] = float(np.median(cpus))
    log(f"{out['system']}: ingest {out['ingest_s']:.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}), "
        f"CPU {out['ingest_cpu_s']:.2f} s")


def _record_search(out: dict, kind: str, times: list, ids: list, truth: dict) -> None:
    out.setdefault("search", {})[kind] = summary(times, ids, truth[kind])
    s = out["search"][kind]
    log(f"{out['system']}: {kind}: p50 {s['p50_ms']:.3f} ms, recall {s['recall']:.4f}")


def _hnswlib(args, data, bucket, truth, out) -> None:
    import hnswlib

    from importlib.metadata import version

    out["version"] = version("hnswlib")
    x = normalise(data.vectors)
    qn = normalise(data.queries)
    n = len(x)
    walls, cpus = [], []
    for r in range(args.ingest_repeats):
        log(f"hnswlib: building over {n:,} points ({r + 1}/{args.ingest_repeats})")
        index = None
        collect()
        c0 = time.process_time()
        with Timer() as t:
            index = hnswlib.Index(space="ip", dim=DIM)
            index.init_index(max_elements=n, M=16, ef_construction=100, random_seed=100)
            index.add_items(x, np.arange(n), num_threads=os.cpu_count() or 1)
        walls.append(t.seconds)
        cpus.append(time.process_time() - c0)
    _record_ingest(out, walls, cpus)
    del x
    collect()
    out["rss"]["after_load_mb"] = current_rss_mb()
    index.set_ef(100)
    mk = masks(data.groups, bucket)
    for kind in KINDS:
        flt = None if mk[kind] is None else mk[kind].__getitem__

        def one(i: int, flt=flt) -> list:
            labels, _ = index.knn_query(qn[i], k=LIMIT, num_threads=1, filter=flt)
            return labels[0].tolist()

        times, ids = time_queries(one, len(qn), passes=args.passes)
        _record_search(out, kind, times, ids, truth)
    out["notes"].append("filtered searches use hnswlib's Python filter callback (called per visited node)")
    with temp_dir("bench-hnswlib-") as tmp:
        path = os.path.join(tmp, "index.bin")
        index.save_index(path)
        del index
        collect()
        with Timer() as t:
            index = hnswlib.Index(space="ip", dim=DIM)
            index.load_index(path)
            index.knn_query(qn[0], k=LIMIT)
        out["reopen_s"] = t.seconds


def _edge(args, data, bucket, truth, out) -> None:
    import qdrant_edge as e

    from importlib.metadata import version

    out["version"] = version("qdrant-edge-py")
    vectors, groups = data.vectors, data.groups
    n = len(vectors)
    quantized = args._worker == "edge-sq"
    with temp_dir("bench-edge-") as root:
        path = os.path.join(root, "shard")
        if quantized:
            sq = e.ScalarQuantizationConfig(type=e.ScalarType.Int8, quantile=0.99, always_ram=True)
            params = e.EdgeVectorParams(size=DIM, distance=e.Distance.Cosine, on_disk=True, quantization_config=sq)
        else:
            params = e.EdgeVectorParams(size=DIM, distance=e.Distance.Cosine)
        config = e.EdgeConfig(vectors={"": params})
        shard = e.EdgeShard.create(path, config)
        for field in ("group", "bucket"):
            shard.update(e.UpdateOperation.create_field_index(field, e.PayloadSchemaType.Integer))
        log(f"edge: upserting {n:,} points, batch {args.batch_size}")
        g, b = groups.tolist(), bucket.tolist()
        c0 = time.process_time()
        with Timer() as t_up:
            for start in range(0, n, args.batch_size):
                end = min(n, start + args.batch_size)
                rows = vectors[start:end].tolist()
                points = [e.Point(i, rows[i - start], {"group": g[i], "bucket": b[i]}) for i in range(start, end)]
                shard.update(e.UpdateOperation.upsert_points(points))
        log("edge: optimize()")
        with Timer() as t_opt:
            shard.optimize()
        _record_ingest(out, [t_up.seconds + t_opt.seconds], [time.process_time() - c0])
        out["ingest_parts"] = {"upsert_s": t_up.seconds, "optimize_s": t_opt.seconds}
        info = shard.info()
        out["indexed_vectors_count"] = info.indexed_vectors_count
        out["segments"] = info.segments_count
        collect()
        out["rss"]["after_load_mb"] = current_rss_mb()
        if quantized:   # searched in the fresh-process probe, after a reopen
            shard.close()
            del shard
            collect()
            out["disk_mb"] = dir_size_mb(path)
            out["probe"] = _run_probe(args, "edge", path, quantized=True)
            out["search"] = out["probe"]["search"]
            return
        queries = [q.tolist() for q in data.queries]
        filters = {"unfiltered": None}
        for kind, (key, value) in FILTERS.items():
            filters[kind] = e.Filter(must=[e.FieldCondition(key, match=e.MatchValue(value))])
        for kind in KINDS:
            flt = filters[kind]

            def one(i: int, flt=flt) -> list:
                req = e.QueryRequest(limit=LIMIT, query=e.Query.Nearest(queries[i]), with_payload=True, filter=flt)
                return [p.id for p in shard.query(req)]

            times, ids = time_queries(one, len(queries), passes=args.passes)
            _record_search(out, kind, times, ids, truth)
        out["rss"]["after_search_mb"] = current_rss_mb()
        shard.close()
        del shard
        collect()
        out["disk_mb"] = dir_size_mb(path)
        times = []
        for _ in range(args.reopen_repeats):
            with Timer() as t:
                shard = e.EdgeShard.load(path)
                shard.query(e.QueryRequest(limit=LIMIT, query=e.Query.Nearest(queries[0])))
            times.append(t.seconds)
            shard.close()
            del shard
            collect()
        out["reopen_s"] = float(np.median(times))
        out["reopen_all_s"] = times
        if args.quantized:
            out["probe"] = _run_probe(args, "edge", path, quantized=False)


def _official(args, data, bucket, truth, out) -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    from importlib.metadata import version

    from qdrant_client import QdrantClient, models

    out["version"] = version("qdrant-client")
    client = QdrantClient(":memory:")
    client.create_collection(COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    payloads = payload_columns(data.groups, bucket)
    log(f"official: uploading {args.points:,} points")
    c0 = time.process_time()
    with Timer() as t:
        client.upload_collection(COLLECTION, vectors=data.vectors, payload=payloads, ids=list(range(args.points)),
                                 batch_size=args.batch_size)
    _record_ingest(out, [t.seconds], [time.process_time() - c0])
    collect()
    out["rss"]["after_load_mb"] = current_rss_mb()
    nq = min(args.official_queries, len(data.queries))
    for kind in KINDS:
        flt = None
        if kind in FILTERS:
            key, value = FILTERS[kind]
            flt = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])

        def one(i: int, flt=flt) -> list:
            return [p.id for p in client.query_points(COLLECTION, query=data.queries[i], limit=LIMIT, query_filter=flt).points]

        times, ids = time_queries(one, nq, passes=1, warmup=1)
        _record_search(out, kind, times, ids, truth)
    out["notes"].append(f"qdrant-client local mode is brute force: {nq} queries per kind, one pass")
    client.close()


def _ours(args, data, bucket, truth, out) -> None:
    from importlib.metadata import version

    from sdk import QdrantClient, models

    out["version"] = version("qdrant-sdk")
    path_mode = args._worker in ("ours-path", "ours-path-sq")
    quantized = args._worker == "ours-path-sq"
    vector_params = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    quantization = None
    if quantized:
        vector_params = models.VectorParams(size=DIM, distance=models.Distance.COSINE, on_disk=True)
        quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, always_ram=True))
    n = args.points
    payloads = payload_columns(data.groups, bucket)
    ids = list(range(n))
    with temp_dir("bench-ours-") as root:
        walls, cpus = [], []
        for r in range(args.ingest_repeats):
            if r:   # an earlier repeat: drop it (its folder too) before the next one
                client.close()
                del client
                collect()
            path = os.path.join(root, f"data{r}")
            client = QdrantClient(path=path) if path_mode else QdrantClient(":memory:")
            client.create_collection(COLLECTION, vectors_config=vector_params, quantization_config=quantization)
            for field in ("group", "bucket"):
                client.create_payload_index(COLLECTION, field, models.PayloadSchemaType.INTEGER)
            log(f"{args._worker}: uploading {n:,} points, batch {args.batch_size} ({r + 1}/{args.ingest_repeats})")
            c0 = time.process_time()
            with Timer() as t:
                client.upload_collection(COLLECTION, vectors=data.vectors, payload=payloads, ids=ids,
                                         batch_size=args.batch_size)
                info = client.get_collection(COLLECTION)
            walls.append(t.seconds)
            cpus.append(time.process_time() - c0)
        _record_ingest(out, walls, cpus)
        out["indexed_vectors_count"] = info.indexed_vectors_count
        out["status"] = str(getattr(info.status, "value", info.status))
        del payloads
        collect()
        out["rss"]["after_load_mb"] = current_rss_mb()
        if quantized:   # searched in the fresh-process probe, after a reopen (originals mapped)
            with Timer() as t:
                client.close()
            out["close_s"] = t.seconds
            del client
            collect()
            out["disk_mb"] = dir_size_mb(path)
            out["probe"] = _run_probe(args, "ours", path, quantized=True)
            out["search"] = out["probe"]["search"]
            return
        filters: dict[str, Any] = {"unfiltered": None}
        for kind, (key, value) in FILTERS.items():
            filters[kind] = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])
        collection = _collection_of(client)
        for kind in KINDS:
            flt = filters[kind]
            paths: dict[str, int] = {}

            def one(i: int, flt=flt, paths=paths) -> list:
                got = [p.id for p in client.query_points(COLLECTION, query=data.queries[i], limit=LIMIT,
                                                         query_filter=flt).points]
                return got

            times, got = time_queries(one, len(data.queries), passes=args.passes)
            _record_search(out, kind, times, got, truth)
            if collection is not None:   # which planner path answered (one extra query, untimed)
                client.query_points(COLLECTION, query=data.queries[0], limit=LIMIT, query_filter=flt)
                out["search"][kind]["path"] = collection._last_plan.path
            if collection is not None and flt is not None:
                # The same filter again with the filter cache emptied before every query: what a
                # query with a filter not seen since the last write costs.
                def cold(i: int, flt=flt) -> list:
                    collection.invalidate_search_caches()
                    return [p.id for p in client.query_points(COLLECTION, query=data.queries[i], limit=LIMIT,
                                                              query_filter=flt).points]

                times, got = time_queries(cold, len(data.queries), passes=args.passes)
                _record_search(out, kind + "_cold", times, got, {kind + "_cold": truth[kind]})
        out["rss"]["after_search_mb"] = current_rss_mb()
        if not path_mode:
            client.close()
            return
        with Timer() as t:
            client.close()
        out["close_s"] = t.seconds
        del client, collection
        collect()
        out["disk_mb"] = dir_size_mb(path)
        reopen, first, rebuilt = [], [], []
        for _ in range(args.reopen_repeats):
            with Timer() as t:
                client = QdrantClient(path=path)
                count = client.count(COLLECTION).count
            reopen.append(t.seconds)
            with Timer() as t:
                client.query_points(COLLECTION, query=data.queries[0], limit=LIMIT)
            first.append(t.seconds)
            collection = _collection_of(client)
            if collection is not None:
                rebuilt.append(collection._indexes.stats["builds"])
            assert count == n, (count, n)
            client.close()
            del client, collection
            collect()
        out["reopen_s"] = float(np.median(reopen))
        out["reopen_all_s"] = reopen
        out["first_search_after_reopen_s"] = float(np.median(first))
        out["reopen_rebuilds"] = rebuilt
        if args.quantized:
            out["probe"] = _run_probe(args, "ours", path, quantized=False)


def _run_probe(args: argparse.Namespace, system: str, path: str, quantized: bool) -> dict[str, Any]:
    """Reopen ``path`` in a fresh interpreter, search it, report its RSS (see ``_probe``)."""
    wargs = ["--_worker", "probe", "--probe-system", system, "--probe-path", path,
             "--probe-quantized", "1" if quantized else "0", "--points", str(args.points),
             "--queries", str(args.queries), "--passes", str(args.passes), "--seed", str(args.seed),
             "--truth", args.truth]
    log(f"probe: {system} ({'int8 on disk' if quantized else 'unquantized'}) reopened in a fresh process")
    return run_worker(os.path.abspath(__file__), wargs, timeout=args.timeout)


def _rss_parts_mb() -> dict[str, float]:
    """RssAnon / RssFile of this process (MB): anonymous memory vs file pages mapped in (a
    memory-mapped file's pages count in RSS once touched, but the kernel can drop them)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(":")[0]
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return out


def _probe(args: argparse.Namespace) -> dict[str, Any]:
    """A fresh process: open the stored collection, run every query kind, and report RSS before
    the open (interpreter + imports + the queries), after it, and after the searches."""
    data, bucket = _data(args)
    queries = data.queries.copy()
    truth = dict(np.load(args.truth))
    del data, bucket
    collect()
    quantized = args.probe_quantized == "1"
    out: dict[str, Any] = {"system": args.probe_system, "quantized": quantized, "rss": {}}
    if args.probe_system == "ours":
        from sdk import QdrantClient, models

        params = models.SearchParams(quantization=models.QuantizationSearchParams(
            rescore=True, oversampling=QUANT_OVERSAMPLING)) if quantized else None
        filters: dict[str, Any] = {"unfiltered": None}
        for kind, (key, value) in FILTERS.items():
            filters[kind] = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])
        out["rss"]["before_open_mb"] = current_rss_mb()
        out["rss"]["before_open_parts"] = _rss_parts_mb()
        with Timer() as t:
            client = QdrantClient(path=args.probe_path)
            client.count(COLLECTION)
        collection = _collection_of(client)
        if collection is not None:
            vec = collection._dense[""]
            out["originals_mapped"] = type(vec.data).__name__ == "memmap"
            quant = collection._quant.for_name("")
            out["codes_mb"] = None if quant is None else quant.nbytes / 2**20

        def one(i: int, flt: Any) -> list:
            return [p.id for p in client.query_points(COLLECTION, query=queries[i], limit=LIMIT, query_filter=flt,
                                                      search_params=params).points]
    else:
        import qdrant_edge as e

        params = e.SearchParams(quantization=e.QuantizationSearchParams(
            rescore=True, oversampling=QUANT_OVERSAMPLING)) if quantized else None
        qlists = [q.tolist() for q in queries]
        filters = {"unfiltered": None}
        for kind, (key, value) in FILTERS.items():
            filters[kind] = e.Filter(must=[e.FieldCondition(key, match=e.MatchValue(value))])
        out["rss"]["before_open_mb"] = current_rss_mb()
        out["rss"]["before_open_parts"] = _rss_parts_mb()
        with Timer() as t:
            client = e.EdgeShard.load(args.probe_path)

        def one(i: int, flt: Any) -> list:
            req = e.QueryRequest(limit=LIMIT, query=e.Query.Nearest(qlists[i]), with_payload=True, filter=flt,
                                 params=params)
            return [p.id for p in client.query(req)]
    out["open_s"] = t.seconds
    collect()
    out["rss"]["after_open_mb"] = current_rss_mb()
    out["rss"]["after_open_parts"] = _rss_parts_mb()
    out["search"] = {}
    for kind in KINDS:
        times, ids = time_queries(lambda i, flt=filters[kind]: one(i, flt), len(queries), passes=args.passes)
        out["search"][kind] = summary(times, ids, truth[kind])
        log(f"probe {args.probe_system}: {kind}: p50 {out['search'][kind]['p50_ms']:.3f} ms, "
            f"recall {out['search'][kind]['recall']:.4f}")
    collect()
    out["rss"]["after_search_mb"] = current_rss_mb()
    out["rss"]["after_search_parts"] = _rss_parts_mb()
    out["rss"]["peak_mb"] = _peak()
    client.close()
    return out


def _collection_of(client) -> Any:
    engine = getattr(getattr(client, "_transport", None), "_engine", None)
    return None if engine is None else engine._collections.get(COLLECTION)


# =================================================================================================
# parent
# =================================================================================================
TARGETS = [
    # (label, numerator, denominator, max ratio)
    ("search p50 vs Edge", ("ours-memory", "unfiltered"), ("edge", "unfiltered"), 1.0),
    ("search p50 vs raw hnswlib", ("ours-memory", "unfiltered"), ("hnswlib", "unfiltered"), 2.5),
    ("10 % filtered p50 vs Edge", ("ours-memory", "f10"), ("edge", "f10"), 1.0),
    ("1 % filtered p50 vs Edge", ("ours-memory", "f1"), ("edge", "f1"), 1.0),
]


def _truth_file(tmp: str, args: argparse.Namespace) -> str:
    data = clustered_dataset(args.points, dim=DIM, n_queries=args.queries, seed=args.seed)
    mk = masks(data.groups, buckets(args.points, args.seed))
    log(f"ground truth: exact top-{LIMIT} for {args.queries} queries over {args.points:,} points")
    truth = {kind: ground_truth(data.vectors, data.queries, mk[kind]) for kind in KINDS}
    path = os.path.join(tmp, f"truth-{args.points}.npz")
    np.savez(path, **truth)
    return path


def run_size(args: argparse.Namespace, systems: tuple[str, ...]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        truth = _truth_file(tmp, args)
        for system in systems:
            wargs = ["--_worker", system, "--points", str(args.points), "--queries", str(args.queries),
                     "--ingest-repeats", str(args.ingest_repeats),
                     "--passes", str(args.passes), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
                     "--official-queries", str(args.official_queries), "--reopen-repeats", str(args.reopen_repeats),
                     "--truth", truth] + (["--quantized"] if args.quantized else [])
            log(f"== {system} ({args.points:,} points)")
            try:
                results[system] = run_worker(os.path.abspath(__file__), wargs, timeout=args.timeout)
            except Exception as exc:  # one broken system must not hide the others
                log(f"{system} failed: {exc}")
                results[system] = {"system": system, "error": str(exc)}
    return results


def _get(res: dict, system: str, *keys: str) -> Any:
    d: Any = res.get(system)
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def table(res: dict[str, Any], systems: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    headers = ["metric"] + [LABEL[s] for s in systems]
    rows: list[list[str]] = []

    def row(label: str, fn) -> None:
        rows.append([label] + [fmt_num(fn(s)) for s in systems])

    row("ingest: upsert + index build (s)", lambda s: _get(res, s, "ingest_s"))
    row("ingest CPU time, all threads (s)", lambda s: _get(res, s, "ingest_cpu_s"))
    row("indexed vectors", lambda s: _get(res, s, "indexed_vectors_count"))
    for kind, label in (("unfiltered", "search"), ("f10", "10 % filter"), ("f1", "1 % filter")):
        row(f"{label}: p50 (ms)", lambda s, k=kind: _get(res, s, "search", k, "p50_ms"))
        row(f"{label}: recall@10", lambda s, k=kind: _get(res, s, "search", k, "recall"))
    for kind, label in (("f10_cold", "10 % filter, filter cache emptied"), ("f1_cold", "1 % filter, filter cache emptied")):
        row(f"{label}: p50 (ms)", lambda s, k=kind: _get(res, s, "search", k, "p50_ms"))
    row("reopen (s)", lambda s: _get(res, s, "reopen_s"))
    row("first search after reopen (s)", lambda s: _get(res, s, "first_search_after_reopen_s"))
    row("RSS after load (MB)", lambda s: _get(res, s, "rss", "after_load_mb"))
    row("RSS peak (MB)", lambda s: _get(res, s, "rss", "peak_mb"))
    row("on disk (MB)", lambda s: _get(res, s, "disk_mb"))
    if any(_get(res, s, "probe") for s in systems):
        row("fresh process: RSS after reopen + searches (MB)", lambda s: _get(res, s, "probe", "rss", "after_search_mb"))
        row("fresh process: the same minus RSS before the open (MB)", lambda s: _probe_delta(res, s))
        row("  of which anonymous memory (RssAnon, MB)", lambda s: _probe_delta(res, s, "RssAnon"))
        row("  of which mapped file pages (RssFile, MB)", lambda s: _probe_delta(res, s, "RssFile"))
        row("fresh process: search p50 after reopen (ms)", lambda s: _get(res, s, "probe", "search", "unfiltered", "p50_ms"))
        row("fresh process: recall@10 after reopen", lambda s: _get(res, s, "probe", "search", "unfiltered", "recall"))
    return headers, rows


def _probe_delta(res: dict, system: str, part: str | None = None) -> float | None:
    """RSS the reopened collection added in the probe process (after searches - before open)."""
    if part is None:
        a = _get(res, system, "probe", "rss", "after_search_mb")
        b = _get(res, system, "probe", "rss", "before_open_mb")
    else:
        a = _get(res, system, "probe", "rss", "after_search_parts", part)
        b = _get(res, system, "probe", "rss", "before_open_parts", part)
    return None if a is None or b is None else a - b


def targets(res: dict[str, Any], million: dict[str, Any] | None) -> tuple[list[str], list[list[str]]]:
    headers = ["target", "ours", "reference", "ratio", "limit", "recall", "status"]
    rows = []
    for label, (us, kind), (ref, rkind), limit in TARGETS:
        a = _get(res, us, "search", kind, "p50_ms")
        b = _get(res, ref, "search", rkind, "p50_ms")
        rec = _get(res, us, "search", kind, "recall")
        ratio = a / b if a and b else None
        ok = ratio is not None and ratio <= limit and (rec or 0) >= 0.98
        rows.append([label, fmt_num(a), fmt_num(b), _ratio(ratio), f"<= {limit}x", fmt_num(rec), "MET" if ok else "MISSED"])
        if us == "ours-memory":  # the same for path mode
            a2 = _get(res, "ours-path", "search", kind, "p50_ms")
            rec2 = _get(res, "ours-path", "search", kind, "recall")
            if a2 is not None:
                r2 = a2 / b if b else None
                ok2 = r2 is not None and r2 <= limit and (rec2 or 0) >= 0.98
                rows.append([label + " (path)", fmt_num(a2), fmt_num(b), _ratio(r2), f"<= {limit}x", fmt_num(rec2),
                             "MET" if ok2 else "MISSED"])
    for system in ("ours-memory", "ours-path"):
        ing = _get(res, system, "ingest_s")
        for ref, limit in (("edge", 1.0), ("hnswlib", 1.5)):
            b = _get(res, ref, "ingest_s")
            ratio = ing / b if ing and b else None
            rows.append([f"ingest vs {LABEL[ref]} ({system.split('-')[1]})", fmt_num(ing), fmt_num(b), _ratio(ratio),
                         f"<= {limit}x", "", "MET" if ratio is not None and ratio <= limit else "MISSED"])
    for size_res, tag in ((res, ""), (million or {}, " 1M")):
        ours = _get(size_res, "ours-path-sq", "probe", "rss", "after_search_mb")
        plain = _get(size_res, "ours-path", "probe", "rss", "after_search_mb")
        if ours is None:
            continue
        rec = _get(size_res, "ours-path-sq", "search", "unfiltered", "recall")
        ratio = ours / plain if plain else None
        ok = ratio is not None and ratio <= 0.40 and (rec or 0) >= 0.95
        rows.append([f"int8 on disk{tag}: RSS vs unquantized (fresh process)", fmt_num(ours), fmt_num(plain),
                     _ratio(ratio), "<= 0.40x", fmt_num(rec), "MET" if ok else "MISSED"])
        d_ours, d_plain = _probe_delta(size_res, "ours-path-sq"), _probe_delta(size_res, "ours-path")
        r2 = d_ours / d_plain if d_ours and d_plain else None
        rows.append(["  the same, minus the interpreter's RSS", fmt_num(d_ours), fmt_num(d_plain), _ratio(r2),
                     "", "", ""])
        a_ours, a_plain = _probe_delta(size_res, "ours-path-sq", "RssAnon"), _probe_delta(size_res, "ours-path", "RssAnon")
        r3 = a_ours / a_plain if a_ours and a_plain else None
        rows.append(["  the same, anonymous memory only (mapped originals excluded)", fmt_num(a_ours), fmt_num(a_plain),
                     _ratio(r3), "", "", ""])
        a = _get(size_res, "ours-path-sq", "search", "unfiltered", "p50_ms")
        b = _get(size_res, "edge-sq", "search", "unfiltered", "p50_ms")
        erec = _get(size_res, "edge-sq", "search", "unfiltered", "recall")
        rows.append([f"int8 on disk{tag}: search p50 beside Edge int8 on disk", fmt_num(a), fmt_num(b),
                     _ratio(a / b if a and b else None), "(printed)", f"{fmt_num(rec)} / {fmt_num(erec)}", ""])
    if million:
        r = _get(million, "ours-path", "reopen_s")
        rebuilt = _get(million, "ours-path", "reopen_rebuilds")
        ok = r is not None and r < 2.0 and not any(rebuilt or [1])
        rows.append(["reopen 1M (open + count), no rebuild", fmt_num(r), "", "", "< 2 s", "",
                     "MET" if ok else "MISSED"])
        f = _get(million, "ours-path", "first_search_after_reopen_s")
        rows.append(["  + first search after reopen", fmt_num(f), "", "", "", "", ""])
    return headers, rows


def _ratio(r: float | None) -> str:
    return "-" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{r:.2f}x"


def report(all_res: dict[str, dict], args: argparse.Namespace, meta: dict) -> str:
    lines = [f"qdrant-sdk engine benchmark ({meta['date']})", f"command: {meta['command']}"]
    m = meta["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB; Python {m['python']}, numpy {m['numpy']}")
    lines.append(f"load average (1 min) at start {meta['load_start']:.2f}, at end {meta['load_end']:.2f}; "
                 f"wall time {meta['elapsed_s']:.0f} s")
    for size, res in all_res.items():
        systems = tuple(s for s in SYSTEMS if s in res)
        vers = ", ".join(f"{LABEL[s]} {res[s].get('version', '?')}" for s in systems if "error" not in res[s])
        lines += ["", f"## {int(size):,} x {DIM}, Cosine  ({vers})", ""]
        headers, rows = table(res, systems)
        lines.append(render_table(headers, rows))
        for s in systems:
            if "error" in res[s]:
                lines.append(f"{LABEL[s]}: FAILED ({res[s]['error']})")
            for note in res[s].get("notes", []):
                lines.append(f"note ({LABEL[s]}): {note}")
            paths = {k: _get(res, s, "search", k, "path") for k in KINDS}
            if any(paths.values()):
                lines.append(f"planner paths ({LABEL[s]}): " + ", ".join(f"{k}={v}" for k, v in paths.items()))
            if _get(res, s, "ingest_parts"):
                parts = res[s]["ingest_parts"]
                lines.append(f"ingest parts ({LABEL[s]}): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
            if len(_get(res, s, "ingest_all_s") or []) > 1:
                lines.append(f"ingest runs ({LABEL[s]}): " + ", ".join(f"{x:.2f}" for x in res[s]["ingest_all_s"]))
            if _get(res, s, "reopen_all_s"):
                lines.append(f"reopen runs ({LABEL[s]}): " + ", ".join(f"{x:.3f}" for x in res[s]["reopen_all_s"])
                             + (f"; graph rebuilds on reopen: {res[s].get('reopen_rebuilds')}"
                                if "reopen_rebuilds" in res[s] else ""))
    main = all_res.get(str(args.points))
    if main is not None:
        headers, rows = targets(main, all_res.get("1000000") if args.million else None)
        lines += ["", "## Targets (ratios within this run)", "", render_table(headers, rows)]
    return "\n".join(lines)


def markdown(all_res: dict[str, dict], args: argparse.Namespace) -> str:
    out = []
    for size, res in all_res.items():
        systems = tuple(s for s in SYSTEMS if s in res)
        headers, rows = table(res, systems)
        out += [f"### {int(size):,} x {DIM}", "", render_markdown_table(headers, rows), ""]
    main = all_res.get(str(args.points))
    if main is not None:
        headers, rows = targets(main, all_res.get("1000000") if args.million else None)
        out += ["### Targets", "", render_markdown_table(headers, rows, align="lrrrrrl"), ""]
    return "\n".join(out)


def _with_quantized(systems: tuple[str, ...], quantized: bool) -> tuple[str, ...]:
    """``--quantized`` adds the int8 variant of each of ``edge`` / ``ours-path`` that runs."""
    systems = tuple(s for s in systems if quantized or s not in QUANT_SYSTEMS)
    if quantized:
        systems += tuple(f"{s}-sq" for s in ("edge", "ours-path") if s in systems and f"{s}-sq" not in systems)
    return systems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=3, help="passes over the queries for latency (p50 over all)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--official-queries", type=int, default=10)
    ap.add_argument("--reopen-repeats", type=int, default=3)
    ap.add_argument("--ingest-repeats", type=int, default=1,
                    help="ingest repeats for raw hnswlib and qdrant-sdk (median reported)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--systems", default=",".join(s for s in SYSTEMS if s not in QUANT_SYSTEMS))
    ap.add_argument("--quick", action="store_true", help="20,000 points, 50 queries, one reopen")
    ap.add_argument("--million", action="store_true", help="also run 1,000,000 points for " + ", ".join(MILLION_SYSTEMS))
    ap.add_argument("--million-systems", default=",".join(MILLION_SYSTEMS))
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--markdown", help="write the tables as markdown here")
    ap.add_argument("--quantized", action="store_true",
                    help="also run scalar int8 with originals on disk (edge-sq, ours-path-sq) and probe RSS after reopen")
    ap.add_argument("--probe-system", help=argparse.SUPPRESS)
    ap.add_argument("--probe-path", help=argparse.SUPPRESS)
    ap.add_argument("--probe-quantized", help=argparse.SUPPRESS)
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    ap.add_argument("--_out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args._worker:
        write_json(args._out, worker(args))
        return

    if args.quick:
        args.points, args.queries, args.reopen_repeats = 20_000, 50, 1
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    all_res: dict[str, dict] = {}
    systems = _with_quantized(tuple(s for s in args.systems.split(",") if s), args.quantized)
    all_res[str(args.points)] = run_size(args, systems)
    if args.million:
        big = argparse.Namespace(**{**vars(args), "points": 1_000_000, "reopen_repeats": max(1, args.reopen_repeats),
                                    "ingest_repeats": 1})
        all_res["1000000"] = run_size(big, _with_quantized(tuple(s for s in args.million_systems.split(",") if s),
                                                          args.quantized))
    meta = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": "python benchmarks/bench_engine.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "elapsed_s": time.perf_counter() - started,
    }
    print(report(all_res, args, meta))
    if args.json:
        write_json(args.json, {"meta": meta, "results": all_res})
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(markdown(all_res, args))


if __name__ == "__main__":
    main()
