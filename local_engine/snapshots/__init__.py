"""Collection snapshots: a point-in-time copy of a collection as one tar file.

    view = capture_collection(collection, aliases)      # under the collection lock, briefly
    size, sha256 = SnapshotWriter(view).write_file(path) # outside it
    contents = SnapshotReader(path).read()               # validates everything, changes nothing

``format.py`` describes the archive; ``docs/snapshots.md`` the guarantees and where files live.
The engine's snapshot operations (create, list, delete, download, recover) are in
``local_engine/engine_snapshots.py``.
"""

from .format import FORMAT_NAME, FORMAT_VERSION, InvalidSnapshot
from .reader import SnapshotContents, SnapshotReader
from .writer import CollectionView, SnapshotWriter, capture_collection

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "InvalidSnapshot",
    "CollectionView",
    "SnapshotContents",
    "SnapshotReader",
    "SnapshotWriter",
    "capture_collection",
]
