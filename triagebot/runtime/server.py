"""The one aiohttp application: /healthz now; Slack, Teams and the board mount here too.

``create_app`` builds it without side effects; the scheduler starts in ``on_startup`` (it
needs the running loop) and stops in ``on_cleanup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import orjson
from aiohttp import web

from triagebot import __version__
from triagebot.ingest.polling import Poller
from triagebot.lanes import in_background
from triagebot.routing.rules.reload import RELOAD_EVERY, RulesWatcher
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.runtime.digest import register_sla_jobs
from triagebot.runtime.health import HEALTH_EVERY, HealthCounts
from triagebot.runtime.leadership import Leadership, keep_leadership, leadership_for
from triagebot.runtime.model_jobs import register_model_jobs
from triagebot.runtime.scheduler import (
    EVERY_PROCESS,
    JobScheduler,
    add_interval_job,
    create_scheduler,
    run_leader_jobs_now,
)
from triagebot.runtime.wiring import Runtime, build_router

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
SCHEDULER = web.AppKey("scheduler", JobScheduler)
POLLER = web.AppKey("poller", Poller)
LEADERSHIP = web.AppKey("leadership", Leadership)
DELIVERY = web.AppKey("delivery", DeliveryWorker)
LEADER_TASK = web.AppKey("leader_task", asyncio.Task[None])
HEALTH = web.AppKey("health", HealthCounts)
SHUTDOWN_TIMEOUT = 8.0  # exit within 10 s of SIGTERM, well below Heroku's 30 s to SIGKILL
DRAIN_TIMEOUT = 6.0  # how long SIGTERM waits for the outbox item being delivered
OUTBOX_EVERY = timedelta(seconds=2)

StartupHook = Callable[[web.Application], Awaitable[None]]


async def healthz(request: web.Request) -> web.Response:
    """Answered from memory, never waiting for the store (see ``runtime.health``); encoded
    by orjson, several times faster than the standard library on the event loop."""
    answer = {
        "status": "ok",
        "version": __version__,
        **request.app[HEALTH].snapshot(),
        "sources": poller.health() if (poller := request.app.get(POLLER)) else [],
    }
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


def create_app(
    runtime: Runtime, *, extra_startup: StartupHook | None = None, poller: Poller | None = None
) -> web.Application:
    """The web application with the scheduler (and the source poller, if any) wired to it."""
    app = web.Application()
    app[RUNTIME] = runtime
    app[LEADERSHIP] = leadership_for(runtime.store, run_jobs=runtime.settings.env.run_jobs)
    app[SCHEDULER] = create_scheduler(app[LEADERSHIP])
    if poller is not None:
        app[POLLER] = poller
    app[HEALTH] = HealthCounts(runtime.store)
    app.router.add_get("/healthz", healthz)

    async def start_scheduler(app: web.Application) -> None:
        health = app[HEALTH]
        await in_background(health.refresh)
        add_interval_job(
            app[SCHEDULER],
            "health-counts",
            partial(in_background, health.refresh),
            HEALTH_EVERY,
            run_now=False,
            executor=EVERY_PROCESS,
        )
        worker = app[DELIVERY] = runtime.delivery()
        add_interval_job(app[SCHEDULER], "outbox", worker.flush, OUTBOX_EVERY)
        rules = RulesWatcher(
            runtime.router,
            runtime.settings.rules_dir,
            lambda: build_router(runtime.settings, runtime.store),
        )
        add_interval_job(
            app[SCHEDULER],
            "rules-reload",
            rules.run,
            RELOAD_EVERY,
            run_now=False,
            executor=EVERY_PROCESS,
        )
        if poller is not None:
            poller.schedule(app[SCHEDULER])
        register_sla_jobs(runtime, app[SCHEDULER])  # SLA watcher and daily digests
        register_model_jobs(runtime, app[SCHEDULER])  # nightly learning, model refresh
        if runtime.answering is not None:
            runtime.answering.schedule(app[SCHEDULER])  # thread reads: public answers
        if extra_startup is not None:
            await extra_startup(app)
        await start_leadership(app)
        app[SCHEDULER].start()

    async def stop_scheduler(app: web.Application) -> None:
        app[SCHEDULER].shutdown(wait=False)
        if poller is not None:
            await poller.aclose()
        if runtime.answering is not None:
            await runtime.answering.aclose()
        runtime.close()

    app.on_startup.append(start_scheduler)
    app.on_shutdown.append(stop_work)
    app.on_cleanup.append(stop_scheduler)
    return app


async def start_leadership(app: web.Application) -> None:
    """Take or wait for leadership before the scheduler starts; keep checking it after."""
    leadership, scheduler = app[LEADERSHIP], app[SCHEDULER]
    held = await asyncio.to_thread(leadership.check)
    log.info("event=%s", "leader_acquired" if held else "follower")
    app[LEADER_TASK] = asyncio.ensure_future(
        keep_leadership(leadership, on_acquire=lambda: run_leader_jobs_now(scheduler))
    )


async def stop_work(app: web.Application) -> None:
    """SIGTERM: start no new job, let the outbox item in flight finish, give the rest back."""
    log.info("event=shutdown_started")
    scheduler = app[SCHEDULER]
    if scheduler.running:
        scheduler.pause()
    drain_until = asyncio.get_running_loop().time() + DRAIN_TIMEOUT
    worker = app.get(DELIVERY)
    if worker is not None:
        worker.stop()
        if not await worker.wait_idle(DRAIN_TIMEOUT):
            log.warning("event=shutdown_delivery_unfinished (its lease will expire)")
    left = max(0.0, drain_until - asyncio.get_running_loop().time())
    if not await scheduler.wait_idle(left):  # a poll or thread read still going
        log.warning("event=shutdown_jobs_unfinished")
    task = app.get(LEADER_TASK)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.to_thread(app[LEADERSHIP].release)


def run(app: web.Application, port: int, host: str = "0.0.0.0") -> None:
    """Serve until SIGINT/SIGTERM."""
    web.run_app(app, host=host, port=port, shutdown_timeout=SHUTDOWN_TIMEOUT, print=None)
