"""SLA targets and measures: due times, progress, breaches and the period summary.

Both clocks of a case run from the moment it was ingested and are counted in the business hours
of the department that holds it. A target is *met* when the claim (or resolve) happened at or
before its due time and *breached* when it happened later, or when an active case is still
waiting after its due time; spam cases are never breached. Percentiles interpolate linearly
between the closest ranks (the same as ``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from triagebot.calendar import BusinessCalendar
from triagebot.case_facts import SlaFacts, sla_facts
from triagebot.durations import Span
from triagebot.models import ACTIVE_STATES, Case, CaseState, iso

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


# -- summary ---------------------------------------------------------------------------------


class Ordered(Protocol):
    """Sorted numbers: a list, or a numpy array."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


def percentile(ordered: Ordered, q: float) -> float | None:
    """Linear interpolation between closest ranks of sorted values; None for no values."""
    if len(ordered) == 0:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return float(ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low))


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class TargetStats:
    """One target (claim or resolve) of a group: timings in seconds and the SLA outcome."""

    n: int = 0
    median_business: float | None = None
    p90_business: float | None = None
    median_wall: float | None = None
    p90_wall: float | None = None
    met: int = 0
    breaches: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.breaches

    @property
    def within_sla(self) -> float | None:
        """Share of decided cases that met the target; None when none is decided."""
        return self.met / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_business": _round(self.median_business),
            "p90_business": _round(self.p90_business),
            "median_wall": _round(self.median_wall),
            "p90_wall": _round(self.p90_wall),
            "within_sla": _round(self.within_sla, 4),
            "met": self.met,
            "breaches": self.breaches,
        }


@dataclass
class GroupStats:
    """Counts and timings of a group of cases; spam counts only in count/by_state/spam."""

    count: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in CaseState})
    spam: int = 0
    claim: TargetStats = field(default_factory=TargetStats)
    resolve: TargetStats = field(default_factory=TargetStats)
    source_lag_median: float | None = None
    source_lag_p90: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_state": dict(self.by_state),
            "spam": self.spam,
            "claim": self.claim.to_dict(),
            "resolve": self.resolve.to_dict(),
            "source_lag_median": _round(self.source_lag_median),
            "source_lag_p90": _round(self.source_lag_p90),
        }


@dataclass
class Summary:
    """SLA figures for cases ingested in ``since <= ingested_at < until``."""

    since: datetime
    until: datetime
    total: GroupStats
    by_department: dict[str, GroupStats]
    by_person: dict[str, GroupStats]
    by_source: dict[str, GroupStats]
    by_priority: dict[str, GroupStats]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; seconds rounded to 0.1."""

        def table(groups: dict[str, GroupStats]) -> dict[str, Any]:
            return {key: stats.to_dict() for key, stats in groups.items()}

        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "total": self.total.to_dict(),
            "by_department": table(self.by_department),
            "by_person": table(self.by_person),
            "by_source": table(self.by_source),
            "by_priority": table(self.by_priority),
        }


def summarize_facts(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
) -> Summary:
    """SLA figures for the cases (as ``SlaFacts``) ingested in ``since <= ingested_at < until``."""
    from triagebot.sla_summary import summarize_windows  # noqa: PLC0415 (loads numpy)

    return summarize_windows(facts, calendar_for, now, [(since, until)])[0]


def summarize(
    cases: Iterable[Case],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
) -> Summary:
    """SLA figures for the cases ingested in ``since <= ingested_at < until``.

    Business times use the calendar of each case's current department.
    """
    return summarize_facts(map(sla_facts, cases), calendar_for, now, since, until)
