"""Where a client points: the built-in engine in memory or at a path, or a remote server.

Applies qdrant-client's constructor rules once, for both clients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class Location:
    kind: str                      # "memory" | "path" | "remote"
    path: str | None = None
    url: str | None = None         # scheme://host:port[/prefix] for remote
    grpc_port: int = 6334
    prefer_grpc: bool = False
    api_key: str | None = None
    timeout: float | None = None


@dataclass
class RemoteOptions:
    """Client options that only matter for remote transports."""

    timeout: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth_token_provider: Any = None      # callable returning a bearer token (sync or async)
    grpc_options: dict[str, Any] = field(default_factory=dict)
    pool_size: int | None = None
    https: bool | None = None
    check_compatibility: bool = True
    http2: bool = False                  # REST over HTTP/2 (needs the h2 package)
    retries: int | None = None           # attempts per request, first try included (default 3)
    retry_writes: bool = False           # also retry writes whose outcome is unknown


def _looks_like_path(location: str) -> bool:
    return (
        location.startswith(("/", "./", "../", "~", "."))
        or "\\" in location
        or (os.sep in location and "://" not in location)
        or location.endswith((".db", ".sqlite"))
    )


def resolve_location(
    location: str | None = None,
    url: str | None = None,
    port: int | None = 6333,
    grpc_port: int = 6334,
    prefer_grpc: bool = False,
    https: bool | None = None,
    api_key: str | None = None,
    prefix: str | None = None,
    timeout: float | None = None,
    host: str | None = None,
    path: str | None = None,
    **_: Any,
) -> Location:
    given = [name for name, value in (("location", location), ("url", url), ("host", host), ("path", path)) if value]
    if len(given) > 1:
        raise ValueError(
            "Only one of <location>, <url>, <host> or <path> should be specified, got: " + ", ".join(given)
        )
    if location == ":memory:":
        return Location(kind="memory")
    if path is not None:
        if path == ":memory:":
            return Location(kind="memory")
        return Location(kind="path", path=os.fspath(path))
    if location is not None:
        if _looks_like_path(location):
            raise ValueError(
                f"location={location!r} looks like a filesystem path; use QdrantClient(path={location!r}) "
                "for a persisted local database, or a URL such as 'http://localhost:6333' for a server"
            )
        url = location
    if url is None:
        host = host or "localhost"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address
        scheme = "https" if https else "http"
        url = f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"
    else:
        if "://" not in url:
            url = f"{'https' if https else 'http'}://{url}"
        parsed = urlparse(url)
        if parsed.port is None and port:
            url = f"{parsed.scheme}://{parsed.hostname}:{port}{parsed.path}"
    if prefix:
        url = url.rstrip("/") + "/" + prefix.strip("/")
    return Location(
        kind="remote", url=url, grpc_port=grpc_port, prefer_grpc=prefer_grpc, api_key=api_key, timeout=timeout
    )
