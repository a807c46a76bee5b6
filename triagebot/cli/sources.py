"""``triagebot poll`` and ``triagebot sources``, and the poller the server runs.

``poll --once`` fetches every enabled source (or one, ``--source NAME``), ingests what it
found and prints it; without ``--once`` it keeps polling on each source's interval until
Ctrl-C. ``sources`` shows each configured source: whether it can run (and which environment
variable to set if not), its last success and error, next run and typical lag, as saved by
the poller of ``triagebot serve`` (or of ``poll``) in the store, and whether it can reply in
public (or which write variable is missing) and read the thread under a post.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from triagebot.actions.public import reply_capable
from triagebot.cases.records import Case
from triagebot.config.settings import Settings, load_settings
from triagebot.errors import InputError
from triagebot.ingest.polling import Poller, PollOutcome, poll_all
from triagebot.ingest.source_state import (
    SourceState,
    format_age,
    format_span,
    lags_by_source,
    load_state,
    status_key,
)
from triagebot.ingest.sources import SourceSpec
from triagebot.runtime.console import safe_text
from triagebot.runtime.scheduler import create_scheduler
from triagebot.runtime.wiring import Runtime

if TYPE_CHECKING:
    from triagebot.runtime.answering import Answering

LAG_PERIOD = timedelta(days=7)


def build_poller(runtime: Runtime, only: str | None = None) -> Poller:
    """The poller over the configured sources (adapters from ``integrations.sources``)."""
    # Imported here so that other commands do not load HTTP and HTML libraries.
    from integrations.sources import build_specs, open_http  # noqa: PLC0415

    specs = build_specs(runtime.settings, runtime.clock)
    if only is not None:
        specs = [s for s in specs if s.name == only]
        if not specs:
            known = ", ".join(s.name for s in runtime.settings.config.sources) or "none"
            raise InputError(f"--source: no source {only!r} in the configuration (known: {known})")
    return Poller(
        specs,
        runtime.store,
        runtime.pipeline.ingest,
        open_http(),
        clock=runtime.clock,
        note_gone=runtime.pipeline.note_gone,
        ingest_batches=runtime.pipeline.ingest_batches,
    )


def build_answering(runtime: Runtime, poller: Poller) -> Answering:
    """Replies and thread reads through the configured sources that implement them (the
    poller's own adapters), with an HTTP client of their own that never follows redirects."""
    from integrations.sources import open_http  # noqa: PLC0415
    from triagebot.runtime.answering import Answering  # noqa: PLC0415

    capable = {
        name: public
        for name, spec in poller.specs.items()
        if spec.runnable and (public := reply_capable(spec.source)) is not None
    }
    http = open_http()
    http.follow_redirects = False
    return Answering(runtime.store, runtime.settings, capable, http, runtime.clock)


def _settings() -> Settings:
    return load_settings(fallback_to_example=True)


def cmd_poll(args: argparse.Namespace) -> int:
    runtime = Runtime.build(_settings())
    try:
        poller = build_poller(runtime, args.source)
        _report_problems(poller)
        if args.once:
            outcomes = asyncio.run(_once(poller))
            for outcome in outcomes:
                _print_outcome(outcome)
            return (
                1 if any(o.error for o in outcomes) and not any(o.fetched for o in outcomes) else 0
            )
        asyncio.run(_forever(poller))
    except KeyboardInterrupt:
        print("stopped.")
    finally:
        runtime.close()
    return 0


async def _once(poller: Poller) -> list[PollOutcome]:
    try:
        names = [name for name, spec in poller.specs.items() if spec.runnable]
        return await poll_all(poller, names)
    finally:
        await poller.aclose()


async def _forever(poller: Poller) -> None:
    scheduler = create_scheduler()
    poller.on_outcome = _print_outcome
    poller.schedule(scheduler)
    scheduler.start()
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)
        await poller.aclose()


def _report_problems(poller: Poller) -> None:
    for state in poller.state.values():
        if state.problem:
            print(f"{state.name}: not polled: {state.problem}", flush=True)


def _print_outcome(outcome: PollOutcome) -> None:
    console = Console(highlight=False, soft_wrap=True)
    name = escape(outcome.source)
    if outcome.error:
        console.print(f"[bold]{name}[/]: [red]failed[/]: {escape(outcome.error)}")
        return
    if outcome.skipped:
        console.print(f"[bold]{name}[/]: skipped: {escape(outcome.skipped)}")
        return
    if outcome.partial:
        console.print(f"[bold]{name}[/]: [yellow]partly failed[/]: {escape(outcome.partial)}")
    result = outcome.result
    console.print(
        f"[bold]{name}[/]: {outcome.fetched} fetched, {len(result.new)} new cases "
        f"({result.spam} spam), {len(result.also_seen)} seen again elsewhere, "
        f"{result.duplicates} already known, {result.ignored} ignored, "
        f"{outcome.too_old} older than the backfill window"
    )
    for case in result.new:
        console.print("  " + escape(_case_line(case)))
    for case in result.also_seen:
        console.print(f"  #{case.id} also on: " + escape(", ".join(case.also_on)))
    if outcome.gone_noted:
        console.print(f"  {outcome.gone_noted} open case(s) noted: their post was deleted")


def _case_line(case: Case) -> str:
    m = case.mention
    return (
        f"#{case.id} {case.state} {case.priority} {case.department} "
        f"@{safe_text(m.author.handle, 40)}: {safe_text(m.text, 90)}"
    )


# --- sources ----------------------------------------------------------------------------


def cmd_sources(args: argparse.Namespace) -> int:
    from integrations.sources import build_specs  # noqa: PLC0415

    settings = _settings()
    specs = build_specs(settings)  # a bad [[sources]] block stops here, before the store opens
    runtime = Runtime.build(settings)
    try:
        now = runtime.clock()
        saved = {s.name: load_state(runtime.store.get_cursor(status_key(s.name))) for s in specs}
        lags = lags_by_source(runtime.store.list_cases(since=now - LAG_PERIOD))
    finally:
        runtime.close()
    rows = [_merged(spec, saved.get(spec.name), lags.get(spec.name)) for spec in specs]
    answers = [public_status(spec) for spec in specs]
    if args.json:
        for row, answer in zip(rows, answers, strict=True):
            print(json.dumps(row.to_dict() | answer.to_dict(), ensure_ascii=False))
        return 0
    if not rows:
        print("no sources configured (add [[sources]] blocks to triagebot.toml)")
        return 0
    _print_table(rows, answers, now)
    return 0


@dataclass(frozen=True)
class PublicStatus:
    """Whether a source can answer in public and read threads, and what it lacks to reply."""

    can_reply: bool | None  # None: the source is not built (its read credentials are missing)
    can_read_threads: bool | None
    reply_missing: tuple[str, ...] = ()  # write variables to set
    reply_unsupported: str | None = None  # why it can never reply (no write API)

    @property
    def reply_text(self) -> str:
        if self.can_reply is None:
            return "-"
        if self.can_reply:
            return "yes"
        if self.reply_missing:
            return "set " + " and ".join(self.reply_missing)
        return "no write API" if self.reply_unsupported else "not set up"

    @property
    def threads_text(self) -> str:
        return "-" if self.can_read_threads is None else "yes" if self.can_read_threads else "no"

    def to_dict(self) -> dict[str, Any]:
        return {
            "can_reply": self.can_reply,
            "can_read_threads": self.can_read_threads,
            "reply_missing": list(self.reply_missing),
            "reply_unsupported": self.reply_unsupported,
        }


def public_status(spec: SourceSpec) -> PublicStatus:
    """What ``triagebot sources`` says of a source's replies and threads (adapters name the
    write variables they lack in ``reply_missing`` and say in ``reply_unsupported`` why
    their platform cannot take a reply)."""
    public = reply_capable(spec.source) if spec.source is not None else None
    if public is None:
        known = spec.source is not None
        return PublicStatus(False if known else None, False if known else None)
    missing = getattr(public, "reply_missing", ())
    unsupported = getattr(public, "reply_unsupported", None)
    return PublicStatus(
        bool(public.can_reply),
        bool(public.can_read_threads),
        tuple(str(v) for v in missing) if isinstance(missing, tuple | list) else (),
        unsupported if isinstance(unsupported, str) else None,
    )


def _merged(spec: SourceSpec, saved: SourceState | None, lag: float | None) -> SourceState:
    """The configured source with what the poller last saved about it."""
    state = SourceState.initial(spec)
    if saved is not None and state.enabled:
        state.last_attempt, state.last_success = saved.last_attempt, saved.last_success
        state.last_error, state.last_error_at = saved.last_error, saved.last_error_at
        state.consecutive_failures = saved.consecutive_failures
        state.next_run, state.backoff_until = saved.next_run, saved.backoff_until
        state.backoff_reason = saved.backoff_reason
        state.partial = saved.partial
        state.last_fetched, state.last_new = saved.last_fetched, saved.last_new
        state.total_new = saved.total_new
        state.lags.extend(saved.lags)
    if not state.lags and lag is not None:
        state.lags.append(lag)
    return state


def _print_table(rows: list[SourceState], answers: list[PublicStatus], now: datetime) -> None:
    table = Table(
        "source", "type", "status", "every", "last success", "next run", "lag", "problem", box=None
    )
    for state in rows:
        error = state.problem or state.last_error or ""
        if state.missing:
            error = "set " + " and ".join(state.missing)
        if state.consecutive_failures:
            error = f"{state.consecutive_failures}x: {error}"
        elif state.backoff_until is not None and state.backoff_until > now:
            error = f"waits: {state.backoff_reason or 'asked to pause'}"
        next_run = state.backoff_until or state.next_run
        table.add_row(
            escape(state.name),
            state.kind,
            state.status,
            format_span(state.interval),
            format_age(now, state.last_success),
            format_age(now, next_run) if state.enabled else "-",
            format_span(state.typical_lag),
            escape(safe_text(error, 80)),
        )
    public = Table("source", "public reply", "threads", box=None)
    for state, answer in zip(rows, answers, strict=True):
        public.add_row(escape(state.name), escape(answer.reply_text), answer.threads_text)
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    console.print(public)


COMMANDS = {"poll": cmd_poll, "sources": cmd_sources}
