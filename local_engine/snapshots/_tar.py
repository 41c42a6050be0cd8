"""Writing plain tar archives straight from memory, hashing every byte on the way out.

``tarfile`` can only copy entry data from a file object in small reads; the snapshot writer
already holds its entries as buffers (a numpy matrix, an encoded JSON text), so this writes
the standard headers (``TarInfo.tobuf``, PAX format) and the buffers directly. The result is
an ordinary tar file: ``tar tf`` and ``tarfile`` read it.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterable

_BLOCK = tarfile.BLOCKSIZE        # 512
_RECORD = tarfile.RECORDSIZE      # 10240: archives are padded to a whole record, as tar does
_COPY_CHUNK = 1 << 20


class TarOut:
    """An archive being written to ``fileobj``; ``sha256`` / ``size`` cover the whole file."""

    def __init__(self, fileobj: BinaryIO, mtime: float) -> None:
        self._f = fileobj
        self._mtime = int(mtime)
        self._hash = hashlib.sha256()
        self.size = 0

    def _write(self, data) -> None:
        if len(data):
            self._f.write(data)
            self._hash.update(data)
            self.size += len(data)

    def _header(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self._mtime
        info.mode = 0o644
        info.type = tarfile.REGTYPE
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        rest = size % _BLOCK
        if rest:
            self._write(b"\0" * (_BLOCK - rest))

    def add_buffers(self, name: str, buffers: Iterable) -> None:
        """Add a regular file whose content is the concatenation of ``buffers`` (bytes-like)."""
        views = [memoryview(b).cast("B") for b in buffers]
        size = sum(v.nbytes for v in views)
        self._header(name, size)
        for v in views:
            self._write(v)
        self._pad(size)

    def add_file(self, name: str, path: Path) -> None:
        """Add the file at ``path`` (streamed in chunks)."""
        size = os.path.getsize(path)
        self._header(name, size)
        written = 0
        with open(path, "rb") as f:
            while written < size:
                chunk = f.read(min(_COPY_CHUNK, size - written))
                if not chunk:
                    raise OSError(f"{path} shrank while it was being archived")
                self._write(chunk)
                written += len(chunk)
        self._pad(size)

    def finish(self) -> str:
        """Write the end-of-archive marker and record padding; return the file's SHA-256 hex."""
        self._write(b"\0" * (2 * _BLOCK))
        rest = self.size % _RECORD
        if rest:
            self._write(b"\0" * (_RECORD - rest))
        return self._hash.hexdigest()
