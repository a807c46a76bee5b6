"""The suggested departments of a case waiting in triage on its Teams card: rendered as
``Action.Execute`` buttons, and pressed in Microsoft 365 Agents Playground (a reassign)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.common.payload import ActionId, parse_department, parse_payload
from integrations.teams.handlers import read_action
from integrations.teams.render import RenderContext, case_card
from tests.fakes.routing import unsure
from tests.teams import test_playground as played
from tests.teams.playground import card_text
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
NAMES = {"triage": "Triage", "shipping": "Shipping", "billing": "Billing & Refunds",
         "sales": "Sales"}  # fmt: skip
CTX = RenderContext(NAMES, T0)
world = played.world  # the playground world: the real app, the bot, Microsoft's local client


def triage_case(text: str = "hm, **thoughts**?", **changes: Any) -> Case:
    mention = Mention("x:1", "x", "post", "https://x.example/1", Author("sam", "Sam", 9), text, T0)
    case = Case("7", mention, "triage", Priority.P2, CaseState.OPEN, T0,
                T0 + timedelta(hours=1), T0 + timedelta(hours=4),
                rules=("suggest:hr=0.5", "suggest:billing=0.71", "suggest:sales=0.12"))  # fmt: skip
    return replace(case, **changes)


def suggestions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found = [item for item in card["body"] if item.get("id") == "case-suggestions"]
    return list(found[0]["actions"]) if found else []


def test_a_triage_card_shows_its_suggestions_as_buttons() -> None:
    card = case_card(triage_case(), CTX)
    buttons = suggestions(card)
    assert [b["title"] for b in buttons] == [
        "Send to Billing & Refunds · 71%",
        "Send to Sales · 12%",
    ]
    for button, dept in zip(buttons, ["billing", "sales"], strict=True):
        assert button["type"] == "Action.Execute" and button["verb"] == "case-suggest"
        assert button["associatedInputs"] == "none"  # the Reassign choice cannot stand in
        assert parse_payload(button["data"]).case_id == "7"
        assert parse_department(button["data"]) == dept
        fallback = button["fallback"]
        assert fallback["type"] == "Action.Submit" and fallback["associatedInputs"] == "none"
        assert read_action(None, fallback["data"]) is ActionId.SUGGEST  # Submit: verb in data
        assert parse_department(fallback["data"]) == dept
    # the usual actions are unchanged: Teams shows few top-level actions
    assert [a["title"] for a in card["actions"]][:2] == ["Claim", "Resolve"]
    assert len(card["actions"]) <= 6
    post = next(item for item in card["body"] if item.get("id") == "case-post")
    assert "\\*\\*thoughts\\*\\*" in post["items"][0]["text"]


@pytest.mark.parametrize(
    "changes",
    [{"department": "shipping"}, {"state": CaseState.SPAM}, {"rules": ("suggest:hr=0.9",)}],
)
def test_no_suggestions_outside_triage_closed_or_unknown(changes: dict[str, Any]) -> None:
    card = case_card(triage_case(**changes), CTX)
    assert suggestions(card) == []
    assert "likeliest departments" not in json.dumps(card)


def _suggestions_of(frame: dict[str, Any]) -> list[dict[str, Any]]:
    attachments = (frame.get("message") or {}).get("attachments") or [{}]
    return suggestions(attachments[0].get("content") or {"body": []})


@pytest.mark.playground
async def test_a_suggestion_pressed_in_teams_reassigns(world: played.World) -> None:
    await played._installed(world)
    unsure(world.runtime.router, billing=0.41, sales=0.33, shipping=0.2, none=0.06)
    case = await world.ingest("@northwind well well well, look at this")
    assert case.department == "triage"
    await world.deliver()
    frame = await world.card_of(case)
    thread, card_id = frame["message"]["postConversationId"], frame["message"]["messageId"]
    version = world.runtime.store.get_case(case.id).version  # published since the card was made
    frame = await world.pg.frame(
        lambda f: (
            (f.get("message") or {}).get("messageId") == card_id
            and [parse_payload(b["data"]).version for b in _suggestions_of(f)] == [version] * 2
        )
    )
    first, second = _suggestions_of(frame)
    assert (first["title"], second["title"]) == (
        "Send to Billing & Refunds · 41%",
        "Send to Sales · 33%",
    )

    status, answer = await world.pg.press(thread, card_id, first["verb"], first["data"])
    assert status == 200, answer
    assert answer["value"]["body"][0]["text"].startswith("🟠 P2 · **Billing \\& Refunds**")
    assert suggestions(answer["value"]) == []
    stored = world.runtime.store.get_case(case.id)
    assert stored.department == "billing" and stored.state is CaseState.OPEN
    await world.pg.frame(
        lambda f: (
            f.get("action") == "updateMessage"
            and f["message"]["messageId"] == card_id
            and "**Billing \\\\& Refunds**" in card_text(f)
            and not _suggestions_of(f)
        )
    )

    # The other suggestion, pressed on the card as first drawn: refused, nothing moves.
    status, answer = await world.pg.press(thread, card_id, second["verb"], second["data"])
    assert status == 200 and "changed after this message was drawn" in json.dumps(answer["value"])
    assert world.runtime.store.get_case(case.id).department == "billing"
