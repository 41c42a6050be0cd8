"""The ``client`` fixture: every behaviour test runs once per client mode.

Modes are ``<engine>-<flavour>``: engine ``memory`` or ``path`` (the built-in engine in
process), flavour ``sync`` (QdrantClient) or ``async`` (AsyncQdrantClient driven through
``SyncDriver``, so one test body exercises both facades).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

import pytest

from sdk import AsyncQdrantClient, QdrantClient

ENGINES = ["memory", "path"]
FLAVOURS = ["sync", "async"]
MODES = [f"{e}-{f}" for e in ENGINES for f in FLAVOURS]


class SyncDriver:
    """Runs an AsyncQdrantClient's coroutines to completion, so tests read like sync code."""

    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client
        self._loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def run(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(attr(*args, **kwargs))

        return run

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._client.close())
        finally:
            self._loop.close()


def make_client(mode: str, path: str | None) -> Any:
    engine, flavour = mode.split("-")
    kwargs = {"path": path} if engine == "path" else {"location": ":memory:"}
    if flavour == "sync":
        return QdrantClient(**kwargs)
    return SyncDriver(AsyncQdrantClient(**kwargs))


class ClientFactory:
    """Opens clients of one mode on one storage location; reopening sees the same data in path mode."""

    def __init__(self, mode: str, path: str) -> None:
        self.mode = mode
        self.path = path
        self._open: list[Any] = []

    @property
    def persistent(self) -> bool:
        return self.mode.startswith("path")

    def open(self) -> Any:
        client = make_client(self.mode, self.path)
        self._open.append(client)
        return client

    def close_all(self) -> None:
        for client in self._open:
            try:
                client.close()
            except Exception:
                pass
        self._open.clear()


@pytest.fixture(params=MODES)
def client_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    factory = ClientFactory(request.param, str(tmp_path / "storage"))
    yield factory
    factory.close_all()


@pytest.fixture(params=[m for m in MODES if m.startswith("path")])
def path_client_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """Path modes only: for tests that close and reopen the same storage."""
    factory = ClientFactory(request.param, str(tmp_path / "storage"))
    yield factory
    factory.close_all()


@pytest.fixture
def client(client_factory: ClientFactory) -> Any:
    return client_factory.open()


@pytest.fixture
def mode(client_factory: ClientFactory) -> str:
    return client_factory.mode
