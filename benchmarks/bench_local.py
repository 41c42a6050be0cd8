"""qdrant-sdk's built-in engine vs the official qdrant-client's local mode, side by side.

    python benchmarks/bench_local.py              # full run: 100,000 points, 128-d, Cosine
    python benchmarks/bench_local.py --quick      # smoke run: 10,000 points, fewer queries
    python benchmarks/bench_local.py --points 50000 --json /tmp/bench.json

Each system runs in its own fresh interpreter (so RSS is its own) on the same deterministic data:
clustered 128-d float32 vectors (100 random centres, point = centre + 0.3·N(0,1)), payload
``{"group": g}`` with g uniform in 0..9, ids 0..n-1. Both clients get exactly the same calls:

* ``upload_collection(name, vectors=ndarray, payload=list, ids=list, batch_size=B)`` for
  B = 64 (qdrant-client's default) and B = 1000, into ``QdrantClient(":memory:")`` and into
  ``QdrantClient(path=tmpdir)``;
* ``query_points(name, query=ndarray, limit=10, search_params=SearchParams(exact=True))``,
  unfiltered and with ``Filter(must=[FieldCondition(key="group", match=MatchValue(value=3))])``
  (10 % of the points), p50 latency over the queries;
* reopen: ``close()``, then time ``QdrantClient(path=same)`` + the first ``count()``.

The official client's path-mode upsert commits every point separately (sqlite, one fsync each),
so it is measured on at most ``--official-path-cap`` points (and at most
``--official-path-budget`` seconds, loading in chunks of whole batches) and reported as
points/s. Its reopen is then measured on the full collection: the rest of the points are
loaded through the same ``upload_collection`` call after ``PRAGMA synchronous=OFF`` on the
official client's own sqlite connection, which writes the same rows, only without waiting for
fsync. That fill is not timed; the output says so.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    Timer,
    blas_thread_env,
    clustered_dataset,
    collect,
    current_rss_mb,
    dir_size_mb,
    fmt_num,
    fmt_ratio,
    log,
    machine_info,
    p50,
    peak_rss_mb,
    percentile,
    render_markdown_table,
    render_table,
    run_worker,
    temp_dir,
    write_json,
)

COLLECTION = "bench"
DIM = 128
FILTER_GROUP = 3
LIMIT = 10
SYSTEMS = ("official", "ours")
LABEL = {"official": "qdrant-client (local)", "ours": "qdrant-sdk"}


# =================================================================================================
# worker: runs inside a fresh interpreter for one system
# =================================================================================================
def _import_client(system: str):
    if system == "ours":
        import sdk
        from sdk import QdrantClient, models

        version = getattr(sdk, "__version__", None)
        if version is None:
            from importlib.metadata import version as _v

            version = _v("qdrant-sdk")
        return QdrantClient, models, version
    if system == "official":
        # Local mode warns that search_params has no effect (it is always exact): expected here.
        warnings.filterwarnings("ignore", message=r"Local mode performs exact", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Local mode is not recommended", category=UserWarning)
        from importlib.metadata import version as _v

        from qdrant_client import QdrantClient, models

        return QdrantClient, models, _v("qdrant-client")
    raise ValueError(system)


def _create(client, models) -> None:
    client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )


def _upload(client, vectors, payloads, ids, batch_size: int) -> None:
    client.upload_collection(COLLECTION, vectors=vectors, payload=payloads, ids=ids, batch_size=batch_size)


def _upload_capped(client, vectors, payloads, ids, batch_size: int, cap: int, budget_s: float) -> tuple[int, float]:
    """Upload the first ``cap`` points in chunks of whole batches, stopping once ``budget_s`` is spent.

    Returns (points loaded, seconds). Chunks are multiples of ``batch_size``, so the batches sent
    are the same as one ``upload_collection`` call over the same points would send.
    """
    cap = min(cap, len(ids))
    chunk = batch_size * max(1, math.ceil(1000 / batch_size))
    loaded, seconds = 0, 0.0
    while loaded < cap and seconds < budget_s:
        end = min(cap, loaded + chunk)
        with Timer() as t:
            _upload(client, vectors[loaded:end], payloads[loaded:end], ids[loaded:end], batch_size)
        seconds += t.seconds
        loaded = end
    return loaded, seconds


def _search(client, models, queries, flt, n: int, warmup: int) -> tuple[list[float], list[list]]:
    params = models.SearchParams(exact=True)
    for i in range(warmup):
        client.query_points(COLLECTION, query=queries[i], limit=LIMIT, search_params=params, query_filter=flt)
    times, ids = [], []
    for i in range(n):
        with Timer() as t:
            resp = client.query_points(COLLECTION, query=queries[i], limit=LIMIT, search_params=params, query_filter=flt)
        times.append(t.seconds * 1000.0)
        ids.append([p.id for p in resp.points])
    return times, ids


def _count(client) -> int:
    return client.count(COLLECTION).count


def _peak_mb() -> float:
    # ru_maxrss is the kernel's high-water mark, which is updated lazily: it can trail the
    # current VmRSS by a page or two, so a peak is never reported below the current figure.
    return max(peak_rss_mb(), current_rss_mb())


def worker(args: argparse.Namespace) -> dict[str, Any]:
    system = args._worker
    official = system == "official"
    QdrantClient, models, version = _import_client(system)
    log(f"{system}: generating {args.points:,} points")
    data = clustered_dataset(args.points, dim=DIM, n_queries=max(args.queries, args.official_queries), seed=args.seed)
    vectors, ids, payloads = data.vectors, data.ids, data.payloads()
    n = len(ids)
    batch_sizes = args.batch_sizes
    collect()
    out: dict[str, Any] = {
        "system": system,
        "version": version,
        "points": n,
        "rss": {"baseline_mb": current_rss_mb(), "baseline_peak_mb": _peak_mb()},
        "upsert": {"memory": {}, "path": {}},
        "notes": [],
    }

    # -- memory mode: first batch size loads the collection that RSS and search are measured on --
    for k, bs in enumerate(batch_sizes):
        client = QdrantClient(":memory:")
        _create(client, models)
        log(f"{system}: memory upsert, batch_size={bs}")
        with Timer() as t:
            _upload(client, vectors, payloads, ids, bs)
        count = _count(client)
        # The first (approximate) search after the load: ours waits here for the HNSW indexing
        # its upserts queued (docs/indexing.md); the official local mode has no index.
        with Timer() as first:
            client.query_points(COLLECTION, query=data.queries[0], limit=10)
        out["upsert"]["memory"][str(bs)] = {"points": n, "seconds": t.seconds, "pts_per_s": n / t.seconds, "count": count,
                                            "first_search_s": first.seconds,
                                            "ready_pts_per_s": n / (t.seconds + first.seconds)}
        if k == 0:
            collect()
            out["rss"]["after_load_mb"] = current_rss_mb()
            out["rss"]["peak_after_load_mb"] = _peak_mb()
            nq = args.official_queries if official else args.queries
            flt = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=FILTER_GROUP))])
            log(f"{system}: {nq} exact searches, unfiltered")
            times, got = _search(client, models, data.queries, None, nq, args.warmup)
            out["search"] = {"unfiltered": {"n": nq, "p50_ms": p50(times), "p90_ms": percentile(times, 90),
                                            "mean_ms": sum(times) / len(times), "times_ms": times, "ids": got}}
            log(f"{system}: {nq} exact searches, filter group == {FILTER_GROUP}")
            times, got = _search(client, models, data.queries, flt, nq, args.warmup)
            wrong = sum(1 for row in got for pid in row if int(data.groups[int(pid)]) != FILTER_GROUP)
            out["search"]["filtered"] = {"n": nq, "p50_ms": p50(times), "p90_ms": percentile(times, 90),
                                         "mean_ms": sum(times) / len(times), "times_ms": times, "ids": got,
                                         "hits_outside_filter": wrong,
                                         "matching_points": int((data.groups == FILTER_GROUP).sum())}
            out["rss"]["after_search_mb"] = current_rss_mb()
            out["rss"]["peak_after_search_mb"] = _peak_mb()
        client.close()
        del client
        collect()

    # -- path mode -----------------------------------------------------------------------------------
    with temp_dir(f"bench-{system}-") as root:
        reopen_dir = None
        for k, bs in enumerate(batch_sizes):
            path = os.path.join(root, f"bs{bs}")
            client = QdrantClient(path=path)
            _create(client, models)
            log(f"{system}: path upsert, batch_size={bs}")
            if official:
                loaded, seconds = _upload_capped(
                    client, vectors, payloads, ids, bs, args.official_path_cap, args.official_path_budget
                )
            else:
                with Timer() as t:
                    _upload(client, vectors, payloads, ids, bs)
                loaded, seconds = n, t.seconds
            entry = {"points": loaded, "seconds": seconds, "pts_per_s": loaded / seconds, "capped": loaded < n}
            last = k == len(batch_sizes) - 1
            if last and loaded < n:
                # The reopen collection must hold all n points: fill the rest (untimed).
                log(f"{system}: filling path collection to {n:,} points for the reopen test (untimed)")
                how = _fill_fast(client, vectors, payloads, ids, bs, loaded)
                out["notes"].append(how)
            with Timer() as t:
                entry["count"] = _count(client)
                client.close()
            entry["close_s"] = t.seconds
            entry["disk_mb"] = dir_size_mb(path)
            out["upsert"]["path"][str(bs)] = entry
            del client
            collect()
            if last:
                reopen_dir = path

        # -- reopen -----------------------------------------------------------------------------------
        repeats = args.official_reopen_repeats if official else args.reopen_repeats
        times, counts = [], []
        for r in range(repeats):
            log(f"{system}: reopen {r + 1}/{repeats}")
            with Timer() as t:
                client = QdrantClient(path=reopen_dir)
                c = _count(client)
            times.append(t.seconds)
            counts.append(c)
            client.close()
            del client
            collect()
        out["reopen"] = {"seconds": p50(times), "all_s": times, "points": counts[0], "counts": counts,
                         "disk_mb": dir_size_mb(reopen_dir)}
    out["rss"]["peak_total_mb"] = _peak_mb()
    return out


def _fill_fast(client, vectors, payloads, ids, bs: int, start: int) -> str:
    """Load points [start, n) into the official client's path collection without per-point fsync."""
    n = len(ids)
    try:
        conn = client._client.collections[COLLECTION].storage.storage  # sqlite3.Connection
        conn.execute("PRAGMA synchronous=OFF")
        how = (f"official path collection for reopen: points 0..{start - 1} loaded by the timed upsert, "
               f"points {start}..{n - 1} by the same upload_collection(batch_size={bs}) call with "
               "PRAGMA synchronous=OFF set on qdrant-client's own sqlite connection (same rows, no fsync wait; untimed)")
    except Exception as exc:  # pragma: no cover - internals moved
        how = (f"official path collection for reopen: could not disable fsync ({exc!r}); "
               f"points {start}..{n - 1} loaded with default settings (untimed)")
    with Timer() as t:
        _upload(client, vectors[start:], payloads[start:], ids[start:], bs)
    return how + f"; fill took {t.seconds:.1f} s"


# =================================================================================================
# parent: runs the workers, compares, prints
# =================================================================================================
def _agreement(a: list[list], b: list[list]) -> tuple[float, float, int]:
    """(fraction of queries with identical ordered top-10 ids, mean top-10 set overlap, queries compared)."""
    m = min(len(a), len(b))
    if m == 0:
        return float("nan"), float("nan"), 0
    same = sum(1 for i in range(m) if list(a[i]) == list(b[i]))
    overlap = sum(len(set(a[i]) & set(b[i])) / max(1, len(b[i])) for i in range(m)) / m
    return same / m, overlap, m


def _status(ratio: float | None, target: float | None) -> str:
    if target is None:
        return ""
    if ratio is None or math.isnan(ratio):
        return "-"
    return "PASS" if ratio >= target else "MISS"


def build_report(res: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    off, ours = res.get("official"), res.get("ours")
    rows: list[dict[str, Any]] = []

    def add(metric, unit, o, u, ratio, target, note=""):
        rows.append({"metric": metric, "unit": unit, "official": o, "ours": u, "ratio": ratio,
                     "target": target, "status": _status(ratio, target), "note": note})

    def get(d, *keys):
        for key in keys:
            if d is None:
                return None
            d = d.get(key) if isinstance(d, dict) else None
        return d

    def div(a, b):
        return a / b if (a is not None and b not in (None, 0)) else None

    for mode in ("memory", "path"):
        for bs in args.batch_sizes:
            o = get(off, "upsert", mode, str(bs))
            u = get(ours, "upsert", mode, str(bs))
            note = ""
            if o and o.get("capped"):
                note = f"official: first {o['points']:,} pts only, rate extrapolated"
            add(f"upsert {mode}, batch_size={bs}", "pts/s", get(o, "pts_per_s"), get(u, "pts_per_s"),
                div(get(u, "pts_per_s"), get(o, "pts_per_s")), 20.0 if mode == "path" else None, note)
            if mode == "memory":
                add(f"  + first search (HNSW indexed), batch_size={bs}", "pts/s", get(o, "ready_pts_per_s"),
                    get(u, "ready_pts_per_s"), div(get(u, "ready_pts_per_s"), get(o, "ready_pts_per_s")), None,
                    "first search: official %ss, ours %ss (waits for queued indexing)"
                    % (fmt_num(get(o, "first_search_s")), fmt_num(get(u, "first_search_s"))))

    for kind, target, label in (("unfiltered", 10.0, "exact search p50"),
                                ("filtered", 50.0, f"exact search, group=={FILTER_GROUP} (10%) p50")):
        o, u = get(off, "search", kind), get(ours, "search", kind)
        note = ""
        if o or u:
            note = f"queries: official {get(o, 'n') or '-'}, ours {get(u, 'n') or '-'}"
        add(label, "ms", get(o, "p50_ms"), get(u, "p50_ms"), div(get(o, "p50_ms"), get(u, "p50_ms")), target, note)

    o, u = get(off, "reopen"), get(ours, "reopen")
    ratio = None
    note = ""
    if o and u:
        # per point, so a smaller official collection would still compare honestly
        ratio = div(o["seconds"] / max(1, o["points"]), u["seconds"] / max(1, u["points"]))
        note = f"points held: official {o['points']:,}, ours {u['points']:,}"
        if o["points"] != u["points"]:
            note += " (ratio per point)"
        note += f"; median of {len(o['all_s'])} (official) / {len(u['all_s'])} (ours) reopens"
    add("path reopen + first count", "s", get(o, "seconds"), get(u, "seconds"), ratio, 10.0, note)

    for key, label in (("after_load_mb", "RSS after load (current)"), ("peak_after_load_mb", "RSS peak after load"),
                       ("peak_after_search_mb", "RSS peak after load + searches")):
        o, u = get(off, "rss", key), get(ours, "rss", key)
        add(label, "MB", o, u, div(o, u), None,
            "baseline (imports + data) official %s, ours %s MB" % (fmt_num(get(off, "rss", "baseline_mb")),
                                                                   fmt_num(get(ours, "rss", "baseline_mb"))))
    o = get(off, "upsert", "path", str(args.batch_sizes[-1]), "close_s")
    u = get(ours, "upsert", "path", str(args.batch_sizes[-1]), "close_s")
    add(f"path count + close after load (bs={args.batch_sizes[-1]})", "s", o, u, div(o, u), None,
        "ours waits for queued HNSW indexing, then saves a checkpoint and the graph on close")
    o, u = get(off, "reopen", "disk_mb"), get(ours, "reopen", "disk_mb")
    add("path on-disk size", "MB", o, u, div(o, u), None)

    checks = {}
    if off and ours:
        for kind in ("unfiltered", "filtered"):
            exact, overlap, m = _agreement(ours["search"][kind]["ids"], off["search"][kind]["ids"])
            checks[kind] = {"identical_top10": exact, "mean_overlap": overlap, "queries": m}
    for name, r in res.items():
        checks[f"{name}_counts"] = {
            "memory": [v["count"] for v in r["upsert"]["memory"].values()],
            "path": [v["count"] for v in r["upsert"]["path"].values()],
            "reopen": r["reopen"]["counts"],
            "filtered_hits_outside_filter": r["search"]["filtered"]["hits_outside_filter"],
        }
    return {"rows": rows, "checks": checks}


def print_report(report: dict[str, Any], res: dict[str, Any], args: argparse.Namespace, meta: dict[str, Any]) -> str:
    headers = ["metric", "unit", "qdrant-client", "qdrant-sdk", "ratio", "target", "status", "note"]
    table_rows = [
        [r["metric"], r["unit"], fmt_num(r["official"]), fmt_num(r["ours"]), fmt_ratio(r["ratio"]),
         (f">= {r['target']:.0f}x" if r["target"] else ""), r["status"], r["note"]]
        for r in report["rows"]
    ]
    lines = []
    lines.append(f"qdrant-sdk vs qdrant-client local mode  ({meta['date']})")
    lines.append(f"command: {meta['command']}")
    m = meta["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB; Python {m['python']}, numpy {m['numpy']}")
    vers = ", ".join(f"{LABEL[s]} {res[s]['version']}" for s in SYSTEMS if s in res)
    lines.append(f"versions: {vers}")
    blas = "library default" if args.blas_threads is None else f"{args.blas_threads} (OPENBLAS/OMP/MKL_NUM_THREADS)"
    lines.append(f"BLAS threads: {blas}; each system in its own fresh process, run one after the other")
    la = meta["loadavg_1m"]
    lines.append(f"load average (1 min) at start {fmt_num(la['start'])}, at end {fmt_num(la['end'])}; "
                 f"wall time {meta['elapsed_s']:.0f} s")
    lines.append(f"data: {args.points:,} points, {DIM}-d float32, Cosine, 100 clusters (centre + 0.3*N(0,1)), "
                 f"payload {{'group': 0..9}} uniform, seed {args.seed}; limit {LIMIT}; "
                 f"ratio = official/ours for times and MB, ours/official for pts/s")
    lines.append("")
    lines.append(render_table(headers, table_rows, align="llrrrrll"))
    lines.append("")
    checks = report["checks"]
    for kind in ("unfiltered", "filtered"):
        c = checks.get(kind)
        if c:
            lines.append(f"correctness ({kind}): identical ordered top-{LIMIT} ids on {c['identical_top10']:.0%} "
                         f"of {c['queries']} queries; mean top-{LIMIT} overlap {c['mean_overlap']:.1%}")
    for s in SYSTEMS:
        c = checks.get(f"{s}_counts")
        if c:
            lines.append(f"counts ({LABEL[s]}): memory {c['memory']}, path {c['path']}, after reopen {c['reopen']}; "
                         f"filtered hits outside group {FILTER_GROUP}: {c['filtered_hits_outside_filter']}")
    for s in SYSTEMS:
        for note in res.get(s, {}).get("notes", []):
            lines.append(f"note: {note}")
    targets = [r for r in report["rows"] if r["target"]]
    if targets:
        summary = ", ".join(f"{r['metric']}: {r['status']}" for r in targets)
        lines.append(f"targets: {summary}")
        if args.points != 100_000:
            lines.append(f"(the targets are set for 100,000 points; at {args.points:,} points they are indicative only: "
                         "the official client's per-query cost shrinks with n, ours is already near fixed overhead)")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        print()
        print(render_markdown_table(headers, table_rows, align="llrrrrll"))
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=None, help="points to load (default 100,000; 10,000 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 10,000 points, fewer queries, smaller official caps")
    p.add_argument("--queries", type=int, default=None, help="timed queries for qdrant-sdk (default 100; 50 quick)")
    p.add_argument("--official-queries", type=int, default=None,
                   help="timed queries for qdrant-client, each kind (default 15; 10 quick)")
    p.add_argument("--official-path-cap", type=int, default=None,
                   help="max points for the official path-mode upsert timing (default 10,000; 2,000 quick)")
    p.add_argument("--official-path-budget", type=float, default=None,
                   help="stop the official path-mode upsert timing after this many seconds (default 60; 20 quick)")
    p.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[64, 1000],
                   help="comma-separated upload batch sizes (default 64,1000); the last one fills the reopen collection")
    p.add_argument("--reopen-repeats", type=int, default=3, help="reopen timings for qdrant-sdk (median reported)")
    p.add_argument("--official-reopen-repeats", type=int, default=3, help="reopen timings for qdrant-client (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed queries before timing each search kind")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="pin OPENBLAS/OMP/MKL_NUM_THREADS in both workers (default: library default)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--systems", default="official,ours", help="which systems to run (default both)")
    p.add_argument("--json", metavar="PATH", help="also write all figures as JSON to PATH")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("--_worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    if args.points is None:
        args.points = 10_000 if quick else 100_000
    if args.queries is None:
        args.queries = 50 if quick else 100
    if args.official_queries is None:
        args.official_queries = 10 if quick else 15
    if args.official_path_cap is None:
        args.official_path_cap = 2_000 if quick else 10_000
    if args.official_path_budget is None:
        args.official_path_budget = 20.0 if quick else 60.0
    return args


def _worker_argv(args: argparse.Namespace, system: str) -> list[str]:
    return [
        "--_worker", system,
        "--points", str(args.points),
        "--queries", str(args.queries),
        "--official-queries", str(args.official_queries),
        "--official-path-cap", str(args.official_path_cap),
        "--official-path-budget", str(args.official_path_budget),
        "--batch-sizes", ",".join(map(str, args.batch_sizes)),
        "--reopen-repeats", str(args.reopen_repeats),
        "--official-reopen-repeats", str(args.official_reopen_repeats),
        "--warmup", str(args.warmup),
        "--seed", str(args.seed),
    ]


def _loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._worker:
        result = worker(args)
        write_json(args._out, result)
        return 0
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in SYSTEMS:
            raise SystemExit(f"unknown system {s!r}; choose from {', '.join(SYSTEMS)}")
    started = _dt.datetime.now()
    load_before = _loadavg()
    res: dict[str, Any] = {}
    script = os.path.abspath(__file__)
    for s in ("ours", "official"):      # ours first: it is quick, so a broken build fails fast
        if s in systems:
            log(f"running {LABEL[s]} in a fresh process")
            res[s] = run_worker(script, _worker_argv(args, s), env=blas_thread_env(args.blas_threads))
    elapsed = (_dt.datetime.now() - started).total_seconds()
    log(f"done in {elapsed:.0f} s")
    cmd_args = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M"),
        "command": ("python benchmarks/bench_local.py " + cmd_args).strip(),
        "machine": machine_info(),
        "elapsed_s": elapsed,
        "loadavg_1m": {"start": load_before, "end": _loadavg()},
    }
    report = build_report(res, args)
    print_report(report, res, args, meta)
    if args.json:
        write_json(args.json, {"meta": meta, "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
                               "rows": report["rows"], "checks": report["checks"], "raw": res})
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
