"""Which process runs the scheduler's jobs when several share one store.

Every process serves Slack and Teams requests, but only the leader runs the scheduled work
(polls, outbox flush, SLA watch). Leadership comes from the store: PostgreSQL gives a session
advisory lock (``triagebot.store._pg_leader``); a store without one (TinyDB, one process) is
always the leader. ``runtime.scheduler.LeaderGatedExecutor`` is the scheduler's default
executor: on a follower it drops due runs instead of starting them, so the jobs stay scheduled
everywhere and a follower that takes the lock simply starts running them.
``keep_leadership`` checks the lock every few seconds. The jobs stay idempotent anyway (leased
outbox items, conditional updates): during a restart an old and a new process may briefly both
believe they lead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

log = logging.getLogger(__name__)

#: How often the leader confirms its lock and followers try to take it.
CHECK_EVERY = timedelta(seconds=3)


class Leadership(Protocol):
    """A lock that at most one process holds."""

    @property
    def held(self) -> bool: ...

    def check(self) -> bool:
        """Confirm or try to take the lock; True while held. Blocking; never raises."""
        ...

    def release(self) -> None: ...


class AlwaysLeader:
    """The one process of an embedded store always leads."""

    held = True

    def check(self) -> bool:
        return True

    def release(self) -> None:
        return None


class NeverLeader:
    """A process told not to run the scheduled jobs (``TRIAGEBOT_RUN_JOBS=0``)."""

    held = False

    def check(self) -> bool:
        return False

    def release(self) -> None:
        return None


def leadership_for(store: object, *, run_jobs: bool = True) -> Leadership:
    """The store's leadership lock if it has one (PostgreSQL), else ``AlwaysLeader``;
    ``NeverLeader`` when this process must not run the jobs."""
    if not run_jobs:
        return NeverLeader()
    factory: Callable[[], Leadership] | None = getattr(store, "leadership", None)
    return factory() if factory is not None else AlwaysLeader()


async def keep_leadership(
    leadership: Leadership,
    every: timedelta = CHECK_EVERY,
    on_acquire: Callable[[], None] | None = None,
) -> None:
    """Check the lock every ``every`` until cancelled; log each change of leadership."""
    held = leadership.held
    while True:
        now_held = await asyncio.to_thread(leadership.check)
        if now_held != held:
            log.info("event=%s", "leader_acquired" if now_held else "leader_lost")
            if now_held and on_acquire is not None:
                on_acquire()
            held = now_held
        await asyncio.sleep(every.total_seconds())
