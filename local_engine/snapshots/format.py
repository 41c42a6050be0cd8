"""The collection snapshot format: names, version, and the rules a reader enforces.

A snapshot is a plain (uncompressed) POSIX tar archive, like Qdrant's, holding a logical copy
of one collection. ``docs/snapshots.md`` is the reference; the entries, in archive order:

    manifest.json                  format name + version, collection name, creation time, counts,
                                   vector and index descriptions, and the size and SHA-256 of
                                   every other entry. Always the first entry.
    config.json                    the collection config (``models.CollectionConfig`` JSON)
    payload_index.json             {field: payload schema}: PayloadSchemaType value or *IndexParams
    aliases.json                   ["alias", ...]: the aliases pointing at the collection
    points/ids.json                [id, ...] in row order: unsigned 64-bit ints, canonical UUIDs
    points/offsets.npy             int64 [points]: each point's offset (row number) in the collection,
                                   strictly increasing; the manifest's ``next_offset`` bounds them
    points/payloads.json           [payload, ...] aligned with ids ({} = no payload)
    vectors/dense-<k>.npy          little-endian C-order matrix [points, dim] in the vector's
                                   datatype (float32, float16 or uint8, the manifest's ``dtype``);
                                   row i is the vector of point i (zeros where absent)
    vectors/dense-<k>.present.npy  bool [points]: which rows hold a vector
    vectors/sparse-<k>.{present,indptr,indices,values}.npy
                                   sparse vectors as CSR rows aligned with ids: bool [points],
                                   int64 [points + 1], uint32 [nnz] (sorted within a row), float32
                                   or float16 [nnz]; an absent row is empty and not present
    vectors/multi-<k>.{present,indptr,data}.npy
                                   multivectors: bool [points], int64 [points + 1] (row ranges of
                                   ``data``), matrix [rows, dim] in the vector's datatype
    index/hnsw-<k>.bin             the HNSW graph of one dense vector name, in local_engine/index's
                                   own file format (labels are the offsets above); only for names
                                   that have a graph

``<k>`` numbers the vector names; the manifest maps names (any string, "" = unnamed) to files.

Room to grow, without breaking this version's readers:

* Vector kinds: the manifest's ``vectors`` says each name's ``kind`` (``dense``, ``sparse``,
  ``multi``) and ``dtype``. Snapshots written before sparse vectors, multivectors and datatypes
  existed hold only float32 ``dense`` entries and read as before. A reader refuses a kind it
  does not know: ignoring it would lose data.
* Index files: the manifest's ``indexes`` lists ``{"kind", "vector", "files"}`` with files
  under ``index/``. Version 1 writes ``hnsw`` graphs. Indexes are a cache: a reader verifies
  their checksums like every entry, loads the kinds it knows when they match the data and the
  config, and rebuilds the rest from the vectors (an unknown kind is simply not loaded).
"""

from __future__ import annotations

import posixpath

from ..errors import BadRequest

FORMAT_NAME = "qdrant-sdk/collection-snapshot"
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
CONFIG = "config.json"
PAYLOAD_INDEX = "payload_index.json"
ALIASES = "aliases.json"
IDS = "points/ids.json"
PAYLOADS = "points/payloads.json"
OFFSETS = "points/offsets.npy"
INDEX_DIR = "index/"

SNAPSHOT_SUFFIX = ".snapshot"
CHECKSUM_SUFFIX = ".checksum"

# Files a Qdrant server writes into its (binary, segment-based) collection snapshots.
QDRANT_NATIVE_FILES = ("version.info", "shard_config.json", "replica_state.json", "segment.json")


class InvalidSnapshot(BadRequest):
    """The file is not a snapshot this engine can restore; nothing was changed."""


def dense_entries(k: int) -> tuple[str, str]:
    """(matrix entry, presence entry) of the ``k``-th dense vector name."""
    return f"vectors/dense-{k}.npy", f"vectors/dense-{k}.present.npy"


def sparse_entries(k: int) -> dict[str, str]:
    """Entries of the ``k``-th sparse vector name, by part."""
    return {part: f"vectors/sparse-{k}.{part}.npy" for part in ("present", "indptr", "indices", "values")}


def multi_entries(k: int) -> dict[str, str]:
    """Entries of the ``k``-th multivector name, by part."""
    return {part: f"vectors/multi-{k}.{part}.npy" for part in ("present", "indptr", "data")}


def hnsw_entry(k: int) -> str:
    """The graph file of the ``k``-th vector name that has one."""
    return f"{INDEX_DIR}hnsw-{k}.bin"


def check_member_name(name: str) -> None:
    """Refuse archive entry names that could escape a target directory if ever unpacked."""
    if not name or "\0" in name or "\\" in name:
        raise InvalidSnapshot(f"Invalid snapshot: archive entry {name!r} has an invalid name")
    if name.startswith("/") or posixpath.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise InvalidSnapshot(f"Invalid snapshot: archive entry {name!r} is an absolute path")
    if ".." in name.split("/"):
        raise InvalidSnapshot(f"Invalid snapshot: archive entry {name!r} escapes the target directory")


def looks_qdrant_native(names: list[str]) -> bool:
    """Whether archive entry names look like a Qdrant server's own collection snapshot."""
    for name in names:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if parts and (parts[-1] in QDRANT_NATIVE_FILES or "segments" in parts[:-1]):
            return True
    return False
