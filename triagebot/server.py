"""The one aiohttp application: /healthz now; Slack, Teams and the board mount here too.

``create_app`` builds it without side effects; the scheduler starts in ``on_startup`` (it
needs the running loop) and stops in ``on_cleanup``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from triagebot import __version__
from triagebot.digest import register_sla_jobs
from triagebot.models import ACTIVE_STATES
from triagebot.polling import Poller
from triagebot.rules_reload import RELOAD_EVERY, RulesWatcher
from triagebot.runtime import Runtime, build_router
from triagebot.scheduler import add_interval_job, create_scheduler

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
POLLER = web.AppKey("poller", Poller)
SHUTDOWN_TIMEOUT = 20.0  # below Heroku's 30 s between SIGTERM and SIGKILL
OUTBOX_EVERY = timedelta(seconds=2)

StartupHook = Callable[[web.Application], Awaitable[None]]


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    store = runtime.store
    pending = await asyncio.to_thread(store.pending_outbox)
    active = await asyncio.to_thread(store.list_cases, states=ACTIVE_STATES)
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "active_cases": len(active),
            "pending_outbox": pending,
            "sources": poller.health() if (poller := request.app.get(POLLER)) else [],
        }
    )


def create_app(
    runtime: Runtime, *, extra_startup: StartupHook | None = None, poller: Poller | None = None
) -> web.Application:
    """The web application with the scheduler (and the source poller, if any) wired to it."""
    app = web.Application()
    app[RUNTIME] = runtime
    app[SCHEDULER] = create_scheduler()
    if poller is not None:
        app[POLLER] = poller
    app.router.add_get("/healthz", healthz)

    async def start_scheduler(app: web.Application) -> None:
        worker = runtime.delivery()
        add_interval_job(app[SCHEDULER], "outbox", worker.flush, OUTBOX_EVERY)
        rules = RulesWatcher(
            runtime.router, runtime.settings.rules_dir, lambda: build_router(runtime.settings)
        )
        add_interval_job(app[SCHEDULER], "rules-reload", rules.run, RELOAD_EVERY, run_now=False)
        if poller is not None:
            poller.schedule(app[SCHEDULER])
        register_sla_jobs(runtime, app[SCHEDULER])  # SLA watcher and daily digests
        if extra_startup is not None:
            await extra_startup(app)
        app[SCHEDULER].start()

    async def stop_scheduler(app: web.Application) -> None:
        app[SCHEDULER].shutdown(wait=False)
        if poller is not None:
            await poller.aclose()
        runtime.close()

    app.on_startup.append(start_scheduler)
    app.on_cleanup.append(stop_scheduler)
    return app


def run(app: web.Application, port: int, host: str = "0.0.0.0") -> None:
    """Serve until SIGINT/SIGTERM."""
    web.run_app(app, host=host, port=port, shutdown_timeout=SHUTDOWN_TIMEOUT, print=None)
