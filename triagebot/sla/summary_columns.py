"""The SLA summary of many cases at once, computed on numpy columns of their ``SlaFacts``.

``triagebot.sla.summary`` hands a report of many cases (``COLUMNS_FROM``, e.g. a month of a
busy brand) to this module, where the measures and groupings run as numpy array operations;
below that, importing numpy would cost more than it saves. The figures are the same, float for
float: the statistics are ``triagebot.sla``'s (``percentile`` on each group's sorted values,
``GroupStats``), instants are integer microseconds, a span of business time is the difference
of two offsets from one calendar table (as ``BusinessCalendar.elapsed`` computes it), and
seconds are ``µs / 10**6`` in float64, the same float that ``timedelta.total_seconds`` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from triagebot.cases.facts import SlaFacts, to_us
from triagebot.cases.records import ACTIVE_STATES, CaseState
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.figures import GroupStats, Summary, TargetStats, percentile
from triagebot.sla.summary import people_column

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
#: Values of one measure per case, and the positions that sort them.
Ranked = tuple[Floats, Ints]

_ACTIVE = [s.value for s in ACTIVE_STATES]
_RESOLVED = CaseState.RESOLVED.value
_SPAM = CaseState.SPAM.value


@dataclass
class _Columns:
    """Measures of every case, one array position per case."""

    ingested: Ints
    state: Ints  # index into ``states``
    states: list[str]
    spam: Bools
    lag: Ranked
    claimed: Bools  # has a time to claim
    claim: tuple[Ranked, Ranked]  # (business, wall) seconds where ``claimed``
    claim_met: Bools
    claim_breached: Bools
    resolved: Bools
    resolve: tuple[Ranked, Ranked]
    resolve_met: Bools
    resolve_breached: Bools
    responded: Bools  # has a first public response (spam left out)
    respond: tuple[Ranked, Ranked]
    respond_met: Bools
    respond_breached: Bools


#: The column that says a case has a time for the target.
_DONE = {"claim": "claimed", "resolve": "resolved", "respond": "responded"}


def _seconds(us: Ints) -> Ranked:
    values = np.where(us > 0, us / 1_000_000, 0.0)
    return values, np.argsort(values, kind="stable")


def _codes(values: Sequence[str | None]) -> tuple[Ints, list[str]]:
    """Group index of each value (-1 for None) and the group names."""
    names = sorted({v for v in set(values) if v is not None})
    index: dict[str | None, int] = {name: n for n, name in enumerate(names)}
    index[None] = -1
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, names


def _optional(values: Sequence[int | None]) -> tuple[Bools, Ints]:
    floats = np.array(values, dtype=np.float64)  # None becomes NaN; µs are exact below 2**53
    present = ~np.isnan(floats)
    return present, np.where(present, floats, 0).astype(np.int64)


def _lookup(begin: Ints, end: Ints, total: Ints, at: Ints) -> Ints:
    """Business µs from the table's origin to each instant (``BusinessCalendar.intervals_us``)."""
    i = np.searchsorted(begin, at, side="right") - 1
    j = np.maximum(i, 0)
    found: Ints = np.where(i < 0, 0, total[j] - np.maximum(0, end[j] - at))
    return found


def _table(calendar: BusinessCalendar, instants: list[Ints]) -> tuple[Ints, Ints, Ints] | None:
    """One calendar table covering every instant given, as arrays (None: nothing to cover)."""
    every = np.concatenate(instants)
    if not every.size:
        return None
    starts, ends, totals = calendar.intervals_us(int(every.min()), int(every.max()))
    if not starts:
        return None
    begin, end, total = (np.array(x, dtype=np.int64) for x in (starts, ends, totals))
    return begin, end, total


def _business(
    departments: Ints, names: list[str], instants: list[Ints], calendar_for: Callable[[str], Any]
) -> list[Ints]:
    """Business µs from one origin per department, for each array of instants."""
    result = [np.zeros_like(a) for a in instants]
    for code, name in enumerate(names):
        mine = departments == code
        chosen = [a[mine] for a in instants]
        table = _table(calendar_for(name), chosen)
        if table is None:
            continue
        for out, at in zip(result, chosen, strict=True):
            out[mine] = _lookup(*table, at)
    return result


def _late_after_wait(
    departments: Ints,
    names: list[str],
    times: tuple[Ints, Ints, Ints],
    rows: Bools,
    calendar_for: Callable[[str], Any],
) -> Bools:
    """``end > resumed_resolve_due(calendar, due, since, end)`` for each of ``rows``, with
    ``times`` = (due, since, end): the resolve due time pushed by the business time waited.

    With ``B`` the business µs of an instant and ``w = B(end) - B(since)`` (0 if negative),
    the pushed due time is ``due`` when ``w`` is 0, else the first instant whose ``B`` is
    ``B(due) + w`` (``BusinessCalendar.add``); ``end`` can pass it only when that is at most
    ``B(end)``, so the table covering the three instants suffices."""
    due, since, end = times
    late = np.zeros(len(rows), dtype=np.bool_)
    for code, name in enumerate(names):
        mine = rows & (departments == code)
        if not mine.any():
            continue
        d, s, e = due[mine], since[mine], end[mine]
        table = _table(calendar_for(name), [d, s, e])
        if table is None:
            late[mine] = e > d
            continue
        begin, close, total = table
        at_end = _lookup(begin, close, total, e)
        waited = np.maximum(0, at_end - _lookup(begin, close, total, s))
        target = _lookup(begin, close, total, d) + waited
        reach = (waited > 0) & (target <= at_end)
        k = np.minimum(np.searchsorted(total, target, side="left"), len(total) - 1)
        pushed = close[k] - (total[k] - target)
        late[mine] = np.where(waited == 0, e > d, reach & (e > pushed))
    return late


def _columns(
    columns: list[tuple[Any, ...]],
    departments: tuple[Ints, list[str]],
    calendar_for: Callable[[str], Any],
    now: int,
) -> _Columns:
    _, states, _, _, _, _, ingested, posted, claims, resolves = columns[:10]
    claim_due, resolve_due, respond_due, responses, waits = columns[10:]
    state, names = _codes(states)
    spam = state == (names.index(_SPAM) if _SPAM in names else -2)
    active = np.isin(state, [names.index(s) for s in _ACTIVE if s in names])
    is_resolved = state == (names.index(_RESOLVED) if _RESOLVED in names else -2)
    ing = np.array(ingested, dtype=np.int64)
    claimed, claim_at = _optional(claims)
    claimed &= ~spam
    resolved, resolve_at = _optional(resolves)
    resolved &= is_resolved
    responded, respond_at = _optional(responses)
    responded &= ~spam
    # Missing instants are looked up as the ingest: the calendar table spans only real ones.
    instants = [
        ing,
        np.where(claimed, claim_at, ing),
        np.where(resolved, resolve_at, ing),
        np.where(responded, respond_at, ing),
    ]
    start_b, claim_b, resolve_b, respond_b = _business(*departments, instants, calendar_for)
    claim_due_at = np.array(claim_due, dtype=np.int64)
    past_claim_due = active & (now > claim_due_at)
    late = _resolve_late(
        departments,
        (active, resolved, spam),
        np.array(resolve_due, dtype=np.int64),
        (resolve_at, _optional(waits), now),
        calendar_for,
    )
    judged, respond_due_at = _optional(respond_due)
    judged &= ~spam
    unanswered_late = np.where(
        resolved, resolve_at > respond_due_at, active & (now > respond_due_at)
    )
    return _Columns(
        ingested=ing,
        state=state,
        states=names,
        spam=spam,
        lag=_seconds(ing - np.array(posted, dtype=np.int64)),
        claimed=claimed,
        claim=(_seconds(claim_b - start_b), _seconds(claim_at - ing)),
        claim_met=claimed & (claim_at <= claim_due_at),
        claim_breached=(claimed & (claim_at > claim_due_at)) | (~claimed & ~spam & past_claim_due),
        resolved=resolved,
        resolve=(_seconds(resolve_b - start_b), _seconds(resolve_at - ing)),
        resolve_met=resolved & ~late,
        resolve_breached=late,
        responded=responded,
        respond=(_seconds(respond_b - start_b), _seconds(respond_at - ing)),
        respond_met=judged & responded & (respond_at <= respond_due_at),
        respond_breached=judged & np.where(responded, respond_at > respond_due_at, unanswered_late),
    )


def _resolve_late(
    departments: tuple[Ints, list[str]],
    kinds: tuple[Bools, Bools, Bools],
    due: Ints,
    times: tuple[Ints, tuple[Bools, Ints], int],
    calendar_for: Callable[[str], Any],
) -> Bools:
    """Resolved after the resolve due time, or active past it (spam never); the due time of
    a case waiting on the customer (or resolved while waiting) is pushed by the wait."""
    active, resolved, spam = kinds
    resolve_at, (has_wait, since), now = times
    end = np.where(resolved, resolve_at, now)
    judged = (active | resolved) & ~spam
    late: Bools = judged & (end > due)
    paused = judged & has_wait
    if paused.any():
        pushed = _late_after_wait(*departments, (due, since, end), paused, calendar_for)
        late = np.where(paused, pushed, late)
    return late


def _percentiles(
    codes: Ints, measure: Ranked, where: Bools, size: int
) -> list[tuple[int, float | None, float | None]]:
    """(count, median, p90) of a measure per group, over the positions ``where``."""
    values, ranked = measure
    chosen = ranked[where[ranked]]  # positions in the order of their values
    keys = codes[chosen]
    if size < 2**15:  # numpy sorts 16-bit integers stably by radix, in linear time
        keys = keys.astype(np.int16)
    order = np.argsort(keys, kind="stable")  # by group, values stay sorted
    group, value = codes[chosen][order], values[chosen][order]
    wanted = np.arange(size)
    low = np.searchsorted(group, wanted, side="left")
    high = np.searchsorted(group, wanted, side="right")
    result = []
    for a, b in zip(low.tolist(), high.tolist(), strict=True):
        chunk = value[a:b]
        result.append((b - a, percentile(chunk, 0.5), percentile(chunk, 0.9)))
    return result


def _count(codes: Ints, where: Bools, size: int) -> list[int]:
    counts: list[int] = np.bincount(codes[where], minlength=size).tolist()
    return counts


def _target(codes: Ints, where: Bools, size: int, c: _Columns, target: str) -> list[TargetStats]:
    has = where & getattr(c, _DONE[target])
    business, wall = getattr(c, target)
    met, breached = getattr(c, f"{target}_met"), getattr(c, f"{target}_breached")
    return [
        TargetStats(n, mb, pb, mw, pw, m, b)
        for (n, mb, pb), (_, mw, pw), m, b in zip(
            _percentiles(codes, business, has, size),
            _percentiles(codes, wall, has, size),
            _count(codes, where & met, size),
            _count(codes, where & breached, size),
            strict=True,
        )
    ]


def _groups(codes: Ints, names: list[str], inside: Bools, c: _Columns) -> dict[str, GroupStats]:
    """Stats of each group that has cases inside the window, by name."""
    size = len(names)
    where = inside & (codes >= 0)
    counts = _count(codes, where, size)
    states = np.bincount(
        codes[where] * len(c.states) + c.state[where], minlength=size * len(c.states)
    ).reshape(size, len(c.states))
    spam = _count(codes, where & c.spam, size)
    timed = where & ~c.spam
    lags = _percentiles(codes, c.lag, timed, size)
    claims = _target(codes, timed, size, c, "claim")
    resolves = _target(codes, timed, size, c, "resolve")
    responds = _target(codes, timed, size, c, "respond")
    result: dict[str, GroupStats] = {}
    for j in sorted(range(size), key=names.__getitem__):
        if not counts[j]:
            continue
        stats = GroupStats(
            count=counts[j], spam=spam[j], claim=claims[j], resolve=resolves[j],
            respond=responds[j],
        )  # fmt: skip
        for s, n in zip(c.states, states[j].tolist(), strict=True):
            if n:
                stats.by_state[s] = n
        stats.source_lag_median, stats.source_lag_p90 = lags[j][1], lags[j][2]
        result[names[j]] = stats
    return result


def summaries(
    rows: list[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    windows: Sequence[tuple[datetime, datetime]],
    person_of: Callable[[str], str] | None = None,
) -> list[Summary]:
    """``summarize_windows`` of ``rows``."""
    # Column by column (zip(*rows) would allocate an iterator per row).
    columns = [tuple(map(itemgetter(k), rows)) for k in range(len(SlaFacts._fields))]
    if person_of is not None:
        at = SlaFacts._fields.index("person")
        columns[at] = people_column(columns[at], person_of)
    dimensions = {
        key: _codes(columns[SlaFacts._fields.index(key)])
        for key in ("department", "person", "source", "priority")
    }
    c = _columns(columns, dimensions["department"], calendar_for, to_us(now))
    everything = np.zeros(len(rows), dtype=np.int64)
    result = []
    for since, until in windows:
        inside = (c.ingested >= to_us(since)) & (c.ingested < to_us(until))
        found = {
            key: _groups(codes, names, inside, c) for key, (codes, names) in dimensions.items()
        }
        total = _groups(everything, ["all"], inside, c).get("all") or GroupStats()
        result.append(
            Summary(
                since=since,
                until=until,
                total=total,
                by_department=found["department"],
                by_person=found["person"],
                by_source=found["source"],
                by_priority=found["priority"],
            )
        )
    return result
