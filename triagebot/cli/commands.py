"""The bodies of the ``triagebot`` subcommands; ``cli.py`` parses and maps errors to exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Command, MarkSpam, Reassign, Reopen, Resolve, Unclaim
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState, Mention
from triagebot.config.people import People
from triagebot.config.quick import QuickSettings, load_quick_settings
from triagebot.errors import InputError, StoreError
from triagebot.ingest.mention_io import decode_json_line, mention_from_json, read_mentions
from triagebot.runtime.deploy import open_configured_store
from triagebot.runtime.wiring import Runtime, build_router, utcnow

# rich, the pipeline, the rules stack and the configuration's models (pydantic) are imported
# by the commands that use them, so that a command which only changes a case (claim, resolve)
# starts fast.
if TYPE_CHECKING:
    from rich.console import Console

    from triagebot.config.settings import Settings
    from triagebot.routing.router import Router

log = logging.getLogger(__name__)

INGEST_BATCH = 500


def settings_for_command(*, fallback: bool = True) -> Settings:
    from triagebot.config.settings import load_settings  # noqa: PLC0415 (pydantic)

    settings = load_settings(fallback_to_example=fallback)
    if fallback:
        _said_example(settings.config_file)
    return settings


def quick_settings_for_command() -> QuickSettings:
    """What a command that changes or reports on cases needs of the configuration, from the
    configuration cache when it holds this file (``triagebot.config.quick``)."""
    settings = load_quick_settings(fallback_to_example=True)
    _said_example(settings.config_file)
    return settings


def _said_example(config_file: Path) -> None:
    if config_file.name == "triagebot.example.toml":
        log.info("no triagebot.toml here: using the example configuration %s", config_file)


def output_console() -> Console:
    from rich.console import Console  # noqa: PLC0415

    # Piped output is read by programs and people alike: do not cut wide tables to 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=width)


# --- mentions -------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from triagebot.ingest.pipeline import IngestResult  # noqa: PLC0415

    mentions = read_mentions(Path(args.file))  # the whole file is checked before storing
    runtime = Runtime.build(settings_for_command())
    total = IngestResult()
    try:
        progress = Progress(
            disable=not sys.stderr.isatty(), transient=True, console=Console(stderr=True)
        )
        with progress as bar:
            task = bar.add_task("ingesting", total=len(mentions))
            for start in range(0, len(mentions), INGEST_BATCH):
                chunk = mentions[start : start + INGEST_BATCH]
                total.merge(runtime.pipeline.ingest(chunk, runtime.clock()))
                bar.advance(task, len(chunk))
    finally:
        runtime.close()
    print(
        f"{len(mentions)} mentions: {len(total.new)} new cases ({total.spam} spam), "
        f"{total.duplicates} already known, "
        f"{total.ignored} ignored (own accounts, excluded or empty)"
    )
    return 0


def _stdin_mentions() -> Iterator[Mention]:
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            data = decode_json_line(line)
            if not isinstance(data, dict):
                raise ValueError("each line must be a JSON object")
            data = {
                "id": f"stdin:{number}",
                "source": "stdin",
                "url": "https://example.invalid/",
                **data,
            }
            data.setdefault("created_at", "1970-01-01T00:00:00+00:00")
            yield mention_from_json(data)
        except ValueError as exc:
            raise InputError(f"stdin:{number}: {exc}") from None


def _router_of_configured_store(settings: Settings) -> Router:
    """The router with the configured store's learned model (the shipped one without a store)."""
    try:
        store = open_configured_store(settings.env)
    except StoreError:
        return build_router(settings)
    try:
        return build_router(settings, store)
    finally:
        store.close()


def _batches(mentions: Iterator[Mention], size: int = 32) -> Iterator[list[Mention]]:
    batch: list[Mention] = []
    for mention in mentions:
        batch.append(mention)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def cmd_triage(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    router = _router_of_configured_store(settings)
    if args.texts:
        base = {
            "source": "cli",
            "url": "https://example.invalid/",
            "created_at": "1970-01-01T00:00:00",
        }
        mentions: Iterator[Mention] = (
            mention_from_json({**base, "id": f"cli:{i}", "text": text})
            for i, text in enumerate(args.texts)
        )
    else:
        mentions = _stdin_mentions()
    for batch in _batches(mentions):
        router.prepare(batch)
        for mention in batch:
            if args.explain:
                from triagebot.cli.rules import print_explanation  # noqa: PLC0415

                as_json = args.json or not args.texts
                print_explanation(router.explain(mention), mention.text, as_json=as_json)
                continue
            print(json.dumps(router.decide(mention).to_dict(), ensure_ascii=False), flush=True)
    return 0


# --- cases ----------------------------------------------------------------------------


def _states(choice: str) -> set[CaseState] | None:
    if choice == "all":
        return None
    if choice == "active":
        return set(ACTIVE_STATES)
    return {CaseState(choice)}


def _case_row(case: Case, people: People) -> list[str]:
    from triagebot.runtime.console import safe_text  # noqa: PLC0415

    owner = people.name_of(case.claimed_by) if case.claimed_by else ""
    return [
        f"#{case.id}",
        case.state.value,
        case.priority.value,
        case.department,
        owner,
        case.mention.source,
        safe_text(case.mention.text, 70),
    ]


def cmd_cases(args: argparse.Namespace) -> int:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    runtime = Runtime.build(settings_for_command(), routing=False)
    try:
        found = runtime.store.list_cases(
            states=_states(args.state), department=args.department, limit=args.limit + 1
        )
    finally:
        runtime.close()
    if len(found) > args.limit:
        found = found[: args.limit]
        print(f"the newest {args.limit} shown; more match (--limit N)", file=sys.stderr)
    if args.json:
        for case in found:
            print(json.dumps(case.to_dict(), ensure_ascii=False))
        return 0
    table = Table("case", "state", "prio", "department", "owner", "source", "text", box=None)
    people = runtime.settings.people
    for case in found:
        table.add_row(*(escape(cell) for cell in _case_row(case, people)))
    console = output_console()
    console.print(table if found else f"no {args.state} cases")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    runtime = Runtime.build(settings_for_command(), routing=False)
    try:
        case = runtime.store.get_case(args.case_id.lstrip("#"))
        events = runtime.store.events(case.id)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps({"case": case.to_dict(), "events": [e.to_dict() for e in events]}))
        return 0
    console = output_console()
    fields = Table(box=None, show_header=False)
    people = runtime.settings.people
    for label, value in _case_fields(case, people):
        fields.add_row(f"[bold]{label}[/]", escape(value))
    console.print(fields)
    history = Table("when (UTC)", "action", "by", "via", "change", box=None)
    for event in events:
        change = ", ".join(
            f"{key}: {event.before.get(key)} → {value}"
            for key, value in event.after.items()
            if event.before.get(key) != value
        )
        history.add_row(
            f"{event.at:%Y-%m-%d %H:%M}",
            event.action,
            escape(_named(people, event.actor)),
            event.surface,
            escape(change),
        )
    console.print(history)
    return 0


def _named(people: People, who: Identity) -> str:
    """``Ana Lopez (slack:U0ANA)``: the person's name and the identity that acted."""
    name = people.name_of(who)
    return str(who) if name == who.id else f"{name} ({who})"


def _case_fields(case: Case, people: People) -> list[tuple[str, str]]:
    from triagebot.runtime.console import safe_text  # noqa: PLC0415

    m = case.mention
    return [
        ("case", f"#{case.id} {case.state} {case.priority} {case.department}"),
        ("author", f"@{safe_text(m.author.handle, 60)} on {m.source}"),
        ("text", safe_text(m.text, 2000)),
        ("link", safe_text(m.url, 300)),
        *(("also on", safe_text(url, 300)) for url in case.also_on),
        ("claim due", f"{case.claim_due:%Y-%m-%d %H:%M} UTC"),
        *_answer_fields(case),
        ("resolve due", f"{case.resolve_due:%Y-%m-%d %H:%M} UTC"),
        ("owner", _named(people, case.claimed_by) if case.claimed_by else "-"),
    ]


def _answer_fields(case: Case) -> list[tuple[str, str]]:
    """The first public response: when it is due, when and where it came, the wait."""
    from triagebot.runtime.console import safe_text  # noqa: PLC0415

    fields = []
    if case.respond_due is not None:
        fields.append(("answer due", f"{case.respond_due:%Y-%m-%d %H:%M} UTC"))
    first = case.first_response
    if first is not None:
        link = f" {safe_text(first.url, 300)}" if first.url else ""
        fields.append((
            "answered",
            f"{first.at:%Y-%m-%d %H:%M} UTC by {safe_text(first.by, 80)} ({first.via}){link}",
        ))  # fmt: skip
    if case.waiting_since is not None:
        fields.append(("waiting since", f"{case.waiting_since:%Y-%m-%d %H:%M} UTC"))
    return fields


def cli_actor(by: str) -> Identity:
    """``--by NAME`` as the identity it is: ``cli:<name>`` (never another surface's)."""
    try:
        return Identity("cli", by)
    except ValueError as exc:
        raise InputError(f"--by: {exc}") from None


def _act(args: argparse.Namespace, build: Callable[[str, Identity, QuickSettings], Command]) -> int:
    actor = cli_actor(args.by)
    settings = quick_settings_for_command()
    store = open_configured_store(settings.env)
    try:
        command = build(args.case_id.lstrip("#"), actor, settings)
        outcome = execute(store, SettingsPolicy(settings), command, utcnow())
    finally:
        store.close()
    case = outcome.case
    people = settings.rules.people
    owner = f", {people.name_of(case.claimed_by)}" if case.claimed_by else ""
    print(f"#{case.id} is now {case.state} ({case.department}{owner})")
    return 0


def _simple(kind: type[Command]) -> Callable[[argparse.Namespace], int]:
    return lambda args: _act(args, lambda case_id, by, _: kind(case_id, by, "cli"))


def cmd_reassign(args: argparse.Namespace) -> int:
    """Hand a case to a department; to ``none`` (unless a department has that id), mark it as
    spam: no department owns the post, as the router and learning say it."""
    from triagebot.routing.feedback import NONE  # noqa: PLC0415 (only this command needs it)

    def build(case_id: str, by: Identity, settings: QuickSettings) -> Command:
        if args.department == NONE and not settings.rules.has_department(NONE):
            return MarkSpam(case_id, by, "cli")
        return Reassign(case_id, by, "cli", department=args.department)

    return _act(args, build)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ingest": cmd_ingest,
    "triage": cmd_triage,
    "cases": cmd_cases,
    "show": cmd_show,
    "claim": _simple(Claim),
    "unclaim": _simple(Unclaim),
    "resolve": _simple(Resolve),
    "reopen": _simple(Reopen),
    "spam": _simple(MarkSpam),
    "reassign": cmd_reassign,
}
