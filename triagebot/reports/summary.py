"""The SLA report for the terminal: a period per department, person, source and priority."""

from __future__ import annotations

from datetime import timedelta

from triagebot.durations import format_seconds
from triagebot.reports.text_table import Terminal, TextTable
from triagebot.runtime.wiring import Runtime
from triagebot.sla.figures import GroupStats, Summary, TargetStats
from triagebot.sla.summary import summarize_windows


def summary_for(runtime: Runtime, period: timedelta, department: str | None = None) -> Summary:
    """Summarise the cases ingested during the last ``period`` (from the stored SLA facts)."""
    now = runtime.clock()
    since, until = now - period, now + timedelta(seconds=1)
    facts = runtime.store.sla_facts(since=since, until=until, department=department)
    settings = runtime.settings
    windows = [(since, until)]
    return summarize_windows(facts, settings.calendar_for, now, windows, settings.people.group_key)[
        0
    ]


def _time(value: float | None) -> str:
    return "-" if value is None else format_seconds(value)


def _share(target: TargetStats) -> str:
    share = target.within_sla
    if share is None:
        return "-"
    return f"{share:.0%} ({target.met}/{target.decided})"


def _row(name: str, stats: GroupStats) -> list[str]:
    states = stats.by_state
    return [
        name,
        str(stats.count),
        str(states["new"] + states["open"]),
        str(states["claimed"]),
        str(states["resolved"]),
        str(stats.spam),
        f"{_time(stats.claim.median_business)} / {_time(stats.claim.p90_business)}",
        _share(stats.claim),
        f"{_time(stats.respond.median_business)} / {_time(stats.respond.p90_business)}",
        _share(stats.respond),
        f"{_time(stats.resolve.median_business)} / {_time(stats.resolve.p90_business)}",
        _share(stats.resolve),
        str(stats.breaches),
        _time(stats.source_lag_median),
    ]


def _table(title: str, groups: dict[str, GroupStats], total: GroupStats | None) -> TextTable:
    table = TextTable(
        title, "cases", "waiting", "claimed", "resolved", "spam",
        "claim med/p90", "claim in SLA", "answer med/p90", "answer in SLA",
        "resolve med/p90", "resolve in SLA",
        "breaches", "source lag",
    )  # fmt: skip
    for name, stats in groups.items():
        table.add_row(*_row(name, stats))
    if total is not None and len(groups) > 1:
        table.add_row(*_row("all", total), bold=True)
    return table


def print_summary(out: Terminal, summary: Summary, label: str) -> None:
    """Print the summary as tables; times are business time, source lag is wall time."""
    out.print(
        f"{out.bold('SLA summary')}, {label} ({summary.since:%Y-%m-%d %H:%M} to "
        f"{summary.until:%Y-%m-%d %H:%M} UTC). Times in business hours, median / p90; "
        "answer: the first public response."
    )
    if summary.total.count == 0:
        out.print("no cases in this period")
        return
    out.table(_table("department", summary.by_department, summary.total))
    for title, groups in (
        ("priority", summary.by_priority),
        ("person", summary.by_person),
        ("source", summary.by_source),
    ):
        if groups:
            out.print()
            out.table(_table(title, groups, None))
