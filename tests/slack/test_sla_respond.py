"""/sla through the real app and the fake Slack: the first public response beside claim and
resolve, an unanswered case in the breached list, and a case waiting on the customer."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from integrations.slack.payload import ActionId
from tests.slack.conftest import SlackWorld
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.records import CaseState


def answer_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks") or body.get("text"), ensure_ascii=False)


async def test_sla_reports_the_first_public_answer(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    await world.click(ActionId.CLAIM, case.id, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.CLAIMED)
    assert case.respond_due is not None
    # Claimed but not answered in public, past the respond due time: breached now.
    world.clock.now = case.respond_due + (case.respond_due - case.ingested_at) / 10
    _, body = await world.sla("breached")
    text = answer_text(body)
    assert f"#{case.id}" in text and "public answer overdue since" in text
    _, body = await world.sla("me", user="U0ANA")
    assert ":rotating_light: public answer overdue since" in answer_text(body)

    # The brand answered in the thread; the customer has not replied: waiting on them.
    stored = world.case(case.id)
    at = case.ingested_at + (case.respond_due - case.ingested_at) / 2
    answer = FirstResponse(at, "@northwind", ResponseVia.THREAD, "https://x.example/status/9")
    waiting = replace(stored, version=stored.version + 1, first_response=answer, waiting_since=at)
    await asyncio.to_thread(world.runtime.store.save_case, waiting, stored.version)
    _, body = await world.sla("breached")
    assert "No active case is overdue" in answer_text(body)
    _, body = await world.sla("me", user="U0ANA")
    assert "waiting on customer since" in answer_text(body)
    assert "public answer median" in answer_text(body)
    _, body = await world.sla("shipping 30d")
    text = answer_text(body)
    assert "answer" in text and "claim/answer/resolve" in text
    header, row = json.loads(text)[1]["text"]["text"].strip("`").splitlines()[:2]
    columns = header.split()
    cells = row.split()
    assert columns[7:9] == ["answer", "in"]
    # Answered in half the respond target, which is within it: 100% (one of one).
    assert cells[-4] == "100%"
