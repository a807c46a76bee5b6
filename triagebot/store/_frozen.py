"""Long-lived store objects kept out of the garbage collector's full scans, thawed hourly.

Both stores keep every active case in memory (TinyDB's root documents, the decoded cases of
either store). A full collection walks all of them: at 20,000-50,000 active cases it paused
every thread of the process for 0.2-0.6 s. ``gc.freeze`` moves everything alive out of those
scans. It moves *everything*, though: a request, future or exception caught in a reference
cycle at that moment would never be freed, so at most once every ``THAW_EVERY`` the frozen
objects are collected once more (one full pause an hour instead of one every few seconds).
"""

from __future__ import annotations

import gc
import threading
import time

#: Seconds between two full collections of the frozen objects.
THAW_EVERY = 3600.0

_lock = threading.Lock()
_thawed_at = time.monotonic()


def freeze_long_lived() -> None:
    """``gc.freeze`` after a young collection (fresh cyclic garbage is not kept); past
    ``THAW_EVERY`` since the last time, after a full collection of everything first."""
    global _thawed_at  # noqa: PLW0603 (one process-wide state, as the collector's)
    with _lock:
        now = time.monotonic()
        if now - _thawed_at >= THAW_EVERY:
            _thawed_at = now
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()


def freeze_loaded() -> None:
    """``gc.freeze`` without a collection first, right after loading a store with the
    collector paused: what was just built is alive, and a young collection would walk every
    object of it once for nothing."""
    with _lock:
        gc.freeze()
