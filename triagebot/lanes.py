"""Where blocking work runs, so that people are never kept waiting by the bot's own work.

Button presses, their acknowledgements, the board and ``/healthz`` use the event loop's
default executor (``asyncio.to_thread``). The outbox worker runs its store calls on the
``delivery`` lane; polling and ingest, the SLA watcher, digests, model and rules jobs on the
``background`` lane. Each lane is a small bounded pool of its own: a long ingest or a delivery
drain fills its own threads, never the ones a click needs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: Threads of each lane: delivery holds at most one item's work and its lease renewal at a
#: time; background work beyond four calls waits its turn (it all meets at the store anyway).
DELIVERY_THREADS = 2
BACKGROUND_THREADS = 4

_delivery = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="triagebot-delivery")
_background = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="triagebot-background")


async def _run(pool: ThreadPoolExecutor, fn: Callable[..., _T], *args: object) -> _T:
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def in_delivery(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``asyncio.to_thread`` on the delivery lane."""
    return await _run(_delivery, functools.partial(fn, *args, **kwargs))


async def in_background(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``asyncio.to_thread`` on the background lane."""
    return await _run(_background, functools.partial(fn, *args, **kwargs))
