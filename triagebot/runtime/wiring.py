"""Wiring: settings -> store, router, pipeline, delivery worker and surfaces, built once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from triagebot.actions.executor import SettingsPolicy
from triagebot.config.settings import Settings
from triagebot.ingest.pipeline import Pipeline
from triagebot.routing.router import Router
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.runtime.deploy import open_configured_store
from triagebot.runtime.surfaces import Surface
from triagebot.store.base import Store


def utcnow() -> datetime:
    return datetime.now(UTC)


def build_router(settings: Settings) -> Router:
    return Router.load(
        settings.rules_dir, settings.departments, settings.config.sla.default_priority
    )


@dataclass
class Runtime:
    """Everything a command or the server needs, built from the settings."""

    settings: Settings
    store: Store
    surfaces: list[Surface] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow
    _router: Router | None = None

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
        router = build_router(settings) if routing else None
        opened = store or open_configured_store(settings.env)
        return cls(settings, opened, list(surfaces), clock, router)

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = build_router(self.settings)
        return self._router

    @property
    def policy(self) -> SettingsPolicy:
        return SettingsPolicy(self.settings)

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.store, self.settings, self.router)

    def delivery(self) -> DeliveryWorker:
        return DeliveryWorker(self.store, self.surfaces, self.policy, self.clock)

    def close(self) -> None:
        self.store.close()
