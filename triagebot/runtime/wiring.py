"""Wiring: settings -> store, router, pipeline, delivery worker and surfaces, built once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from triagebot.actions.executor import SettingsPolicy
from triagebot.runtime.deploy import open_configured_store
from triagebot.runtime.surfaces import Surface
from triagebot.store.base import Store

# The rules stack, the pipeline and delivery are imported when first used: a command that
# only changes a case (claim, resolve) never loads them.
if TYPE_CHECKING:
    from triagebot.config.case_rules import CaseRules
    from triagebot.config.settings import Settings
    from triagebot.ingest.pipeline import Pipeline
    from triagebot.routing.model.classifier import DepartmentModel
    from triagebot.routing.router import Router
    from triagebot.runtime.answering import Answering
    from triagebot.runtime.delivery import DeliveryWorker


def utcnow() -> datetime:
    return datetime.now(UTC)


def build_router(settings: Settings, store: Store | None = None) -> Router:
    """The rules of the settings, with the department model they ask for (see ``routing``)."""
    from triagebot.routing.gate import Gate  # noqa: PLC0415
    from triagebot.routing.router import Router  # noqa: PLC0415

    config = settings.config.routing
    model = None if config.model == "off" else active_model(settings, store)
    return Router.load(
        settings.rules_dir,
        settings.departments,
        settings.config.sla.default_priority,
        model=model,
        gate=Gate.from_config(config),
    )


def active_model(settings: Settings, store: Store | None) -> DepartmentModel:
    """This deployment's learned model when asked for and stored, else the shipped one."""
    from triagebot.routing.model.active import load_active  # noqa: PLC0415 (numpy)

    learned = store if settings.config.routing.model == "learned" else None
    return load_active(learned, settings.departments)


@dataclass
class Runtime:
    """Everything a command or the server needs, built from the settings."""

    settings: Settings
    store: Store
    surfaces: list[Surface] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow
    _router: Router | None = None
    #: Replies and thread reads through the sources that can (set by the command line).
    answering: Answering | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        surfaces: Sequence[Surface] = (),
        clock: Callable[[], datetime] = utcnow,
        store: Store | None = None,
        *,
        routing: bool = True,
    ) -> Runtime:
        """Open the store; compile the rules now unless ``routing`` is False (then on first use).

        Commands that never route (cases, claim, sla) skip the rules and start faster.
        """
        opened = store or open_configured_store(settings.env)
        router = build_router(settings, opened) if routing else None
        return cls(settings, opened, list(surfaces), clock, router)

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = build_router(self.settings, self.store)
        return self._router

    @property
    def rules(self) -> CaseRules:
        return self.settings.rules

    @property
    def policy(self) -> SettingsPolicy:
        return SettingsPolicy(self.settings)

    @property
    def pipeline(self) -> Pipeline:
        from triagebot.ingest.pipeline import Pipeline  # noqa: PLC0415

        return Pipeline(self.store, self.settings, self.router)

    def delivery(self) -> DeliveryWorker:
        from triagebot.runtime.delivery import DeliveryWorker  # noqa: PLC0415

        return DeliveryWorker(self.store, self.surfaces, self.policy, self.clock)

    def close(self) -> None:
        self.store.close()
