"""Fixtures for source tests: a loopback server, a fixed clock, a source factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from tests.sources.server import FakeServer
from triagebot.config.settings import Settings, SourceConfig

#: The fixtures' first poll.
POLL1 = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = POLL1) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


MakeSource = Callable[..., BaseSource]


@pytest.fixture
def make_source(settings: Settings, server: FakeServer, clock: Clock) -> MakeSource:
    def make(kind: str, env: dict[str, str] | None = None, **options: Any) -> BaseSource:
        options.setdefault("name", kind)
        options.setdefault("base_url", server.url)
        options.setdefault("backfill", "2d")
        config = SourceConfig.model_validate({"type": kind, **options})
        return ADAPTERS[kind](config, settings.config.brand, env or {}, clock)

    return make
