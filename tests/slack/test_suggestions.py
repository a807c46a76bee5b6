"""The suggested departments of a case waiting in triage: buttons on the message, a press is a
reassign through the real app, checked for freshness and permission like any."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.slack.payload import CasePayload, option_value, parse_option
from integrations.slack.render import SUGGESTIONS_BLOCK, RenderContext, as_dicts, case_blocks
from tests.fakes.routing import unsure
from tests.fakes.slack import check_blocks
from tests.fakes.slack_requests import block_action
from tests.slack.conftest import SlackWorld
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
NAMES = {"triage": "Triage", "shipping": "Shipping", "billing": "Billing & Refunds",
         "sales": "Sales"}  # fmt: skip
CTX = RenderContext(NAMES, T0)
UNSURE = {"billing": 0.41, "sales": 0.33, "shipping": 0.2, "none": 0.06}


def triage_case(text: str = "hm, thoughts?", **changes: Any) -> Case:
    mention = Mention("x:1", "x", "post", "https://x.example/1", Author("sam", "Sam", 9), text, T0)
    case = Case("7", mention, "triage", Priority.P2, CaseState.OPEN, T0,
                T0 + timedelta(hours=1), T0 + timedelta(hours=4),
                rules=("suggest:hr=0.5", "suggest:billing=0.71", "suggest:sales=0.12"))  # fmt: skip
    return replace(case, **changes)


def suggestion_buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [b for b in blocks if b.get("block_id") == SUGGESTIONS_BLOCK]
    return list(found[0]["elements"]) if found else []


def test_a_triage_case_shows_its_suggestions_as_buttons() -> None:
    blocks = as_dicts(case_blocks(triage_case(), CTX))
    assert check_blocks(blocks) == []
    buttons = suggestion_buttons(blocks)
    assert [b["text"]["text"] for b in buttons] == [
        "Send to Billing & Refunds · 71%",
        "Send to Sales · 12%",
    ]  # hr is not a department here: skipped
    assert [b["action_id"] for b in buttons] == ["case-suggest-1", "case-suggest-2"]
    assert [parse_option(b["value"]) for b in buttons] == [
        (CasePayload("7", 1), "billing"),
        (CasePayload("7", 1), "sales"),
    ]
    assert blocks[-1]["block_id"] == "case-actions"  # the usual buttons stay last


def test_no_suggestions_outside_triage_or_once_closed() -> None:
    for case in (
        triage_case(department="shipping"),
        triage_case(state=CaseState.RESOLVED, resolved_at=T0),
        triage_case(rules=("suggest:hr=0.9",)),
        triage_case(rules=()),
    ):
        blocks = as_dicts(case_blocks(case, CTX))
        assert suggestion_buttons(blocks) == []
        assert not any(b.get("block_id") == "case-suggestions-note" for b in blocks)


def test_the_post_stays_inert_beside_the_buttons() -> None:
    blocks = as_dicts(
        case_blocks(triage_case("<!channel> <@U0BOSS> *go* <https://e.example|x>"), CTX)
    )
    post = next(b for b in blocks if b["block_id"] == "case-post")["text"]["text"]
    assert "&lt;!channel&gt; &lt;@U0BOSS&gt;" in post and "<!channel>" not in post
    assert "&lt;https://e.example|x&gt;" in post


def message_of(world: SlackWorld, case_id: str) -> dict[str, Any]:
    ref = world.ref(case_id)
    return world.fake.find(ref.channel, ref.message_id)


async def press(world: SlackWorld, case_id: str, button: dict[str, Any], user: str) -> Any:
    """Press ``button`` as Slack sends it: its own action id, value and block."""
    ref = world.ref(case_id)
    body = block_action(button["action_id"], button["value"], user=user, channel=ref.channel,
                        message_ts=ref.message_id, response_url=world.fake.response_url(),
                        block_id=SUGGESTIONS_BLOCK)  # fmt: skip
    return await world.post(body)


def ephemerals(world: SlackWorld) -> list[str]:
    return [c.args["text"] for c in world.fake.calls_of("chat.postEphemeral")]


async def unsure_case(world: SlackWorld) -> Case:
    unsure(world.runtime.router, **UNSURE)
    case = await world.ingest("@northwind well well well, look at this")
    assert case.department == "triage"
    assert case.rules[:2] == ("suggest:billing=0.41", "suggest:sales=0.33")
    await world.deliver()
    return case


async def test_pressing_a_suggestion_reassigns_and_redraws(world: SlackWorld) -> None:
    case = await unsure_case(world)
    ref = world.ref(case.id)
    assert ref.channel == "C0TRIAGE"
    buttons = suggestion_buttons(message_of(world, case.id)["blocks"])
    assert [b["text"]["text"] for b in buttons] == [
        "Send to Billing & Refunds · 41%",
        "Send to Sales · 33%",
    ]
    status, _ = await press(world, case.id, buttons[0], "U0ANA")
    assert status == 200
    await world.until(lambda: world.case(case.id).department == "billing")
    await world.until(lambda: not suggestion_buttons(message_of(world, case.id)["blocks"]))
    message = message_of(world, case.id)
    assert "*Billing &amp; Refunds*" in json.dumps(message["blocks"][0])
    assert not any(b.get("block_id") == "case-suggestions-note" for b in message["blocks"])
    await world.deliver()
    notes = [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)]
    assert notes == ["reassigned from triage to billing by <@U0ANA>"]
    moved = world.case(case.id)
    assert moved.state is CaseState.OPEN and [a.department for a in moved.assignments] == [
        "triage",
        "billing",
    ]
    assert ephemerals(world) == []


async def test_a_suggestion_pressed_on_an_older_message_is_refused(world: SlackWorld) -> None:
    case = await unsure_case(world)
    [first, second] = suggestion_buttons(message_of(world, case.id)["blocks"])
    await press(world, case.id, first, "U0ANA")
    await world.until(lambda: world.case(case.id).department == "billing")
    await press(world, case.id, second, "U0BOB")  # drawn before the first press
    await world.until(lambda: ephemerals(world))
    assert "changed after this message was drawn" in ephemerals(world)[0]
    assert world.case(case.id).department == "billing"


async def test_a_claimed_case_moves_only_for_its_holder_or_a_manager(world: SlackWorld) -> None:
    case = await unsure_case(world)
    value = CasePayload(case.id, world.case(case.id).version).to_value()
    await press(world, case.id, {"action_id": "case-claim", "value": value}, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.CLAIMED)

    def drawn_version() -> int:
        buttons = suggestion_buttons(message_of(world, case.id)["blocks"])
        return parse_option(buttons[0]["value"])[0].version  # still offered once claimed

    await world.until(lambda: drawn_version() == world.case(case.id).version)
    button = suggestion_buttons(message_of(world, case.id)["blocks"])[0]
    await press(world, case.id, button, "U0BOB")
    await world.until(lambda: ephemerals(world))
    assert "only they or a manager may reassign it" in ephemerals(world)[0]
    assert world.case(case.id).department == "triage"
    await press(world, case.id, button, "U0MANAGER")
    await world.until(lambda: world.case(case.id).department == "billing")


async def test_a_forged_suggestion_changes_nothing(world: SlackWorld) -> None:
    case = await unsure_case(world)
    version = world.case(case.id).version
    forged = [
        {"action_id": "case-suggest-1", "value": CasePayload(case.id, version).to_value()},
        {"action_id": "case-suggest-2", "value": option_value(case.id, version, "nowhere")},
    ]
    for button in forged:
        await press(world, case.id, button, "U0EVE")
    await world.until(lambda: len(ephemerals(world)) == 2)
    assert ephemerals(world)[0] == "this option names no department"
    assert "nowhere" in ephemerals(world)[1]
    assert world.case(case.id).department == "triage"
