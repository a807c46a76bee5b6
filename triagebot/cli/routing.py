"""``triagebot routing learn|report``: learn from the team's corrections, and measure routing.

``learn`` retrains the department model on the shipped corpus plus this deployment's labels
and activates it in the store when it is not worse on the latest labels; ``report`` shows
per-department precision and recall from the team's corrections, the top confusions and how
much was routed without a person.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from triagebot.cli.commands import output_console, settings_for_command
from triagebot.durations import parse_duration
from triagebot.errors import ConfigError, InputError
from triagebot.runtime.wiring import Runtime

if TYPE_CHECKING:  # rich and the report are imported when run, not for the parser
    from rich.console import Console

    from triagebot.routing.feedback_report import RoutingReport
    from triagebot.store.base import Store


def add_routing_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``routing`` with its subcommands on the top-level parser."""
    routing = sub.add_parser(
        "routing", help="learn from the team's reassignments, or report routing accuracy"
    )
    routing_sub = routing.add_subparsers(dest="routing_command", required=True, metavar="SUB")
    learn = routing_sub.add_parser(
        "learn", help="retrain the department model on the team's labels; activate if not worse"
    )
    learn.add_argument("--json", action="store_true", help="JSON out")
    learn.add_argument(
        "--dry-run", action="store_true", help="train and compare, but store nothing"
    )
    report = routing_sub.add_parser(
        "report", help="precision and recall per department from the team's corrections"
    )
    report.add_argument("--since", default="30d", help="period, e.g. 7d, 30d (default 30d)")
    report.add_argument("--json", action="store_true", help="JSON out")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def cmd_routing(args: argparse.Namespace) -> int:
    if args.routing_command == "learn":
        return _learn(args)
    return _report(args)


def _learn(args: argparse.Namespace) -> int:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from triagebot.routing.learning import learn  # noqa: PLC0415 (numpy and the model)
    from triagebot.routing.overruled import shipped_votes  # noqa: PLC0415

    settings = settings_for_command()
    if settings.config.routing.model != "learned":
        raise ConfigError(
            f"{settings.config_file.name}: routing.model: is "
            f'"{settings.config.routing.model}"; set it to "learned" to learn from the team'
        )
    runtime = Runtime.build(settings, routing=False)
    try:
        fallback = runtime.router.options.fallback
        result, _ = learn(
            runtime.store,
            settings.departments,
            runtime.clock(),
            fallback=fallback,
            activate=not args.dry_run,
            shipped_rules=shipped_votes(runtime.router.ruleset.rules),
        )
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    console = output_console()
    console.print(
        f"{result.labels} labels from the team ({result.corrections} corrections, "
        f"{result.confirmations} confirmations)"
        + (f"; scored on the latest {result.held_out}" if result.held_out else "")
    )
    if result.held_out:
        table = Table("department", f"before ({result.baseline})", "after", "posts", box=None)
        for department, total in sorted(result.before.total.items()):
            before, after = result.before.of(department), result.after.of(department)
            table.add_row(escape(department), _percent(before), _percent(after), str(total))
        table.add_row(
            "[bold]all[/]",
            _percent(result.before.accuracy),
            _percent(result.after.accuracy),
            str(result.held_out),
        )
        console.print(table)
    verdict = f"activated {result.version}" if result.activated else result.reason
    console.print(escape(verdict))
    records = {record.rule: record for record in result.rules}
    for rule in result.overruled:
        record = records.get(rule)
        why = (
            f"the team labelled {record.wrong} of the {record.fired} cases it decided otherwise"
            if record is not None and record.overruled
            else "overruled by an earlier model"
        )
        done = "overrules" if result.activated else "would overrule"
        console.print(escape(f"{done} shipped rule {rule}: {why}"))
    return 0


def _report(args: argparse.Namespace) -> int:
    try:
        period = parse_duration(args.since)
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None
    settings = settings_for_command()
    runtime = Runtime.build(settings, routing=False)
    try:
        fallback = runtime.router.options.fallback
        from triagebot.routing.feedback_report import routing_report  # noqa: PLC0415

        report = routing_report(runtime.store, runtime.clock(), period, fallback)
        model = _active_model(settings.config.routing.model, runtime.store)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(report.to_dict() | {"model": model}, ensure_ascii=False))
    else:
        console = output_console()
        print_report(console, report, args.since)
        overruled = ", ".join(model["overruled_rules"]) or "none"
        console.print(f"routing model: {model['version']}; shipped rules overruled: {overruled}")
    return 0


def _active_model(setting: str, store: Store) -> dict[str, Any]:
    """Which model routes (``off``, ``shipped``, or the learned version) and the shipped rules
    it overrules."""
    if setting != "learned":
        return {"version": setting, "overruled_rules": []}
    from triagebot.routing.model.active import read_stored  # noqa: PLC0415 (numpy)

    stored = read_stored(store)
    if stored is None:
        return {"version": "shipped", "overruled_rules": []}
    return {"version": stored.version, "overruled_rules": list(stored.overruled)}


def print_report(console: Console, report: RoutingReport, label: str) -> None:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    how = report.how
    console.print(
        f"{report.cases} cases in the last {escape(label)}: {_percent(report.auto_share)} "
        f"routed without a person ({how.get('model', 0)} by the model, {how.get('rules', 0)} "
        f"by rules, {how.get('spam', 0)} marked spam), {how.get('fallback', 0)} left to triage"
    )
    console.print(
        f"{len(report.labels)} labels from the team ({report.corrections} corrections): "
        f"routed right first time {_percent(report.accuracy)}"
    )
    if not report.labels:
        return
    table = Table("department", "precision", "recall", "routed", "belong", box=None)
    for row in report.departments:
        table.add_row(
            escape(row.department),
            _percent(row.precision),
            _percent(row.recall),
            str(row.routed),
            str(row.owned),
        )
    console.print(table)
    if report.confusions:
        confusions = Table("routed to", "belonged to", "cases", box=None)
        for routed, truth, count in report.confusions:
            confusions.add_row(escape(routed), escape(truth), str(count))
        console.print(confusions)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"routing": cmd_routing}
