"""The built-in engine as a transport, sync and async.

The async transport runs every engine call on a small thread pool, so engine work (numpy
scoring, SQLite writes) never blocks the event loop; the engine serialises what must be
serialised with its own locks.
"""

from __future__ import annotations

import asyncio
import functools
import keyword
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._exceptions import map_engine_errors
from .._location import Location

# Parameters that only mean something on the wire or in a cluster: on one node every write is
# complete when it returns and every read sees every acknowledged write.
_WIRE_ONLY = ("wait", "ordering", "consistency", "timeout")


def _open_engine(location: Location) -> Any:
    from local_engine import Engine

    with map_engine_errors():
        if location.kind == "path":
            from local_engine.storage.sqlite import SqliteStorage

            return Engine(SqliteStorage(location.path))
        return Engine()


class LocalTransport:
    def __init__(self, location: Location) -> None:
        self.location = location
        self._engine = _open_engine(location)
        # Close (checkpoint + release the folder lock) even if the user never calls close().
        self._finalizer = weakref.finalize(self, self._engine.close)

    def call(self, operation_id: str, **params: Any) -> Any:
        for name in _WIRE_ONLY:
            params.pop(name, None)
        for name in [n for n in params if keyword.iskeyword(n)]:
            params[name + "_"] = params.pop(name)   # the wire's `with` is the engine's `with_`
        method = getattr(self._engine, operation_id)
        with map_engine_errors():
            return method(**params)

    def blocking(self) -> "LocalTransport":
        """The transport to call from synchronous code (itself)."""
        return self

    def close(self) -> None:
        with map_engine_errors():
            self._finalizer()


class AsyncLocalTransport:
    def __init__(self, location: Location) -> None:
        self._sync = LocalTransport(location)
        self.location = location
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qdrant-sdk-engine")

    async def call(self, operation_id: str, **params: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._sync.call, operation_id, **params))

    def blocking(self) -> LocalTransport:
        """The engine called directly, for the async client's synchronous upload methods."""
        return self._sync

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._sync.close)
        self._executor.shutdown(wait=False)
