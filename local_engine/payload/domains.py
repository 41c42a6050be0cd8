"""Domains: the sets of documents filters are evaluated over.

The *top* domain is the collection's points: document id = point offset, document = payload.
A ``nested`` condition evaluates its inner filter over a *nested* domain: every object element
of the arrays at its key, across all points (document id = element id, plus the offset of the
point that owns the element). The inner filter's keys are relative to the element, so a nested
domain has columns (and nested domains) of its own, maintained exactly like the top ones.

Every document change goes through ``Domain.set_doc``, which forwards it to every column and
nested domain built so far (columns.py, rule 1).

Element ids are only ever appended. When more than half of a nested domain's elements are dead,
it is dropped and rebuilt by the next query that needs it: one pass over the parent documents
after as many element deaths, so the cost per write stays bounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import Column, EntryBuffer
from .json_path import ALL, Path, resolve

_REBUILD_MIN_DEAD = 256


class Domain:
    def __init__(self) -> None:
        self.docs: list = []  # document id -> dict, or None / {} for no document
        self.columns: dict[Path, Column] = {}
        self.nested: dict[Path, NestedDomain] = {}
        # JSON path of this domain's documents from the top (`arr[]` for nested `arr`): a column
        # `x` here is the top-level path `prefix + x`, which is how payload indexes are named
        self.prefix: Path = ()

    @property
    def size(self) -> int:
        return len(self.docs)

    def set_doc(self, doc_id: int, doc: Any) -> None:
        if doc_id >= len(self.docs):
            self.docs.extend([None] * (doc_id + 1 - len(self.docs)))
        self.docs[doc_id] = doc
        self._derive(doc_id, doc)

    def _derive(self, doc_id: int, doc: Any) -> None:
        for column in self.columns.values():
            column.replace(doc_id, doc)
        stale = [key for key, sub in self.nested.items() if not sub.owner_changed(doc_id, doc)]
        for key in stale:
            del self.nested[key]

    def column(self, path: Path) -> Column:
        """The column of ``path``, built on first use, flushed (ready for numpy)."""
        column = self.columns.get(path)
        if column is None:
            column = self.columns[path] = Column(path)
            column.build(self.docs)
        column.flush()
        return column

    def nested_domain(self, path: Path) -> NestedDomain:
        sub = self.nested.get(path)
        if sub is None:
            sub = self.nested[path] = NestedDomain(path, self.prefix + tuple(path) + (ALL,))
            sub.build(self.docs)
        sub.elements.flush()
        return sub


class NestedDomain(Domain):
    """Object elements of the arrays at ``path`` in the parent's documents."""

    def __init__(self, path: Path, prefix: Path = ()) -> None:
        super().__init__()
        self.path = path
        self.prefix = prefix
        # one row per element id (never compacted, so row index == element id): its owner
        self.elements = EntryBuffer((np.int64,), compactable=False)

    def build(self, parent_docs: list) -> None:
        for owner, doc in enumerate(parent_docs):
            if doc:
                self._add_owner(owner, doc)

    def owner_changed(self, owner: int, doc: Any) -> bool:
        """Replace the elements of ``owner``; False when this domain should be rebuilt instead."""
        start, stop = self.elements.range_of(owner)
        for element_id in range(start, stop):
            self.docs[element_id] = None
            self._derive(element_id, None)
        self.elements.kill(owner)
        if doc:
            self._add_owner(owner, doc)
        dead = self.elements.n_dead
        return not (dead >= _REBUILD_MIN_DEAD and 2 * dead > self.elements.total)

    def _add_owner(self, owner: int, doc: Any) -> None:
        found = [
            element
            for value in resolve(doc, self.path)
            if isinstance(value, list)
            for element in value
            if isinstance(element, dict)  # only objects are filtered, as in Qdrant
        ]
        if not found:
            return
        first = len(self.docs)
        self.elements.add(owner, [(owner,)] * len(found))
        for i, element in enumerate(found):
            self.docs.append(element)
            self._derive(first + i, element)

    def owners(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(owner offset per element id, live mask or None)."""
        return self.elements.field(0), self.elements.live()
