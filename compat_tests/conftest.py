"""The ``client`` fixture: every behaviour test runs once per client mode.

Modes are ``<engine>-<flavour>``:

* engine ``memory`` / ``path``: the built-in engine in process;
* engine ``rest`` (and ``grpc`` once its transport exists): a server over the wire. By default
  the session starts ``python -m local_engine.server serve --port 0 --grpc-port 0`` (in memory,
  free ports) and stops it at the end; with ``QDRANT_URL`` set (plus ``QDRANT_GRPC_PORT``,
  ``QDRANT_API_KEY``) the same tests run against that server instead, e.g. a real Qdrant.
  Remote tests share the server, so every collection and alias is deleted before each test.

Flavour ``sync`` is QdrantClient, ``async`` is AsyncQdrantClient driven through ``SyncDriver``,
so one test body exercises both facades.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from sdk import AsyncQdrantClient, QdrantClient

# Add "grpc" here when the gRPC transport lands: the remote fixture already knows the gRPC port.
ENGINES = ["memory", "path", "rest", "grpc"]
REMOTE_ENGINES = {"rest", "grpc"}
FLAVOURS = ["sync", "async"]
MODES = [f"{e}-{f}" for e in ENGINES for f in FLAVOURS]

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"serving REST on http://(?P<host>\S+?):(?P<port>\d+)(?: and gRPC on \S+?:(?P<grpc>\d+))?")


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


# -- the server remote modes talk to ------------------------------------------------------------------
@dataclass
class RemoteServer:
    url: str
    grpc_port: Optional[int]
    api_key: Optional[str] = None
    process: Optional[subprocess.Popen] = None
    log_path: Optional[Path] = None

    def client_kwargs(self, engine: str) -> dict:
        kwargs: dict[str, Any] = {"url": self.url, "api_key": self.api_key}
        if engine == "grpc":
            if self.grpc_port is None:
                pytest.skip("the server under test has no gRPC port")
            kwargs.update(prefer_grpc=True, grpc_port=self.grpc_port)
        return kwargs

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_server(log_dir: Path, *extra: str, timeout: float = 30.0) -> RemoteServer:
    """Start our server as a subprocess on free ports and wait until it says it is ready."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{os.getpid()}-{time.monotonic_ns()}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_engine.server", "serve", "--host", "127.0.0.1", "--port", "0",
             "--grpc-port", "0", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, env=env, text=True,
        )
    found: dict[str, Any] = {}

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:      # keep draining, so the pipe never fills
            match = READY.search(line)
            if match and not found:
                found.update(match.groupdict())

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start (exit {proc.poll()}):\n{log_path.read_text()}")
        time.sleep(0.02)
    grpc = int(found["grpc"]) if found.get("grpc") else None
    api_key = None
    if "--api-key" in extra:
        api_key = extra[list(extra).index("--api-key") + 1]
    return RemoteServer(f"http://{found['host']}:{found['port']}", grpc, api_key, proc, log_path)


@pytest.fixture(scope="session")
def remote_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The server remote modes use: $QDRANT_URL if set, otherwise ours on free ports."""
    url = os.environ.get("QDRANT_URL")
    if url:
        grpc = os.environ.get("QDRANT_GRPC_PORT")
        yield RemoteServer(url.rstrip("/"), int(grpc) if grpc else 6334, os.environ.get("QDRANT_API_KEY") or None)
        return
    server = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield server
    finally:
        server.stop()


def wipe(server: RemoteServer) -> None:
    """Delete every alias, collection and snapshot (through the public API, so it works on a real
    Qdrant too; snapshots outlive their collection there as well)."""
    from sdk import ApiError, models

    with QdrantClient(url=server.url, api_key=server.api_key) as admin:
        aliases = admin.get_aliases().aliases
        if aliases:
            admin.update_collection_aliases(
                [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=a.alias_name)) for a in aliases]
            )
        for collection in admin.get_collections().collections:
            if hasattr(admin, "list_snapshots"):
                try:
                    for snap in admin.list_snapshots(collection.name):
                        admin.delete_snapshot(collection.name, snap.name)
                except ApiError:
                    pass  # a server without snapshot support has none to delete
            admin.delete_collection(collection.name)
        if hasattr(admin, "list_full_snapshots"):
            try:
                for snap in admin.list_full_snapshots():
                    admin.delete_full_snapshot(snap.name)
            except ApiError:
                pass


def make_client(mode: str, path: Optional[str], remote: Optional[RemoteServer] = None) -> Any:
    engine, flavour = mode.split("-")
    if engine in REMOTE_ENGINES:
        assert remote is not None, "remote modes need the remote_server fixture"
        kwargs = remote.client_kwargs(engine)
    elif engine == "path":
        kwargs = {"path": path}
    else:
        kwargs = {"location": ":memory:"}
    if flavour == "sync":
        return QdrantClient(**kwargs)
    return SyncDriver(AsyncQdrantClient(**kwargs))


class ClientFactory:
    """Opens clients of one mode on one storage location; reopening sees the same data in path mode."""

    def __init__(self, mode: str, path: str, remote: Optional[RemoteServer] = None) -> None:
        self.mode = mode
        self.path = path
        self.remote = remote
        self._open: list[Any] = []

    @property
    def engine(self) -> str:
        return self.mode.split("-")[0]

    @property
    def persistent(self) -> bool:
        return self.engine == "path"

    @property
    def is_remote(self) -> bool:
        return self.engine in REMOTE_ENGINES

    def open(self) -> Any:
        client = make_client(self.mode, self.path, self.remote)
        self._open.append(client)
        return client

    def close_all(self) -> None:
        for client in self._open:
            try:
                client.close()
            except Exception:
                pass
        self._open.clear()


def _factory(request: pytest.FixtureRequest, tmp_path: Any) -> ClientFactory:
    mode = request.param
    remote = None
    if mode.split("-")[0] in REMOTE_ENGINES:
        remote = request.getfixturevalue("remote_server")
        wipe(remote)
    return ClientFactory(mode, str(tmp_path / "storage"), remote)


@pytest.fixture(params=MODES)
def client_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    factory = _factory(request, tmp_path)
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
