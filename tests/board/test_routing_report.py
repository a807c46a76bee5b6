"""The board's report shows routing accuracy per week, measured from the team's corrections."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.board.conftest import BoardWorld
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Reassign


async def test_report_shows_routing_accuracy_per_week(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.ingest("northwind what a lovely day")
    target = "pr" if case.department != "pr" else "sales"
    command = Reassign(case.id, Identity("board", "ana"), "board", department=target)
    await asyncio.to_thread(
        execute, demo.runtime.store, demo.runtime.policy, command, demo.clock.now
    )
    html = await demo.page("/report?since=30d")
    assert "Routing accuracy per week" in html
    assert "2 cases ingested" in html
    assert "1 labels from the team (1 reassignments or spam marks)" in html
    today = demo.clock.now.date()
    monday = (today - timedelta(days=today.weekday())).isoformat()
    assert f'<th scope="row">{monday}</th><td>1</td><td>0%</td>' in html
