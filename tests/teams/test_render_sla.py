"""The Teams ``sla`` answer cards: the first public response beside claim and resolve."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from integrations.teams.render import RenderContext
from integrations.teams.render_sla import answer_card, breached_card, summary_card
from tests.teams.test_render import NAMES, make_case
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState
from triagebot.reports.query import SlaAnswer, SlaQuery
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.period import summarize

ANA = Identity("teams", "aad-ana")
ALWAYS = BusinessCalendar("UTC", "24/7")


def _texts(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def _cells(card: dict[str, Any], row: int) -> list[str]:
    columns = card["body"][row]["columns"]
    return [column["items"][0]["text"] for column in columns]


def test_the_summary_has_an_answer_column(now: datetime) -> None:
    answered = make_case(
        now, respond_due=now + timedelta(hours=1), state=CaseState.CLAIMED,
        first_claimed_at=now + timedelta(minutes=5), claimed_by=ANA,
        first_response=FirstResponse(now + timedelta(minutes=30), "@northwind", ResponseVia.REPLY),
    )  # fmt: skip
    late = replace(answered, id="43", first_response=None)
    summary = summarize([answered, late], lambda _: ALWAYS, now + timedelta(hours=2),
                        now - timedelta(days=1), now + timedelta(days=1))  # fmt: skip
    card = summary_card(summary, NAMES, "last 7 days")
    assert _cells(card, 1) == ["department", "cases", "waiting", "claim", "answer", "resolve",
                               "late"]  # fmt: skip
    # One answered in 30m (in SLA), one unanswered past its due time: 50%, one breach.
    assert _cells(card, 2) == ["Shipping", "2", "0", "5m (100%)", "30m (50%)", "- (-)", "1"]
    assert "claim/answer/resolve" in _texts(card)


def test_breached_and_me_name_the_missing_public_answer(now: datetime) -> None:
    ctx = RenderContext(NAMES, now + timedelta(hours=2))
    claimed = make_case(
        now, respond_due=now + timedelta(hours=1), state=CaseState.CLAIMED,
        first_claimed_at=now + timedelta(minutes=5), claimed_by=ANA,
        resolve_due=now + timedelta(hours=8),
    )  # fmt: skip
    assert "public answer overdue since" in _texts(breached_card([claimed], ctx))
    waiting = replace(
        claimed, waiting_since=now + timedelta(minutes=40),
        first_response=FirstResponse(now + timedelta(minutes=40), "@northwind",
                                     ResponseVia.THREAD),
    )  # fmt: skip
    found = SlaAnswer(SlaQuery("me"), NAMES, ctx.now, "last 7 days", holding=[waiting])
    assert "waiting on customer since" in _texts(answer_card(found, ANA, ctx))
