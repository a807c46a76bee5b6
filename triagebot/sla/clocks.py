"""SLA targets and measures: due times, progress and breaches.

The three clocks of a case (claim, first public response, resolve) run from the moment it was
ingested and are counted in the business hours of the department that holds it. A target is
*met* when the claim (or the first public response, or the resolve) happened at or before its
due time and *breached* when it happened later, or when an active case is still waiting after
its due time; spam cases are never breached. A case closed past its respond due time without a
public answer stays breached (it was active and unanswered past the due time); one closed
before it without an answer is neither met nor breached. Cases ingested before the respond
target existed have no ``respond_due``: they are not judged on it (their time to first response
is still measured).

While the case waits on the customer (``Case.waiting_since``: the brand answered, the customer
has not replied) the resolve clock pauses: the resolve due time is pushed later by the business
time spent waiting (``resumed_resolve_due``), and a case resolved while waiting is judged
against the pushed due time. Percentiles interpolate linearly between the closest ranks (the
same as ``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from triagebot.cases.records import ACTIVE_STATES, Case, CaseState
from triagebot.durations import Span
from triagebot.sla.calendar import BusinessCalendar

_ACTIVE = frozenset(s.value for s in ACTIVE_STATES)
_RESOLVED = CaseState.RESOLVED.value
_SPAM = CaseState.SPAM.value
_FOUR_HOURS = Span(seconds=4 * 3600)
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one priority: claim, answer in public and resolve within these amounts of
    business time."""

    claim_within: Span
    resolve_within: Span
    reminder_at: float = 0.75
    respond_within: Span = _FOUR_HOURS


def due_times(
    policy: SlaPolicy, calendar: BusinessCalendar, start: datetime
) -> tuple[datetime, datetime]:
    """(claim_due, resolve_due), both counted in business time from ``start``."""
    return calendar.add(start, policy.claim_within), calendar.add(start, policy.resolve_within)


def respond_due_time(policy: SlaPolicy, calendar: BusinessCalendar, start: datetime) -> datetime:
    """When the first public response is due, counted in business time from ``start``."""
    return calendar.add(start, policy.respond_within)


def resumed_resolve_due(
    calendar: BusinessCalendar, resolve_due: datetime, waiting_since: datetime, now: datetime
) -> datetime:
    """``resolve_due`` pushed later by the business time spent waiting on the customer from
    ``waiting_since`` to ``now`` (unchanged when no business time passed)."""
    waited = calendar.elapsed(waiting_since, now)
    return calendar.add(resolve_due, waited) if waited else resolve_due


def resolve_due_at(case: Case, calendar: BusinessCalendar, at: datetime) -> datetime:
    """The resolve due time a case is judged against at ``at``: pushed by the wait on the
    customer when there is one (``at`` is the resolve of a closed case, else now)."""
    if case.waiting_since is None:
        return case.resolve_due
    return resumed_resolve_due(calendar, case.resolve_due, case.waiting_since, at)


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


def time_to_respond(case: Case, calendar: BusinessCalendar, business: bool = True) -> float | None:
    """Seconds from ingest to the first public response; None if there is none (or spam)."""
    if case.first_response is None or case.state is CaseState.SPAM:
        return None
    return _span(calendar, case.ingested_at, case.first_response.at, business)


def respond_met(case: Case, now: datetime) -> bool | None:
    """True: answered in public by ``respond_due``; False: breached; None: undecided (not
    due yet, closed before its due time unanswered, spam, or a case without the target)."""
    due = case.respond_due
    if due is None or case.state is CaseState.SPAM:
        return None
    if case.first_response is not None:
        return case.first_response.at <= due
    if case.is_active:
        return False if now > due else None
    if case.state is CaseState.RESOLVED and case.resolved_at is not None:
        return False if case.resolved_at > due else None
    return None


def respond_breached(case: Case, now: datetime) -> bool:
    """Answered after respond_due, or unanswered past it (see ``respond_met``)."""
    return respond_met(case, now) is False


def claim_breached(case: Case, now: datetime) -> bool:
    """Claimed after claim_due, or still unclaimed and active after it."""
    if case.state is CaseState.SPAM:
        return False
    if case.first_claimed_at is not None:
        return case.first_claimed_at > case.claim_due
    return case.is_active and now > case.claim_due


def resolve_breached(case: Case, now: datetime, calendar: BusinessCalendar | None = None) -> bool:
    """Resolved after resolve_due, or still active after it. With the department's
    ``calendar``, the due time of a case waiting on the customer is pushed by the wait
    (``resolve_due_at``); without one, such a case is late only if it was when the wait began."""
    if case.state is CaseState.SPAM:
        return False
    if case.state is CaseState.RESOLVED and case.resolved_at is not None:
        return case.resolved_at > _judged_due(case, calendar, case.resolved_at)
    return case.is_active and now > _judged_due(case, calendar, now)


def _judged_due(case: Case, calendar: BusinessCalendar | None, at: datetime) -> datetime:
    if case.waiting_since is None:
        return case.resolve_due
    if calendar is None:  # late only if it was late when the wait began
        return case.resolve_due if case.resolve_due < case.waiting_since else _NEVER
    return resolve_due_at(case, calendar, at)
