"""Teams unit-test fixtures: the bot over botbuilder's TestAdapter, a recording gateway."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ChannelAccount

from integrations.teams.app import teams_targets
from integrations.teams.bot import TriagebotTeamsBot
from integrations.teams.gateway import Where
from integrations.teams.surface import TeamsSurface
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.clock import FakeClock as Clock
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.wiring import Runtime


@dataclass
class RecordingGateway:
    """Stands in for ``TeamsGateway``: records what would go to the Bot Connector."""

    threads: list[tuple[Where, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Where, str, dict[str, Any]]] = field(default_factory=list)
    sent: list[tuple[Where, Activity]] = field(default_factory=list)

    async def start_thread(
        self, channel: Where, card: dict[str, Any], summary: str | None = None
    ) -> tuple[str, str]:
        self.threads.append((channel, card))
        n = len(self.threads)
        return f"{channel.conversation_id};messageid={n}", str(n)

    async def update(
        self, where: Where, activity_id: str, card: dict[str, Any], summary: str | None = None
    ) -> None:
        self.updates.append((where, activity_id, card))

    async def send(self, where: Where, activity: Activity) -> str | None:
        self.sent.append((where, activity))
        return "sent"


@dataclass
class BotWorld:
    runtime: Runtime
    surface: TeamsSurface
    gateway: RecordingGateway
    bot: TriagebotTeamsBot
    adapter: TestAdapter
    clock: Clock
    n: int = 0

    def ingest(self, text: str = "My parcel never arrived", **changes: Any) -> Case:
        self.n += 1
        base: dict[str, Any] = {
            "id": f"x:{self.n}", "source": "x", "kind": "post",
            "url": f"https://x.example/status/{self.n}",
            "author": Author(f"customer_{self.n}", "Sam", 1234), "text": text,
            "created_at": self.clock.now - timedelta(minutes=2),
        }  # fmt: skip
        base.update(changes)
        result = self.runtime.pipeline.ingest([Mention(**base)], self.clock.now)
        assert len(result.new) == 1
        return result.new[0]

    async def send(
        self, activity: Activity, user: str = "29:alex", name: str = "Alex", aad: str | None = None
    ) -> None:
        activity.from_property = ChannelAccount(id=user, name=name, aad_object_id=aad)
        await self.adapter.receive_activity(activity)
        await self.bot.drain()

    def replies(self) -> list[Activity]:
        out = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return out


@pytest.fixture
def bot_world(tmp_path: Path, now: datetime) -> Iterator[BotWorld]:
    env = {"TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json"), "TRIAGEBOT_TEAMS": "1"}
    settings = load_settings(EXAMPLE_CONFIG, env)
    clock = Clock(now)
    runtime = Runtime.build(settings, clock=clock)
    gateway = RecordingGateway()
    surface = TeamsSurface(gateway, teams_targets(settings), runtime.store, clock)  # type: ignore[arg-type]
    bot = TriagebotTeamsBot(runtime, surface)
    adapter = TestAdapter(bot.on_turn)
    yield BotWorld(runtime, surface, gateway, bot, adapter, clock)
    runtime.close()
