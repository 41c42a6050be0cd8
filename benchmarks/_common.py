"""Shared helpers for the benchmarks: data generation, timing, memory, tables, worker processes.

Nothing here imports a Qdrant client; each benchmark worker imports the one it measures, so a
worker's memory figures are its own.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np


# -- data -----------------------------------------------------------------------------------------
@dataclass
class Dataset:
    vectors: np.ndarray        # (n, dim) float32
    groups: np.ndarray         # (n,) int64 in [0, n_groups)
    queries: np.ndarray        # (q, dim) float32, drawn from the same distribution, not stored

    @property
    def ids(self) -> list[int]:
        return list(range(len(self.vectors)))

    def payloads(self) -> list[dict[str, Any]]:
        return [{"group": g} for g in self.groups.tolist()]


def clustered_dataset(
    n: int,
    dim: int = 128,
    n_queries: int = 100,
    n_centres: int = 100,
    noise: float = 0.3,
    n_groups: int = 10,
    seed: int = 42,
) -> Dataset:
    """``n_centres`` random centres in ``dim``-d; each point (and query) = centre + noise·N(0, 1).

    ``groups`` is uniform in [0, n_groups), independent of the clusters. Deterministic for a seed,
    so separate processes generate the same data.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_centres, dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        which = rng.integers(0, n_centres, size=count)
        return (centres[which] + noise * rng.standard_normal((count, dim), dtype=np.float32)).astype(np.float32)

    vectors = draw(n)
    groups = rng.integers(0, n_groups, size=n)
    queries = draw(n_queries)
    return Dataset(vectors=vectors, groups=groups, queries=queries)


# -- timing ---------------------------------------------------------------------------------------
class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._t0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]); NaN for no values."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- memory ---------------------------------------------------------------------------------------
def current_rss_mb() -> float:
    """VmRSS of this process from /proc/self/status, in MB (NaN where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """Peak RSS of this process (``ru_maxrss``: KiB on Linux, bytes on macOS), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def collect() -> None:
    gc.collect()
    gc.collect()


# -- files ----------------------------------------------------------------------------------------
@contextmanager
def temp_dir(prefix: str = "bench-") -> Iterator[str]:
    import shutil

    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dir_size_mb(path: str) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / (1024.0 * 1024.0)


# -- worker processes -----------------------------------------------------------------------------
def run_worker(
    script: str, args: Sequence[str], timeout: float | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python script *args --_out FILE`` in a fresh interpreter; return the JSON it wrote.

    A fresh process per measured system keeps RSS figures separate and imports isolated.
    The worker's stderr (progress) is passed through.
    """
    with temp_dir("bench-out-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, script, *args, "--_out", out]
        proc = subprocess.run(cmd, timeout=timeout, stdout=sys.stderr, env={**os.environ, **(env or {})})
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed ({proc.returncode}): {' '.join(cmd)}")
        with open(out) as fh:
            return json.load(fh)


def blas_thread_env(threads: int | None) -> dict[str, str]:
    """Environment pinning the BLAS/OpenMP thread pools (empty: library defaults)."""
    if threads is None:
        return {}
    value = str(threads)
    return {name: value for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def write_json(path: str, data: dict[str, Any]) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- machine --------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gb = int(line.split()[1]) / 1024.0 / 1024.0
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


# -- tables ---------------------------------------------------------------------------------------
def fmt_num(value: Any, digits: int = 3) -> str:
    """Compact human formatting: 3 significant figures, thousands separators for large numbers."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "-"
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(v))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{v:.{decimals}f}"


def fmt_ratio(value: float | None) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A plain-text table. ``align``: one char per column, 'l' or 'r' (default: first l, rest r)."""
    align = align or ("l" + "r" * (len(headers) - 1))
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.ljust(widths[i]) if align[i] == "l" else cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def render_markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(headers) - 1))
    marks = ["---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)
