"""File-system helpers of path mode: the owner lock, durable renames, checksummed ``.npy`` files.

Checkpoint files are standard ``.npy`` files (``np.load`` opens them), written once under a
temporary name, fsynced, then renamed into place. Their size and CRC-32 are recorded in SQLite
next to the file name, and ``read_npy`` verifies both before trusting a byte of them.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import StorageCorrupted, StorageLocked

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class OwnerLock:
    """An exclusive, non-blocking lock on ``<folder>/.lock``, held until ``release``.

    ``flock`` locks belong to an open file description, so a second opener conflicts even in
    the same process; the kernel drops the lock when the process dies, however it dies.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_nonblocking(self._fd)
        except OSError:
            holder = _read_holder(self.path)
            os.close(self._fd)
            self._fd = None
            raise StorageLocked(
                f"Storage folder {folder} is already in use by another client instance"
                f"{holder} (a QdrantClient(path=...) in this or another process). Close it first, "
                "or run a server if several processes need the same data."
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def _lock_nonblocking(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _read_holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def fsync_dir(path: Path) -> None:
    """Make renames/creations inside ``path`` durable (no-op where directories can't be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_npy(path: Path, array: np.ndarray) -> tuple[int, int]:
    """Write ``array`` durably to ``path`` (temp file, fsync, rename). Return ``(size, crc32)``.

    The caller fsyncs the directory once after all renames.
    """
    array = np.ascontiguousarray(array)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(array))
    header = head.getvalue()
    body = array.reshape(-1).view(np.uint8) if array.size else np.zeros(0, np.uint8)
    crc = zlib.crc32(body, zlib.crc32(header))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(memoryview(body))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(header) + body.nbytes, crc


def read_npy(path: Path, size: int, crc: int) -> np.ndarray:
    """Read a file written by ``write_npy``, verifying its size and CRC-32.

    Returns a writable array backed by one buffer (no second copy). Raises ``StorageCorrupted``
    naming the file when it is missing, truncated, altered or unparsable.
    """
    try:
        actual = os.path.getsize(path)
    except OSError as e:
        raise StorageCorrupted(f"checkpoint file {path} is missing ({e.strerror})") from None
    if actual != size:
        raise StorageCorrupted(f"checkpoint file {path} has {actual} bytes, expected {size} (truncated?)")
    buf = bytearray(size)
    try:
        with open(path, "rb") as f:
            complete = f.readinto(buf) == size
    except OSError as e:  # e.g. removed between the size check and the open, or unreadable
        raise StorageCorrupted(f"checkpoint file {path} could not be read ({e.strerror})") from None
    if not complete:
        raise StorageCorrupted(f"checkpoint file {path} could not be read completely")
    if zlib.crc32(buf) != crc:
        raise StorageCorrupted(f"checkpoint file {path} failed its CRC-32 check")
    try:
        head = io.BytesIO(bytes(buf[: min(size, 4096)]))
        version = np.lib.format.read_magic(head)
        if version != (1, 0):
            raise ValueError(f"unexpected npy version {version}")
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        count = int(np.prod(shape)) if shape else 1
        arr = np.frombuffer(buf, dtype=dtype, count=count, offset=head.tell())
    except ValueError as e:
        raise StorageCorrupted(f"checkpoint file {path} is not a valid .npy file: {e}") from None
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
