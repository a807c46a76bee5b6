"""The ``triagebot`` command: argument parsing and the one place errors become exit codes.

Exit status: 0 success; 1 a refused action (already claimed, not allowed, no such case);
2 bad configuration, rules, input or arguments (one clear line per problem, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeAlias, cast

from triagebot import __version__
from triagebot.errors import ConfigError, InputError, TriagebotError

#: How many cases ``triagebot cases`` shows unless ``--limit`` says otherwise.
CASES_LIMIT = 50
LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"

#: Modules holding the subcommands outside triagebot.cli.commands, imported only when run,
#: so quick commands do not load the web server, the scheduler or the sources.
COMMAND_MODULES = {
    "demo": "triagebot.cli.run",
    "serve": "triagebot.cli.run",
    "migrate": "triagebot.cli.run",
    "migrate-store": "triagebot.cli.transfer",
    "poll": "triagebot.cli.sources",
    "sources": "triagebot.cli.sources",
    "sla": "triagebot.cli.sla",
    "routing": "triagebot.cli.routing",
    "rules": "triagebot.cli.rules",
    "teams": "integrations.teams.cli",
    "board": "integrations.board.cli",
    "reply": "triagebot.cli.answers",
    "answered": "triagebot.cli.answers",
    "threads": "triagebot.cli.answers",
}


def load_command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs subcommand ``name``."""
    module = importlib.import_module(COMMAND_MODULES.get(name, "triagebot.cli.commands"))
    command: Callable[[argparse.Namespace], int] = module.COMMANDS[name]
    return command


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit 2, like every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"triagebot: {message} (see `{self.prog} --help`)\n")


def _name(text: str) -> str:
    """A person's name typed with ``--by``: not empty, not only spaces."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a name is needed (it is empty or only spaces)")
    return text


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number of at least 1")
    return value


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _case_command(sub: Subparsers, name: str, help: str) -> None:
    parser = sub.add_parser(name, help=help)
    parser.add_argument("case_id", help="case number, as shown by `triagebot cases`")
    if name == "reassign":
        parser.add_argument(
            "department",
            help="department id to hand the case to ('none': no department owns it, "
            "the same as `triagebot spam`)",
        )
    parser.add_argument("--by", required=True, type=_name, metavar="WHO", help="who is acting")


def _case_commands(name: str, help: str) -> Callable[[Subparsers], None]:
    return lambda sub: _case_command(sub, name, help)


def _add_demo(sub: Subparsers) -> None:
    demo = sub.add_parser(
        "demo", help="replay sample mentions on the console, no credentials needed"
    )
    demo.add_argument("--pace", type=float, default=1.5, help="seconds between sample mentions")
    demo.add_argument(
        "--no-staff", action="store_true", help="do not simulate staff claiming cases"
    )
    demo.add_argument("--until-done", action="store_true", help="exit when every sample is handled")
    demo.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)


def _add_serve(sub: Subparsers) -> None:
    sub.add_parser("serve", help="run the web server and scheduler (what the Procfile runs)")


def _add_ingest(sub: Subparsers) -> None:
    ingest = sub.add_parser("ingest", help="ingest mentions from a JSON-lines file")
    ingest.add_argument("file", help="one mention per line (see README)")


def _add_triage(sub: Subparsers) -> None:
    triage = sub.add_parser("triage", help="show where texts would be routed (nothing stored)")
    triage.add_argument("texts", nargs="*", help="texts; without any, JSON lines from stdin")
    triage.add_argument(
        "--json", action="store_true", help="JSON lines out (the default for stdin)"
    )
    triage.add_argument(
        "--explain", action="store_true", help="show the words and rules behind each routing"
    )


def _add_cases(sub: Subparsers) -> None:
    from triagebot.cases.records import CaseState  # noqa: PLC0415

    cases = sub.add_parser("cases", help="list cases")
    cases.add_argument(
        "--state", choices=[s.value for s in CaseState] + ["active", "all"], default="active"
    )
    cases.add_argument("--department", help="only this department")
    cases.add_argument(
        "--limit",
        type=_limit,
        default=CASES_LIMIT,
        metavar="N",
        help=f"show the newest N cases (default {CASES_LIMIT}; stderr says when more match)",
    )
    cases.add_argument("--json", action="store_true", help="JSON lines out")


def _add_show(sub: Subparsers) -> None:
    show = sub.add_parser("show", help="one case with its history")
    show.add_argument("case_id")
    show.add_argument("--json", action="store_true")


def _add_sla(sub: Subparsers) -> None:
    sla = sub.add_parser("sla", help="SLA summary, per-case export (CSV/JSON lines) or chart (PNG)")
    sla.add_argument("view", nargs="?", choices=["summary", "export", "chart"], default="summary")
    sla.add_argument(
        "--since", default="7d", help="period to report, e.g. 24h, 7d, 30d (default 7d)"
    )
    sla.add_argument("--department", help="only this department")
    sla.add_argument("--json", action="store_true", help="JSON out")
    sla.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="export format")
    sla.add_argument(
        "-o", "--output", metavar="FILE", help="export: file (default stdout); chart: PNG file"
    )


def _add_poll(sub: Subparsers) -> None:
    poll = sub.add_parser("poll", help="fetch mentions from the configured sources and ingest them")
    poll.add_argument("--once", action="store_true", help="poll each source once and exit")
    poll.add_argument("--source", metavar="NAME", help="only this source")


def _add_sources(sub: Subparsers) -> None:
    sources = sub.add_parser("sources", help="each source's state: last success, errors, lag")
    sources.add_argument("--json", action="store_true", help="JSON lines out")


def _add_migrate(sub: Subparsers) -> None:
    sub.add_parser("migrate", help="bring the store's schema up to date (release phase)")


def _add_migrate_store(sub: Subparsers) -> None:
    move = sub.add_parser(
        "migrate-store", help="copy an embedded store's whole history into PostgreSQL"
    )
    move.add_argument("--from", dest="source", required=True, metavar="PATH", help="TinyDB file")
    move.add_argument(
        "--to", dest="target", metavar="URL", help="PostgreSQL URL (default: DATABASE_URL)"
    )


def _add_rules(sub: Subparsers) -> None:
    from triagebot.cli.rules import add_rules_parser  # noqa: PLC0415

    add_rules_parser(sub)


def _add_routing(sub: Subparsers) -> None:
    from triagebot.cli.routing import add_routing_parser  # noqa: PLC0415

    add_routing_parser(sub)


def _add_answers(sub: Subparsers) -> None:
    from triagebot.cli.answer_parsers import add_answer_parsers  # noqa: PLC0415

    add_answer_parsers(sub)


def _add_teams(sub: Subparsers) -> None:
    # The teams subcommands live with the Teams package (no botbuilder is imported for them).
    from integrations.teams.cli import add_teams_parser  # noqa: PLC0415

    add_teams_parser(sub)


def _add_board(sub: Subparsers) -> None:
    from integrations.board.cli import add_board_parser  # noqa: PLC0415 (argparse only)

    add_board_parser(sub)


#: Each subcommand's parser (in the order of ``--help``), and the names it registers.
SUBCOMMANDS: list[tuple[tuple[str, ...], Callable[[Subparsers], None]]] = [
    (("demo",), _add_demo),
    (("serve",), _add_serve),
    (("ingest",), _add_ingest),
    (("triage",), _add_triage),
    (("cases",), _add_cases),
    (("show",), _add_show),
    (("claim",), _case_commands("claim", "claim a case")),
    (("unclaim",), _case_commands("unclaim", "give a claimed case back to the queue")),
    (("resolve",), _case_commands("resolve", "resolve a case")),
    (("reopen",), _case_commands("reopen", "reopen a resolved case")),
    (("reassign",), _case_commands("reassign", "hand a case to another department")),
    (("spam",), _case_commands("spam", "mark a case as spam")),
    (("sla",), _add_sla),
    (("poll",), _add_poll),
    (("sources",), _add_sources),
    (("migrate",), _add_migrate),
    (("migrate-store",), _add_migrate_store),
    (("rules",), _add_rules),
    (("routing",), _add_routing),
    (("reply", "answered", "threads"), _add_answers),
    (("teams",), _add_teams),
    (("board",), _add_board),
]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or only of ``command`` (a known subcommand's name):
    a quick command neither imports nor builds the parsers of the others."""
    parser = _Parser(
        prog="triagebot",
        description="Route public brand mentions to the department that owns them.",
    )
    parser.add_argument("--version", action="version", version=f"triagebot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    # Every subcommand's parser is a _Parser too (argparse uses the parent's class).
    sub = cast(
        "Subparsers", parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    )
    for names, add in SUBCOMMANDS:
        if command is None or command in names:
            add(sub)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` asks for when it is a known one (None: build every parser, so
    ``--help`` lists them all and a mistyped name is told the choices)."""
    for word in argv:
        if word in {"-v", "--verbose"}:
            continue
        if word.startswith("-"):
            return None
        return word if any(word in names for names, _ in SUBCOMMANDS) else None
    return None


def _exit_code(exc: TriagebotError) -> int:
    """2 for what the user must fix in files or arguments, 1 for a refused or failed action."""
    return 2 if isinstance(exc, ConfigError | InputError) else 1


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_named(words))
    args = parser.parse_args(words)
    level = logging.INFO if args.verbose or args.command in {"serve", "demo"} else logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        return load_command(args.command)(args)
    except TriagebotError as exc:
        lines = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        for line in lines:
            print(f"triagebot: {line}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
