"""Command line: serve the built-in engine on Qdrant's REST and gRPC protocols.

    qdrant-sdk serve [--path DIR] [--host 127.0.0.1] [--port 6333] [--grpc-port 6334] [--api-key KEY]
    python -m local_engine.server serve ...

``--path`` persists to a folder (SQLite storage; omit it for in-memory). ``--port 0`` /
``--grpc-port 0`` pick free ports; ``--grpc-port -1`` serves REST only. When both servers are up
one line is printed to stdout, naming the actual ports::

    qdrant-sdk serving REST on http://127.0.0.1:6333 and gRPC on 127.0.0.1:6334

SIGINT / SIGTERM stop both servers gracefully, then close the engine (path storage is
checkpointed and unlocked).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from typing import Any, Optional, Sequence

log = logging.getLogger("local_engine.server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qdrant-sdk", description="qdrant-sdk: the built-in engine on the wire")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve Qdrant's REST and gRPC APIs")
    serve.add_argument("--path", default=None, help="storage folder (default: in memory, nothing persisted)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=6333, help="REST port (0: any free port; default 6333)")
    serve.add_argument("--grpc-port", type=int, default=6334,
                       help="gRPC port (0: any free port, -1: no gRPC; default 6334)")
    serve.add_argument("--api-key", default=None, help="require this key (api-key header or bearer token)")
    serve.add_argument("--log-level", default="warning",
                       choices=["critical", "error", "warning", "info", "debug"], help="default: warning")
    return parser


def _open_engine(path: Optional[str]) -> Any:
    from local_engine import Engine

    if path is None:
        return Engine()
    from local_engine.storage.sqlite import SqliteStorage

    return Engine(SqliteStorage(path))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only disables Nagle on accepted sockets whose proto says
    # TCP, and with Nagle on, a keep-alive response written in two parts waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _start_grpc(engine: Any, host: str, port: int, api_key: Optional[str]) -> tuple[Any, Optional[int], str]:
    """(server or None, actual port, why not) — REST keeps serving when gRPC is unavailable."""
    if port < 0:
        return None, None, "disabled"
    try:
        from .grpc_service import create_grpc_server
    except ImportError as exc:
        log.warning("gRPC is unavailable (%s); serving REST only", exc)
        return None, None, f"unavailable: {exc}"
    created = create_grpc_server(engine, host, port, api_key)   # (unstarted server, bound port)
    server, actual = created if isinstance(created, tuple) else (created, port)
    server.start()
    return server, actual, ""


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .rest import create_app

    engine = _open_engine(args.path)
    grpc_server = None
    stop_signals: list[int] = []
    previous = {}
    try:
        # uvicorn re-raises the signal that stopped it once it is done: let it land here, so the
        # engine still gets closed below.
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop_signals.append(signum))
        sock = _bind(args.host, args.port)
        rest_port = sock.getsockname()[1]
        grpc_server, grpc_port, why = _start_grpc(engine, args.host, args.grpc_port, args.api_key)
        config = uvicorn.Config(
            create_app(engine, api_key=args.api_key),
            log_level=args.log_level,
            access_log=args.log_level in ("info", "debug"),
            lifespan="off",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        shown_host = f"[{args.host}]" if ":" in args.host else args.host
        if grpc_server is not None:
            ready = f"qdrant-sdk serving REST on http://{shown_host}:{rest_port} and gRPC on {shown_host}:{grpc_port}"
        else:
            ready = f"qdrant-sdk serving REST on http://{shown_host}:{rest_port} (gRPC {why})"

        async def run() -> None:
            task = asyncio.ensure_future(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if server.started:
                print(ready, flush=True)
            await task

        asyncio.run(run())
        return 0
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait(5)
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse enforces the subcommand


if __name__ == "__main__":
    sys.exit(main())
