"""The suggested departments of a case waiting in triage on the board, over HTTP: one small
form each, a reassign through the board's buttons path; stale and forged presses refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from integrations.board.web import BoardOptions
from tests.board.conftest import BoardWorld, start_board
from tests.fakes.routing import unsure
from triagebot.cases.records import Case

UNSURE = {"billing": 0.41, "sales": 0.33, "shipping": 0.2, "none": 0.06}
TEXT = "@northwind well well well <b>look</b> at this"


def column(html: str, department: str) -> str:
    """The HTML of one department's column."""
    start = html.index(f'aria-labelledby="col-{department}"')
    end = html.find('<section class="column"', start)
    return html[start : end if end != -1 else len(html)]


async def unsure_case(world: BoardWorld) -> Case:
    unsure(world.runtime.router, **UNSURE)
    case = await world.ingest(TEXT)
    assert case.department == "triage"
    return case


async def test_a_triage_card_offers_its_suggestions(demo: BoardWorld) -> None:
    case = await unsure_case(demo)
    html = column(await demo.page(), "triage")
    buttons = re.findall(rf'<button type="submit" id="suggest-(\d)-{case.id}"[^>]*>([^<]*)<', html)
    assert buttons == [
        ("1", "Send to Billing &amp; Refunds · 41%"),
        ("2", "Send to Sales · 33%"),
    ]
    assert html.count('name="department" value="billing"') == 1
    assert 'name="department" value="sales"' in html
    assert "&lt;b&gt;look&lt;/b&gt;" in html and "<b>look</b>" not in html
    other = await demo.ingest("@northwind the fedex driver left my box in the rain")
    assert other.department != "triage"  # the rules claim it: no suggestions there
    page = await demo.page()
    assert f'id="suggest-1-{other.id}"' not in page


async def test_pressing_one_reassigns_and_the_card_moves(demo: BoardWorld) -> None:
    case = await unsure_case(demo)
    await demo.name("zoe")
    version = demo.runtime.store.get_case(case.id).version
    status, answer = await demo.act(case.id, "reassign", department="billing", version=str(version))
    assert status == 200 and answer["ok"], answer
    assert "reassigned from triage to billing by zoe" in answer["message"]
    html = await demo.page()
    assert f'id="case-{case.id}"' in column(html, "billing")
    assert f'id="case-{case.id}"' not in column(html, "triage")
    assert f'id="suggest-1-{case.id}"' not in html
    # The other suggestion, from the page as first drawn: refused, nothing moves.
    status, answer = await demo.act(case.id, "reassign", department="sales", version=str(version))
    assert status == 409 and "changed after the board was drawn" in answer["message"]
    assert demo.runtime.store.get_case(case.id).department == "billing"


async def test_a_department_that_does_not_exist_is_refused(demo: BoardWorld) -> None:
    case = await unsure_case(demo)
    await demo.name("zoe")
    version = str(demo.runtime.store.get_case(case.id).version)
    status, answer = await demo.act(case.id, "reassign", department="hr2", version=version)
    assert status == 409 and "hr2" in answer["message"]
    assert demo.runtime.store.get_case(case.id).department == "triage"


@pytest.fixture
async def read_only(tmp_path: Path, now: datetime) -> AsyncIterator[BoardWorld]:
    world, runtime = await start_board(tmp_path, now, BoardOptions(writable=False, demo=True))
    try:
        yield world
    finally:
        await world.client.close()
        runtime.close()


async def test_a_read_only_board_names_them_without_buttons(read_only: BoardWorld) -> None:
    case = await unsure_case(read_only)
    html = column(await read_only.page(), "triage")
    assert "the likeliest departments: Billing &amp; Refunds (41%), Sales (33%)" in html
    assert f'id="suggest-1-{case.id}"' not in html and "<form" not in html
