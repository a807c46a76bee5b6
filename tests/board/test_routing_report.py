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


async def test_report_names_the_routing_model_and_the_rules_it_overrules(
    demo: BoardWorld,
) -> None:
    from triagebot.routing.model.classifier import DepartmentModel  # noqa: PLC0415 (numpy)

    shipped = DepartmentModel.shipped()
    learned = DepartmentModel(
        shipped.head,
        None,
        None,
        "learned-20261205T000000Z-40",
        shipped.first_pass,
        overruled=("spam.deal_sites", "shipping.carrier_names"),
    )
    router = demo.runtime.router
    before = router.model
    try:
        router.use_model(None)
        html = await demo.page("/report?since=30d")
        assert "Routing model: off (rules only)." in html
        router.use_model(learned)
        html = await demo.page("/report?since=30d")
        assert (
            "Routing model: learned-20261205T000000Z-40. Shipped rules it overrules here, proved "
            "wrong by the team's corrections: shipping.carrier_names, spam.deal_sites."
        ) in html
    finally:
        router.use_model(before)
