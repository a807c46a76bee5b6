"""SLA targets and measures: due times, progress, breaches and the period summary.

Both clocks of a case run from the moment it was ingested and are counted in the business hours
of the department that holds it. A target is *met* when the claim (or resolve) happened at or
before its due time and *breached* when it happened later, or when an active case is still
waiting after its due time; spam cases are never breached. Percentiles interpolate linearly
between the closest ranks (the same as ``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from triagebot.calendar import BusinessCalendar
from triagebot.case_facts import SlaFacts, sla_facts, to_us
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


def percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks of sorted values; None for no values."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


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


class _Measures(NamedTuple):
    state: str
    spam: bool
    lag: float
    claim: tuple[float, float] | None  # (business, wall) seconds
    resolve: tuple[float, float] | None
    claim_met: bool | None  # None: undecided
    resolve_met: bool | None


def _stats(items: list[_Measures]) -> GroupStats:
    result = GroupStats(count=len(items))
    for state, count in Counter(m.state for m in items).items():
        result.by_state[state] = count
    timed = [m for m in items if not m.spam]
    result.spam = len(items) - len(timed)
    lags = sorted(m.lag for m in timed)
    result.source_lag_median = percentile(lags, 0.5)
    result.source_lag_p90 = percentile(lags, 0.9)
    _target(result.claim, [m.claim for m in timed if m.claim], [m.claim_met for m in timed])
    _target(result.resolve, [m.resolve for m in timed if m.resolve], [m.resolve_met for m in timed])
    return result


def _target(target: TargetStats, values: list[tuple[float, float]], met: list[bool | None]) -> None:
    target.met = met.count(True)
    target.breaches = met.count(False)
    target.n = len(values)
    business = sorted(v[0] for v in values)
    wall = sorted(v[1] for v in values)
    target.median_business = percentile(business, 0.5)
    target.p90_business = percentile(business, 0.9)
    target.median_wall = percentile(wall, 0.5)
    target.p90_wall = percentile(wall, 0.9)


def _met(active: bool, now: int, done: int | None, due: int) -> bool | None:
    """True met, False breached, None undecided (µs instants)."""
    if done is not None:
        return done <= due
    if active and now > due:
        return False
    return None


def _seconds(us: int) -> float:
    """Seconds of a µs span, never negative (what ``timedelta.total_seconds`` gives)."""
    return us / 1_000_000 if us > 0 else 0.0


def _measure_department(
    facts: list[SlaFacts], calendar: BusinessCalendar, now: int
) -> list[_Measures]:
    """Measures of one department's cases: one calendar lookup per instant, integer µs."""
    instants: list[int] = []
    for f in facts:
        start = f.ingested_us
        claimed = f.first_claimed_us
        resolved = f.resolved_us if f.state == _RESOLVED else None
        instants += (
            start,
            start if claimed is None else claimed,
            start if resolved is None else resolved,
        )
    business = calendar.offsets_us(instants)
    result = []
    for n, f in enumerate(facts):
        lag = _seconds(f.ingested_us - f.posted_us)
        if f.state == _SPAM:
            result.append(_Measures(f.state, True, lag, None, None, None, None))
            continue
        start, claimed, resolved = business[3 * n : 3 * n + 3]
        claim = resolve = None
        if f.first_claimed_us is not None:
            claim = (_seconds(claimed - start), _seconds(f.first_claimed_us - f.ingested_us))
        resolved_us = f.resolved_us if f.state == _RESOLVED else None
        if resolved_us is not None:
            resolve = (_seconds(resolved - start), _seconds(resolved_us - f.ingested_us))
        active = f.state in _ACTIVE
        result.append(
            _Measures(
                f.state,
                False,
                lag,
                claim,
                resolve,
                _met(active, now, f.first_claimed_us, f.claim_due_us),
                _met(active, now, resolved_us, f.resolve_due_us),
            )
        )
    return result


def _measure_all(
    facts: list[SlaFacts], calendar_for: Callable[[str], BusinessCalendar], now: datetime
) -> list[_Measures]:
    """The measures of each case, in the order given; business time in its department's hours."""
    at = to_us(now)
    by_department: dict[str, list[int]] = {}
    for n, f in enumerate(facts):
        by_department.setdefault(f.department, []).append(n)
    measures: list[_Measures | None] = [None] * len(facts)
    for department, indexes in by_department.items():
        found = _measure_department([facts[n] for n in indexes], calendar_for(department), at)
        for n, m in zip(indexes, found, strict=True):
            measures[n] = m
    return [m for m in measures if m is not None]


def _summary(
    measured: list[tuple[SlaFacts, _Measures]], since: datetime, until: datetime
) -> Summary:
    low, high = to_us(since), to_us(until)
    total: list[_Measures] = []
    departments: dict[str, list[_Measures]] = {}
    people: dict[str, list[_Measures]] = {}
    sources: dict[str, list[_Measures]] = {}
    priorities: dict[str, list[_Measures]] = {}
    for f, measures in measured:
        if not low <= f.ingested_us < high:
            continue
        total.append(measures)
        departments.setdefault(f.department, []).append(measures)
        sources.setdefault(f.source, []).append(measures)
        priorities.setdefault(f.priority, []).append(measures)
        if f.person is not None:
            people.setdefault(f.person, []).append(measures)

    def table(groups: dict[str, list[_Measures]]) -> dict[str, GroupStats]:
        return {key: _stats(groups[key]) for key in sorted(groups)}

    return Summary(
        since=since,
        until=until,
        total=_stats(total),
        by_department=table(departments),
        by_person=table(people),
        by_source=table(sources),
        by_priority=table(priorities),
    )


def summarize_windows(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    windows: Sequence[tuple[datetime, datetime]],
) -> list[Summary]:
    """One summary per ``(since, until)`` window, measuring each case once.

    A window holds the cases ingested in ``since <= ingested_at < until``; business times use
    the calendar of each case's current department.
    """
    bounds = [(to_us(since), to_us(until)) for since, until in windows]
    wanted = [f for f in facts if any(low <= f.ingested_us < high for low, high in bounds)]
    calendars: dict[str, BusinessCalendar] = {}

    def calendar(department: str) -> BusinessCalendar:
        found = calendars.get(department)
        if found is None:
            found = calendars[department] = calendar_for(department)
        return found

    measured = list(zip(wanted, _measure_all(wanted, calendar, now), strict=True))
    return [_summary(measured, since, until) for since, until in windows]


def summarize_facts(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
) -> Summary:
    """SLA figures for the cases (as ``SlaFacts``) ingested in ``since <= ingested_at < until``."""
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
