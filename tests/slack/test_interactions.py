"""Clicks and /sla through the real app: stale, forbidden and forged clicks, reassign, answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.slack import sla_command
from integrations.slack.payload import ActionId
from tests.fakes.slack_requests import block_action
from tests.slack.conftest import SlackWorld
from triagebot.cases.records import CaseState


def ephemerals(world: SlackWorld) -> list[str]:
    return [c.args["text"] for c in world.fake.calls_of("chat.postEphemeral")]


def answer_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks") or body.get("text"), ensure_ascii=False)


async def test_a_stale_resolve_is_refused_and_the_message_refreshed(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    old = world.case(case.id).version
    await world.click(ActionId.CLAIM, case.id, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.CLAIMED)
    await world.click(ActionId.RESOLVE, case.id, "U0ANA", version=old)
    await world.until(lambda: ephemerals(world))
    assert "changed after this message was drawn" in ephemerals(world)[0]
    assert world.case(case.id).state is CaseState.CLAIMED


async def test_only_the_holder_or_a_manager_may_resolve(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    await world.click(ActionId.CLAIM, case.id, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.CLAIMED)
    await world.click(ActionId.RESOLVE, case.id, "U0BOB")
    await world.until(lambda: ephemerals(world))
    assert "claimed by Ana Lopez: only they or a manager may resolve it" in ephemerals(world)[0]
    await world.click(ActionId.RESOLVE, case.id, "U0MANAGER")  # a manager in the config
    await world.until(lambda: world.case(case.id).state is CaseState.RESOLVED)


async def test_reassign_moves_the_case_and_says_so(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    await world.click(ActionId.REASSIGN, case.id, "U0ANA", department="billing")
    await world.until(lambda: world.case(case.id).department == "billing")
    await world.deliver()
    ref = world.ref(case.id)
    notes = [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)]
    assert notes == ["reassigned from shipping to billing by <@U0ANA>"]
    assert "Billing &amp; Refunds" in json.dumps(world.fake.find(ref.channel, ref.message_id))


async def test_a_forged_button_changes_nothing(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    ref = world.ref(case.id)
    body = block_action("case-resolve", '{"v":1,"case":"7; drop","ver":1}', user="U0EVE",
                        channel=ref.channel, message_ts=ref.message_id,
                        response_url=world.fake.response_url())  # fmt: skip
    status, _ = await world.post(body)
    assert status == 200
    await world.until(lambda: ephemerals(world))
    assert ephemerals(world) == ["this button names no case"]
    assert world.case(case.id).state is CaseState.OPEN


async def test_an_unknown_case_is_explained(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    ref = world.ref(case.id)
    body = block_action("case-claim", '{"v":1,"case":"999","ver":1}', user="U0ANA",
                        channel=ref.channel, message_ts=ref.message_id,
                        response_url=world.fake.response_url())  # fmt: skip
    await world.post(body)
    await world.until(lambda: ephemerals(world))
    assert "999" in ephemerals(world)[0]


async def test_sla_views(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    await world.click(ActionId.CLAIM, case.id, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.CLAIMED)

    _, body = await world.sla("help")
    assert "/sla breached" in answer_text(body)
    _, body = await world.sla("shipping 30d")
    assert "Shipping, last 30 days" in answer_text(body)
    _, body = await world.sla("me", user="U0ANA")
    assert "Holding now" in answer_text(body) and f"#{case.id}" in answer_text(body)
    _, body = await world.sla("breached")
    assert "No active case is overdue" in answer_text(body)
    world.clock.now = case.resolve_due + (case.resolve_due - case.ingested_at)
    _, body = await world.sla("breached")
    assert f"#{case.id}" in answer_text(body) and "overdue since" in answer_text(body)
    _, body = await world.sla("share")
    assert body["response_type"] == "in_channel"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("warehouse", "I don't know `warehouse`"), ("0h", "choose between 1h and 366d"),
     ("<!channel>", "I don't know `&lt;!channel&gt;`")],
)  # fmt: skip
async def test_sla_explains_what_it_did_not_understand(
    world: SlackWorld, text: str, expected: str
) -> None:
    status, body = await world.sla(text)
    assert status == 200
    assert expected in body  # a plain-text ack is shown to the user alone
    assert "`shipping`" in body or "0h" in text


async def test_a_slow_answer_follows_through_response_url(
    world: SlackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sla_command, "ANSWER_IN_ACK", 0.0)
    status, body = await world.sla("")
    assert status == 200 and "Counting" in body["text"]
    await world.until(lambda: world.fake.responses)
    [answer] = world.fake.responses
    assert answer["response_type"] == "ephemeral" and answer["blocks"]


async def test_sla_can_be_kept_to_managers(world: SlackWorld) -> None:
    managers = world.runtime.settings.config.managers
    object.__setattr__(managers, "sla_command_managers_only", True)
    _, body = await world.sla("", user="U0ANA")
    assert "open to the managers" in body
    _, body = await world.sla("", user="U0MANAGER")
    assert body["blocks"]
