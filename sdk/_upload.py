"""Sending upload batches ``parallel`` at a time (``upload_points`` / ``upload_collection``).

Both clients upload synchronously, as qdrant-client does (its async client's upload methods are
plain functions too), so one threaded ``Uploader`` serves both. It reads the batch iterator
lazily and keeps at most ``2 * parallel`` batches in flight, so an upload of a generator never
materialises it. The first failure stops new sends and is raised once the
batches already in flight have finished; batches are independent upserts, so nothing is left
half-applied.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable


class Uploader:
    def __init__(self, parallel: int) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.parallel = parallel

    def run(self, send: Callable[[Any], Any], batches: Iterable[Any]) -> None:
        if self.parallel == 1:
            for batch in batches:
                send(batch)
            return
        error: BaseException | None = None
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="qdrant-sdk-upload") as pool:
            pending: set[Future] = set()
            for batch in batches:
                pending.add(pool.submit(send, batch))
                if len(pending) >= 2 * self.parallel:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    error = error or _first_error(done)
                    if error is not None:
                        break
            done, _ = wait(pending)
            error = error or _first_error(done)
        if error is not None:
            raise error


def _first_error(done: Iterable[Any]) -> BaseException | None:
    for item in done:
        exc = item.exception()
        if exc is not None:
            return exc
    return None
