"""Our client against the official qdrant-client, both talking to one running instance of our server.

    python benchmarks/bench_wire.py                 # ~2-4 minutes
    python benchmarks/bench_wire.py --points 20000  # quicker

The server (``python -m local_engine.server serve``, in memory, free ports) is started once; both
clients use it, synchronously, so the server's cost is the same for both and the ratios measure
the clients and their transports:

* latency: p50 / p90 of ``query_points(limit=10)`` with a 128-d query on a 1,000-point collection
  (small, so the client and the wire dominate, not the search); rounds of the two clients alternate;
* upload: points per second of ``upload_collection`` of N 128-d float32 vectors (numpy) with ids and
  a small payload, the same ``batch_size`` for both.

Over REST always; over gRPC when ``sdk._transport.grpc`` exists. Ratios are printed so that
> 1.0 means ours is better: official/ours for latency, ours/official for throughput.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

READY = re.compile(r"serving REST on http://(?P<host>\S+?):(?P<port>\d+)(?: and gRPC on \S+?:(?P<grpc>\d+))?")
DIM = 128


def start_server() -> tuple[subprocess.Popen, str, Optional[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_engine.server", "serve", "--port", "0", "--grpc-port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    found: dict = {}

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            m = READY.search(line)
            if m and not found:
                found.update(m.groupdict())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while not found:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("server did not start")
        time.sleep(0.02)
    return proc, f"http://{found['host']}:{found['port']}", int(found["grpc"]) if found.get("grpc") else None


def make_clients(url: str, grpc_port: Optional[int], protocol: str) -> dict[str, Any]:
    import qdrant_client

    import sdk

    grpc = protocol == "grpc"
    kwargs = dict(url=url, prefer_grpc=grpc, grpc_port=grpc_port or 6334, timeout=60)
    return {
        "ours": sdk.QdrantClient(**kwargs),
        "official": qdrant_client.QdrantClient(**kwargs, check_compatibility=False),
    }


def models_of(name: str) -> Any:
    if name == "ours":
        from sdk import models
    else:
        from qdrant_client import models
    return models


def recreate(client: Any, m: Any, name: str) -> None:
    if client.collection_exists(name):
        client.delete_collection(name)
    # m=0: no HNSW graph. The server would otherwise build one synchronously once the collection
    # crosses indexing_threshold, and that server time (the same for both clients) would swamp
    # what this compares: the clients and their transports.
    client.create_collection(name, vectors_config=m.VectorParams(size=DIM, distance=m.Distance.COSINE),
                             hnsw_config=m.HnswConfigDiff(m=0))


def bench_latency(clients: dict, protocol: str, queries: np.ndarray, rounds: int, per_round: int) -> dict:
    rng = np.random.default_rng(1)
    small = rng.standard_normal((1000, DIM)).astype(np.float32)
    for name, client in clients.items():
        m = models_of(name)
        coll = f"lat_{protocol}_{name}"
        recreate(client, m, coll)
        client.upload_collection(coll, vectors=small, ids=range(len(small)), batch_size=256, wait=True)
        for q in queries[:30]:                      # warm up: connections, schemas, caches
            client.query_points(coll, query=q.tolist(), limit=10)
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for r in range(rounds):
        order = list(clients) if r % 2 == 0 else list(reversed(clients))
        for name in order:
            client, coll = clients[name], f"lat_{protocol}_{name}"
            for i in range(per_round):
                q = queries[(r * per_round + i) % len(queries)].tolist()
                t0 = time.perf_counter()
                client.query_points(coll, query=q, limit=10)
                samples[name].append(time.perf_counter() - t0)
    out = {}
    for name, xs in samples.items():
        xs.sort()
        out[name] = (statistics.median(xs), xs[int(len(xs) * 0.9)])
    return out


def bench_upload(clients: dict, protocol: str, vectors: np.ndarray, batch_size: int) -> dict:
    payloads = [{"group": i % 10} for i in range(len(vectors))]
    out = {}
    for name in ("official", "ours") if protocol == "rest" else ("ours", "official"):
        client = clients[name]
        m = models_of(name)
        coll = f"up_{protocol}_{name}"
        recreate(client, m, coll)
        t0 = time.perf_counter()
        client.upload_collection(coll, vectors=vectors, payload=payloads, ids=range(len(vectors)),
                                 batch_size=batch_size, wait=True)
        elapsed = time.perf_counter() - t0
        count = client.count(coll).count
        assert count == len(vectors), (name, count)
        out[name] = len(vectors) / elapsed
        client.delete_collection(coll)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.points, DIM)).astype(np.float32)
    queries = rng.standard_normal((500, DIM)).astype(np.float32)

    protocols = ["rest"]
    if importlib.util.find_spec("sdk._transport.grpc") is not None:
        protocols.append("grpc")
    else:
        print("gRPC transport not available yet")

    proc, url, grpc_port = start_server()
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        for protocol in protocols:
            if protocol == "grpc" and grpc_port is None:
                print("server has no gRPC port: skipping gRPC")
                continue
            clients = make_clients(url, grpc_port, protocol)
            try:
                lat = bench_latency(clients, protocol, queries, args.rounds, args.per_round)
                up = bench_upload(clients, protocol, vectors, args.batch_size)
            finally:
                for c in clients.values():
                    c.close()
            rows.append((protocol, "query_points p50 (ms)", f"{lat['ours'][0] * 1e3:.3f}",
                         f"{lat['official'][0] * 1e3:.3f}", f"{lat['official'][0] / lat['ours'][0]:.2f}"))
            rows.append((protocol, "query_points p90 (ms)", f"{lat['ours'][1] * 1e3:.3f}",
                         f"{lat['official'][1] * 1e3:.3f}", f"{lat['official'][1] / lat['ours'][1]:.2f}"))
            rows.append((protocol, f"upload {args.points:,} x {DIM}-d (points/s)", f"{up['ours']:,.0f}",
                         f"{up['official']:,.0f}", f"{up['ours'] / up['official']:.2f}"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    header = ("protocol", "measure", "ours", "official", "ratio (target >= 1.0)")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(f"\nbatch_size={args.batch_size}, latency samples per client={args.rounds * args.per_round}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
