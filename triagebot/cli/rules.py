"""``triagebot rules check|backtest`` and ``triagebot triage --explain``.

``rules check`` prints one ``file:line: problem`` line per problem and exits 2 if there is
any; ``rules backtest`` routes the stored cases of a period with the rules on disk and shows
what would move; ``--explain`` shows, per post, which words made which rule fire and the
department scores.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from triagebot.config.settings import Settings, load_settings
from triagebot.durations import parse_duration
from triagebot.errors import ConfigError, InputError

# The command line imports this module for its parser: what the commands use is imported
# when they run, so that `triagebot claim` does not load the rules stack or rich.
if TYPE_CHECKING:
    from rich.console import Console

    from triagebot.routing.backtest import Backtest
    from triagebot.routing.router import Explanation


def add_rules_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``rules`` with its subcommands on the top-level parser."""
    rules = sub.add_parser(
        "rules", help="check the routing rules, or backtest them on stored cases"
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    check = rules_sub.add_parser(
        "check", help="report every problem in rules/ as file:line (exit 2)"
    )
    check.add_argument("--dir", type=Path, help="rules folder (default: the configured one)")
    test = rules_sub.add_parser(
        "backtest", help="what the rules on disk would change on stored cases"
    )
    test.add_argument("--since", default="30d", help="period of cases to route again (default 30d)")
    test.add_argument("--json", action="store_true", help="JSON out")


def _settings() -> Settings:
    return load_settings(fallback_to_example=True)


def cmd_rules(args: argparse.Namespace) -> int:
    if args.rules_command == "check":
        return _check(args)
    return _backtest(args)


def _check(args: argparse.Namespace) -> int:
    from triagebot.routing.rules.check import check_rules  # noqa: PLC0415
    from triagebot.routing.rules.parse import rule_files  # noqa: PLC0415

    settings = _settings()
    rules_dir: Path = args.dir or settings.rules_dir
    sources = [s.name for s in settings.config.sources]
    problems = check_rules(rules_dir, settings.departments, sources)
    if problems:
        raise ConfigError([f"{p.where}: {p.message}" for p in problems])
    print(f"rules OK: {len(rule_files(rules_dir))} files in {rules_dir}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    try:
        period = parse_duration(args.since)
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None
    from rich.console import Console  # noqa: PLC0415

    from triagebot.routing.backtest import backtest  # noqa: PLC0415
    from triagebot.runtime.wiring import Runtime  # noqa: PLC0415

    runtime = Runtime.build(_settings())
    try:
        result = backtest(runtime.store, runtime.router, runtime.clock(), period)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        _print_backtest(Console(highlight=False, soft_wrap=True), result, period)
    return 0


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _print_backtest(console: Console, result: Backtest, period: timedelta) -> None:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    total = result.total
    console.print(
        f"{total.cases} cases in the last {args_period(period)}: {total.moved} would move "
        f"({total.fixed} to where they ended, {total.broken} away from it). Routed right first "
        f"time: {_share(result.old_correct, total.cases)} before, "
        f"{_share(result.new_correct, total.cases)} with the rules on disk."
    )
    if not total.cases:
        return
    table = Table("department", "before", "after", "in", "out", "fixed", "broken", box=None)
    for dept, tally in sorted(result.departments.items()):
        row = (
            tally.before,
            tally.after,
            tally.moved_in,
            tally.moved_out,
            tally.fixed,
            tally.broken,
        )
        table.add_row(escape(dept), *map(str, row))
    console.print(table)
    rules = Table("rule", "cases", "moved", "fixed", "broken", box=None)
    for rule_id, counts in sorted(result.rules.items(), key=lambda kv: (-kv[1].moved, kv[0])):
        numbers = (counts.cases, counts.moved, counts.fixed, counts.broken)
        rules.add_row(escape(rule_id), *map(str, numbers))
    console.print(rules)


def args_period(period: timedelta) -> str:
    days, seconds = period.days, period.seconds
    return f"{days}d" if days and not seconds else f"{period.total_seconds() / 3600:g}h"


def print_explanation(explanation: Explanation, text: str, *, as_json: bool) -> None:
    """One post's routing and the reasons for it."""
    if as_json:
        print(json.dumps(explanation.to_dict(), ensure_ascii=False), flush=True)
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.markup import escape  # noqa: PLC0415

    from triagebot.runtime.console import safe_text  # noqa: PLC0415

    routing = explanation.routing
    console = Console(highlight=False, soft_wrap=True)
    cc = f" (cc {', '.join(routing.cc)})" if routing.cc else ""
    verdict = "spam" if routing.spam else f"{routing.department}{cc}"
    console.print(f"[bold]{escape(safe_text(text, 200))}[/]")
    console.print(f"  -> {escape(verdict)} {routing.priority}")
    scores = ", ".join(
        f"{d} {s:g}" for d, s in sorted(explanation.scores.items(), key=lambda kv: -kv[1])
    )
    spam = f"; spam {explanation.spam_score:g}" if explanation.spam_score else ""
    console.print(f"  scores: {escape(scores or 'none')}{spam}")
    for rule, words in explanation.fired:
        outcome = "spam" if rule.spam else rule.department or ""
        if rule.priority is not None:
            outcome = f"{outcome} {rule.priority}".strip()
        said = ", ".join(repr(w) for w in words) or "(conditions only)"
        console.print("  " + escape(f"{rule.id} [{outcome}, weight {rule.weight:g}]: {said}"))
    if explanation.prediction is not None:
        top = ", ".join(
            f"{s.department} {s.probability:.0%}" for s in explanation.prediction.ranked[:3]
        )
        console.print(f"  model: {escape(top)}")
    elif explanation.guess is not None:
        guess = explanation.guess
        console.print(f"  classifier: {escape(guess.department)} ({guess.probability:.0%})")
    for rule_id, reason in explanation.blocked.items():
        console.print(f"  [dim]{escape(rule_id)} did not fire: {escape(reason)}[/]")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"rules": cmd_rules}
