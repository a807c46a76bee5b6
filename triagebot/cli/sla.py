"""``triagebot sla [summary|export|chart]``: the SLA report, the per-case export and the chart."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from triagebot.cases.records import ACTIVE_STATES
from triagebot.cli.commands import quick_settings_for_command
from triagebot.config.case_rules import CaseRules
from triagebot.durations import format_seconds, parse_duration
from triagebot.errors import InputError
from triagebot.reports.comparison import print_extras, report, worst_open_facts
from triagebot.reports.summary import print_summary
from triagebot.reports.text_table import Terminal
from triagebot.runtime.deploy import open_configured_store
from triagebot.runtime.wiring import utcnow
from triagebot.sla.export import export_rows, write_export
from triagebot.store.base import Store

DEFAULT_CHART = "sla-chart.png"


def _period(args: argparse.Namespace) -> timedelta:
    try:
        return parse_duration(args.since)
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None


@dataclass
class _Reading:
    """The store, the configuration's rules (from the configuration cache) and the clock."""

    store: Store
    rules: CaseRules
    clock: Callable[[], datetime] = utcnow


def _check_department(rules: CaseRules, department: str | None) -> None:
    if department and not rules.has_department(department):
        known = ", ".join(rules.department_ids)
        raise InputError(f"--department: no department {department!r} (known: {known})")


def _summary(runtime: _Reading, args: argparse.Namespace, period: timedelta) -> int:
    result = report(runtime, period, args.department)
    active = runtime.store.sla_facts(states=ACTIVE_STATES, department=args.department)
    now = runtime.clock()
    worst = worst_open_facts(active, runtime.rules.calendar_for, now, runtime.store.get_case)
    if args.json:
        data = result.summary.to_dict() | {
            "comparison": {
                "current": result.current.to_dict(),
                "previous": result.previous.to_dict(),
            },
            "worst_open": [item.to_dict() for item in worst],
        }
        print(json.dumps(data, ensure_ascii=False))
        return 0
    out = Terminal(sys.stdout)
    print_summary(out, result.summary, f"last {format_seconds(period.total_seconds())}")
    people = runtime.rules.people
    print_extras(out, result.current, result.previous, worst, now, people=people)
    return 0


def _export(runtime: _Reading, args: argparse.Namespace, period: timedelta) -> int:
    now = runtime.clock()
    cases = runtime.store.list_cases(
        since=now - period, until=now + timedelta(seconds=1), department=args.department
    )
    cases.reverse()  # oldest first
    rules = runtime.rules
    rows = export_rows(cases, rules.calendar_for, now, rules.people.name_of)
    if args.output in (None, "-"):
        write_export(rows, args.format, sys.stdout)
        return 0
    path = Path(args.output)
    try:
        with path.open("w", encoding="utf-8", newline="") as stream:
            count = write_export(rows, args.format, stream)
    except OSError as exc:
        raise InputError(f"--output: cannot write {path}: {exc.strerror}") from None
    print(f"wrote {count} cases to {path}", file=sys.stderr)
    return 0


def _chart(runtime: _Reading, args: argparse.Namespace, period: timedelta) -> int:
    from triagebot.sla.chart import chart_data, render_chart  # noqa: PLC0415 (loads matplotlib)

    now = runtime.clock()
    until = now + timedelta(seconds=1)
    cases = runtime.store.list_cases(since=now - period, until=until, department=args.department)
    data = chart_data(cases, runtime.rules.calendar_for, now, now - period, until)
    title = f"SLA, {args.department}" if args.department else "SLA"
    path = Path(args.output or DEFAULT_CHART)
    try:
        path.write_bytes(render_chart(data, title))
    except OSError as exc:
        raise InputError(f"--output: cannot write {path}: {exc.strerror}") from None
    print(f"wrote the chart of {len(cases)} cases to {path}", file=sys.stderr)
    return 0


_VIEWS: dict[str, Callable[[_Reading, argparse.Namespace, timedelta], int]] = {
    "summary": _summary,
    "export": _export,
    "chart": _chart,
}


def cmd_sla(args: argparse.Namespace) -> int:
    period = _period(args)
    settings = quick_settings_for_command()
    _check_department(settings.rules, args.department)
    view = getattr(args, "view", None) or "summary"
    store = open_configured_store(settings.env)
    try:
        return _VIEWS[view](_Reading(store, settings.rules), args, period)
    finally:
        store.close()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"sla": cmd_sla}
