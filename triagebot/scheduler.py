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

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def create_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")


def add_interval_job(
    scheduler: AsyncIOScheduler,
    job_id: str,
    func: Callable[[], Awaitable[Any]],
    every: timedelta,
    *,
    run_now: bool = True,
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
        **kwargs,
    )
