"""``capture_collection`` copies a collection at one instant; ``SnapshotWriter`` serialises it.

Point-in-time rule: the collection lock is held only while copying what a later write could
change: the live offsets, their ids, *references* to their payload dicts (the payload store
never mutates a stored dict in place, it replaces it: ``local_engine/payload/store.py``),
copies of the vector rows and of the HNSW graphs' arrays. Encoding, hashing and writing happen after the lock is released,
so writes continue while a snapshot is written and never show up in it half-applied.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import format as fmt
from ._tar import TarOut


@dataclass
class CollectionView:
    """A consistent copy of one collection, detached from it (see the module docstring)."""

    name: str
    config: dict[str, Any]                      # models.CollectionConfig as JSON
    payload_schema: dict[str, Any]              # field -> schema JSON
    aliases: list[str]
    ids: list                                   # row order
    payloads: list                              # dict (shared, never mutated) or None, aligned with ids
    dense: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)   # name -> (matrix, present)
    offsets: np.ndarray | None = None           # int64 offset of each row in the collection (None: 0..n-1)
    next_offset: int | None = None              # the collection's size in offsets (None: n)
    graphs: dict[str, list] = field(default_factory=dict)   # vector name -> HNSW graph file (buffers)
    # sparse / multivector names: name -> {"kind", parts...} row-aligned (see format.py)
    others: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def points_count(self) -> int:
        return len(self.ids)


def schema_json(spec: Any) -> Any:
    """A stored payload field schema (enum, model, or already JSON) as JSON."""
    if isinstance(spec, Enum):
        return spec.value
    if hasattr(spec, "model_dump"):
        return spec.model_dump(mode="json", exclude_none=True)
    return spec


def capture_collection(collection: Any, aliases: list[str]) -> CollectionView:
    """Copy ``collection`` (a ``local_engine.collection.Collection``) under its lock.

    This reads the collection's internal arrays directly; it is the one place outside
    ``collection.py`` that does, and it only reads.
    """
    with collection._lock:
        size = collection._size
        live = np.flatnonzero(collection._alive[:size])
        offsets = live.tolist()
        ext_ids = collection._ext_ids
        ids = [ext_ids[o] for o in offsets]
        get_payload = collection._payloads.get
        payloads = [get_payload(o) for o in offsets]
        dense = {}
        for name, vec in collection._dense.items():
            rows = min(len(vec.present), size)
            inside = live[live < rows]
            matrix = np.zeros((len(live), vec.dim), dtype=getattr(vec, "dtype", np.float32))
            present = np.zeros(len(live), dtype=bool)
            if len(inside):
                matrix[: len(inside)] = vec.data[inside]
                present[: len(inside)] = vec.present[inside]
            dense[name] = (matrix, present)
        others = {name: _capture_other(store, offsets) for name, store in getattr(collection, "_others", {}).items()}
        # HNSW graphs (local_engine/index): labels are offsets, so they stay valid with the
        # offsets kept above. ``serialize`` copies hnswlib's arrays, like the rows above.
        # A write's graph insertions may still run on a helper thread: wait for them first.
        graphs = {}
        indexes = getattr(collection, "_indexes", None)
        if hasattr(indexes, "join"):
            indexes.join()
        for name, graph in (getattr(indexes, "graphs", None) or {}).items():
            if not graph.empty and not indexes.is_pending(name):
                graphs[name] = graph.serialize(size)
        config = collection.config.model_dump(mode="json")
        schema = {f: schema_json(s) for f, s in collection.payload_schema.items()}
    return CollectionView(
        name=collection.name, config=config, payload_schema=schema, aliases=list(aliases),
        ids=ids, payloads=payloads, dense=dense, offsets=live.astype(np.int64), next_offset=int(size),
        graphs=graphs, others=others,
    )


def _capture_other(store: Any, offsets: list[int]) -> dict[str, Any]:
    """Copies of the sparse vectors or multivectors of ``offsets`` as CSR-like arrays."""
    values = [store.raw(o) for o in offsets]
    present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    if store.kind == "sparse":
        lengths = np.fromiter((0 if v is None else len(v[0]) for v in values), dtype=np.int64, count=len(values))
        held = [v for v in values if v is not None]
        indices = np.concatenate([v[0] for v in held]).astype("<u4") if held else np.zeros(0, "<u4")
        vdtype = np.dtype(store.value_dtype).newbyteorder("<")
        vals = np.concatenate([v[1] for v in held]).astype(vdtype) if held else np.zeros(0, vdtype)
        return {"kind": "sparse", "present": present, "indptr": np.concatenate([[0], np.cumsum(lengths)]),
                "indices": indices, "values": vals}
    lengths = np.fromiter((0 if v is None else len(v) for v in values), dtype=np.int64, count=len(values))
    held = [v for v in values if v is not None]
    data = np.concatenate(held) if held else np.zeros((0, store.dim), dtype=store.dtype)
    return {"kind": "multi", "present": present, "indptr": np.concatenate([[0], np.cumsum(lengths)]), "data": data}


def _json_bytes(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates intact; NaN/Infinity payload values round-trip.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode("ascii")


def _npy_buffers(array: np.ndarray) -> list:
    """The .npy file of ``array`` as (header bytes, body buffer): the body is not copied."""
    array = np.ascontiguousarray(array)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(array))
    body = array.reshape(-1).view(np.uint8) if array.size else b""
    return [head.getvalue(), body]


class SnapshotWriter:
    """Serialises a ``CollectionView`` into the archive described in ``format.py``."""

    def __init__(self, view: CollectionView) -> None:
        self.view = view

    def _entries(self) -> tuple[list[tuple[str, list]], dict[str, Any]]:
        view = self.view
        entries: list[tuple[str, list]] = [
            (fmt.CONFIG, [_json_bytes(view.config)]),
            (fmt.PAYLOAD_INDEX, [_json_bytes(view.payload_schema)]),
            (fmt.ALIASES, [_json_bytes(sorted(view.aliases))]),
            (fmt.IDS, [_json_bytes(view.ids)]),
            (fmt.OFFSETS, _npy_buffers(self._offsets())),
            (fmt.PAYLOADS, [_json_bytes([p if p else {} for p in view.payloads])]),
        ]
        vectors = {}
        for k, (name, (matrix, present)) in enumerate(sorted(view.dense.items())):
            data_entry, present_entry = fmt.dense_entries(k)
            matrix = np.asarray(matrix)
            matrix = matrix.astype(matrix.dtype.newbyteorder("<"), copy=False)
            entries.append((data_entry, _npy_buffers(matrix)))
            entries.append((present_entry, _npy_buffers(np.asarray(present, dtype=bool))))
            vectors[name] = {
                "kind": "dense", "dtype": matrix.dtype.name, "dim": int(matrix.shape[1]),
                "count": int(np.count_nonzero(present)), "data": data_entry, "present": present_entry,
            }
        kinds = {"sparse": (fmt.sparse_entries, "values"), "multi": (fmt.multi_entries, "data")}
        counters = {"sparse": 0, "multi": 0}
        for name, parts in sorted(view.others.items()):
            kind = parts["kind"]
            make, typed = kinds[kind]
            files = make(counters[kind])
            counters[kind] += 1
            for part, entry in files.items():
                array = np.asarray(parts[part])
                array = array.astype(array.dtype.newbyteorder("<"), copy=False)
                entries.append((entry, _npy_buffers(array)))
            desc = {"kind": kind, "dtype": np.asarray(parts[typed]).dtype.name,
                    "count": int(np.count_nonzero(parts["present"])), **files}
            if kind == "multi":
                desc["dim"] = int(np.asarray(parts["data"]).shape[1])
            vectors[name] = desc
        indexes = []
        for k, (name, parts) in enumerate(sorted(view.graphs.items())):
            entry = fmt.hnsw_entry(k)
            entries.append((entry, list(parts)))
            indexes.append({"kind": "hnsw", "vector": name, "files": [entry]})
        return entries, vectors, indexes

    def _offsets(self) -> np.ndarray:
        if self.view.offsets is None:
            return np.arange(self.view.points_count, dtype="<i8")
        return np.asarray(self.view.offsets, dtype="<i8")

    def write(self, fileobj: BinaryIO) -> tuple[int, str]:
        """Write the archive to ``fileobj``; return (bytes written, SHA-256 hex of them)."""
        view = self.view
        entries, vectors, indexes = self._entries()
        described = {}
        for name, buffers in entries:
            digest = hashlib.sha256()
            size = 0
            for b in buffers:
                digest.update(b)
                size += memoryview(b).nbytes
            described[name] = {"size": size, "sha256": digest.hexdigest()}
        manifest = {
            "format": fmt.FORMAT_NAME,
            "version": fmt.FORMAT_VERSION,
            "collection": view.name,
            "created_at": view.created_at.isoformat(),
            "points_count": view.points_count,
            "next_offset": view.points_count if view.next_offset is None else view.next_offset,
            "vectors": vectors,
            "indexes": indexes,
            "entries": described,
        }
        tar = TarOut(fileobj, view.created_at.timestamp())
        tar.add_buffers(fmt.MANIFEST, [json.dumps(manifest, indent=1, ensure_ascii=True).encode("ascii")])
        for name, buffers in entries:
            tar.add_buffers(name, buffers)
        checksum = tar.finish()
        return tar.size, checksum

    def write_file(self, path: Path) -> tuple[int, str]:
        """Write the archive to ``path`` and fsync it; return (size, SHA-256 hex)."""
        with open(path, "wb") as f:
            result = self.write(f)
            f.flush()
            os.fsync(f.fileno())
        return result
