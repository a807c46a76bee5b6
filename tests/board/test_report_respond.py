"""The board's report: the first public answer beside claim and resolve, and its chart panel."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

from tests.board.conftest import BoardWorld
from triagebot.cases.answers import FirstResponse, ResponseVia


async def test_report_shows_the_first_public_answer(demo: BoardWorld) -> None:
    answered = await demo.ingest("northwind my parcel never arrived")
    silent = await demo.ingest("northwind where is my refund")
    assert answered.respond_due is not None and silent.respond_due is not None
    at = answered.ingested_at + timedelta(minutes=20)
    stored = demo.runtime.store.get_case(answered.id)
    changed = replace(
        stored, version=stored.version + 1,
        first_response=FirstResponse(at, "@northwind", ResponseVia.THREAD), waiting_since=at,
    )  # fmt: skip
    await asyncio.to_thread(demo.runtime.store.save_case, changed, stored.version)
    demo.clock.now = silent.respond_due + timedelta(minutes=1)
    html = await demo.page("/report?since=30d")
    assert "Public answer within SLA" in html and "Answer med / p90" in html
    # One answered on time, one not answered past its due time: 50% (1 of 2).
    assert re.search(r"<dt>Public answer within SLA</dt><dd>50% \(1/2\)</dd>", html), html
    chart = await demo.client.get("/report/chart.png?since=30d")
    assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
