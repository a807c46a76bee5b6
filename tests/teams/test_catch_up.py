"""Cases routed before the bot knew their channel appear in Teams once it is added there.

The real wiring (``add_teams``, local mode) serves ``/api/messages`` on 127.0.0.1; the
loopback Bot Connector of ``test_surface`` also lists the team's channels. A recording
surface stands for the other surfaces (Slack, the board), which must not post again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from integrations.teams.app import TeamsIntegration, add_teams, teams_targets
from integrations.teams.places import SURFACE
from integrations.teams.surface import TeamsSurface
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.surface import RecordingSurface
from tests.teams.test_surface import FakeConnector
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime

TEAM, BILLING = "19:team@thread.tacv2", "19:bill@thread.tacv2"
BOT = "28:triagebot"


class ChannelListingConnector(FakeConnector):
    """The fake Bot Connector, also answering the list of a team's channels."""

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET" and request.path.startswith("/v3/teams/"):
            self.calls.append((request.method, request.path, {}))
            channels = [{"id": TEAM}, {"id": BILLING, "name": "Billing"}]
            return web.json_response({"conversations": channels})
        return await super().handle(request)


@dataclass
class World:
    runtime: Runtime
    teams: TeamsIntegration
    other: RecordingSurface
    client: TestClient[Any, Any]
    connector: ChannelListingConnector
    url: str
    n: int = 0

    def ingest(self, text: str = "northwind charged me twice for my order") -> Case:
        self.n += 1
        now = self.runtime.clock()
        mention = Mention(f"x:{self.n}", "x", "x", f"https://x.example/{self.n}",
                          Author(f"user{self.n}"), f"{text} ({self.n})", now)  # fmt: skip
        [case] = self.runtime.pipeline.ingest([mention], now).new
        assert case.department == "billing"  # teams_channel "Billing"
        return case

    async def install(self, kind: str = "conversationUpdate") -> None:
        activity: dict[str, Any] = {
            "type": kind, "id": f"act-{kind}", "channelId": "msteams", "serviceUrl": self.url,
            "from": {"id": "29:alex", "name": "Alex"}, "recipient": {"id": BOT, "name": "bot"},
            "conversation": {"id": TEAM, "isGroup": True, "conversationType": "channel",
                             "tenantId": "tn"},
            "channelData": {"team": {"id": TEAM, "name": "Northwind"},
                            "channel": {"id": TEAM}, "tenant": {"id": "tn"}},
        }  # fmt: skip
        if kind == "conversationUpdate":
            activity["membersAdded"] = [{"id": BOT}]
        else:
            activity["action"] = "add"
        async with self.client.post("/api/messages", json=activity) as response:
            assert response.status in (200, 201)
        await self.teams.bot.drain()

    def cards(self) -> list[tuple[str, str]]:
        """(channel id, card JSON) of every new thread the connector was asked to start."""
        return [
            (body["channelData"]["channel"]["id"], json.dumps(body["activity"]))
            for method, path, body in self.connector.calls
            if (method, path) == ("POST", "/v3/conversations")
        ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = ChannelListingConnector()
    connector = TestServer(fake.app(), host="127.0.0.1")
    await connector.start_server()
    env = {
        "TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json"),
        "TRIAGEBOT_RULES": str(ROOT / "rules"),
        "TRIAGEBOT_TEAMS": "1",
        "TRIAGEBOT_RUN_JOBS": "0",
    }
    runtime = Runtime.build(load_settings(EXAMPLE_CONFIG, env))
    other = RecordingSurface("other")
    runtime.surfaces.append(other)
    app = create_app(runtime)
    teams = add_teams(runtime, app)
    assert teams is not None
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield World(runtime, teams, other, client, fake, f"http://127.0.0.1:{connector.port}/")
    finally:
        await client.close()
        await connector.close()
        runtime.close()


async def test_cases_from_before_the_install_are_posted_once(world: World) -> None:
    runtime = world.runtime
    waiting, claimed, closed = world.ingest(), world.ingest(), world.ingest()
    await runtime.delivery().drain()  # Billing's channel is unknown: not shown in Teams
    assert world.cards() == [] and len(world.other.posts) == 3
    now = runtime.clock()
    execute(runtime.store, runtime.policy, Claim(claimed.id, Identity("cli", "ana"), "cli"), now)
    execute(runtime.store, runtime.policy, Claim(closed.id, Identity("cli", "bo"), "cli"), now)
    execute(runtime.store, runtime.policy, Resolve(closed.id, Identity("cli", "bo"), "cli"), now)
    await runtime.delivery().drain()

    await world.install()
    assert runtime.store.pending_outbox() == 2
    await runtime.delivery().drain()
    cards = world.cards()
    assert [channel for channel, _ in cards] == [BILLING, BILLING]
    # Delivery runs cases concurrently: the two cards may come in either order.
    [waiting_card] = [card for _, card in cards if f"case #{waiting.id}" in card]
    [claimed_card] = [card for _, card in cards if f"case #{claimed.id}" in card]
    assert "Claimed" in claimed_card and "Claimed" not in waiting_card
    refs = runtime.store.message_refs(claimed.id)[SURFACE]
    assert refs.channel.startswith(BILLING + ";messageid=")
    assert SURFACE not in runtime.store.message_refs(closed.id)
    assert len(world.other.posts) == 3  # the other surfaces post nothing again

    # Added again (a re-install, then the install event): nothing new is queued or posted.
    await world.install("installationUpdate")
    await world.install()
    assert runtime.store.pending_outbox() == 0
    await runtime.delivery().drain()
    assert len(world.cards()) == 2 and len(world.other.posts) == 3


async def test_two_installs_before_delivery_queue_one_post(world: World) -> None:
    case = world.ingest()
    await world.runtime.delivery().drain()
    await world.install()
    await world.install("installationUpdate")
    assert world.runtime.store.pending_outbox() == 1  # the item named post_id(case.id)
    await world.runtime.delivery().drain()
    assert [channel for channel, _ in world.cards()] == [BILLING]
    assert SURFACE in world.runtime.store.message_refs(case.id)


async def test_a_process_that_has_not_seen_the_channel_yet_still_posts(world: World) -> None:
    """The delivery runs in another process, whose surface read the places before the install."""
    runtime = world.runtime
    elsewhere = TeamsSurface(
        world.teams.surface.gateway, teams_targets(runtime.settings), runtime.store,
        lambda: datetime.now(UTC),
    )  # fmt: skip
    elsewhere.load()
    case = world.ingest()
    await world.install()
    assert not elsewhere.shows(case)
    worker = DeliveryWorker(runtime.store, [elsewhere, world.other], runtime.policy, runtime.clock)
    await worker.drain()
    assert [channel for channel, _ in world.cards()] == [BILLING]
    assert len(world.other.posts) == 1 and runtime.store.pending_outbox() == 0
