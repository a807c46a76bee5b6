"""``serve`` caps glibc's malloc arenas before its threads start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Eight threads each allocating blocks C malloc serves (not Python's small-object pool), then
#: glibc's own count of its arenas (``malloc_stats`` writes one "Arena N:" block each).
_PROGRAM = """
import ctypes, sys, threading
from triagebot.runtime.heap import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas()
held = []
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    held.extend(bytearray(200_000) for _ in range(20))
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode], env=env, capture_output=True, text=True, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_threads_share_two_arenas_once_limited() -> None:
    assert _arenas("free") > 2
    assert _arenas("limit") <= 2


def test_an_arena_limit_from_the_environment_is_left_to_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from triagebot.runtime.heap import limit_arenas  # noqa: PLC0415

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
