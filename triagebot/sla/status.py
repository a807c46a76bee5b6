"""Where a case stands against its SLA clocks, in the words every surface shows.

Surfaces differ only in how they write a time and an alarm (a Slack date token and emoji
code, a Teams date function and emoji, plain text), so they pass those in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from triagebot.cases.records import Case, CaseState
from triagebot.durations import format_seconds
from triagebot.sla.figures import GroupStats, TargetStats


def overdue(case: Case, now: datetime) -> tuple[str, datetime] | None:
    """Which running target of an active case is past due ("claim" or "resolve"), and when."""
    if not case.is_active:
        return None
    if case.first_claimed_at is None and now > case.claim_due:
        return "claim", case.claim_due
    if now > case.resolve_due:
        return "resolve", case.resolve_due
    return None


def status_text(case: Case, now: datetime, when: Callable[[datetime], str], alarm: str) -> str:
    """ "claim by <when>", "<alarm> resolve overdue since <when>", … ("" when nothing to say)."""
    if case.state.is_closed:
        late = case.state is CaseState.RESOLVED and (case.resolved_at or now) > case.resolve_due
        return "resolved after the due time" if late else ""
    late_target = overdue(case, now)
    if late_target is not None:
        target, due = late_target
        return f"{alarm} {target} overdue since {when(due)}"
    if case.first_claimed_at is None:
        return f"claim by {when(case.claim_due)}"
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
        f"{time_text(stats.claim.median_business)} ({share_text(stats.claim)} in SLA) · resolve "
        f"median {time_text(stats.resolve.median_business)} ({share_text(stats.resolve)} in SLA)"
    )
