"""Frozen store objects: cyclic garbage frozen in with them is freed by the hourly thaw."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from triagebot.store import _frozen


class Node:
    """An object in a reference cycle (as a request or an exception with its traceback)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _frozen_then_dropped() -> weakref.ref[Node]:
    node = Node()
    _frozen.freeze_long_lived()  # alive at the freeze
    return weakref.ref(node)


def test_a_cycle_frozen_in_is_freed_by_the_next_thaw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_frozen, "_thawed_at", time.monotonic())
    gone = _frozen_then_dropped()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert gone() is not None  # frozen: full collections do not see it
    _frozen.freeze_long_lived()  # within the hour: still kept
    assert gone() is not None
    monkeypatch.setattr(_frozen, "_thawed_at", time.monotonic() - _frozen.THAW_EVERY)
    _frozen.freeze_long_lived()
    assert gone() is None
    assert gc.get_freeze_count() > 0  # what is alive is frozen again


def test_young_cyclic_garbage_is_not_frozen() -> None:
    node = Node()
    gone = weakref.ref(node)
    del node
    _frozen.freeze_long_lived()
    assert gone() is None
