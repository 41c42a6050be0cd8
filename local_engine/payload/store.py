"""``PayloadStore``: the payloads of one collection's points, and filters over them.

Points are addressed by the collection's integer *offset*. Every write builds a new payload
dict (never mutating the stored one in place) and hands it to the top ``Domain``, which keeps
the value columns that filters have asked for in step (see columns.py / domains.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadRequest
from . import mutate
from .conditions import check_filter
from .domains import Domain
from .filters import Evaluator, FilterContext
from .json_path import parse_path


class PayloadStore:
    """Payload per point offset, JSON-path writes with Qdrant's semantics, vectorised filters."""

    def __init__(self) -> None:
        self._domain = Domain()

    # ---- reads ----

    def get(self, offset: int) -> dict:
        """The payload of ``offset`` ({} when none). Shared, not a copy: callers must not mutate it."""
        docs = self._domain.docs
        if offset < len(docs) and docs[offset]:
            return docs[offset]
        return {}

    def snapshot_payloads(self) -> dict[int, dict]:
        """offset -> payload for every non-empty payload (tests, debugging)."""
        return {i: doc for i, doc in enumerate(self._domain.docs) if doc}

    # ---- writes ----

    def set(self, offset: int, payload: dict | None) -> None:
        """Replace the whole payload (None or {} = empty). The store keeps its own deep copy."""
        self._put(offset, mutate.clone(payload) if payload else None)

    def adopt(self, offsets: list[int], payloads: list[dict]) -> None:
        """Bulk-load payloads nobody else references (storage reopen): no copies are made."""
        domain = self._domain
        if offsets:
            top = max(offsets) + 1
            if top > len(domain.docs):
                domain.docs.extend([None] * (top - len(domain.docs)))
        if domain.columns or domain.nested:
            for off, payload in zip(offsets, payloads):
                domain.set_doc(off, payload or None)
            return
        docs = domain.docs
        for off, payload in zip(offsets, payloads):
            docs[off] = payload or None

    def delete(self, offset: int) -> None:
        """The point is gone: no payload, and the offset matches nothing but "empty" conditions."""
        self._put(offset, None)

    def clear(self, offset: int) -> None:
        self._put(offset, None)

    def overwrite_payload(self, offset: int, payload: dict) -> None:
        self.set(offset, payload)

    def set_payload(self, offset: int, payload: dict, key: str | None = None) -> None:
        """Qdrant's set_payload: merge top-level keys (null removes a key), or with ``key`` merge
        into the object(s) that JSON path names (``mutate.set_at_path``)."""
        _require_dict(payload)
        old = self.get(offset)
        if key is None:
            new = mutate.merge(dict(old), payload)
        else:
            path = parse_path(key)
            new = mutate.clone(old)
            mutate.set_at_path(new, path, payload)
        self._put(offset, new or None)

    def delete_keys(self, offset: int, keys: list[str]) -> None:
        """Qdrant's delete_payload: each key is a JSON path (``a.b``, ``a[].b``, ``a[]``, ...)."""
        paths = [parse_path(k) for k in keys]
        old = self.get(offset)
        if not old:
            return
        new = mutate.clone(old)
        for path in paths:
            mutate.delete_at_path(new, path)
        self._put(offset, new or None)

    def _put(self, offset: int, payload: dict | None) -> None:
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        self._domain.set_doc(offset, payload)

    # ---- selection ----

    def select(self, payload: dict, with_payload: Any) -> dict | None:
        """Apply a WithPayloadInterface: True/False, a list of JSON-path keys, or an
        include/exclude selector; None for False.

        The result is a fresh deep copy: it goes out to users, and a user mutating the stored
        dict would silently desynchronise the filter columns."""
        if with_payload is None or with_payload is False:
            return None
        if with_payload is True:
            return mutate.clone(payload)
        if isinstance(with_payload, str):
            raise BadRequest(
                "Format error in JSON body: with_payload must be a bool, a list of payload keys or a payload selector"
            )
        exclude = _selector_keys(with_payload, "exclude")
        if exclude is not None:
            selected = mutate.exclude(payload, mutate.selector_tree([parse_path(k) for k in exclude]))
        else:
            include = _selector_keys(with_payload, "include")
            if include is None:
                include = list(with_payload)
            selected = mutate.include(payload, mutate.selector_tree([parse_path(k) for k in include]))
        return mutate.clone(selected)

    # ---- filters ----

    def check_filter_schema(self, flt: Any) -> None:
        """Raise BadRequest for a malformed filter (and Unsupported for a condition this engine
        does not implement), without evaluating anything."""
        if flt is not None:
            check_filter(flt)

    def evaluate(self, flt: Any, ctx: FilterContext) -> np.ndarray:
        """Bool mask of length ``ctx.size``: True where the payload (and id / vectors) match.
        Liveness is not considered: deleted and unused offsets simply have empty payloads."""
        size = int(ctx.size)
        if flt is None:
            return np.ones(size, dtype=bool)
        check_filter(flt)
        # evaluate over every offset the store knows, so entry owners index safely, then cut
        n = max(size, self._domain.size)
        mask = Evaluator(ctx).filter(flt, self._domain, n, top=True)
        return mask[:size]


def _selector_keys(selector: Any, name: str) -> list | None:
    if isinstance(selector, dict):
        return selector.get(name)
    if isinstance(selector, (list, tuple)):
        return None
    return getattr(selector, name, None)


def _require_dict(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise BadRequest("Format error in JSON body: payload must be a JSON object")
