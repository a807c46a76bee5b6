"""Where a key may be in history: 64-bit hashes of case or mention ids -> history segments.

``SegmentHashes`` is one process's lookup for one kind of key over every history segment: one
sorted numpy array of int64 entries, 8 bytes a key, each the key's hash with its low 24 bits
replaced by the segment (``seq``) that holds it, plus a small dict of what was learnt since the
array was built, merged into it when it grows. A hit only says where a key may be: two keys can
share the 40 bits kept and a segment may have lost a key since (a reopened case), so callers
confirm each hit against the segment's own index. The hashes are Python's ``hash`` of the id
(this process's; never stored). numpy is imported on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

    Hashes = npt.NDArray[Any]

#: Entries learnt one segment at a time are merged into the sorted array past this many.
MERGE_AT = 20_000
#: An entry's low bits hold its segment's ``seq``; the others are the key's hash.
SEQ_BITS = 24
SEQ_MASK = (1 << SEQ_BITS) - 1
HASH_MASK = -(1 << SEQ_BITS)  # as int64: every bit above SEQ_BITS


def _numpy() -> Any:
    import numpy  # noqa: PLC0415 (a command that never reads history does not load it)

    return numpy


def give_back_memory() -> None:
    """Return freed heap memory to the system (glibc's ``malloc_trim``; elsewhere nothing):
    a merge's temporary copies would otherwise stay in the process's resident memory."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    import ctypes  # noqa: PLC0415 (used after a merge only)

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def hashes(keys: Collection[str]) -> Hashes:
    """The keys' hashes as an int64 array."""
    np = _numpy()
    hashed: Hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
    return hashed


def _seq(seq: int) -> int:
    if not 0 <= seq <= SEQ_MASK:
        raise ValueError(f"history segment {seq} is beyond {SEQ_MASK}")
    return seq


class SegmentHashes:
    """Key hash -> segments that may hold the key (see the module docstring)."""

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self._entries: Hashes | None = None  # sorted: hash bits | seq
        self._recent: dict[int, tuple[int, ...]] = {}  # hash bits -> seqs
        self._merge_at = merge_at

    def __len__(self) -> int:
        return (0 if self._entries is None else len(self._entries)) + len(self._recent)

    @property
    def nbytes(self) -> int:
        """Memory of the sorted array (the dict of recent entries is at most ``merge_at``)."""
        return 0 if self._entries is None else int(self._entries.nbytes)

    def add(self, seq: int, keys: Iterable[str]) -> None:
        """Segment ``seq`` holds ``keys`` (what it held before is kept: confirmed on use)."""
        seq = _seq(seq)
        recent = self._recent
        for key in keys:
            h = hash(key) & HASH_MASK
            seqs = recent.get(h, ())
            if seq not in seqs:
                recent[h] = (*seqs, seq)
        if len(recent) >= self._merge_at:
            self.add_many([])
            give_back_memory()

    def add_many(self, parts: Sequence[tuple[int, Hashes]]) -> None:
        """Add many segments' key hashes (``hashes``) at once and merge everything."""
        np = _numpy()
        recent = [(h | s) for h, found in self._recent.items() for s in found]
        size = len(recent) + sum(len(hashed) for _, hashed in parts)
        if self._entries is not None:
            size += len(self._entries)
        if not size:
            return
        entries = np.empty(size, dtype=np.int64)
        at = 0
        if self._entries is not None:
            entries[: len(self._entries)] = self._entries
            at = len(self._entries)
            self._entries = None
        for seq, hashed in parts:
            part = entries[at : at + len(hashed)]
            np.bitwise_and(hashed, HASH_MASK, out=part)
            part |= _seq(seq)
            at += len(hashed)
        entries[at:] = np.fromiter(recent, dtype=np.int64, count=len(recent))
        del recent
        entries.sort()
        repeated = entries[1:] == entries[:-1]  # the same key in the same segment again
        if repeated.any():
            entries = entries[np.concatenate(([True], ~repeated))]
        del repeated
        self._entries = entries
        self._recent = {}

    def segments_of(self, key: str) -> set[int]:
        """The segments that may hold ``key``."""
        h = hash(key) & HASH_MASK
        found = set(self._recent.get(h, ()))
        if self._entries is not None:
            entries, n = self._entries, len(self._entries)
            i = int(entries.searchsorted(h))
            while i < n and (value := int(entries[i])) & HASH_MASK == h:
                found.add(value & SEQ_MASK)
                i += 1
        return found

    def segments_of_many(self, keys: Sequence[str]) -> dict[str, set[int]]:
        """``segments_of`` of a batch (one search for all): key -> segments, hits only."""
        found: dict[str, set[int]] = {}
        recent = self._recent
        if recent:
            for key in keys:
                if (seqs := recent.get(hash(key) & HASH_MASK)) is not None:
                    found[key] = set(seqs)
        if self._entries is None or not keys:
            return found
        np = _numpy()
        wanted = hashes(keys) & HASH_MASK
        low = self._entries.searchsorted(wanted, side="left")
        high = self._entries.searchsorted(wanted | SEQ_MASK, side="right")
        for i in np.flatnonzero(high > low).tolist():
            seqs = (self._entries[low[i] : high[i]] & SEQ_MASK).tolist()
            found.setdefault(keys[i], set()).update(seqs)
        return found
