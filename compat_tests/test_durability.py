"""Durability of path mode through the client (docs/durability.md).

* crash: a subprocess ingests through ``QdrantClient(path=...)`` (HNSW graph + payload index
  live), the parent SIGKILLs it at random moments, reopens with a new client and runs a full
  consistency check, then lets ingestion continue from the next batch number;
* corruption: bytes flipped in / files truncated of each kind of data file of a closed store:
  the open or the query must raise ``StorageCorruptedError`` naming the file, or answer
  exactly like the undamaged store (derived files: checkpoints, graphs);
* growth: a steady update + churn load keeps the collection's files bounded.

``benchmarks/soak_durability.py`` runs the crash loop for longer (same checker).
"""

from __future__ import annotations

import os
import random
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sdk import QdrantClient, StorageCorruptedError, models

COLLECTION = "dur"
BATCH = 25  # points per batch
DIM = 8
DELETE_LAG = 5  # step n (n % 5 == 0) deletes the first point of batch n - 5
TAG_EVERY = 7  # step n (n % 7 == 0) sets payload {"tag": n} on batch n


def point_id(batch: int, i: int) -> int:
    return batch * BATCH + i


def vector_of(pid: int) -> np.ndarray:
    return np.sin(np.arange(1, DIM + 1, dtype=np.float64) * (pid * 0.7311 + 0.1)).astype(np.float32)


def payload_of(batch: int, i: int) -> dict:
    return {"batch": batch, "i": i, "parity": ["even", "odd"][batch % 2], "text": f"p{point_id(batch, i)}"}


# -- the ingesting child ---------------------------------------------------------------------
CHILD = r"""
import sys, random
sys.path.insert(0, {root!r})
from compat_tests.test_durability import open_client, ingest_step
path, start, close_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = open_client(path)
print("READY", flush=True)
n = start
while True:
    ingest_step(client, n)
    print(f"ACK {{n}}", flush=True)
    n += 1
    if close_after and n - start >= close_after:
        print("CLOSING", flush=True)
        client.close()
        print("CLOSED", flush=True)
        break
"""


def open_client(path: str) -> QdrantClient:
    client = QdrantClient(path=path)
    if not client.collection_exists(COLLECTION):
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),  # 1 KB: a graph from ~32 points
            hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64),
        )
        client.create_payload_index(COLLECTION, "batch", field_schema=models.PayloadSchemaType.INTEGER)
        client.create_payload_index(COLLECTION, "parity", field_schema=models.PayloadSchemaType.KEYWORD)
    return client


def ingest_step(client: QdrantClient, n: int) -> None:
    """Step ``n``: upsert batch n; every 5th step delete one old point; every 7th tag batch n."""
    points = [
        models.PointStruct(id=point_id(n, i), vector=vector_of(point_id(n, i)).tolist(), payload=payload_of(n, i))
        for i in range(BATCH)
    ]
    client.upsert(COLLECTION, points=points, wait=True)
    if n % DELETE_LAG == 0 and n >= DELETE_LAG:
        client.delete(COLLECTION, points_selector=models.PointIdsList(points=[point_id(n - DELETE_LAG, 0)]), wait=True)
    if n % TAG_EVERY == 0:
        client.set_payload(COLLECTION, payload={"tag": n}, points=[point_id(n, i) for i in range(BATCH)], wait=True)


def expected_state(acked: int) -> dict[int, dict]:
    """Every point after steps 0..acked, id -> payload."""
    out: dict[int, dict] = {}
    for n in range(acked + 1):
        for i in range(BATCH):
            p = payload_of(n, i)
            if n % TAG_EVERY == 0:
                p["tag"] = n
            out[point_id(n, i)] = p
        if n % DELETE_LAG == 0 and n >= DELETE_LAG:
            out.pop(point_id(n - DELETE_LAG, 0), None)
    return out


def run_child(path: Path, start: int, *, kill_after: float | None, close_after: int = 0) -> tuple[list[int], str]:
    """Start an ingesting child; SIGKILL it ``kill_after`` s after READY (or right after it
    prints CLOSING when ``close_after``). Returns the acknowledged step numbers and the last
    marker seen."""
    code = CHILD.format(root=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(start), str(close_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    fd = proc.stdout.fileno()
    buf = b""
    deadline = None
    started = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if now - started > 90:
                raise AssertionError("child made no progress in 90 s")
            wait = 0.05 if deadline is None else max(0.0, deadline - now)
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break  # exited on its own
                old = buf
                buf += chunk
                if deadline is None:
                    if kill_after is not None and not close_after and b"READY\n" in buf and b"READY\n" not in old:
                        deadline = time.monotonic() + kill_after
                    if close_after and b"CLOSING\n" in buf:
                        deadline = time.monotonic() + (kill_after or 0.0)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    buf += proc.stdout.read()
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"child failed ({proc.returncode}):\n{err[-3000:]}")
    lines = [x.strip() for x in buf.decode().split("\n")[:-1] if x.strip()]  # complete lines only
    acks = [int(x.split()[1]) for x in lines if x.startswith("ACK ")]
    return acks, (lines[-1] if lines else "")


def check_consistency(path: Path, acked: int, rng: random.Random) -> dict:
    """Reopen with a new client and check everything against the deterministic model. Returns
    how far the store really is (the step in flight when killed may or may not be there)."""
    client = QdrantClient(path=str(path))
    try:
        records, offset = [], None
        while True:
            page, offset = client.scroll(COLLECTION, limit=500, offset=offset, with_payload=True, with_vectors=True)
            records += page
            if offset is None:
                break
        actual = {r.id: r for r in records}
        assert len(actual) == len(records), "scroll returned an id twice"
        # The step in flight (acked + 1) may have committed any prefix of its calls; each call
        # is all-or-nothing. Decide from the data which of its calls are there.
        flight = acked + 1
        flight_ids = [point_id(flight, i) for i in range(BATCH)]
        present = [pid in actual for pid in flight_ids]
        assert all(present) or not any(present), f"step {flight}: half a batch is present ({sum(present)}/{BATCH})"
        expected = expected_state(acked)
        applied = acked
        if all(present):
            expected = expected_state(flight)
            applied = flight  # unless one of its later calls is missing (then the step is re-run)
            if flight % DELETE_LAG == 0 and flight >= DELETE_LAG and point_id(flight - DELETE_LAG, 0) in actual:
                applied = acked
                expected[point_id(flight - DELETE_LAG, 0)] = dict(payload_of(flight - DELETE_LAG, 0), **(
                    {"tag": flight - DELETE_LAG} if (flight - DELETE_LAG) % TAG_EVERY == 0 else {}))
            if flight % TAG_EVERY == 0:
                tagged = ["tag" in actual[pid].payload for pid in flight_ids]
                assert all(tagged) or not any(tagged), f"step {flight}: set_payload half applied"
                if not any(tagged):
                    applied = acked
                    for pid in flight_ids:
                        expected[pid].pop("tag")
        assert set(actual) == set(expected), (
            f"acked {acked}: missing {sorted(set(expected) - set(actual))[:10]}, extra {sorted(set(actual) - set(expected))[:10]}"
        )
        for pid, rec in actual.items():
            assert rec.payload == expected[pid], (pid, rec.payload, expected[pid])
            got = np.asarray(rec.vector, dtype=np.float32)
            assert np.array_equal(got, vector_of(pid)), (pid, got, vector_of(pid))
        live = len(expected)
        assert client.count(COLLECTION, exact=True).count == live
        assert client.get_collection(COLLECTION).points_count == live
        # retrieve agrees with scroll
        sample = rng.sample(sorted(expected), min(200, live)) + [10**9]
        got = {r.id: r.payload for r in client.retrieve(COLLECTION, ids=sample, with_payload=True)}
        assert got == {pid: expected[pid] for pid in sample if pid in expected}
        # payload indexes agree with evaluating the filter on the data
        top = max(p["batch"] for p in expected.values()) if expected else 0
        for _ in range(4):
            lo = rng.randint(0, top)
            hi = lo + rng.randint(1, 6)
            flt = models.Filter(must=[
                models.FieldCondition(key="batch", range=models.Range(gte=lo, lt=hi)),
                models.FieldCondition(key="parity", match=models.MatchValue(value=rng.choice(["even", "odd"]))),
            ])
            want = {pid for pid, p in expected.items() if lo <= p["batch"] < hi and p["parity"] == flt.must[1].match.value}
            assert client.count(COLLECTION, count_filter=flt, exact=True).count == len(want)
            ids = {r.id for r in client.scroll(COLLECTION, scroll_filter=flt, limit=10_000)[0]}
            assert ids == want
        # the graph agrees with the data: approximate search returns only live ids, good recall
        hits = total = 0
        for _ in range(8):
            q = rng.choice(sorted(expected)) if expected else 0
            qv = (vector_of(q) + np.float32(0.01)).tolist()
            exact = [p.id for p in client.query_points(COLLECTION, query=qv, limit=10, search_params=models.SearchParams(exact=True)).points]
            approx = [p.id for p in client.query_points(COLLECTION, query=qv, limit=10).points]
            assert set(approx) <= set(expected), f"search returned deleted ids {set(approx) - set(expected)}"
            hits += len(set(exact) & set(approx))
            total += len(exact)
        recall = hits / total if total else 1.0
        # HNSW on this 1-D curve of sine vectors: ~0.98 on average without crashes; the bound
        # only catches a graph that lost touch with the data (live ids are checked exactly above)
        assert recall >= 0.7, f"recall {hits}/{total}"
        return {"applied": applied, "points": live, "recall": recall}
    finally:
        client.close()


def crash_rounds(path: Path, kills: int, *, seed: int, close_every: int = 5, max_run: float = 1.2, log=None,
                 budget: float = 0) -> dict:
    """The crash loop shared with benchmarks/soak_durability.py."""
    rng = random.Random(seed)
    next_step, acked, stats = 0, -1, {"kills": 0, "close_kills": 0, "batches_verified": 0, "points": 0, "point_checks": 0,
                                   "min_recall": 1.0, "recall_sum": 0.0}
    t0 = time.monotonic()
    for k in range(kills):
        if budget and time.monotonic() - t0 > budget:
            break
        during_close = close_every and k % close_every == close_every - 1
        if during_close:
            # The first such round kills as soon as close() starts, so at least one kill lands
            # inside it however fast close() is on this machine; later ones spread over 20 ms.
            first = k == close_every - 1
            acks, last = run_child(path, next_step, kill_after=0.0 if first else rng.uniform(0.0, 0.02),
                                   close_after=rng.randint(3, 40))
            stats["close_kills"] += last != "CLOSED"
        else:
            acks, last = run_child(path, next_step, kill_after=rng.uniform(0.02, max_run))
        if acks:
            assert acks == list(range(next_step, acks[-1] + 1)), acks[:5]
            acked = acks[-1]
        stats["kills"] += 1
        state = check_consistency(path, acked, rng)
        stats["batches_verified"] = state["applied"] + 1
        stats["points"] = state["points"]
        stats["point_checks"] += state["points"]
        stats["min_recall"] = min(stats["min_recall"], state["recall"])
        stats["recall_sum"] += state["recall"]
        next_step = state["applied"] + 1  # a step in flight that committed whole is not resent; a partial one is re-run
        acked = state["applied"]
        if log:
            log(k, acked, state, last)
    return stats


def test_sigkill_through_the_client_keeps_every_acknowledged_batch(tmp_path):
    stats = crash_rounds(tmp_path / "db", kills=12, seed=1234, close_every=4, max_run=0.5)
    print("crash test:", stats)
    assert stats["kills"] == 12
    assert stats["close_kills"] >= 1, "no kill landed inside close() (checkpoint + graph save)"
    assert stats["batches_verified"] > 12


def test_a_graph_reloaded_many_times_keeps_drawing_fresh_levels():
    """hnswlib reseeds its level generator from the saved ``seed`` when a graph is rebuilt from
    its state, so every reopened graph drew the same levels again (seed 100: the first 11 are
    all 0). 200 sessions of 10 insertions each, reloaded in between, built a graph with no upper
    layer at all. Now the seed moves with the element count: the levels look like one session's
    (about 1/m of the elements above level 0)."""
    from local_engine.index.hnsw import HnswIndex, HnswParams

    params = HnswParams(dim=8, distance="Euclid", m=8, ef_construct=64)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2000, 8)).astype(np.float32)
    graph = HnswIndex(params, threads=1)
    for start in range(0, 2000, 10):
        graph.add(data, np.arange(start, start + 10))
        graph = HnswIndex.deserialize(b"".join(bytes(memoryview(p).cast("B")) for p in graph.serialize(start + 10)),
                                      params, threads=1)
    levels = np.asarray(graph._graph.__getstate__()[0]["element_levels"])[:2000]
    upper = float(np.mean(levels > 0))
    assert 0.06 <= upper <= 0.25, f"{upper:.3f} of the elements above level 0 (one session: ~0.125)"


@pytest.mark.slow   # ~45 s on the shared 2-core VM (six child processes): runs with -m slow
def test_recall_after_repeated_crashes(tmp_path, request):
    """Six SIGKILLed ingest sessions (the graph saved only at checkpoints; each crash followed by
    a reopen that reconciles it with the rows and saves it), then recall@10 of approximate search
    (ef 128) against exact=True over 200 queries. On this dataset (points on a 1-D curve) a few %
    of queries trap any HNSW graph at the default ef, with or without crashes (docs/durability.md,
    "Recall after crashes"), hence ef 128 for a stable bound."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("a crash soak: run with -m slow")
    path = tmp_path / "db"
    rng = random.Random(99)
    step = 0
    for _ in range(6):
        acks, _last = run_child(path, step, kill_after=rng.uniform(0.3, 0.8))
        step = (acks[-1] + 1) if acks else step
        QdrantClient(path=str(path)).close()   # reopen after the crash: reconcile, save
    client = QdrantClient(path=str(path))
    try:
        ids = [r.id for r in client.scroll(COLLECTION, limit=10**6)[0]]
        assert len(ids) > 100
        hits = total = 0
        for _ in range(200):
            q = rng.choice(ids)
            qv = (vector_of(q) + np.float32(0.01)).tolist()
            exact = [p.id for p in client.query_points(COLLECTION, query=qv, limit=10,
                                                       search_params=models.SearchParams(exact=True)).points]
            approx = [p.id for p in client.query_points(COLLECTION, query=qv, limit=10,
                                                        search_params=models.SearchParams(hnsw_ef=128)).points]
            hits += len(set(exact) & set(approx))
            total += len(exact)
        print(f"\nrecall after 6 crashes: {hits / total:.3f} over {len(ids)} points")
        assert hits / total >= 0.95, hits / total
    finally:
        client.close()


# -- corruption ------------------------------------------------------------------------------
def _build_store(path: Path) -> None:
    client = open_client(str(path))
    for n in range(30):  # 750 points: a checkpoint needs > 10,000 rows, so force one via close
        ingest_step(client, n)
    client.close()


def _answers(path: Path) -> dict:
    client = QdrantClient(path=str(path))
    try:
        out = {"count": client.count(COLLECTION, exact=True).count}
        recs, _ = client.scroll(COLLECTION, limit=10_000, with_payload=True, with_vectors=True)
        out["points"] = {r.id: (r.payload, tuple(np.asarray(r.vector, np.float32).tolist())) for r in recs}
        qs = [vector_of(i).tolist() for i in (3, 77, 400)]
        out["search"] = [[(p.id, p.score) for p in client.query_points(COLLECTION, query=q, limit=10).points] for q in qs]
        out["exact"] = [[p.id for p in client.query_points(
            COLLECTION, query=q, limit=10, search_params=models.SearchParams(exact=True)).points] for q in qs]
        flt = models.Filter(must=[models.FieldCondition(key="batch", range=models.Range(gte=3, lt=9))])
        out["filtered"] = client.count(COLLECTION, count_filter=flt, exact=True).count
        return out
    finally:
        client.close()


def _data_files(path: Path) -> dict[str, Path]:
    files = {"root storage.sqlite": path / "storage.sqlite"}
    (cdir,) = list((path / "collections").iterdir())
    files["points.sqlite"] = cdir / "points.sqlite"
    for f in sorted(cdir.iterdir()):
        if f.name.startswith(("ckpt-", "blob-")):
            files[f.name] = f
    return files


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("pristine") / "db"
    _build_store(path)
    return path, _answers(path)


def _damage(f: Path, how: str, rng: random.Random) -> None:
    data = bytearray(f.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    elif how == "flip-header":
        for i in range(0, min(len(data), 100), 7):
            data[i] ^= 0xFF
    else:  # flip bytes all over the file
        for _ in range(max(8, len(data) // 500)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    f.write_bytes(bytes(data))


def test_corrupted_files_are_reported_or_rebuilt(pristine, tmp_path):
    src, good = pristine
    kinds = _data_files(src)
    assert any(k.startswith("ckpt-") for k in kinds) and any(k.startswith("blob-") for k in kinds), sorted(kinds)
    rng = random.Random(7)
    outcomes = []
    for kind in kinds:
        for how in ("flip", "flip-header", "truncate"):
            copy = tmp_path / f"{len(outcomes)}"
            shutil.copytree(src, copy)
            target = _data_files(copy)[kind]
            _damage(target, how, rng)
            try:
                got = _answers(copy)
            except StorageCorruptedError as e:
                assert target.name in str(e), f"{kind}/{how}: message does not name the file: {e}"
                outcomes.append((kind, how, "StorageCorruptedError"))
                continue
            # no error: the answer must be exactly the undamaged one
            assert got == good, f"{kind}/{how}: wrong answer from a damaged store"
            if kind.endswith("sqlite"):
                # damage the reads did not touch (e.g. free pages) is allowed only if answers are right
                outcomes.append((kind, how, "correct answer (damage not on a read path)"))
            else:
                outcomes.append((kind, how, "rebuilt, correct answer"))
                # reopen once more: the rebuilt derived file is good again
                assert _answers(copy) == good
    print("\ncorruption outcomes:")
    for o in outcomes:
        print("  ", *o)
    assert all(o[2] == "rebuilt, correct answer" for o in outcomes if not o[0].endswith("sqlite"))


# -- growth ----------------------------------------------------------------------------------
def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _ckpt_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("ckpt-*") if f.is_file())


def growth_rounds(path: Path, rounds: int, n: int = 2000, churn: int = 500, dim: int = 16) -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    client = QdrantClient(path=str(path))
    client.create_collection("g", vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT))
    sizes = []
    fresh = 10**6
    for r in range(rounds):
        vecs = rng.standard_normal((n, dim)).astype(np.float32)
        for lo in range(0, n, 500):
            client.upsert("g", points=models.Batch(
                ids=list(range(lo, lo + 500)), vectors=vecs[lo:lo + 500].tolist(),
                payloads=[{"r": r, "t": "x" * 40} for _ in range(500)]), wait=True)
        ids = list(range(fresh, fresh + churn))
        client.upsert("g", points=models.Batch(ids=ids, vectors=rng.standard_normal((churn, dim)).tolist()), wait=True)
        client.delete("g", points_selector=models.PointIdsList(points=ids), wait=True)
        fresh += churn
        client.close()  # checkpoint on close
        sizes.append((_dir_size(path / "collections"), _ckpt_size(path / "collections")))
        client = QdrantClient(path=str(path))
        assert client.count("g", exact=True).count == n
    client.close()
    return sizes


def test_steady_update_load_keeps_the_files_bounded(tmp_path):
    sizes = growth_rounds(tmp_path / "g", rounds=8)
    print("\ngrowth (total bytes, checkpoint bytes) per round:", sizes)
    assert sizes[-1][0] <= 1.5 * sizes[0][0], sizes
    assert len({ckpt for _, ckpt in sizes}) == 1, sizes   # churned ids reuse offsets: the checkpoint never grows


def _collection(client: QdrantClient, name: str):
    return client._transport._engine._collections[name]


@pytest.mark.parametrize("mode", ["path", "memory"])
def test_churn_of_new_ids_reuses_offsets_and_stays_bounded(tmp_path, mode):
    """Every round inserts 300 new ids and deletes the 300 oldest (a sliding window of 1,500
    live points, 24 rounds = 7,200 ids). Offsets of deleted points are reused, so the collection's
    arrays, the checkpoint files and the graph stay the size of the window; approximate search
    keeps its recall against exact=True, and exact=True equals brute force over the live points."""
    dim, window, churn, rounds = 16, 1500, 300, 24
    rng = np.random.default_rng(3)
    path = str(tmp_path / "churn")
    client = QdrantClient(path=path) if mode == "path" else QdrantClient(":memory:")
    client.create_collection(
        "c", vectors_config=models.VectorParams(size=dim, distance=models.Distance.EUCLID),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
        hnsw_config=models.HnswConfigDiff(m=16, ef_construct=100),
    )
    live: dict[int, np.ndarray] = {}
    next_id = 0

    def insert(k: int) -> None:
        nonlocal next_id
        vecs = rng.standard_normal((k, dim)).astype(np.float32)
        ids = list(range(next_id, next_id + k))
        client.upsert("c", points=models.Batch(ids=ids, vectors=vecs.tolist(), payloads=[{"i": i} for i in ids]), wait=True)
        live.update(zip(ids, vecs))
        next_id += k

    insert(window)
    sizes, ckpts = [], []
    for r in range(rounds):
        insert(churn)
        old = sorted(live)[:churn]
        client.delete("c", points_selector=models.PointIdsList(points=old), wait=True)
        for i in old:
            del live[i]
        col = _collection(client, "c")
        sizes.append((col.size, len(col._alive)))
        if mode == "path" and r % 6 == 5:   # close (checkpoint + graph save) and reopen
            client.close()
            ckpts.append(_ckpt_size(Path(path) / "collections"))
            client = QdrantClient(path=path)
    col = _collection(client, "c")
    print("\n(size, capacity) per round:", sizes, "checkpoint bytes:", ckpts)
    assert max(s for s, _ in sizes) <= window + churn, sizes          # offsets reused: never beyond the peak
    assert sizes[-1][1] == sizes[0][1], sizes                          # no array grew after round 1
    assert len(set(ckpts)) <= 1, ckpts                                # the checkpoint stays one size
    graph = col._indexes.graphs[""]
    assert graph.live == window and graph.deleted <= churn, (graph.live, graph.deleted)
    assert client.count("c", exact=True).count == window

    ids = np.array(sorted(live))
    matrix = np.stack([live[i] for i in ids.tolist()])
    hits = total = 0
    for _ in range(50):
        q = rng.standard_normal(dim).astype(np.float32)
        truth = ids[np.argsort(((matrix - q) ** 2).sum(1), kind="stable")[:10]].tolist()
        exact = [p.id for p in client.query_points("c", query=q.tolist(), limit=10,
                                                   search_params=models.SearchParams(exact=True)).points]
        assert exact == truth
        approx = [p.id for p in client.query_points("c", query=q.tolist(), limit=10).points]
        assert set(approx) <= set(live)
        hits += len(set(approx) & set(exact))
        total += 10
    assert hits / total >= 0.95, hits / total
    got = {r.id: (r.payload, np.asarray(r.vector, np.float32))
           for r in client.scroll("c", limit=10 * window, with_payload=True, with_vectors=True)[0]}
    assert sorted(got) == sorted(live)
    assert all(got[i][0] == {"i": i} and np.array_equal(got[i][1], live[i]) for i in live)
    client.close()


# -- vacuum ----------------------------------------------------------------------------------
def _points_db(path: Path) -> Path:
    (cdir,) = list((path / "collections").iterdir())
    return cdir / "points.sqlite"


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def vacuum_figures(path: Path, n: int = 50_000, dim: int = 32, legacy: bool = False) -> dict:
    """Fill ``n`` points, delete 90 %, report points.sqlite (+ WAL) sizes."""
    import sqlite3

    rng = np.random.default_rng(1)
    client = QdrantClient(path=str(path))
    client.create_collection("v", vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT))
    if legacy:  # a store written before auto_vacuum: switch the file back to auto_vacuum=NONE
        client.close()
        conn = sqlite3.connect(_points_db(path), isolation_level=None)
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("VACUUM")
        conn.close()
        client = QdrantClient(path=str(path))
    for lo in range(0, n, 5000):
        client.upsert("v", points=models.Batch(
            ids=list(range(lo, lo + 5000)), vectors=rng.standard_normal((5000, dim)).astype(np.float32).tolist(),
            payloads=[{"k": i, "s": "payload text " * 3} for i in range(lo, lo + 5000)]), wait=True)
    client.close()
    db = _points_db(path)
    full = _db_bytes(db)
    dir_full = _dir_size(db.parent)
    client = QdrantClient(path=str(path))
    doomed = [i for i in range(n) if i % 10]
    for lo in range(0, len(doomed), 5000):
        client.delete("v", points_selector=models.PointIdsList(points=doomed[lo:lo + 5000]), wait=True)
    open_after_delete = _db_bytes(db)
    client.close()
    after_close = _db_bytes(db)
    dir_after = _dir_size(db.parent)
    client = QdrantClient(path=str(path))
    assert client.count("v", exact=True).count == n // 10
    client.close()
    conn = sqlite3.connect(db)
    mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
    conn.close()
    return {"full": full, "open_after_delete": open_after_delete, "after_close": after_close, "auto_vacuum": mode,
            "dir_full": dir_full, "dir_after_close": dir_after}


def test_deleting_points_gives_disk_space_back(tmp_path):
    fig = vacuum_figures(tmp_path / "v", n=20_000)
    print("\nvacuum:", fig)
    assert fig["auto_vacuum"] == 2
    assert fig["after_close"] < 0.3 * fig["full"], fig


def test_a_store_without_auto_vacuum_is_switched_at_a_checkpoint(tmp_path):
    fig = vacuum_figures(tmp_path / "v", n=20_000, legacy=True)
    print("\nvacuum (legacy file):", fig)
    assert fig["auto_vacuum"] == 2
    assert fig["after_close"] < 0.3 * fig["full"], fig


def test_single_bit_flips_in_points_sqlite_never_leak_raw_errors(pristine, tmp_path):
    """Flip one bit at many positions of points.sqlite: the outcome is StorageCorruptedError
    naming the file or the undamaged store's answer; never a wrong answer, never sqlite3/json
    errors leaking out (flips inside row values are caught by the rows' CRC-32s)."""
    src, good = pristine
    rng = random.Random(11)
    size = _data_files(src)["points.sqlite"].stat().st_size
    outcomes: dict[str, int] = {}
    for t in range(24):
        copy = tmp_path / str(t)
        shutil.copytree(src, copy)
        f = _data_files(copy)["points.sqlite"]
        data = bytearray(f.read_bytes())
        data[rng.randrange(size)] ^= 1 << rng.randrange(8)
        f.write_bytes(bytes(data))
        try:
            outcome = "same" if _answers(copy) == good else "different answer"
        except StorageCorruptedError as e:
            assert "points.sqlite" in str(e), str(e)
            outcome = "StorageCorruptedError"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        shutil.rmtree(copy)
    print("\nsingle bit flips in points.sqlite:", outcomes)
    assert "different answer" not in outcomes, outcomes


def test_a_flipped_payload_byte_is_detected(pristine, tmp_path):
    """One byte of one payload changed inside the file, the page still valid: the row's CRC-32
    catches it and the error names the file and the row."""
    src, good = pristine
    copy = tmp_path / "db"
    shutil.copytree(src, copy)
    f = _data_files(copy)["points.sqlite"]
    data = f.read_bytes()
    needle = b'"text":"p123"'
    assert data.count(needle) == 1
    f.write_bytes(data.replace(needle, b'"text":"p124"'))
    with pytest.raises(StorageCorruptedError) as info:
        _answers(copy)
    assert "points.sqlite" in str(info.value) and "offset 123 failed its CRC-32 check" in str(info.value)


# -- point versions ---------------------------------------------------------------------------
def _versions(client: QdrantClient, name: str) -> dict:
    hits = client.query_points(name, query=[1.0, 0.0], limit=100, search_params=models.SearchParams(exact=True)).points
    return {p.id: p.version for p in hits}


def test_point_versions_are_per_collection_and_never_go_backwards_after_reopen(tmp_path):
    """Qdrant numbers operations per collection and a point's version is the operation that last
    wrote it, monotonic across restarts; the engine persists it as the row's sequence number."""
    path = str(tmp_path / "v")
    client = QdrantClient(path=path)
    for name in ("a", "b"):
        client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    ops_a = [client.upsert("a", points=[models.PointStruct(id=i, vector=[1.0, float(i)])], wait=True).operation_id
             for i in range(3)]
    op_b = client.upsert("b", points=[models.PointStruct(id=0, vector=[1.0, 0.0])], wait=True).operation_id
    assert ops_a == sorted(ops_a) and len(set(ops_a)) == 3
    assert op_b < ops_a[-1], "collection b counts its own operations"
    tagged = client.set_payload("a", payload={"t": 1}, points=[1], wait=True).operation_id
    before = _versions(client, "a")
    assert before == {0: ops_a[0], 1: tagged, 2: ops_a[2]}
    client.close()

    client = QdrantClient(path=path)   # a clean reopen
    assert _versions(client, "a") == before, "versions changed across a reopen"
    assert _versions(client, "b") == {0: op_b}
    nxt = client.upsert("a", points=[models.PointStruct(id=9, vector=[1.0, 9.0])], wait=True).operation_id
    assert nxt > max(before.values()), (nxt, before)
    before = _versions(client, "a")
    assert before[9] == nxt
    client.close()
    # a process that dies without close(): no checkpoint, no graph save
    code = (f"import os, sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
            "from sdk import QdrantClient, models\n"
            f"c = QdrantClient(path={path!r})\n"
            "r = c.upsert('a', points=[models.PointStruct(id=10, vector=[1.0, 10.0])], wait=True)\n"
            "print(r.operation_id, flush=True)\n"
            "os._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    crashed_op = int(out.stdout.split()[-1])
    assert crashed_op > nxt
    before[10] = crashed_op
    client = QdrantClient(path=path)
    try:
        assert _versions(client, "a") == before
        again = client.upsert("a", points=[models.PointStruct(id=0, vector=[1.0, 0.5])], wait=True).operation_id
        assert again > crashed_op and _versions(client, "a")[0] == again
    finally:
        client.close()


def test_a_failed_open_leaves_no_reader_thread(pristine, tmp_path, monkeypatch):
    """A point row failing its CRC makes the open raise after the graph prefetch thread started;
    the engine must wait for that thread before the error reaches the caller."""
    import sqlite3

    from local_engine.index import maintainer

    src, _ = pristine
    copy = tmp_path / "db"
    shutil.copytree(src, copy)
    points = _data_files(copy)["points.sqlite"]
    with sqlite3.connect(points) as conn:
        conn.execute("UPDATE points SET crc = crc + 1 WHERE offset = (SELECT min(offset) FROM points)")
    original_read = maintainer.VectorIndexes._read_all

    def read_slowly(self, store):
        time.sleep(0.5)          # still reading when the point rows fail their check
        original_read(self, store)

    monkeypatch.setattr(maintainer.VectorIndexes, "_read_all", read_slowly)
    with pytest.raises(StorageCorruptedError, match="CRC-32"):
        QdrantClient(path=str(copy))
    readers = [t.name for t in threading.enumerate() if t.name in ("hnsw-prefetch", "checkpoint-read")]
    assert not readers
