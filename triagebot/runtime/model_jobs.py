"""Keeping the department model of a running server current.

The leader learns from the team's corrections every night (``routing learn``'s work: retrain,
compare on the latest labels, activate in the store only if not worse) and routes with the new
model at once. Every process, leader or not, compares the version of the stored model with the
one it routes with every ``REFRESH_EVERY`` (one small keyed value read) and loads a new one
when it changed, so a model learned by the leader, or by ``triagebot routing learn`` run
from a one-off dyno, reaches every process within a minute and a restart keeps it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from triagebot.lanes import in_background
from triagebot.runtime.scheduler import EVERY_PROCESS, add_interval_job
from triagebot.runtime.wiring import Runtime, active_model

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(seconds=60)
#: When the leader learns (UTC): a quiet hour for most brands' teams.
LEARN_HOUR, LEARN_MINUTE = 3, 30


class ModelRefresher:
    """Swaps a newly stored model into the runtime's router (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        model = runtime.router.model
        self.seen = model.version if model is not None else None

    def check(self) -> bool:
        """Load the stored model if its version changed; True when the router got a new one."""
        from triagebot.routing.model.active import stored_version  # noqa: PLC0415 (numpy)

        version = stored_version(self.runtime.store)
        if version == self.seen:
            return False
        self.seen = version
        model = active_model(self.runtime.settings, self.runtime.store)
        self.runtime.router.use_model(model)
        log.info("event=routing_model_loaded version=%s", model.version)
        return True

    async def run(self) -> None:
        await in_background(self.check)


def learn_now(runtime: Runtime, refresher: ModelRefresher) -> bool:
    """Learn from the team's labels; route with the new model if one was activated."""
    from triagebot.routing.learning import learn  # noqa: PLC0415 (numpy and the model)
    from triagebot.routing.model.classifier import DepartmentModel  # noqa: PLC0415
    from triagebot.routing.overruled import shipped_votes  # noqa: PLC0415

    settings = runtime.settings
    result, stored = learn(
        runtime.store,
        settings.departments,
        runtime.clock(),
        fallback=runtime.router.options.fallback,
        shipped_rules=shipped_votes(runtime.router.ruleset.rules),
    )
    log.info(
        "event=routing_learned activated=%s labels=%d corrections=%d held_out=%d "
        "before=%s after=%s overruled_rules=%s reason=%r",
        result.activated,
        result.labels,
        result.corrections,
        result.held_out,
        result.before.accuracy,
        result.after.accuracy,
        ",".join(result.overruled) or "-",
        result.reason,
    )
    if stored is None:
        return False
    model = DepartmentModel.learned(
        stored.head, settings.departments, stored.version, stored.first_pass, stored.overruled
    )
    runtime.router.use_model(model)
    refresher.seen = stored.version
    return True


def register_model_jobs(runtime: Runtime, scheduler: AsyncIOScheduler) -> ModelRefresher | None:
    """The nightly learning (leader only) and the version check (every process)."""
    if runtime.settings.config.routing.model != "learned" or runtime.router.model is None:
        return None
    refresher = ModelRefresher(runtime)
    add_interval_job(
        scheduler,
        "routing-model-refresh",
        refresher.run,
        REFRESH_EVERY,
        run_now=False,
        executor=EVERY_PROCESS,
    )

    async def nightly() -> None:
        try:
            await in_background(learn_now, runtime, refresher)
        except Exception:
            log.exception("nightly routing learning failed; the active model stays")

    scheduler.add_job(
        nightly,
        CronTrigger(hour=LEARN_HOUR, minute=LEARN_MINUTE, timezone="UTC"),
        id="routing-learn",
        replace_existing=True,
    )
    return refresher
