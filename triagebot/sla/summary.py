"""The SLA summary of many cases at once, computed from their ``SlaFacts`` in plain Python.

A report over a month of a busy brand covers ~10,000-100,000 cases in five groupings (total,
department, person, source, priority) and up to three windows. Each case is measured once:
its business times are looked up (by bisection) in one table of open intervals per calendar,
as ``BusinessCalendar.elapsed`` computes them; then each group of each window collects the
values of its cases, sorted once per measure for the percentiles (``percentile`` on the sorted
values, ``GroupStats``). Nothing is approximated: instants are integer microseconds, a span of
business time is the difference of two offsets from one calendar table, and seconds are
``µs / 10**6``, the same float that ``timedelta.total_seconds`` gives. No numpy: importing it
costs a report of a month (~10,000 cases) more than the whole computation. From
``COLUMNS_FROM`` cases on, the numpy columns of ``summary_columns`` are faster and used; they
give the same figures.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from triagebot.cases.facts import SlaFacts, gc_paused, to_us
from triagebot.cases.records import ACTIVE_STATES, CaseState
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.figures import GroupStats, Summary, TargetStats, percentile

_ACTIVE = frozenset(s.value for s in ACTIVE_STATES)
_RESOLVED = CaseState.RESOLVED.value
_SPAM = CaseState.SPAM.value
#: The value of a measure a case does not have: sorted after every real one.
_MISSING = math.inf
#: From this many cases on, the summary runs on numpy columns (``summary_columns``): 2.5x as
#: fast, which repays numpy's import (~50 ms) from about 12,000 cases.
COLUMNS_FROM = 15_000
#: Open intervals of a calendar (starts, ends, running open totals at each end).
Table = tuple[list[int], list[int], list[int]]
#: The targets, in the order of a case's outcome flags (met, breached for each).
_TARGETS = ("claim", "resolve", "respond")
#: The groupings of each window, and the facts field they group by (None: every case).
_DIMENSIONS = (
    ("department", "department"),
    ("person", "person"),
    ("source", "source"),
    ("priority", "priority"),
    ("total", None),
)


def _seconds(us: int) -> float:
    return us / 1_000_000 if us > 0 else 0.0


def _table(calendar: BusinessCalendar, instants: Sequence[int]) -> Table | None:
    """One calendar table covering every instant given (None: nothing to cover)."""
    if not instants:
        return None
    starts, ends, totals = calendar.intervals_us(min(instants), max(instants))
    if not starts:
        return None
    return starts, ends, totals


def _at(table: Table, t: int) -> int:
    """Business µs from the table's origin to ``t`` (``BusinessCalendar.intervals_us``)."""
    begin, end, total = table
    i = bisect_right(begin, t) - 1
    return 0 if i < 0 else total[i] - max(0, end[i] - t)


class _Measures:
    """What each case contributes, one list position per case (cases in the order of their
    ingest): the values of the seven measures (``_MISSING`` where the case has none) and a
    code of its state and target outcomes."""

    def __init__(self, size: int) -> None:
        self.ingested: list[int] = [0] * size
        #: source lag, then (business, wall) seconds of claim, resolve and respond
        self.values: list[list[float]] = [[_MISSING] * size for _ in range(7)]
        #: index into ``outcomes``: (state, spam, then met and breached of each target)
        self.outcome: list[int] = [0] * size
        self.outcomes: list[tuple[Any, ...]] = []


def _measure(
    rows: Sequence[SlaFacts], calendar_for: Callable[[str], BusinessCalendar], now: int
) -> _Measures:
    size = len(rows)
    m = _Measures(size)
    lag, _, claim_wall, _, resolve_wall, _, respond_wall = m.values
    partial: list[tuple[Any, ...]] = [()] * size  # the outcome but the resolve target's
    # Instants of each case: ingested, claimed, resolved, responded (the ingest where none).
    instants: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * size
    by_department: dict[str, list[int]] = {}
    waiting: dict[str, list[int]] = {}  # cases whose resolve due time a wait may push
    late = [False] * size
    resolved_at = [False] * size
    for n, row in enumerate(rows):
        (_, state, department, _, _, _, ing, posted, claim_at, resolve_at, claim_due,
         resolve_due, respond_due, respond_at, waiting_since) = row  # fmt: skip
        spam = state == _SPAM
        active = state in _ACTIVE
        claimed = claim_at is not None and not spam
        resolved = resolve_at is not None and state == _RESOLVED
        responded = respond_at is not None and not spam
        claim_at = claim_at or 0
        resolve_at = resolve_at or 0
        respond_at = respond_at or 0
        m.ingested[n] = ing
        resolved_at[n] = resolved
        instants[n] = (
            ing,
            claim_at if claimed else ing,
            resolve_at if resolved else ing,
            respond_at if responded else ing,
        )
        by_department.setdefault(department, []).append(n)
        # resolve: late at the end (resolved, or now), unless a wait pushed the due time
        judged = (active or resolved) and not spam
        late[n] = judged and (resolve_at if resolved else now) > resolve_due
        if judged and waiting_since is not None:
            waiting.setdefault(department, []).append(n)
        if spam:
            partial[n] = (state, True, False, False, False, False)
            continue
        lag[n] = _seconds(ing - posted)
        if claimed:
            claim_wall[n] = _seconds(claim_at - ing)
        if resolved:
            resolve_wall[n] = _seconds(resolve_at - ing)
        if responded:
            respond_wall[n] = _seconds(respond_at - ing)
        if respond_due is None:
            respond_met = respond_breached = False
        elif responded:
            respond_met, respond_breached = respond_at <= respond_due, respond_at > respond_due
        else:
            respond_met = False
            respond_breached = (
                resolve_at > respond_due if resolved else active and now > respond_due
            )
        partial[n] = (
            state,
            False,
            claimed and claim_at <= claim_due,
            claim_at > claim_due if claimed else active and now > claim_due,
            respond_met,
            respond_breached,
        )
    for department, positions in waiting.items():
        _late_after_wait(rows, positions, calendar_for(department), late, now)
    for department, positions in by_department.items():
        _business(m, positions, instants, partial, calendar_for(department))
    _code_outcomes(m, partial, resolved_at, late)
    return m


def _code_outcomes(
    m: _Measures, partial: list[tuple[Any, ...]], resolved: list[bool], late: list[bool]
) -> None:
    """Each case's outcome with the resolve target's (met: resolved and not late) as a code:
    a group counts its outcomes by code, which few cases do not share."""
    codes: dict[tuple[Any, ...], int] = {}
    for n, (state, spam, *outcome) in enumerate(partial):
        key = (state, spam, *outcome[:2], resolved[n] and not late[n], late[n], *outcome[2:])
        code = codes.get(key)
        if code is None:
            code = codes[key] = len(m.outcomes)
            m.outcomes.append(key)
        m.outcome[n] = code


def _business(
    m: _Measures,
    positions: list[int],
    instants: list[tuple[int, int, int, int]],
    partial: list[tuple[Any, ...]],
    calendar: BusinessCalendar,
) -> None:
    """Business seconds to claim, resolve and respond of the cases at ``positions`` (one
    department's), from one table covering all their instants."""
    table = _table(calendar, [t for p in positions for t in instants[p]])
    begin, end, total = table or ([], [], [])

    def at(t: int) -> int:  # _at, without a table when there is none
        i = bisect_right(begin, t) - 1
        return 0 if i < 0 else total[i] - max(0, end[i] - t)

    _, claim, claim_wall, resolve, resolve_wall, respond, respond_wall = m.values
    for p in positions:
        if partial[p][1]:  # spam
            continue
        ing, claimed, resolved, responded = instants[p]
        start = at(ing)
        if claim_wall[p] != _MISSING:
            claim[p] = _seconds(at(claimed) - start)
        if resolve_wall[p] != _MISSING:
            resolve[p] = _seconds(at(resolved) - start)
        if respond_wall[p] != _MISSING:
            respond[p] = _seconds(at(responded) - start)


def _late_after_wait(
    rows: Sequence[SlaFacts],
    positions: list[int],
    calendar: BusinessCalendar,
    late: list[bool],
    now: int,
) -> None:
    """``end > resumed_resolve_due(calendar, due, since, end)`` for each case at
    ``positions``: the resolve due time pushed by the business time waited.

    With ``B`` the business µs of an instant and ``w = B(end) - B(since)`` (0 if negative),
    the pushed due time is ``due`` when ``w`` is 0, else the first instant whose ``B`` is
    ``B(due) + w`` (``BusinessCalendar.add``); ``end`` can pass it only when that is at most
    ``B(end)``, so the table covering the three instants suffices."""
    times = []
    for p in positions:
        r = rows[p]
        resolved = r.resolved_us is not None and r.state == _RESOLVED
        end = (r.resolved_us or 0) if resolved else now
        times.append((r.resolve_due_us, r.waiting_since_us or 0, end))
    table = _table(calendar, [t for three in times for t in three])
    for p, (due, since, end) in zip(positions, times, strict=True):
        if table is None:
            late[p] = end > due
            continue
        _, close, total = table
        at_end = _at(table, end)
        waited = max(0, at_end - _at(table, since))
        if waited == 0:
            late[p] = end > due
            continue
        target = _at(table, due) + waited
        k = min(bisect_left(total, target), len(total) - 1)
        pushed = close[k] - (total[k] - target)
        late[p] = target <= at_end and end > pushed


def _stats(members: list[int], m: _Measures) -> GroupStats:
    """The figures of the cases at ``members`` (positions in ``m``)."""
    stats = GroupStats(count=len(members))
    counts = [0] * 6
    for code, times in Counter(map(m.outcome.__getitem__, members)).items():
        state, spam, *outcome = m.outcomes[code]
        stats.by_state[state] = stats.by_state.get(state, 0) + times
        if spam:
            stats.spam += times
            continue
        for j, flag in enumerate(outcome):
            if flag:
                counts[j] += times
    ranked = []
    for values in m.values:
        chosen = sorted(map(values.__getitem__, members))
        del chosen[bisect_left(chosen, _MISSING) :]
        ranked.append((len(chosen), percentile(chosen, 0.5), percentile(chosen, 0.9)))
    stats.source_lag_median, stats.source_lag_p90 = ranked[0][1], ranked[0][2]
    for j, target in enumerate(_TARGETS):
        (n, business_median, business_p90), (_, wall_median, wall_p90) = ranked[
            1 + 2 * j : 3 + 2 * j
        ]
        setattr(stats, target, TargetStats(
            n, business_median, business_p90, wall_median, wall_p90, counts[2 * j],
            counts[2 * j + 1],
        ))  # fmt: skip
    return stats


def summarize_windows(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    windows: Sequence[tuple[datetime, datetime]],
    person_of: Callable[[str], str] | None = None,
) -> list[Summary]:
    """One summary per ``(since, until)`` window of the cases ingested in it, measuring each
    case once; business times use the calendar of each case's current department.
    ``person_of`` names the row a case's person (a qualified identity) counts in, so that one
    person's identities on several surfaces make one row."""
    rows = list(facts)
    with gc_paused():
        if len(rows) >= COLUMNS_FROM:
            from triagebot.sla.summary_columns import summaries  # noqa: PLC0415 (numpy)

            return summaries(rows, calendar_for, now, windows, person_of)
        return _summaries(rows, calendar_for, now, windows, person_of)


def people_column(column: tuple[Any, ...], person_of: Callable[[str], str]) -> tuple[Any, ...]:
    """The row each case's person counts in (``person_of`` asked once per identity)."""
    rows: dict[str, str] = {}
    for who in set(column):
        if who is not None:
            rows[who] = person_of(who)
    return tuple(None if who is None else rows[who] for who in column)


def _summaries(
    rows: list[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    windows: Sequence[tuple[datetime, datetime]],
    person_of: Callable[[str], str] | None = None,
) -> list[Summary]:
    rows.sort(key=itemgetter(SlaFacts._fields.index("ingested_us")))  # a window is a slice
    m = _measure(rows, calendar_for, to_us(now))
    # Each grouping's groups: the positions of their cases, in the order of the ingest.
    groupings: dict[str, dict[str, list[int]]] = {}
    for name, field in _DIMENSIONS:
        if field is None:
            continue
        column: Iterable[Any] = map(itemgetter(SlaFacts._fields.index(field)), rows)
        if field == "person" and person_of is not None:
            column = people_column(tuple(column), person_of)
        groups: dict[str, list[int]] = {}
        for n, key in enumerate(column):
            if key is not None:
                groups.setdefault(key, []).append(n)
        groupings[name] = {key: groups[key] for key in sorted(groups)}
    result = []
    for since, until in windows:
        start = bisect_left(m.ingested, to_us(since))
        stop = max(start, bisect_left(m.ingested, to_us(until)))
        found: dict[str, dict[str, GroupStats]] = {}
        for name, groups in groupings.items():
            found[name] = {}
            for key, positions in groups.items():
                members = positions[bisect_left(positions, start) : bisect_left(positions, stop)]
                if members:
                    found[name][key] = _stats(members, m)
        inside = list(range(start, stop))
        result.append(
            Summary(
                since=since,
                until=until,
                total=_stats(inside, m) if inside else GroupStats(),
                by_department=found["department"],
                by_person=found["person"],
                by_source=found["source"],
                by_priority=found["priority"],
            )
        )
    return result
