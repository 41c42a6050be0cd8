"""Grouped queries: the ranked answer of a query, folded into groups by a payload value.

Rules (QDRANT_REFERENCE.md §6; the official client's local mode agrees):

* The whole ranked answer is grouped (every prefetch limit is lifted to the collection's size,
  the query's limit to the number of points), so a group's hits are its best points overall.
* A point's group ids are the values of ``group_by`` (arrays unwrapped one level), deduplicated
  in payload order. Only strings and integers group; a point with any other value under the key
  (bool, float, object, null) joins no group at all, as in Qdrant.
* Groups are ordered by their best hit; ``limit`` groups of at most ``group_size`` hits.
* ``with_lookup`` fetches, per group, the point whose id is the group id from another
  collection (payload by default, vectors when asked).
"""

from __future__ import annotations

import copy
from typing import Any

from sdk import models

from ..ids import normalize_id
from ..payload.json_path import flatten, parse_path, resolve


def lift_prefetch_limits(prefetch: Any, limit: int) -> Any:
    if prefetch is None:
        return None
    prefetch = copy.deepcopy(prefetch)
    stack = list(prefetch) if isinstance(prefetch, list) else [prefetch]
    while stack:
        p = stack.pop()
        p.limit = limit
        if p.prefetch is not None:
            stack.extend(p.prefetch if isinstance(p.prefetch, list) else [p.prefetch])
    return prefetch


def group_ids(payload: Any, path: tuple) -> list | None:
    if not isinstance(payload, dict):
        return None
    values = flatten(resolve(payload, path))
    if not values:
        return None
    if any(type(v) not in (int, str) for v in values):
        return None
    return list(dict.fromkeys(values))


def fold(collection: Any, offsets: list, group_by: str, limit: int, group_size: int) -> list[tuple[Any, list[int]]]:
    """(group id, positions into ``offsets``) of the first ``limit`` groups."""
    path = parse_path(group_by)
    groups: dict[Any, list[int]] = {}
    payloads = collection._payloads
    for pos, off in enumerate(offsets):
        ids = group_ids(payloads.get(off), path)
        if ids is None:
            continue
        for gid in ids:
            members = groups.get(gid)
            if members is None:
                if len(groups) >= limit:
                    continue
                members = groups[gid] = []
            if len(members) < group_size:
                members.append(pos)
    return list(groups.items())


def lookup(lookup_collection: Any, with_lookup: Any, group_id: Any) -> models.Record | None:
    with_payload = True if with_lookup.with_payload is None else with_lookup.with_payload
    with_vectors = with_lookup.with_vectors or False
    try:
        pid = normalize_id(group_id)
    except Exception:  # noqa: BLE001 - a group value that is no point id finds nothing
        return None
    found = lookup_collection.retrieve([pid], with_payload, with_vectors)
    return found[0] if found else None
