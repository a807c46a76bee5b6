"""The status line every surface shows: the respond target and the wait on the customer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.sla.test_clocks_and_summary import OFFICE, answered, make_case, mon
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case, CaseState
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.status import overdue, status_text

ANA = Identity("slack", "U0ANA")


def _when(at: datetime) -> str:
    return f"{at:%a %H:%M}"


def _status(case: Case, now: datetime, calendar: BusinessCalendar | None = None) -> str:
    return status_text(case, now, _when, "!", calendar)


def test_a_claimed_case_without_a_public_answer_says_when_it_is_due() -> None:
    # P2 from Monday 09:00: claim by 10:00, answer by 13:00, resolve by Monday 17:00.
    case = make_case("1", ingested=mon(9))
    assert _status(case, mon(9, 30)) == "claim by Mon 10:00"
    claimed = replace(case, state=CaseState.CLAIMED, claimed_by=ANA, first_claimed_at=mon(9, 20))
    assert _status(claimed, mon(11)) == "answer in public by Mon 13:00"
    assert _status(claimed, mon(13, 1)) == "! public answer overdue since Mon 13:00"
    assert overdue(claimed, mon(13, 1)) == ("respond", mon(13))
    # Unclaimed and unanswered: the earliest overdue target is named.
    assert overdue(case, mon(13, 1)) == ("claim", mon(10))
    done = replace(claimed, first_response=answered(mon(12)))
    assert _status(done, mon(12, 30)) == "resolve by Mon 17:00"
    assert overdue(replace(case, respond_due=None), mon(11)) == ("claim", mon(10))


def test_waiting_on_the_customer_is_shown_and_pauses_the_resolve_target() -> None:
    case = make_case("1", ingested=mon(9), state=CaseState.CLAIMED, first_claimed_at=mon(9, 5))
    waiting = replace(case, first_response=answered(mon(11)), waiting_since=mon(11))
    assert _status(waiting, mon(12)) == "waiting on customer since Mon 11:00 (resolve clock paused)"
    # Past the resolve due time, but the clock paused at 11:00 with six hours left.
    assert overdue(waiting, mon(17, 30), OFFICE) is None
    assert _status(waiting, mon(10, days=1), OFFICE).startswith("waiting on customer")
    assert overdue(replace(waiting, waiting_since=None), mon(17, 30)) == ("resolve", mon(17))
    resolved = replace(waiting, state=CaseState.RESOLVED, resolved_at=mon(10, days=1))
    assert _status(resolved, mon(11, days=1), OFFICE) == ""
    unpaused = replace(resolved, waiting_since=None)
    assert _status(unpaused, mon(11, days=1), OFFICE) == "resolved after the due time"
