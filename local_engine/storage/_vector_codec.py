"""How a point's vectors become one SQLite BLOB and come back, in bulk.

A point's vectors are split in two groups, each stored as one row in its own table:

* ``dense``  — every dense 1-D vector (the ones a checkpoint can cover);
* ``other``  — multivectors (2-D) and sparse vectors (never checkpointed).

Each row is ``(offset, layout, data)``. ``data`` is the raw bytes of the group's arrays,
concatenated; ``layout`` is an integer id of a *layout*: the ordered list of entries
(name, kind, dtype, shape) that says how to cut ``data``. Points of one collection almost
always share a handful of layouts, so loading groups rows by layout and decodes each group
with a few numpy operations instead of per-row parsing.

Layout entries (JSON lists, stored once per layout in the ``layouts`` table):

    ["d", name, dtype, dim]                 dense 1-D vector
    ["m", name, dtype, rows, dim]           multivector
    ["s", name, idx_dtype, val_dtype, nnz]  sparse vector

``dtype`` is numpy's ``dtype.str`` (``"<f4"``, ``"<f2"``, ``"|u1"``, ...): the exact dtype
and byte order round-trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .base import SparseVec

Entry = tuple  # one of the tuples described above


@dataclass(frozen=True)
class Layout:
    id: int
    entries: tuple[Entry, ...]
    row_bytes: int
    # (entry, start, stop) byte ranges inside a row's data
    slices: tuple[tuple[Entry, int, int], ...]

    @property
    def names(self) -> set[str]:
        return {e[1] for e in self.entries}

    @property
    def all_dense(self) -> bool:
        return all(e[0] == "d" for e in self.entries)


def _entry_bytes(entry: Entry) -> int:
    kind = entry[0]
    if kind == "d":
        return np.dtype(entry[2]).itemsize * entry[3]
    if kind == "m":
        return np.dtype(entry[2]).itemsize * entry[3] * entry[4]
    if kind == "s":
        return (np.dtype(entry[2]).itemsize + np.dtype(entry[3]).itemsize) * entry[4]
    raise ValueError(f"unknown vector layout kind {kind!r}")


def make_layout(layout_id: int, entries: Iterable[Entry]) -> Layout:
    entries = tuple(tuple(e) for e in entries)
    slices = []
    pos = 0
    for e in entries:
        n = _entry_bytes(e)
        slices.append((e, pos, pos + n))
        pos += n
    return Layout(layout_id, entries, pos, tuple(slices))


def layout_spec(entries: tuple[Entry, ...]) -> str:
    return json.dumps([list(e) for e in entries], separators=(",", ":"))


def parse_spec(layout_id: int, spec: str) -> Layout:
    return make_layout(layout_id, (tuple(e) for e in json.loads(spec)))


def _check_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.kind not in "fiub":
        raise TypeError(f"vector {name!r}: unsupported dtype {dtype} (expected a numeric array)")


_SPARSE = "sparse"


class LayoutRegistry:
    """The layouts of one collection, and the encoder of a point's vectors into row data.

    ``encode`` is the hot path of ingestion: a point's *signature* (names, dtypes, shapes) is
    looked up in a cache that says which layouts it uses, so a point costs one tuple and one
    dict lookup beyond ``tobytes``. Layouts registered during a failed transaction are
    forgotten by ``rollback``.
    """

    def __init__(self) -> None:
        self.layouts: dict[int, Layout] = {}
        self.first_seq: dict[int, int] = {}
        self._ids: dict[tuple, int] = {}
        # signature -> (dense layout id | None, other layout id | None, route | None)
        # route is None when every vector is dense 1-D, else a tuple of bools (True = dense)
        self._plans: dict[tuple, tuple] = {}
        self._seq = 0
        self.pending: list[int] = []        # layout ids registered since begin()
        self._pending_sigs: list[tuple] = []

    def add(self, layout: Layout, first_seq: int) -> None:
        self.layouts[layout.id] = layout
        self.first_seq[layout.id] = first_seq
        self._ids[layout.entries] = layout.id

    def begin(self, seq: int) -> None:
        self._seq = seq
        self.pending = []
        self._pending_sigs = []

    def rollback(self) -> None:
        for sig in self._pending_sigs:
            self._plans.pop(sig, None)
        for lid in self.pending:
            layout = self.layouts.pop(lid)
            del self.first_seq[lid], self._ids[layout.entries]
        self.pending = []
        self._pending_sigs = []

    def _layout_id(self, entries: tuple) -> int | None:
        if not entries:
            return None
        lid = self._ids.get(entries)
        if lid is None:
            lid = max(self.layouts, default=0) + 1
            self.add(make_layout(lid, entries), self._seq)
            self.pending.append(lid)
        return lid

    def _plan(self, sig: tuple) -> tuple:
        dense: list = []
        other: list = []
        route: list[bool] = []
        for s in sig:
            name = s[0]
            if s[1] == _SPARSE:
                _, _, idt, vdt, idx_shape, val_shape = s
                if len(idx_shape) != 1 or idx_shape != val_shape:
                    raise TypeError(f"sparse vector {name!r}: indices and values must be 1-D and of equal length")
                _check_dtype(name, idt)
                _check_dtype(name, vdt)
                other.append(("s", name, idt.str, vdt.str, idx_shape[0]))
                route.append(False)
                continue
            _, dt, shape = s
            _check_dtype(name, dt)
            if len(shape) == 1:
                dense.append(("d", name, dt.str, shape[0]))
                route.append(True)
            elif len(shape) == 2:
                other.append(("m", name, dt.str, shape[0], shape[1]))
                route.append(False)
            else:
                raise TypeError(f"vector {name!r}: expected a 1-D or 2-D array, got {len(shape)}-D")
        plan = (self._layout_id(tuple(dense)), self._layout_id(tuple(other)), None if all(route) else tuple(route))
        self._plans[sig] = plan
        self._pending_sigs.append(sig)
        if len(sig) == 1 and len(sig[0]) == 3:  # also under the fast path's key (a 3-tuple, not a tuple of them)
            self._plans[sig[0]] = plan
            self._pending_sigs.append(sig[0])
        return plan

    def encode(self, vectors: dict[str, Any]) -> tuple[int | None, bytes, int | None, bytes]:
        """Return ``(dense_layout, dense_data, other_layout, other_data)`` for one point."""
        if len(vectors) == 1:  # fast path: one dense vector, a signature seen before
            for name, v in vectors.items():
                if v.__class__ is np.ndarray:
                    plan = self._plans.get((name, v.dtype, v.shape))
                    if plan is not None and plan[2] is None:
                        return plan[0], v.tobytes(), None, b""
        sig = []
        for name, v in vectors.items():
            if v.__class__ is np.ndarray or isinstance(v, np.ndarray):
                sig.append((name, v.dtype, v.shape))
            elif isinstance(v, SparseVec):
                i, x = np.asarray(v.indices), np.asarray(v.values)
                sig.append((name, _SPARSE, i.dtype, x.dtype, i.shape, x.shape))
            else:
                raise TypeError(f"vector {name!r}: expected a numpy array or SparseVec, got {type(v).__name__}")
        sig = tuple(sig)
        plan = self._plans.get(sig)
        if plan is None:
            plan = self._plan(sig)
        dense_lid, other_lid, route = plan
        if route is None:
            if len(vectors) == 1:
                for v in vectors.values():
                    return dense_lid, v.tobytes(), None, b""
            return dense_lid, b"".join([v.tobytes() for v in vectors.values()]), None, b""
        dparts: list[bytes] = []
        oparts: list[bytes] = []
        for is_dense, v in zip(route, vectors.values()):
            if is_dense:
                dparts.append(v.tobytes())
            elif isinstance(v, SparseVec):
                oparts.append(np.asarray(v.indices).tobytes() + np.asarray(v.values).tobytes())
            else:
                oparts.append(v.tobytes())
        return dense_lid, b"".join(dparts), other_lid, b"".join(oparts)


def decode_group(
    layout: Layout,
    offsets: np.ndarray,
    blobs: "Sequence[bytes]",
    keep: Callable[[str], "np.ndarray | None"],
    out: dict[str, dict[int, Any]],
) -> None:
    """Decode the rows of one layout into ``out[name][offset]``.

    ``keep(name)`` returns a boolean mask over ``offsets`` selecting the rows whose value for
    ``name`` is wanted, or ``None`` for all of them.
    """
    n = len(offsets)
    if n == 0 or not layout.entries:
        return
    buf = b"".join(blobs)
    if len(buf) != n * layout.row_bytes:
        raise ValueError(f"vector rows do not match their layout {layout.id}")
    raw = np.frombuffer(buf, dtype=np.uint8).reshape(n, layout.row_bytes)
    for entry, start, stop in layout.slices:
        kind, name = entry[0], entry[1]
        mask = keep(name)
        if mask is not None and not mask.any():
            continue
        block = raw[:, start:stop] if mask is None else raw[mask, start:stop]
        offs = (offsets if mask is None else offsets[mask]).tolist()
        target = out.setdefault(name, {})
        m = len(offs)
        if kind == "d":
            values = block.copy().view(np.dtype(entry[2])).reshape(m, entry[3])
            target.update(zip(offs, values))
        elif kind == "m":
            values = block.copy().view(np.dtype(entry[2])).reshape(m, entry[3], entry[4])
            target.update(zip(offs, values))
        else:  # sparse
            idt, vdt, nnz = np.dtype(entry[2]), np.dtype(entry[3]), entry[4]
            split = idt.itemsize * nnz
            idx = block[:, :split].copy().view(idt).reshape(m, nnz)
            val = block[:, split:].copy().view(vdt).reshape(m, nnz)
            for off, i, v in zip(offs, idx, val):
                target[off] = SparseVec(indices=i, values=v)

