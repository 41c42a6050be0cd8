"""Sending upload batches ``parallel`` at a time (``upload_points`` / ``upload_collection``).

``Uploader`` (threads) serves the sync client and ``AsyncUploader`` (tasks) the async one;
``tools/unasync.py`` turns the async client's ``AsyncUploader`` into ``Uploader``. Both read the
batch iterator lazily and keep at most ``2 * parallel`` batches in flight, so an upload of a
generator never materialises it. The first failure stops new sends and is raised once the
batches already in flight have finished; batches are independent upserts, so nothing is left
half-applied.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Awaitable, Callable, Iterable


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


class AsyncUploader:
    def __init__(self, parallel: int) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.parallel = parallel

    async def run(self, send: Callable[[Any], Awaitable[Any]], batches: Iterable[Any]) -> None:
        if self.parallel == 1:
            for batch in batches:
                await send(batch)
            return
        error: BaseException | None = None
        pending: set[asyncio.Task] = set()
        for batch in batches:
            pending.add(asyncio.ensure_future(send(batch)))
            if len(pending) >= 2 * self.parallel:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                error = error or _first_error(done)
                if error is not None:
                    break
        if pending:
            done, _ = await asyncio.wait(pending)
            error = error or _first_error(done)
        if error is not None:
            raise error


def _first_error(done: Iterable[Any]) -> BaseException | None:
    for item in done:
        exc = item.exception()
        if exc is not None:
            return exc
    return None
