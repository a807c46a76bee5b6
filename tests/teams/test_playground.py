"""End to end with Microsoft's local Teams client (Microsoft 365 Agents Playground).

The real aiohttp app with ``add_teams`` (local mode, TRIAGEBOT_TEAMS=1) and a TinyDB store in
a temporary directory serves the bot on 127.0.0.1; the playground plays Teams. The bot is
added to "My Team", a case is routed to a department whose ``teams_channel`` is "General",
its card appears in a new thread there, Claim and Resolve are pressed, a claim made outside
Teams updates the card, a case routed before the install appears once the bot is added,
``sla`` is asked by @mention, and a hostile post stays inert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from integrations.teams.app import TeamsIntegration, add_teams
from integrations.teams.places import SURFACE
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.e2e_helpers import require_playground
from tests.teams.playground import (
    GENERAL,
    USER_AAD,
    USER_NAME,
    Playground,
    card_text,
    free_port,
    playground,
)
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime

pytestmark = pytest.mark.playground

HOSTILE = (  # "fedex": a shipping rule routes it, whatever the model makes of the rest
    "my fedex parcel never arrived **URGENT** [see details](javascript:alert(1)) "
    "<at>Alex Wilber</at> <b>bold</b> "
    "visit https://evil.example/login now\n# Heading\n- item"
)


@dataclass
class World:
    runtime: Runtime
    teams: TeamsIntegration
    pg: Playground
    n: int = 0

    async def ingest(self, text: str, url: str = "https://x.example/status/1") -> Case:
        self.n += 1
        now = self.runtime.clock()
        mention = Mention(
            id=f"x:{self.n}", source="x", kind="post", url=url,
            author=Author(f"customer_{self.n}", "Sam", 1234), text=text,
            created_at=now - timedelta(minutes=1),
        )  # fmt: skip
        result = await asyncio.to_thread(self.runtime.pipeline.ingest, [mention], now)
        assert len(result.new) == 1
        return result.new[0]

    async def deliver(self) -> None:
        await self.runtime.delivery().drain()

    async def card_of(self, case: Case) -> dict[str, Any]:
        """The websocket frame that showed ``case``'s card first."""
        return await self.pg.frame(
            lambda f: f.get("action") == "createMessage" and f"case #{case.id}" in card_text(f)
        )


def _config(tmp_path: Path) -> Path:
    """The example configuration with every Teams channel set to "General"."""
    text = EXAMPLE_CONFIG.read_text()
    text = re.sub(r'teams_channel = "[^"]*"', 'teams_channel = "General"', text)
    path = tmp_path / "triagebot.toml"
    path.write_text(text)
    return path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    runtime = Runtime.build(load_settings(_config(tmp_path), playground_env(tmp_path)))
    try:
        async with served(runtime, tmp_path) as served_world:
            yield served_world
    finally:
        runtime.close()


def playground_env(tmp_path: Path) -> dict[str, str]:
    """Teams local mode over a store in ``tmp_path``, the shipped rules, no leader jobs."""
    return {
        "TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json"),
        "TRIAGEBOT_RULES": str(ROOT / "rules"),
        "TRIAGEBOT_TEAMS": "1",
        "TRIAGEBOT_RUN_JOBS": "0",
    }


@contextlib.asynccontextmanager
async def served(runtime: Runtime, tmp_path: Path) -> AsyncIterator[World]:
    """The app with Teams on 127.0.0.1 and the playground talking to it."""
    node, cli = require_playground()
    app = create_app(runtime)
    teams = add_teams(runtime, app)
    assert teams is not None
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    workdir = tmp_path / "playground"
    workdir.mkdir()
    try:
        bot_url = f"http://127.0.0.1:{server.port}/api/messages"
        async with playground(node, cli, bot_url, workdir) as pg:
            yield World(runtime, teams, pg)
    finally:
        await server.close()


async def _installed(world: World) -> None:
    await world.pg.install(GENERAL)
    for _ in range(200):
        places = await asyncio.to_thread(world.runtime.store.places, SURFACE)
        if {"team-id", "channel-announcements-id"} <= set(places):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot did not learn the team's channels: {places}")


def _card(frame: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = frame["message"]["attachments"][0]["content"]
    return content


def _data(card: dict[str, Any], verb: str) -> dict[str, Any]:
    for action in card["actions"]:
        if action.get("verb") == verb:
            data: dict[str, Any] = action["data"]
            return data
    raise AssertionError(f"no {verb} on the card")


async def test_case_card_claim_resolve_and_live_refresh(world: World) -> None:
    await _installed(world)
    places = world.runtime.store.places(SURFACE)
    assert places[GENERAL]["name"] == "General" and places[GENERAL]["team_name"] == "My Team"

    case = await world.ingest("My order #1234 never arrived, tracking shows nothing for a week")
    await world.deliver()
    frame = await world.card_of(case)
    thread = frame["message"]["postConversationId"]
    assert thread.startswith(f"{GENERAL};messageid=")
    card_id = frame["message"]["messageId"]
    ref = world.runtime.store.message_refs(case.id)[SURFACE]
    assert (ref.channel, ref.message_id) == (thread, card_id)

    # Claim: the invoke's answer is the refreshed card.
    status, answer = await world.pg.press(
        thread, card_id, "case-claim", _data(_card(frame), "case-claim")
    )
    assert status == 200, answer
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert f"by {USER_NAME}" in json.dumps(answer["value"]) and "Claimed" in json.dumps(
        answer["value"]
    )
    stored = world.runtime.store.get_case(case.id)
    assert stored.state.value == "claimed" and stored.claimed_by == Identity("teams", USER_AAD)
    # Everyone's card is redrawn too (update_activity).
    await world.pg.frame(
        lambda f: (
            f.get("action") == "updateMessage"
            and f["message"]["messageId"] == card_id
            and "Claimed" in card_text(f)
        )
    )

    # Resolve from the refreshed card.
    status, answer = await world.pg.press(
        thread, card_id, "case-resolve", _data(answer["value"], "case-resolve")
    )
    assert status == 200 and "Resolved" in json.dumps(answer["value"])
    assert world.runtime.store.get_case(case.id).state.value == "resolved"

    # A press on the old card (stale Resolve) says why and shows the case as it is.
    status, answer = await world.pg.press(
        thread, card_id, "case-resolve", _data(_card(frame), "case-resolve")
    )
    assert status == 200 and "changed after this message was drawn" in json.dumps(answer["value"])


async def test_a_claim_elsewhere_updates_the_teams_card(world: World) -> None:
    await _installed(world)
    case = await world.ingest("Refund for my return still missing after three weeks")
    await world.deliver()
    frame = await world.card_of(case)
    card_id = frame["message"]["messageId"]
    runtime = world.runtime
    await asyncio.to_thread(
        execute,
        runtime.store,
        runtime.policy,
        Claim(case.id, Identity("cli", "maria"), "cli"),
        runtime.clock(),
    )
    await world.deliver()
    update = await world.pg.frame(
        lambda f: (
            f.get("action") == "updateMessage"
            and f["message"]["messageId"] == card_id
            and "by Maria Chen" in card_text(f)
        )
    )
    assert "**Claimed** by Maria Chen" in card_text(update)  # cli:maria in [[people]]
    # A Claim pressed in Teams now is refused with who holds it.
    status, answer = await world.pg.press(
        frame["message"]["postConversationId"],
        card_id,
        "case-claim",
        _data(_card(frame), "case-claim"),
    )
    assert status == 200 and "already claimed by Maria Chen" in json.dumps(answer["value"])


async def test_a_case_from_before_the_install_appears_after_it(world: World) -> None:
    case = await world.ingest("My parcel never arrived and nobody answers my emails")
    await world.deliver()  # no channel known yet: shown elsewhere, not in Teams
    assert world.runtime.store.pending_outbox() == 0

    def shown(frame: dict[str, Any]) -> bool:
        return frame.get("action") == "createMessage" and f"case #{case.id}" in card_text(frame)

    assert not any(shown(f) for f in world.pg.frames)
    await _installed(world)
    await world.teams.bot.drain()
    await world.deliver()
    frame = await world.card_of(case)
    assert frame["message"]["postConversationId"].startswith(f"{GENERAL};messageid=")
    await world.pg.install(GENERAL)  # added again: no second card
    await world.teams.bot.drain()
    await world.deliver()
    await world.pg.say(GENERAL, "sla 30d")  # a later frame, so the check below is not early
    await world.pg.frame(lambda f: "SLA · last 30 days" in card_text(f))
    assert len([f for f in world.pg.frames if shown(f)]) == 1


async def test_sla_by_mention_in_a_channel(world: World) -> None:
    await _installed(world)
    await world.ingest("Where is my parcel? Ordered two weeks ago")
    await world.deliver()
    await world.pg.say(GENERAL, "sla 30d")
    answer = await world.pg.frame(
        lambda f: f.get("action") == "createMessage" and "SLA · last 30 days" in card_text(f)
    )
    assert (
        answer["message"]["attachments"][0]["contentType"]
        == "application/vnd.microsoft.card.adaptive"
    )
    await world.pg.say(GENERAL, "sla warehouse")
    await world.pg.frame(lambda f: "I don't know `warehouse`" in card_text(f))


async def test_a_hostile_post_renders_inert(world: World) -> None:
    await _installed(world)
    case = await world.ingest(HOSTILE + " " + "long " * 600, url="javascript:alert(1)")
    await world.deliver()
    card = _card(await world.card_of(case))
    body = json.dumps(card, ensure_ascii=False)
    post = next(item for item in card["body"] if item.get("id") == "case-post")
    text = post["items"][0]["text"]
    assert "**URGENT**" not in text and "\\*\\*URGENT\\*\\*" in text
    assert "[see details](" not in text and "<at>" not in text and "<b>" not in text
    assert "https://evil" not in text and "https[:]//" in text.replace("\\", "")
    assert "\n# " not in text and "\n- " not in text
    assert len(text) < 2_600 and "…" in text
    assert "javascript:" not in json.dumps(card["actions"])
    assert not any(a["type"] == "Action.OpenUrl" for a in card["actions"])
    assert "not a short http(s) link" in body
