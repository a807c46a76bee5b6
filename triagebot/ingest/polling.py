"""The poller: one APScheduler job per source; fetch, ingest, then move the cursor.

Order matters for crash safety: the mentions of a poll are ingested (one atomic store write,
deduplicated by mention id) *before* the new cursor is saved, so a crash between the two
repeats a fetch but never loses a mention nor makes a second case. Every poll runs under a
timeout and every source has its own job, so a hanging or failing source delays nobody else.
A failure backs the source off (the source's ``Retry-After``/reset when it gave one, else
exponential with jitter); a source without credentials is reported once and never polled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from triagebot.cases.records import Case, Mention
from triagebot.errors import SourceError
from triagebot.ingest.pipeline import IngestResult
from triagebot.ingest.source_state import SourceState, status_key
from triagebot.ingest.sources import GonePost, PollResult, SourceSpec
from triagebot.lanes import in_background
from triagebot.store.base import Store

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

Ingest = Callable[[list[Mention], datetime], IngestResult]
IngestBatches = Callable[[list[tuple[list[Mention], datetime]]], list[IngestResult]]
NoteGone = Callable[[list[GonePost], datetime], list[Case]]
MAX_BACKOFF = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(days=1)
STATUS_EVERY = timedelta(seconds=30)  # successes are saved in batches; failures at once


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class PollOutcome:
    """What one run of one source did (for the CLI and the logs)."""

    source: str
    fetched: int = 0
    result: IngestResult = field(default_factory=IngestResult)
    too_old: int = 0
    gone_noted: int = 0  # open cases whose post the source now shows deleted
    error: str | None = None
    partial: str | None = None  # what failed in a poll that otherwise succeeded
    skipped: str | None = None


@dataclass
class _Write:
    """A poll waiting for its mentions, deleted posts and cursor to be written."""

    outcome: PollOutcome
    mentions: list[Mention]
    polled: PollResult
    cursor: str | None
    fetched_at: datetime
    done: asyncio.Future[None] | None = None
    error: Exception | None = None


class Poller:
    """Polls the configured sources into the pipeline; keeps each source's state."""

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        store: Store,
        ingest: Ingest,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_timeout: float = 60.0,
        rng: random.Random | None = None,
        on_outcome: Callable[[PollOutcome], None] | None = None,
        note_gone: NoteGone | None = None,
        ingest_batches: IngestBatches | None = None,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.store = store
        self.ingest = ingest
        self.http = http
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.rng = rng or random.Random()
        self.state = {spec.name: SourceState.initial(spec) for spec in specs}
        self.on_outcome = on_outcome  # e.g. print each run (``triagebot poll``)
        self.note_gone = note_gone  # e.g. ``Pipeline.note_gone``
        #: e.g. ``Pipeline.ingest_batches``: the polls that finish while a write is under way
        #: are written together, in one store write, when it is done.
        self.ingest_batches = ingest_batches
        self._writes: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._dirty: set[str] = set()  # sources whose saved status is out of date

    # --- scheduling -------------------------------------------------------------------
    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Add one interval job per runnable source; report the others once."""
        self._scheduler = scheduler
        for name, spec in self.specs.items():
            if not spec.runnable:
                log.warning("source %s is not polled: %s", name, self.state[name].problem)
                continue
            every = spec.config.interval.total_seconds()
            scheduler.add_job(
                self.run,
                "interval",
                args=[name],
                seconds=every,
                jitter=min(every * 0.1, 30.0),
                id=job_id(name),
                replace_existing=True,
                next_run_time=datetime.now(UTC),  # the scheduler runs on real time
            )
        scheduler.add_job(
            in_background,
            "interval",
            args=[self.save_statuses],
            seconds=STATUS_EVERY.total_seconds(),
            id="poll:status",
            replace_existing=True,
        )

    def _reschedule(self, name: str, at: datetime) -> None:
        if self._scheduler is None:
            return
        at = datetime.now(UTC) + (at - self.clock())  # the scheduler runs on real time
        job = self._scheduler.get_job(job_id(name))
        if job is not None and (job.next_run_time is None or job.next_run_time < at):
            job.modify(next_run_time=at)
            self.state[name].next_run = at

    def note_next_runs(self) -> None:
        """Copy each job's next run time into the source states (for /healthz)."""
        if self._scheduler is None:
            return
        for name, state in self.state.items():
            job = self._scheduler.get_job(job_id(name))
            if job is not None and job.next_run_time is not None:
                state.next_run = job.next_run_time

    # --- one run ----------------------------------------------------------------------
    async def run(self, name: str) -> PollOutcome:
        """Poll one source once; never raises for the source's own failures."""
        spec, state = self.specs[name], self.state[name]
        now = self.clock()
        if not spec.runnable or spec.source is None:
            return PollOutcome(name, skipped=state.problem or "not runnable")
        if state.backoff_until is not None and now < state.backoff_until:
            return PollOutcome(name, skipped=f"backing off until {state.backoff_until:%H:%M:%S}")
        state.last_attempt = now
        status_before = state.status
        self._dirty.add(name)
        try:
            outcome = await self._poll_and_ingest(name)
        except SourceError as exc:
            outcome = self._failed(name, str(exc), exc.retry_after)
        except TimeoutError:
            outcome = self._failed(name, f"no answer within {self.poll_timeout:g} s", None)
        except Exception as exc:  # a bug or a store failure: show it, keep the job alive
            log.exception("source %s: poll failed unexpectedly", name)
            outcome = self._failed(name, f"internal error: {type(exc).__name__}: {exc}", None)
        else:
            self._succeeded(name, outcome)
        if outcome.error is not None or state.status != status_before:
            await in_background(self.save_statuses)  # failures show at once
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    async def _poll_and_ingest(self, name: str) -> PollOutcome:
        source = self.specs[name].source
        assert source is not None
        cursor = await in_background(self.store.get_cursor, name)
        polled: PollResult = await asyncio.wait_for(
            source.poll(self.http, cursor), timeout=self.poll_timeout
        )
        fetched_at = self.clock()
        mentions = list(polled.mentions)
        outcome = PollOutcome(name, fetched=len(mentions))
        if cursor is None:  # first run: only the backfill window
            floor = fetched_at - self.specs[name].config.backfill
            kept = [m for m in mentions if m.created_at >= floor]
            outcome.too_old = len(mentions) - len(kept)
            mentions = kept
        # One worker call for the poll's writes: the event loop stays free, one thread hop.
        await self._store(outcome, mentions, polled, cursor, fetched_at)
        self.state[name].record_lags(outcome.result.new, fetched_at)
        if polled.errors:
            outcome.partial = "; ".join(polled.errors)
        if polled.retry_after:
            self._pause(name, polled.retry_after, polled.pause_reason or "the source asked to wait")
        return outcome

    async def _store(
        self,
        outcome: PollOutcome,
        mentions: list[Mention],
        polled: PollResult,
        cursor: str | None,
        fetched_at: datetime,
    ) -> None:
        """Write what a poll found, alone or with the polls that finished meanwhile."""
        if self.ingest_batches is None:
            await in_background(self._store_poll, outcome, mentions, polled, cursor, fetched_at)
            return
        write = _Write(outcome, mentions, polled, cursor, fetched_at)
        done = asyncio.get_running_loop().create_future()
        self._writes.append(write)
        write.done = done
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await done

    async def _write_pending(self) -> None:
        """Write the waiting polls in groups, each group in one worker call, until none waits."""
        while self._writes:
            group, self._writes = self._writes, []
            try:
                await in_background(self._store_group, group)
            except Exception as exc:  # handed to every poll of the group
                for write in group:
                    write.error = write.error or exc
            for write in group:
                if write.done is None or write.done.done():
                    continue  # that poll was cancelled meanwhile
                if write.error is not None:
                    write.done.set_exception(write.error)
                else:
                    write.done.set_result(None)

    def _store_group(self, group: list[_Write]) -> None:
        """The polls' mentions in one ingest, their deleted posts noted, then their cursors in
        one write: a crash in between repeats the fetch, never loses nor doubles a mention."""
        assert self.ingest_batches is not None
        if len(group) == 1:
            self._store_alone(group[0])
            return
        with_mentions = [w for w in group if w.mentions]
        try:
            results = self.ingest_batches([(w.mentions, w.fetched_at) for w in with_mentions])
        except Exception:  # one poll's trouble must not be every poll's: each on its own
            log.exception("writing %d polls together failed; writing each alone", len(group))
            for write in group:
                self._store_alone(write)
            return
        for write, result in zip(with_mentions, results, strict=True):
            write.outcome.result = result
        for write in group:
            if write.polled.gone and self.note_gone is not None:
                try:
                    noted = self.note_gone(list(write.polled.gone), write.fetched_at)
                except Exception as exc:  # that poll fails, its cursor stays
                    write.error = exc
                    continue
                write.outcome.gone_noted = len(noted)
        moved = {
            w.outcome.source: w.polled.cursor
            for w in group
            if w.error is None and w.polled.cursor != w.cursor
        }
        set_cursors = getattr(self.store, "set_cursors", None)
        if set_cursors is not None and len(moved) > 1:
            set_cursors(moved)  # only after the mentions are safely stored
        else:
            for source, new_cursor in moved.items():
                self.store.set_cursor(source, new_cursor)

    def _store_alone(self, write: _Write) -> None:
        try:
            self._store_poll(
                write.outcome, write.mentions, write.polled, write.cursor, write.fetched_at
            )
        except Exception as exc:  # raised in that poll's own run
            write.error = exc

    def _store_poll(
        self,
        outcome: PollOutcome,
        mentions: list[Mention],
        polled: PollResult,
        cursor: str | None,
        fetched_at: datetime,
    ) -> None:
        """Ingest the poll's mentions, note its deleted posts, then move the cursor."""
        if mentions:
            outcome.result = self.ingest(mentions, fetched_at)
        if polled.gone and self.note_gone is not None:
            outcome.gone_noted = len(self.note_gone(list(polled.gone), fetched_at))
        if polled.cursor != cursor:  # only after the mentions are safely stored
            self.store.set_cursor(outcome.source, polled.cursor)

    # --- bookkeeping ------------------------------------------------------------------
    def _succeeded(self, name: str, outcome: PollOutcome) -> None:
        state = self.state[name]
        state.succeeded(self.clock(), outcome.fetched, len(outcome.result.new), outcome.partial)
        if outcome.partial:
            log.warning("source %s: part of the poll failed: %s", name, outcome.partial)
        if state.backoff_until is not None and state.backoff_until <= self.clock():
            state.backoff_until = None
            state.backoff_reason = None
        log.info(
            "source %s: %d fetched, %d new, %d known, %d ignored, %d too old",
            name,
            outcome.fetched,
            len(outcome.result.new),
            outcome.result.duplicates,
            outcome.result.ignored,
            outcome.too_old,
        )

    def _failed(self, name: str, message: str, retry_after: float | None) -> PollOutcome:
        state = self.state[name]
        state.failed(self.clock(), message)
        if retry_after is not None and retry_after > 0:
            self._pause(name, retry_after, f"rate limited: {message}")
        else:
            failures = state.consecutive_failures
            self._pause(name, self._backoff_seconds(name), f"failing ({failures} in a row)")
        log.warning(
            "source %s failed (%d in a row): %s; next try after %s",
            name,
            state.consecutive_failures,
            message,
            state.backoff_until.isoformat() if state.backoff_until else "the next interval",
        )
        return PollOutcome(name, error=message)

    def _backoff_seconds(self, name: str) -> float:
        """Exponential in the number of failures, from the source's interval, with jitter."""
        base = self.specs[name].config.interval.total_seconds()
        failures = self.state[name].consecutive_failures
        delay: float = min(base * 2.0 ** (failures - 1), MAX_BACKOFF.total_seconds())
        return delay * self.rng.uniform(0.8, 1.2)

    def _pause(self, name: str, seconds: float, why: str) -> None:
        seconds = min(seconds, MAX_RETRY_AFTER.total_seconds())
        until = self.clock() + timedelta(seconds=seconds)
        state = self.state[name]
        if state.backoff_until is None or state.backoff_until < until:
            state.backoff_until = until
            state.backoff_reason = why
        self._reschedule(name, until)

    def save_statuses(self) -> None:
        """Save the status of every source that changed (for ``triagebot sources``)."""
        self.note_next_runs()
        set_cursors = getattr(self.store, "set_cursors", None)  # one write for them all
        if set_cursors is not None and len(self._dirty) > 1:
            names = list(self._dirty)
            self._dirty.clear()
            try:
                set_cursors({status_key(n): json.dumps(self.state[n].to_dict()) for n in names})
            except Exception:  # the status is informative only; never fail a poll for it
                log.exception("could not save the status of sources %s", ", ".join(names))
            return
        while self._dirty:
            name = self._dirty.pop()
            try:
                text = json.dumps(self.state[name].to_dict())
                self.store.set_cursor(status_key(name), text)
            except Exception:  # the status is informative only; never fail a poll for it
                log.exception("could not save the status of source %s", name)

    async def aclose(self) -> None:
        """Save what is left of the sources' status and close their HTTP client."""
        await in_background(self.save_statuses)
        await self.http.aclose()

    def states(self) -> list[SourceState]:
        self.note_next_runs()
        return list(self.state.values())

    def health(self) -> list[dict[str, Any]]:
        """Each source's state for ``/healthz``: as saved, without the recent lags themselves
        (their median is there), which would make each answer hundreds of numbers longer."""
        return [state.to_dict(lags=False) for state in self.states()]


def job_id(name: str) -> str:
    return f"poll:{name}"


async def poll_all(poller: Poller, names: Iterable[str]) -> list[PollOutcome]:
    """Run the given sources once, concurrently, and save their status."""
    outcomes = list(await asyncio.gather(*(poller.run(name) for name in names)))
    await in_background(poller.save_statuses)
    return outcomes
