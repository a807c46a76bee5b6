"""Where a key may be in history: 64-bit hashes of case or mention ids -> history segments.

``SegmentHashes`` is one process's lookup for one kind of key over every history segment: a
sorted numpy array of the keys' hashes with the segment (``seq``) of each, 12 bytes a key, plus
a small dict of what was learnt since the array was built, merged into it when it grows. A hit
only says where a key may be: two keys can share a hash and a segment may have lost a key since
(a reopened case), so callers confirm each hit against the segment's own index. The hashes are
Python's ``hash`` of the id (this process's; never stored). numpy is imported on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

    Hashes = npt.NDArray[Any]

#: Entries learnt one segment at a time are merged into the sorted arrays past this many.
MERGE_AT = 20_000


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


def _repeated_pairs(np: Any, keys: Hashes, seqs: Hashes) -> Hashes | None:
    """A mask of the (key, segment) pairs listed earlier in ``keys`` (sorted), or None.

    Equal keys are few (a segment learnt again, a case that moved, a collision): they are
    walked one by one."""
    same = np.flatnonzero(keys[1:] == keys[:-1]) + 1  # positions equal to the one before
    if not same.size:
        return None
    repeated = np.zeros(len(keys), dtype=bool)
    seen: set[int] = set()
    previous = -2
    for at in same.tolist():
        if at != previous + 1:  # a new run of one key, from at - 1
            seen = {int(seqs[at - 1])}
        seq = int(seqs[at])
        if seq in seen:
            repeated[at] = True
        seen.add(seq)
        previous = at
    return repeated if repeated.any() else None


class SegmentHashes:
    """Key hash -> segments that may hold the key (see the module docstring)."""

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self._keys: Hashes | None = None  # sorted hashes
        self._seqs: Hashes | None = None  # the segment of each
        self._recent: dict[int, tuple[int, ...]] = {}
        self._merge_at = merge_at

    def __len__(self) -> int:
        return (0 if self._keys is None else len(self._keys)) + len(self._recent)

    @property
    def nbytes(self) -> int:
        """Memory of the sorted arrays (the dict of recent entries is at most ``merge_at``)."""
        if self._keys is None or self._seqs is None:
            return 0
        return int(self._keys.nbytes + self._seqs.nbytes)

    def add(self, seq: int, keys: Iterable[str]) -> None:
        """Segment ``seq`` holds ``keys`` (what it held before is kept: confirmed on use)."""
        recent = self._recent
        for key in keys:
            h = hash(key)
            seqs = recent.get(h, ())
            if seq not in seqs:
                recent[h] = (*seqs, seq)
        if len(recent) >= self._merge_at:
            self.add_many([])
            give_back_memory()

    def add_many(self, parts: Sequence[tuple[int, Hashes]]) -> None:
        """Add many segments' key hashes (``hashes``) at once and merge everything."""
        np = _numpy()
        keys = [] if self._keys is None else [self._keys]
        seqs = [] if self._seqs is None else [self._seqs]
        for seq, hashed in parts:
            keys.append(hashed)
            seqs.append(np.full(len(hashed), seq, dtype=np.uint32))
        if self._recent:
            pairs = [(h, s) for h, found in self._recent.items() for s in found]
            keys.append(np.fromiter((h for h, _ in pairs), dtype=np.int64, count=len(pairs)))
            seqs.append(np.fromiter((s for _, s in pairs), dtype=np.uint32, count=len(pairs)))
        if not keys:
            return
        all_keys, all_seqs = np.concatenate(keys), np.concatenate(seqs)
        del keys, seqs
        order = np.argsort(all_keys)
        all_keys, all_seqs = all_keys[order], all_seqs[order]
        del order
        repeated = _repeated_pairs(np, all_keys, all_seqs)
        if repeated is not None:
            all_keys, all_seqs = all_keys[~repeated], all_seqs[~repeated]
        self._keys, self._seqs = all_keys, all_seqs
        self._recent = {}

    def segments_of(self, key: str) -> set[int]:
        """The segments that may hold ``key``."""
        h = hash(key)
        found = set(self._recent.get(h, ()))
        if self._keys is not None and self._seqs is not None:
            keys, n = self._keys, len(self._keys)
            i = int(keys.searchsorted(h))
            while i < n and keys[i] == h:
                found.add(int(self._seqs[i]))
                i += 1
        return found

    def segments_of_many(self, keys: Sequence[str]) -> dict[str, set[int]]:
        """``segments_of`` of a batch (one search for all): key -> segments, hits only."""
        found: dict[str, set[int]] = {}
        recent = self._recent
        if recent:
            for key in keys:
                if (seqs := recent.get(hash(key))) is not None:
                    found[key] = set(seqs)
        if self._keys is None or self._seqs is None or not keys:
            return found
        np = _numpy()
        wanted = hashes(keys)
        low = self._keys.searchsorted(wanted, side="left")
        high = self._keys.searchsorted(wanted, side="right")
        for i in np.flatnonzero(high > low).tolist():
            seqs = self._seqs[low[i] : high[i]].tolist()
            found.setdefault(keys[i], set()).update(seqs)
        return found
