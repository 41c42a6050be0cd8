"""``slice`` conditions: SipHash-2-4 (zero key) of point ids, vectorised over uint64 arrays.

A numeric id hashes its 8 little-endian bytes, a UUID its 16 RFC-4122 bytes; the point is in
slice ``hash % total``. numpy uint64 arithmetic wraps modulo 2**64, which is what SipHash needs.
"""

from __future__ import annotations

import uuid
from typing import Sequence

import numpy as np

_K = [np.uint64(c) for c in (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)]


def _rotl(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _round(v0, v1, v2, v3):
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash_words(words: list[np.ndarray], length: int) -> np.ndarray:
    """SipHash-2-4 of messages made of ``len(words)`` full 8-byte little-endian blocks each."""
    n = words[0].shape[0]
    v0, v1, v2, v3 = (np.full(n, k, dtype=np.uint64) for k in _K)
    final = np.full(n, np.uint64((length & 0xFF) << 56), dtype=np.uint64)
    for block in [*words, final]:
        v3 = v3 ^ block
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
        v0 = v0 ^ block
    v2 = v2 ^ np.uint64(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def slice_of_ids(ids: Sequence, total: int) -> np.ndarray:
    """Slice index (int64) of each id; -1 for ``None`` (an unused offset belongs to no slice)."""
    out = np.full(len(ids), -1, dtype=np.int64)
    num_pos = [i for i, x in enumerate(ids) if isinstance(x, int)]
    uuid_pos = [i for i, x in enumerate(ids) if isinstance(x, str)]
    if num_pos:
        words = np.array([ids[i] for i in num_pos], dtype=np.uint64)
        out[num_pos] = (siphash_words([words], 8) % np.uint64(total)).astype(np.int64)
    if uuid_pos:
        raw = np.frombuffer(b"".join(uuid.UUID(ids[i]).bytes for i in uuid_pos), dtype="<u8")
        raw = raw.reshape(-1, 2)
        hashed = siphash_words([raw[:, 0].copy(), raw[:, 1].copy()], 16)
        out[uuid_pos] = (hashed % np.uint64(total)).astype(np.int64)
    return out
