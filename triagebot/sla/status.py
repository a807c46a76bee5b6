"""Where a case stands against its SLA clocks, in the words every surface shows.

Surfaces differ only in how they write a time and an alarm (a Slack date token and emoji
code, a Teams date function and emoji, plain text), so they pass those in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from triagebot.cases.records import Case, CaseState
from triagebot.durations import format_seconds
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import resolve_breached
from triagebot.sla.figures import GroupStats, TargetStats

#: How a target is named where its state is shown.
TARGET_WORDS = {"claim": "claim", "respond": "public answer", "resolve": "resolve"}


def overdue(
    case: Case, now: datetime, calendar: BusinessCalendar | None = None
) -> tuple[str, datetime] | None:
    """Which running target of an active case is past due ("claim", "respond" or "resolve"),
    and when it was due; the earliest when several are. The resolve target of a case waiting
    on the customer is paused (with the department's ``calendar``, judged against the due
    time pushed by the wait; without one, late only if it was when the wait began)."""
    if not case.is_active:
        return None
    late: list[tuple[datetime, str]] = []
    if case.first_claimed_at is None and now > case.claim_due:
        late.append((case.claim_due, "claim"))
    if case.respond_due is not None and case.first_response is None and now > case.respond_due:
        late.append((case.respond_due, "respond"))
    if resolve_breached(case, now, calendar):
        late.append((case.resolve_due, "resolve"))
    if not late:
        return None
    due, target = min(late)
    return target, due


def status_text(
    case: Case,
    now: datetime,
    when: Callable[[datetime], str],
    alarm: str,
    calendar: BusinessCalendar | None = None,
) -> str:
    """ "claim by <when>", "<alarm> resolve overdue since <when>", "waiting on customer since
    <when> (resolve clock paused)", … ("" when nothing to say)."""
    if case.state.is_closed:
        late = case.state is CaseState.RESOLVED and resolve_breached(case, now, calendar)
        return "resolved after the due time" if late else ""
    late_target = overdue(case, now, calendar)
    if late_target is not None:
        target, due = late_target
        return f"{alarm} {TARGET_WORDS[target]} overdue since {when(due)}"
    if case.first_claimed_at is None:
        return f"claim by {when(case.claim_due)}"
    if case.respond_due is not None and case.first_response is None:
        return f"answer in public by {when(case.respond_due)}"
    if case.waiting_since is not None:
        return f"waiting on customer since {when(case.waiting_since)} (resolve clock paused)"
    return f"resolve by {when(case.resolve_due)}"


def time_text(seconds: float | None) -> str:
    """A duration in figures ("-" when there is none)."""
    return "-" if seconds is None else format_seconds(seconds)


def share_text(target: TargetStats) -> str:
    """The share within SLA as a percentage ("-" when nothing was decided)."""
    return "-" if target.within_sla is None else f"{target.within_sla:.0%}"


def person_figures(stats: GroupStats | None) -> str:
    """One person's figures over a period, as the ``sla me`` answers show them."""
    if stats is None:
        return "No case claimed in this period."
    return (
        f"{stats.count} case(s) · {stats.by_state['resolved']} resolved · claim median "
        f"{time_text(stats.claim.median_business)} ({share_text(stats.claim)} in SLA) · public "
        f"answer median {time_text(stats.respond.median_business)} "
        f"({share_text(stats.respond)} in SLA) · resolve "
        f"median {time_text(stats.resolve.median_business)} ({share_text(stats.resolve)} in SLA)"
    )
