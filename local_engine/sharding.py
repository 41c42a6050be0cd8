"""Shard keys on one node.

Every collection of the engine is one shard with automatic sharding: custom sharding needs shard
keys, and creating them is refused as cluster-only (``engine_service``). So no shard key exists,
and a request that names one (``shard_key`` in its body, which the clients fill from
``shard_key_selector=``) is refused the way Qdrant refuses a key it does not have, instead of
being run over the whole collection as if no key had been given:

* reads: 400 ``Bad request: Shard key <key> not found``;
* writes: 400 ``Wrong input: Shard key <key> not found``;
* a ``ShardKeyWithFallback`` (either kind): 404 ``Neither target shard key <t> nor fallback shard
  key <f> exist``.

The collection is looked up first, so a missing collection is still a 404 about the collection.
``guard_shard_keys`` wraps the engine's methods of the operations whose bodies can carry a key.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator

from .errors import BadRequest, NotFound

READS = frozenset((
    "get_points", "scroll_points", "count_points", "facet",
    "query_points", "query_batch_points", "query_points_groups", "search_matrix_pairs", "search_matrix_offsets",
    "search_points", "search_batch_points", "search_point_groups",
    "recommend_points", "recommend_batch_points", "recommend_point_groups",
    "discover_points", "discover_batch_points",
))
WRITES = frozenset((
    "upsert_points", "delete_points", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
    "update_vectors", "delete_vectors", "batch_update",
))


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _selectors(body: Any) -> Iterator[Any]:
    """Every shard key selector a request body names: its own, those of the requests of a batch
    (``searches``) and those of the operations of ``batch_update`` (``operations``)."""
    if body is None:
        return
    own = _field(body, "shard_key")
    if own is not None:
        yield own
    for request in _field(body, "searches") or ():
        yield from _selectors(request)
    for operation in _field(body, "operations") or ():
        # UpsertOperation(upsert=...), DeleteOperation(delete=...), ...: one field, the request
        if isinstance(operation, dict):
            requests = list(operation.values())
        else:
            requests = [getattr(operation, field) for field in type(operation).model_fields]
        for request in requests:
            yield from _selectors(request)


def refuse(selector: Any, write: bool) -> None:
    """Raise the error Qdrant gives for a shard key selector naming keys that do not exist."""
    target, fallback = _field(selector, "target"), _field(selector, "fallback")
    if target is not None and fallback is not None:
        raise NotFound(f"Not found: Neither target shard key {target} nor fallback shard key {fallback} exist")
    key = selector[0] if isinstance(selector, list) and selector else selector
    prefix = "Wrong input" if write else "Bad request"
    raise BadRequest(f"{prefix}: Shard key {key} not found")


def guard_shard_keys(cls: type) -> type:
    """Wrap ``cls``'s methods of the operations in READS and WRITES: after the collection is found,
    a body naming a shard key is refused (see the module docstring)."""
    for name in READS | WRITES:
        method = getattr(cls, name, None)
        if method is None:
            continue
        setattr(cls, name, _guarded(method, name in WRITES))
    return cls


def _guarded(method: Callable[..., Any], write: bool) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, collection_name: str, body: Any = None, **kwargs: Any) -> Any:
        for selector in _selectors(body):
            self._get(collection_name)      # a missing collection is reported first
            refuse(selector, write)
        return method(self, collection_name, body, **kwargs)

    return call
