"""Slack end to end through the real aiohttp app and a fake Slack on 127.0.0.1.

A mention arrives, is posted to its department's channel, claimed by a click (the message
updates, a thread note follows), refused to a second claimer, resolved, and counted by /sla.
"""

from __future__ import annotations

import json
import time
from typing import Any

from integrations.slack.payload import ActionId
from tests.fakes.slack_requests import block_action, signed
from tests.slack.conftest import SlackWorld
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import CaseState, MessageRef


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in a message's blocks, joined."""
    return json.dumps(blocks, ensure_ascii=False)


def message_of(world: SlackWorld, ref: MessageRef) -> dict[str, Any]:
    return world.fake.find(ref.channel, ref.message_id)


def buttons(message: dict[str, Any]) -> list[str]:
    actions = next(b for b in message["blocks"] if b.get("block_id") == "case-actions")
    return [e["action_id"] for e in actions["elements"]]


async def test_mention_is_posted_claimed_resolved_and_counted(world: SlackWorld) -> None:
    case = await world.ingest("@northwind my parcel never arrived, where is it?")
    await world.deliver()
    ref = world.ref(case.id)
    [message] = world.fake.top_level(ref.channel)
    assert message["metadata"]["event_payload"]["case_id"] == case.id
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert buttons(message) == ["case-claim", "case-resolve", "case-reassign", "case-spam"]
    assert world.case(case.id).state is CaseState.OPEN

    started = time.monotonic()
    status, _ = await world.click(ActionId.CLAIM, case.id, "U0ANA")
    assert status == 200
    assert time.monotonic() - started < 3.0
    await world.until(
        lambda: "case-unclaim" in buttons(world.fake.find(ref.channel, ref.message_id))
    )
    claimed = world.case(case.id)
    assert claimed.state is CaseState.CLAIMED and claimed.claimed_by == Identity("slack", "U0ANA")
    message = world.fake.find(ref.channel, ref.message_id)
    assert "Claimed* by <@U0ANA>" in texts(message["blocks"])
    assert buttons(message)[:2] == ["case-resolve", "case-unclaim"]

    await world.deliver()
    notes = [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)]
    assert notes == ["claimed by <@U0ANA>"]

    status, _ = await world.click(ActionId.CLAIM, case.id, "U0BOB")
    assert status == 200
    await world.until(lambda: world.fake.calls_of("chat.postEphemeral"))
    [ephemeral] = world.fake.calls_of("chat.postEphemeral")
    assert ephemeral.args["user"] == "U0BOB"
    assert "already claimed by Ana Lopez" in ephemeral.args["text"]

    await world.click(ActionId.RESOLVE, case.id, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.RESOLVED)
    await world.until(
        lambda: buttons(world.fake.find(ref.channel, ref.message_id)) == ["case-reopen"]
    )
    await world.deliver()
    notes = [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)]
    assert notes == ["claimed by <@U0ANA>", "resolved by <@U0ANA>"]
    assert len(world.fake.top_level(ref.channel)) == 1  # never posted twice

    status, body = await world.sla("")
    assert status == 200
    assert body["response_type"] == "ephemeral"
    table = next(b["text"]["text"] for b in body["blocks"] if "```" in b["text"]["text"])
    dept = world.runtime.settings.departments[case.department].display_name
    row = next(line for line in table.split("\n") if line.startswith(dept[:18]))
    cases, waiting, held, done = row[18:].split()[:4]
    assert (cases, waiting, held, done) == ("1", "0", "0", "1")


async def test_bad_and_stale_signatures_are_refused(world: SlackWorld) -> None:
    body = block_action("case-claim", "{}", user="U1", channel="C0SUPPORT", message_ts="1.2",
                        response_url=world.fake.response_url())  # fmt: skip
    status, _ = await world.post(body, signed(body, secret="not-the-secret"))
    assert status == 401
    status, _ = await world.post(body, signed(body, timestamp=int(time.time()) - 600))
    assert status == 401
    tampered = signed(body)
    status, _ = await world.post(body.replace("U1", "U2"), tampered)
    assert status == 401
    assert world.fake.calls_of("chat.postEphemeral") == []


async def test_a_change_made_elsewhere_updates_the_message(world: SlackWorld) -> None:
    case = await world.ingest("northwind: the zipper broke on day two")
    await world.deliver()
    ref = world.ref(case.id)
    execute(
        world.runtime.store,
        world.runtime.policy,
        Claim(case.id, Identity("cli", "maria"), "cli"),
        world.clock(),
    )
    await world.deliver()
    message = world.fake.find(ref.channel, ref.message_id)
    assert "Claimed* by <@U0MANAGER>" in texts(message["blocks"])  # cli:maria is Maria Chen
    assert [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)] == [
        "claimed by <@U0MANAGER>"
    ]
