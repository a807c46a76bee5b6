"""Manager reporting beside the SLA summary: period comparison and the worst open cases.

``report`` summarises the period asked for and compares its last week (or the whole period,
when shorter) with the week before, reading the stored SLA facts once for all three;
``worst_open`` ranks the active cases by how much of their running target they have used, in
business time (over 100%: breached). Both print as tables for the terminal and give JSON-ready
data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from triagebot.cases.facts import SlaFacts
from triagebot.cases.records import ACTIVE_STATES, Case
from triagebot.config.people import People
from triagebot.durations import format_seconds
from triagebot.reports.text_table import Terminal, TextTable, one_line
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import progress, resumed_resolve_due
from triagebot.sla.figures import GroupStats, Summary
from triagebot.sla.summary import summarize_windows

if TYPE_CHECKING:
    from triagebot.config.case_rules import CaseRules
    from triagebot.store.base import Store

WORST = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The comparison window: this week against last week (or a shorter period against the one
#: before it).
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Report:
    """The period's summary, and its last window against the window before."""

    summary: Summary
    current: Summary
    previous: Summary


class CaseReading(Protocol):
    """What a report reads: the store, the configuration's rules and the clock (a ``Runtime``,
    or the store and cached rules of ``triagebot sla``)."""

    @property
    def store(self) -> Store: ...

    @property
    def rules(self) -> CaseRules: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


def report(runtime: CaseReading, period: timedelta, department: str | None = None) -> Report:
    """Summaries ending at the clock; one read of the store covers all three."""
    now = runtime.clock()
    end = now + timedelta(seconds=1)
    window = min(period, WEEK)
    earliest = now - max(period, 2 * window)
    facts = runtime.store.sla_facts(since=earliest, until=end, department=department)
    windows = [(now - period, end), (now - window, end), (now - 2 * window, now - window)]
    if window == period:
        del windows[1]
    rules = runtime.rules
    found = summarize_windows(facts, rules.calendar_for, now, windows, rules.people.group_key)
    summary, previous = found[0], found[-1]
    return Report(summary, found[1] if window != period else summary, previous)


@dataclass(frozen=True)
class OpenCase:
    """An active case and the share of its running target used (business time)."""

    case: Case
    target: str  # "claim", "respond" or "resolve"
    used: float
    due: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case.id,
            "department": self.case.department,
            "priority": self.case.priority.value,
            "state": self.case.state.value,
            "claimed_by": None if self.case.claimed_by is None else str(self.case.claimed_by),
            "target": self.target,
            "used": round(self.used, 4),
            "due": self.due.isoformat(),
            "url": self.case.mention.url,
        }


@dataclass(frozen=True)
class _Times:
    """What ranks an active case: its ingest and due times, and what already happened."""

    ingested: datetime
    claim_due: datetime
    resolve_due: datetime
    respond_due: datetime | None
    waiting_since: datetime | None
    claimed: bool
    responded: bool


def _running(calendar: BusinessCalendar, now: datetime, t: _Times) -> tuple[str, float, datetime]:
    """(target, share used, due) of the running target that used most of its time; the
    resolve clock of a case waiting on the customer stopped when the wait began (its due time
    is pushed by the wait so far)."""
    resolve = ("resolve", progress(calendar, t.ingested, t.resolve_due, now), t.resolve_due)
    if t.waiting_since is not None:
        paused = min(t.waiting_since, now)
        pushed = resumed_resolve_due(calendar, t.resolve_due, t.waiting_since, now)
        resolve = ("resolve", progress(calendar, t.ingested, t.resolve_due, paused), pushed)
    found = [resolve]
    if t.respond_due is not None and not t.responded:
        found.append(("respond", progress(calendar, t.ingested, t.respond_due, now), t.respond_due))
    if not t.claimed:
        found.append(("claim", progress(calendar, t.ingested, t.claim_due, now), t.claim_due))
    return max(reversed(found), key=lambda item: item[1])


def _at(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _times_of(case: Case) -> _Times:
    return _Times(
        case.ingested_at, case.claim_due, case.resolve_due, case.respond_due,
        case.waiting_since, case.first_claimed_at is not None, case.first_response is not None,
    )  # fmt: skip


def _times_of_facts(f: SlaFacts) -> _Times:
    return _Times(
        _EPOCH + timedelta(microseconds=f.ingested_us),
        _EPOCH + timedelta(microseconds=f.claim_due_us),
        _EPOCH + timedelta(microseconds=f.resolve_due_us),
        _at(f.respond_due_us),
        _at(f.waiting_since_us),
        f.first_claimed_us is not None,
        f.first_response_us is not None,
    )


def worst_open(
    cases: Iterable[Case],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    count: int = WORST,
) -> list[OpenCase]:
    """The ``count`` active cases that used the largest share of a running target."""
    ranked = [
        OpenCase(case, *_running(calendar_for(case.department), now, _times_of(case)))
        for case in cases
        if case.state in ACTIVE_STATES
    ]
    ranked.sort(key=lambda item: (-item.used, item.due, item.case.id))
    return ranked[:count]


def worst_open_facts(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    get_case: Callable[[str], Case],
    count: int = WORST,
) -> list[OpenCase]:
    """``worst_open`` ranked from the SLA facts; only the cases shown are read whole."""
    active = {s.value for s in ACTIVE_STATES}
    ranked = []
    for f in facts:
        if f.state in active:
            found = _running(calendar_for(f.department), now, _times_of_facts(f))
            ranked.append((found, f.id))
    ranked.sort(key=lambda item: (-item[0][1], item[0][2], item[1]))
    return [OpenCase(get_case(case_id), *found) for found, case_id in ranked[:count]]


# --- terminal -------------------------------------------------------------------------------
def _time(value: float | None) -> str:
    return "-" if value is None else format_seconds(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _change(now: float | None, then: float | None, kind: str) -> str:
    if now is None or then is None:
        return "-"
    if kind == "pct":
        return f"{(now - then) * 100:+.0f} pts"
    delta = now - then
    if kind == "time":
        return ("+" if delta >= 0 else "-") + format_seconds(abs(delta))
    return f"{delta:+.0f}"


def _metrics(stats: GroupStats) -> list[tuple[str, float | None, str]]:
    return [
        ("cases", float(stats.count), "count"),
        ("claim median", stats.claim.median_business, "time"),
        ("claim p90", stats.claim.p90_business, "time"),
        ("claim in SLA", stats.claim.within_sla, "pct"),
        ("public answer median", stats.respond.median_business, "time"),
        ("public answer p90", stats.respond.p90_business, "time"),
        ("public answer in SLA", stats.respond.within_sla, "pct"),
        ("resolve median", stats.resolve.median_business, "time"),
        ("resolve p90", stats.resolve.p90_business, "time"),
        ("resolve in SLA", stats.resolve.within_sla, "pct"),
        ("breaches", float(stats.breaches), "count"),
        ("source lag median", stats.source_lag_median, "time"),
    ]


def _show(value: float | None, kind: str) -> str:
    if kind == "time":
        return _time(value)
    if kind == "pct":
        return _pct(value)
    return "-" if value is None else f"{value:.0f}"


def comparison_table(current: Summary, previous: Summary) -> TextTable:
    length = format_seconds((current.until - current.since).total_seconds())
    table = TextTable(
        "measure", f"last {length}", f"{length} before", "change",
        title=f"the last {length} against the {length} before (business time; source lag is "
        "wall time)",
    )  # fmt: skip
    before = {name: value for name, value, _ in _metrics(previous.total)}
    for name, value, kind in _metrics(current.total):
        table.add_row(
            name, _show(value, kind), _show(before[name], kind), _change(value, before[name], kind)
        )
    return table


def worst_table(rows: list[OpenCase], now: datetime, people: People | None = None) -> TextTable:
    people = people or People()
    table = TextTable(
        "case", "department", "priority", "state", "held by", "target", "used", "due", "link",
        title=f"the {WORST} worst open cases",
    )  # fmt: skip
    for row in rows:
        case = row.case
        late = now - row.due
        due = (
            f"{format_seconds(late.total_seconds())} ago"
            if late > timedelta(0)
            else "in " + (format_seconds(-late.total_seconds()))
        )
        table.add_row(
            f"#{case.id}", case.department, case.priority.value, case.state.value,
            people.name_of(case.claimed_by) if case.claimed_by else "-", row.target,
            f"{row.used:.0%}", due,
            one_line(case.mention.url, 120),
        )  # fmt: skip
    return table


def print_extras(
    out: Terminal,
    current: Summary,
    previous: Summary,
    worst: list[OpenCase],
    now: datetime,
    *,
    people: People | None = None,
) -> None:
    """The comparison and the worst open cases, after the summary tables."""
    out.print()
    out.table(comparison_table(current, previous))
    out.print()
    if worst:
        out.table(worst_table(worst, now, people))
    else:
        out.print("no open cases")
