"""The scheduler: APScheduler jobs on the server's event loop (outbox flush, and later polls).

Started in the aiohttp app's ``on_startup`` and stopped in ``on_cleanup``: an
``AsyncIOScheduler`` needs a running loop. Late runs are not skipped silently
(``misfire_grace_time``), overlapping runs of one job are not started (``max_instances=1``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from triagebot.runtime.leadership import LeaderGatedExecutor, Leadership

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


#: Executor of jobs that every process runs (rules reload); the default one runs only on the
#: leader when the scheduler is given a leadership lock (see ``triagebot.runtime.leadership``).
EVERY_PROCESS = "every-process"


def create_scheduler(leadership: Leadership | None = None) -> AsyncIOScheduler:
    executors = {"default": AsyncIOExecutor(), EVERY_PROCESS: AsyncIOExecutor()}
    if leadership is not None:
        executors["default"] = LeaderGatedExecutor(leadership)
    return AsyncIOScheduler(job_defaults=JOB_DEFAULTS, executors=executors, timezone="UTC")


def run_leader_jobs_now(scheduler: AsyncIOScheduler) -> None:
    """Make every leader-only job due at once (a process that just became leader)."""
    now = datetime.now(UTC)
    for job in scheduler.get_jobs():
        if job.executor == "default":
            job.modify(next_run_time=now)


def add_interval_job(
    scheduler: AsyncIOScheduler,
    job_id: str,
    func: Callable[[], Awaitable[Any]],
    every: timedelta,
    *,
    run_now: bool = True,
    executor: str = "default",
) -> None:
    """Run ``func`` every ``every``; errors are logged, never stop the job."""

    async def guarded() -> None:
        try:
            await func()
        except Exception:
            log.exception("job %s failed", job_id)

    kwargs: dict[str, Any] = {}
    if run_now:
        kwargs["next_run_time"] = datetime.now(UTC)
    scheduler.add_job(
        guarded,
        "interval",
        seconds=every.total_seconds(),
        id=job_id,
        replace_existing=True,
        executor=executor,
        **kwargs,
    )
