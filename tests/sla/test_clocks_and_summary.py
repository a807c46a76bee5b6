from __future__ import annotations

import json
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import Assignment, Author, Case, CaseState, Mention, Priority
from triagebot.durations import Span, parse_span
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import (
    SlaPolicy,
    claim_breached,
    department_time,
    due_times,
    progress,
    resolve_breached,
    respond_breached,
    respond_due_time,
    respond_met,
    resumed_resolve_due,
    source_lag,
    time_to_claim,
    time_to_resolve,
    time_to_respond,
)
from triagebot.sla.figures import percentile
from triagebot.sla.period import summarize

H = timedelta(hours=1)
M = timedelta(minutes=1)
OFFICE = BusinessCalendar("UTC", "Mon-Fri 09:00-17:00")
ALWAYS = BusinessCalendar("UTC", "24/7")
SPLIT = BusinessCalendar("UTC", "Mon-Fri 09:00-12:00,13:00-17:30")
POLICIES = {
    Priority.P1: SlaPolicy(Span(seconds=900), Span(seconds=4 * 3600)),
    Priority.P2: SlaPolicy(Span(seconds=3600), Span(days=1)),
    Priority.P3: SlaPolicy(Span(seconds=4 * 3600), Span(days=3)),
}
CALENDARS = {"support": OFFICE, "billing": ALWAYS}


def mon(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """Monday 2026-05-04 at hour:minute (UTC), plus ``days``."""
    return datetime(2026, 5, 4, hour, minute, tzinfo=UTC) + timedelta(days=days)


def make_case(
    case_id: str,
    *,
    department: str = "support",
    priority: Priority = Priority.P2,
    ingested: datetime,
    source: str = "reddit",
    lag: timedelta = timedelta(0),
    state: CaseState = CaseState.OPEN,
    **changes: Any,
) -> Case:
    calendar = CALENDARS[department]
    claim_due, resolve_due = due_times(POLICIES[priority], calendar, ingested)
    respond_due = respond_due_time(POLICIES[priority], calendar, ingested)
    mention = Mention(
        id=f"{source}:{case_id}",
        source=source,
        kind="post",
        url=f"https://example.com/{case_id}",
        author=Author("someone"),
        text="hello",
        created_at=ingested - lag,
    )
    case = Case(
        id=case_id,
        mention=mention,
        department=department,
        priority=priority,
        state=state,
        ingested_at=ingested,
        claim_due=claim_due,
        resolve_due=resolve_due,
        respond_due=respond_due,
        assignments=(Assignment(department, ingested),),
    )
    return replace(case, **changes)


def answered(at: datetime, via: ResponseVia = ResponseVia.THREAD) -> FirstResponse:
    return FirstResponse(at, "@northwind", via, "https://example.com/answer")


# -- due times and progress ----------------------------------------------------------------


def test_due_times_per_priority() -> None:
    start = mon(16)
    assert due_times(POLICIES[Priority.P1], OFFICE, start) == (mon(16, 15), mon(12, days=1))
    assert due_times(POLICIES[Priority.P2], OFFICE, start) == (mon(17), mon(16, days=1))
    assert due_times(POLICIES[Priority.P3], OFFICE, start) == (mon(12, days=1), mon(16, days=3))
    assert due_times(POLICIES[Priority.P2], ALWAYS, start) == (mon(17), mon(16, days=1))


def test_one_day_in_a_split_shift_calendar_is_seven_and_a_half_hours() -> None:
    policy = SlaPolicy(parse_span("2h"), parse_span("1d"))
    claim_due, resolve_due = due_times(policy, SPLIT, mon(11))
    assert claim_due == mon(14)  # 11-12 and 13-14, the lunch break does not count
    assert resolve_due == mon(11, days=1)
    assert SPLIT.elapsed(mon(11), resolve_due) == 7.5 * H


def test_progress() -> None:
    start, due = mon(9), mon(17)
    assert progress(OFFICE, start, due, mon(13)) == 0.5
    assert progress(OFFICE, start, due, mon(20)) == 1.0
    assert progress(OFFICE, start, due, mon(9, days=1)) == 1.0
    assert progress(OFFICE, start, due, mon(10, days=1)) == 1.125
    assert progress(OFFICE, start, due, mon(8)) == 0.0
    assert progress(OFFICE, start, start, mon(8)) == 0.0
    assert progress(OFFICE, start, start, start) == 1.0
    assert progress(OFFICE, mon(17), mon(18), mon(19)) == 1.0  # due in closed hours


# -- per-case measures ---------------------------------------------------------------------


def test_department_time_across_a_reassignment() -> None:
    case = make_case(
        "1",
        ingested=mon(9),
        assignments=(
            Assignment("support", mon(9), mon(10)),
            Assignment("billing", mon(10), mon(12)),
            Assignment("support", mon(12)),
        ),
    )
    assert department_time(case, mon(15)) == {"support": 4 * H, "billing": 2 * H}
    resolved = replace(case, state=CaseState.RESOLVED, resolved_at=mon(13))
    assert department_time(resolved, mon(15)) == {"support": 2 * H, "billing": 2 * H}
    bare = replace(case, assignments=())
    assert department_time(bare, mon(10)) == {"support": H}


def test_per_case_measures() -> None:
    case = make_case(
        "1",
        ingested=mon(16),
        lag=timedelta(seconds=90),
        state=CaseState.RESOLVED,
        first_claimed_at=mon(9, 30, days=1),
        claimed_by=Identity("cli", "bob"),
        resolved_at=mon(15, days=1),
        resolved_by=Identity("cli", "bob"),
    )
    assert source_lag(case) == 90.0
    assert source_lag(make_case("2", ingested=mon(9), lag=-M)) == 0.0
    assert time_to_claim(case, OFFICE, business=True) == 5400.0
    assert time_to_claim(case, OFFICE, business=False) == 17.5 * 3600
    assert time_to_resolve(case, OFFICE, business=True) == 7 * 3600
    assert time_to_resolve(case, OFFICE, business=False) == 23 * 3600
    assert claim_breached(case, mon(12, days=3))
    assert not resolve_breached(case, mon(12, days=3))
    unclaimed = make_case("3", ingested=mon(9))
    assert time_to_claim(unclaimed, OFFICE) is None
    assert time_to_resolve(unclaimed, OFFICE) is None


def test_breaches() -> None:
    case = make_case("1", ingested=mon(9))  # P2: claim due 10:00, resolve due Tue 09:00+8h
    assert not claim_breached(case, mon(10))
    assert claim_breached(case, mon(10, 1))
    assert not resolve_breached(case, mon(17))
    assert resolve_breached(case, mon(17, 1))
    on_time = replace(case, state=CaseState.CLAIMED, first_claimed_at=mon(10))
    assert not claim_breached(on_time, mon(12, days=5))
    late = replace(case, state=CaseState.CLAIMED, first_claimed_at=mon(10, 1))
    assert claim_breached(late, mon(10, 2))
    spam = replace(case, state=CaseState.SPAM, resolved_at=mon(18, days=1))
    assert not claim_breached(spam, mon(12, days=5))
    assert not resolve_breached(spam, mon(12, days=5))
    assert time_to_resolve(spam, OFFICE) is None
    resolved_late = replace(late, state=CaseState.RESOLVED, resolved_at=mon(17, 1))
    assert resolve_breached(resolved_late, mon(17, 2))


def test_respond_target_met_breached_or_undecided() -> None:
    # P2 in the office: respond within 4 business hours of Monday 15:00 -> Tuesday 11:00.
    case = make_case("1", ingested=mon(15))
    assert case.respond_due == mon(11, days=1)
    assert respond_met(case, mon(11, days=1)) is None  # not due yet
    assert respond_breached(case, mon(11, 1, days=1))  # active, unanswered, past due
    claimed = replace(case, state=CaseState.CLAIMED, first_claimed_at=mon(15, 5))
    assert respond_breached(claimed, mon(12, days=1))  # a claim is not an answer
    on_time = replace(claimed, first_response=answered(mon(11, days=1)))
    assert respond_met(on_time, mon(12, days=3)) is True
    assert time_to_respond(on_time, OFFICE) == 4 * 3600
    assert time_to_respond(on_time, OFFICE, business=False) == 20 * 3600
    late = replace(claimed, first_response=answered(mon(11, 1, days=1), ResponseVia.REPLY))
    assert respond_breached(late, mon(11, 2, days=1))
    # Closed unanswered: breached if it was open past the due time, else undecided.
    closed = replace(claimed, state=CaseState.RESOLVED, resolved_at=mon(16))
    assert respond_met(closed, mon(12, days=5)) is None
    closed_late = replace(closed, resolved_at=mon(12, days=1))
    assert respond_breached(closed_late, mon(12, days=5))
    spam = replace(case, state=CaseState.SPAM, resolved_at=mon(15))
    assert not respond_breached(spam, mon(12, days=5))
    assert time_to_respond(replace(spam, first_response=answered(mon(16))), OFFICE) is None
    # A case ingested before the target: not judged, its answer still timed.
    older = replace(on_time, respond_due=None)
    assert respond_met(older, mon(12, days=5)) is None
    assert time_to_respond(older, OFFICE) == 4 * 3600


def test_the_resolve_clock_pauses_while_waiting_on_the_customer() -> None:
    # P2 from Monday 15:00: resolve within one business day (8 h) -> Tuesday 15:00.
    case = make_case("1", ingested=mon(15), state=CaseState.CLAIMED, first_claimed_at=mon(15, 5))
    assert case.resolve_due == mon(15, days=1)
    waiting = replace(case, waiting_since=mon(16), first_response=answered(mon(16)))
    # Monday 16-17 and Tuesday 09-11 are three business hours of waiting: due Wednesday 10:00.
    pushed = resumed_resolve_due(OFFICE, case.resolve_due, mon(16), mon(11, days=1))
    assert pushed == mon(10, days=2)
    # No business time waited (overnight): the due time stays as it was.
    assert resumed_resolve_due(OFFICE, case.resolve_due, mon(18), mon(8, days=1)) == (
        case.resolve_due
    )
    assert resolve_breached(case, mon(15, 1, days=1))
    assert not resolve_breached(waiting, mon(15, 1, days=1), OFFICE)
    assert not resolve_breached(waiting, mon(12, days=4), OFFICE)  # still waiting, paused
    # Without a calendar a waiting case is late only if it was when the wait began.
    assert not resolve_breached(waiting, mon(12, days=4))
    assert resolve_breached(replace(waiting, waiting_since=mon(9, days=2)), mon(12, days=4))
    # Resolved while waiting: judged against the due time pushed until the resolve.
    resolved = replace(waiting, state=CaseState.RESOLVED, resolved_at=mon(9, 30, days=2))
    assert not resolve_breached(resolved, mon(12, days=5), OFFICE)
    assert resolve_breached(replace(resolved, waiting_since=None), mon(12, days=5), OFFICE)
    # A wait that began after the due time does not undo the breach.
    late_wait = replace(waiting, waiting_since=mon(10, days=2))
    assert resolve_breached(late_wait, mon(12, days=3), OFFICE)


def test_percentile_matches_statistics_inclusive() -> None:
    values = [3.0, 1.0, 10.0, 7.0, 2.5]
    ordered = sorted(values)
    assert percentile(ordered, 0.5) == statistics.median(values)
    assert percentile(ordered, 0.9) == statistics.quantiles(values, n=10, method="inclusive")[8]
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([], 0.5) is None


# -- summary -------------------------------------------------------------------------------

NOW = mon(12, days=2)  # Wednesday noon
SINCE, UNTIL = mon(0), mon(0, days=7)


def sample_cases() -> list[Case]:
    return [
        make_case(
            "c1",
            priority=Priority.P1,
            ingested=mon(9),
            lag=timedelta(seconds=60),
            state=CaseState.RESOLVED,
            claimed_by=Identity("cli", "alice"),
            first_claimed_at=mon(9, 10),
            resolved_by=Identity("cli", "alice"),
            resolved_at=mon(12),
        ),
        make_case(
            "c2",
            ingested=mon(16),
            source="x",
            lag=timedelta(seconds=120),
            state=CaseState.RESOLVED,
            claimed_by=Identity("cli", "bob"),
            first_claimed_at=mon(9, 30, days=1),
            resolved_by=Identity("cli", "bob"),
            resolved_at=mon(15, days=1),
        ),
        make_case("c3", ingested=mon(10), lag=timedelta(seconds=30)),
        make_case(
            "c4",
            department="billing",
            priority=Priority.P3,
            ingested=mon(10),
            lag=timedelta(seconds=600),
            state=CaseState.CLAIMED,
            claimed_by=Identity("cli", "alice"),
            first_claimed_at=mon(11),
        ),
        make_case(
            "c5",
            ingested=mon(11),
            source="x",
            lag=timedelta(seconds=5),
            state=CaseState.SPAM,
            resolved_by=Identity("cli", "carol"),
            resolved_at=mon(11, 5),
        ),
        make_case("c6", ingested=mon(12, days=-3)),  # before the period
        make_case("c7", priority=Priority.P3, ingested=mon(11, days=2), lag=-M),
    ]


def summary_of(cases: list[Case]) -> Any:
    return summarize(cases, CALENDARS.__getitem__, NOW, SINCE, UNTIL)


def test_summary_totals() -> None:
    total = summary_of(sample_cases()).total
    assert total.count == 6
    assert total.spam == 1
    assert total.by_state == {"new": 0, "open": 2, "claimed": 1, "resolved": 2, "spam": 1}
    assert total.source_lag_median == 60.0
    assert total.source_lag_p90 == pytest.approx(408.0)
    claim = total.claim
    assert claim.n == 3
    assert (claim.median_business, claim.p90_business) == (3600.0, pytest.approx(5040.0))
    assert (claim.median_wall, claim.p90_wall) == (3600.0, pytest.approx(51120.0))
    assert (claim.met, claim.breaches, claim.within_sla) == (2, 2, 0.5)
    resolve = total.resolve
    assert resolve.n == 2
    assert (resolve.median_business, resolve.p90_business) == (18000.0, pytest.approx(23760.0))
    assert (resolve.median_wall, resolve.p90_wall) == (46800.0, pytest.approx(75600.0))
    assert (resolve.met, resolve.breaches) == (2, 1)
    assert resolve.within_sla == pytest.approx(2 / 3)


def test_summary_groups() -> None:
    summary = summary_of(sample_cases())
    assert list(summary.by_department) == ["billing", "support"]
    assert summary.by_department["support"].count == 5
    assert summary.by_department["billing"].claim.median_business == 3600.0
    assert list(summary.by_person) == ["cli:alice", "cli:bob"]  # carol only marked spam
    alice = summary.by_person["cli:alice"]
    assert (alice.count, alice.claim.n, alice.claim.median_business) == (2, 2, 2100.0)
    assert alice.claim.within_sla == 1.0
    assert alice.resolve.n == 1
    assert summary.by_person["cli:bob"].claim.breaches == 1
    assert {k: v.count for k, v in summary.by_source.items()} == {"reddit": 4, "x": 2}
    assert summary.by_source["x"].spam == 1
    assert summary.by_source["x"].claim.n == 1
    assert {k: v.count for k, v in summary.by_priority.items()} == {"P1": 1, "P2": 3, "P3": 2}
    assert summary.by_priority["P3"].resolve.decided == 0
    assert summary.by_priority["P3"].resolve.within_sla is None


def test_summary_person_falls_back_to_resolver() -> None:
    case = make_case(
        "r",
        ingested=mon(9),
        state=CaseState.RESOLVED,
        first_claimed_at=mon(9, 5),
        resolved_by=Identity("cli", "dana"),
        resolved_at=mon(9, 30),
    )
    assert list(summary_of([case]).by_person) == ["cli:dana"]


def test_spam_is_excluded_from_timing() -> None:
    spam = make_case(
        "s",
        ingested=mon(9),
        state=CaseState.SPAM,
        claimed_by=Identity("cli", "alice"),
        first_claimed_at=mon(9, 1),
        resolved_at=mon(9, 2),
    )
    total = summary_of([spam]).total
    assert (total.count, total.spam, total.claim.n, total.resolve.n) == (1, 1, 0, 0)
    assert total.claim.decided == 0
    assert total.source_lag_median is None


def test_empty_input() -> None:
    summary = summary_of([])
    assert summary.total.count == 0
    assert summary.total.claim.median_business is None
    assert summary.total.claim.within_sla is None
    assert summary.by_department == summary.by_person == {}
    data = summary.to_dict()
    assert data["total"]["claim"]["p90_wall"] is None
    json.dumps(data)


def test_to_dict_is_json_ready_and_rounded() -> None:
    data = summary_of(sample_cases()).to_dict()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert data["since"] == "2026-05-04T00:00:00+00:00"
    assert data["total"]["claim"]["p90_business"] == 5040.0
    assert data["total"]["resolve"]["within_sla"] == 0.6667
    assert data["by_priority"]["P1"]["resolve"]["median_wall"] == 10800.0
    assert set(data) == {
        "since",
        "until",
        "total",
        "by_department",
        "by_person",
        "by_source",
        "by_priority",
    }


def test_summary_measures_equal_the_per_case_functions() -> None:
    """Each case alone: the summary's figures are exactly what the per-case functions give,
    with answers before and after the respond due time and waits on the customer that begin
    and end in and out of business hours."""
    import random  # noqa: PLC0415

    rng = random.Random(2)
    for n in range(600):
        department = rng.choice(["support", "billing"])
        calendar = CALENDARS[department]
        ingested = mon(0, days=rng.randint(-2, 4)) + timedelta(microseconds=rng.randint(0, 10**11))
        claimed = ingested + timedelta(microseconds=rng.randint(-(10**9), 10**11))
        done = claimed + timedelta(microseconds=rng.randint(0, 10**11))
        state = rng.choice([CaseState.OPEN, CaseState.CLAIMED, CaseState.RESOLVED, CaseState.SPAM])
        answer = ingested + timedelta(microseconds=rng.randint(-(10**9), 10**11))
        wait = answer + timedelta(microseconds=rng.randint(0, 10**11))
        if n % 7 == 0:  # a wait that begins at the resolve due time (a close, often)
            wait = make_case("w", department=department, ingested=ingested).resolve_due
        case = make_case(
            f"r{n}",
            department=department,
            priority=rng.choice(list(Priority)),
            ingested=ingested,
            lag=timedelta(microseconds=rng.randint(-(10**6), 10**10)),
            state=state,
            first_claimed_at=claimed if state is not CaseState.OPEN or n % 2 else None,
            resolved_at=done if state.is_closed else None,
            first_response=answered(answer) if n % 3 else None,
            waiting_since=wait if n % 3 and n % 4 else None,
        )
        if n % 11 == 0:
            case = replace(case, respond_due=None)
        now = ingested + timedelta(days=rng.randint(0, 6), microseconds=rng.randint(0, 10**10))
        total = summarize(
            [case], CALENDARS.__getitem__, now, SINCE - timedelta(days=9), UNTIL
        ).total
        assert total.count == 1
        if state is CaseState.SPAM:
            assert total.breaches == 0 and total.respond.n == 0
            continue
        assert total.source_lag_median == source_lag(case)
        claim, resolve, respond = total.claim, total.resolve, total.respond
        assert claim.median_business == time_to_claim(case, calendar)
        assert claim.median_wall == time_to_claim(case, calendar, business=False)
        assert resolve.median_business == time_to_resolve(case, calendar)
        assert resolve.median_wall == time_to_resolve(case, calendar, business=False)
        assert respond.median_business == time_to_respond(case, calendar)
        assert respond.median_wall == time_to_respond(case, calendar, business=False)
        assert claim.breaches == claim_breached(case, now)
        assert resolve.breaches == resolve_breached(case, now, calendar), case
        assert resolve.met == (state is CaseState.RESOLVED and not resolve.breaches)
        decided = respond_met(case, now)
        assert (respond.met, respond.breaches) == (decided is True, decided is False), case
