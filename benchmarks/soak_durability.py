"""Soak version of the crash test (docs/durability.md).

A child process ingests through ``QdrantClient(path=...)`` (HNSW graph and payload indexes
live, deletes and set_payload mixed in); it is SIGKILLed at random moments (every
``--close-every``-th kill lands during ``client.close()``: checkpoint + graph save), and after
each kill a new client reopens the folder and runs the full consistency check of
``compat_tests/test_durability.py`` (every acknowledged batch present with exact payloads and
float32 vectors, no half batch, count / points_count / scroll / retrieve / payload-index
filters agree, approximate search returns only live ids with recall >= 0.8 against exact).

    python benchmarks/soak_durability.py --kills 200            # ~ 5 min on the 2-core VM
    python benchmarks/soak_durability.py --kills 50 --path /tmp/soak --keep
    python benchmarks/soak_durability.py --kills 1000 --budget 300   # as many as fit in 5 min

Prints kills survived, batches verified, points, elapsed. Exits non-zero on the first
inconsistency (the assertion says what was wrong).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compat_tests.test_durability import crash_rounds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--close-every", type=int, default=5, help="every N-th kill lands during close() (0: never)")
    ap.add_argument("--max-run", type=float, default=1.0, help="a child runs up to this many seconds before its kill")
    ap.add_argument("--path", default=None, help="folder to use (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the folder afterwards")
    ap.add_argument("--budget", type=float, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--final-queries", type=int, default=400, help="queries of the recall measured after the last kill")
    args = ap.parse_args()

    path = Path(args.path) if args.path else Path(tempfile.mkdtemp(prefix="soak-")) / "db"
    t0 = time.monotonic()

    def log(k, acked, state, last):
        if not args.quiet and (k % 10 == 9 or k == args.kills - 1):
            print(f"  kill {k + 1:4d}: acked step {acked:6d}, {state['points']:7d} points, "
                  f"last line {last!r}, {time.monotonic() - t0:6.1f} s", flush=True)

    try:
        stats = crash_rounds(path, args.kills, seed=args.seed, close_every=args.close_every,
                             max_run=args.max_run, log=log, budget=args.budget)
        final = final_recall(path, args.final_queries)
    finally:
        if not args.keep and not args.path:
            shutil.rmtree(path.parent, ignore_errors=True)
    elapsed = time.monotonic() - t0
    aimed = stats["kills"] // args.close_every if args.close_every else 0
    print(f"kills survived:     {stats['kills']} ({aimed} aimed at close(); {stats['close_kills']} of those "
          "landed before close() finished)")
    print(f"batches verified:   {stats['batches_verified']} (every acknowledged batch, re-checked after each kill)")
    print(f"points at the end:  {stats['points']}")
    print(f"point checks:       {stats['point_checks']} (points compared after all kills)")
    print(f"search recall@10:   mean {stats['recall_sum'] / max(1, stats['kills']):.3f}, min {stats['min_recall']:.3f} "
          "(approximate vs exact, 8 queries per check)")
    print(f"final recall@10:    {final['default']:.3f} at the default ef, {final['ef128']:.3f} at ef 128 "
          f"({args.final_queries} queries against exact=True after the last kill; "
          f"{final['trapped']} queries below 0.5 at the default ef)")
    print(f"elapsed:            {elapsed:.1f} s")


def final_recall(path: Path, queries: int) -> dict:
    """Recall@10 over many queries after the last kill (the per-check figure uses 8 queries, whose
    minimum over a long run mostly measures the few queries any graph of this dataset gets wrong)."""
    import random

    import numpy as np

    from compat_tests.test_durability import COLLECTION, vector_of
    from sdk import QdrantClient, models

    client = QdrantClient(path=str(path))
    try:
        ids, offset = [], None
        while True:
            page, offset = client.scroll(COLLECTION, limit=10_000, offset=offset)
            ids += [r.id for r in page]
            if offset is None:
                break
        rng = random.Random(0)
        hits = {"default": 0, "ef128": 0}
        trapped = 0
        for _ in range(queries):
            qv = (vector_of(rng.choice(ids)) + np.float32(0.01)).tolist()
            exact = {p.id for p in client.query_points(COLLECTION, query=qv, limit=10,
                                                       search_params=models.SearchParams(exact=True)).points}
            for key, params in (("default", None), ("ef128", models.SearchParams(hnsw_ef=128))):
                got = {p.id for p in client.query_points(COLLECTION, query=qv, limit=10, search_params=params).points}
                hits[key] += len(got & exact)
                trapped += key == "default" and len(got & exact) < 5
        return {k: v / (10 * queries) for k, v in hits.items()} | {"trapped": trapped}
    finally:
        client.close()


if __name__ == "__main__":
    main()
