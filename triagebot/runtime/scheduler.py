"""The scheduler: APScheduler jobs on the server's event loop (outbox flush, and later polls).

Started in the aiohttp app's ``on_startup`` and stopped in ``on_cleanup``: an
``AsyncIOScheduler`` needs a running loop. Late runs are not skipped silently
(``misfire_grace_time``), overlapping runs of one job are not started (``max_instances=1``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from triagebot.runtime.leadership import Leadership

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


#: Executor of jobs that every process runs (rules reload); the default one runs only on the
#: leader when the scheduler is given a leadership lock (see ``triagebot.runtime.leadership``).
EVERY_PROCESS = "every-process"


class TrackedExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """An ``AsyncIOExecutor`` that tells which of its job runs are still going."""

    def in_flight(self) -> list[asyncio.Future[Any]]:
        return [run for run in getattr(self, "_pending_futures", ()) if not run.done()]


class LeaderGatedExecutor(TrackedExecutor):
    """Runs a due job only while this process leads; on a follower the run is skipped."""

    def __init__(self, leadership: Leadership) -> None:
        super().__init__()
        self.leadership = leadership

    def submit_job(self, job: Any, run_times: Any) -> None:
        if self.leadership.held:
            super().submit_job(job, run_times)


class JobScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """An ``AsyncIOScheduler`` that a shutdown can wait for: the store closes only after the
    job runs in flight are over, so none of them meets a closed store."""

    def __init__(self, executors: dict[str, TrackedExecutor]) -> None:
        super().__init__(job_defaults=JOB_DEFAULTS, executors=executors, timezone="UTC")
        self.tracked = list(executors.values())
        self.stopping = False

    async def wait_idle(self, timeout: float) -> bool:
        """Start no new run; wait up to ``timeout`` s for the runs in flight. True if none
        is left."""
        self.stopping = True
        if self.running:
            self.pause()
        running = [run for executor in self.tracked for run in executor.in_flight()]
        if not running:
            return True
        _, pending = await asyncio.wait(running, timeout=timeout)
        return not pending


def create_scheduler(leadership: Leadership | None = None) -> JobScheduler:
    executors = {"default": TrackedExecutor(), EVERY_PROCESS: TrackedExecutor()}
    if leadership is not None:
        executors["default"] = LeaderGatedExecutor(leadership)
    return JobScheduler(executors)


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
        except Exception as exc:
            if getattr(scheduler, "stopping", False):  # shutdown outran it: one line will do
                log.warning("event=job_cut_short job=%s error=%s", job_id, type(exc).__name__)
            else:
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
