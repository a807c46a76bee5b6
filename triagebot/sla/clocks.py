"""SLA targets and measures: due times, progress and breaches.

Both clocks of a case run from the moment it was ingested and are counted in the business hours
of the department that holds it. A target is *met* when the claim (or resolve) happened at or
before its due time and *breached* when it happened later, or when an active case is still
waiting after its due time; spam cases are never breached. Percentiles interpolate linearly
between the closest ranks (the same as ``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from triagebot.cases.records import ACTIVE_STATES, Case, CaseState
from triagebot.durations import Span
from triagebot.sla.calendar import BusinessCalendar

_ACTIVE = frozenset(s.value for s in ACTIVE_STATES)
_RESOLVED = CaseState.RESOLVED.value
_SPAM = CaseState.SPAM.value


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one priority: claim and resolve within these amounts of business time."""

    claim_within: Span
    resolve_within: Span
    reminder_at: float = 0.75


def due_times(
    policy: SlaPolicy, calendar: BusinessCalendar, start: datetime
) -> tuple[datetime, datetime]:
    """(claim_due, resolve_due), both counted in business time from ``start``."""
    return calendar.add(start, policy.claim_within), calendar.add(start, policy.resolve_within)


def progress(calendar: BusinessCalendar, start: datetime, due: datetime, now: datetime) -> float:
    """Share of the business time from ``start`` to ``due`` used by ``now`` (>= 1.0: breached)."""
    total = calendar.elapsed(start, due) if due > start else timedelta(0)
    if not total:
        return 1.0 if now >= due else 0.0
    return calendar.elapsed(start, now) / total


def department_time(case: Case, now: datetime) -> dict[str, timedelta]:
    """Wall time each department held the case; an open stretch runs until now (or the close).

    A case without assignments counts as held by its current department since ingest.
    """
    closed_at = case.resolved_at if case.state.is_closed else None
    stretches = case.assignments or ()
    result: dict[str, timedelta] = {}
    if not stretches:
        end = closed_at or now
        result[case.department] = max(timedelta(0), end - case.ingested_at)
        return result
    for stretch in stretches:
        end = stretch.until or closed_at or now
        held = max(timedelta(0), end - stretch.since)
        result[stretch.department] = result.get(stretch.department, timedelta(0)) + held
    return result


def source_lag(case: Case) -> float:
    """Seconds from the post to its ingest (never negative)."""
    return max(0.0, (case.ingested_at - case.mention.created_at).total_seconds())


def _span(calendar: BusinessCalendar, start: datetime, end: datetime, business: bool) -> float:
    if business:
        return calendar.elapsed(start, end).total_seconds()
    return max(0.0, (end - start).total_seconds())


def time_to_claim(case: Case, calendar: BusinessCalendar, business: bool = True) -> float | None:
    """Seconds from ingest to the first claim; None if never claimed."""
    if case.first_claimed_at is None:
        return None
    return _span(calendar, case.ingested_at, case.first_claimed_at, business)


def time_to_resolve(case: Case, calendar: BusinessCalendar, business: bool = True) -> float | None:
    """Seconds from ingest to the resolve; None unless the case is resolved (spam is not)."""
    if case.state is not CaseState.RESOLVED or case.resolved_at is None:
        return None
    return _span(calendar, case.ingested_at, case.resolved_at, business)


def claim_breached(case: Case, now: datetime) -> bool:
    """Claimed after claim_due, or still unclaimed and active after it."""
    if case.state is CaseState.SPAM:
        return False
    if case.first_claimed_at is not None:
        return case.first_claimed_at > case.claim_due
    return case.is_active and now > case.claim_due


def resolve_breached(case: Case, now: datetime) -> bool:
    """Resolved after resolve_due, or still active after it."""
    if case.state is CaseState.SPAM:
        return False
    if case.state is CaseState.RESOLVED and case.resolved_at is not None:
        return case.resolved_at > case.resolve_due
    return case.is_active and now > case.resolve_due
