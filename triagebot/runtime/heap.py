"""How a long-running process asks the C allocator to keep its heap.

glibc gives each thread that allocates its own arena (up to 8 per core), and memory freed in
one arena serves only that arena's threads. ``serve`` runs the event loop, the scheduler's
jobs and the store's work on a dozen threads, which in turn allocate and free the active
cases' documents: on a viral day's run (50,000 active cases) its resident memory peaked at
338 MB with the default arenas and at 291 MB with two. Heroku sets the same limit
(``MALLOC_ARENA_MAX=2``) on new apps; ``limit_arenas`` sets it from inside the process, so that
it holds however the process is started. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

#: glibc's ``M_ARENA_MAX`` parameter of ``mallopt``.
_M_ARENA_MAX = -8
#: Arenas ``serve`` keeps, unless ``MALLOC_ARENA_MAX`` says otherwise.
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (before threads start: an arena made stays); True if set.
    A ``MALLOC_ARENA_MAX`` in the environment, which glibc read at start, is left to rule."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_ARENA_MAX, arenas))
    if not done:
        log.warning("event=malloc_arenas_unchanged wanted=%d", arenas)
    return done
