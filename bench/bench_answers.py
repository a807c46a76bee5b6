"""Benchmark of answering the customer: reply latency and paced thread reads.

Run ``python -m bench.bench_answers [--active 300 50300] [--threads 1000]``.

1. **Reply click to public post.** A TinyDB store of only active cases (``bench_active``'s
   data set) and the loopback forum (``integrations.demo.forum``) on 127.0.0.1, which answers
   at once: everything measured is triagebot's own time. For 30 cases, a manager's reply
   through ``Answering.reply`` (what the Slack modal, the Teams card and the board call):
   time until the platform receives the POST, and until the outcome is recorded on the case.
2. **Thread reads of many active cases.** ``--threads`` active cases followed by the real
   ``ThreadChecker`` against the forum, over two simulated hours (the checker runs every 30
   simulated seconds, the forum answers at once), each source given the budget its adapter
   declares. The brand answers 200 random cases on the platform at random moments; measured:
   the most requests any source made in one window of its limit (against the limit), and the
   delay from an answer to its recording as the first public response (simulated time),
   against the configured check interval.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.bench_active import _copy
from integrations.demo.forum import DemoForum, ForumSource
from triagebot.actions.public import ThreadBudget, ThreadRead
from triagebot.cases.identities import Identity
from triagebot.cases.records import ACTIVE_STATES, Case, Mention
from triagebot.config.settings import Settings, load_settings
from triagebot.ingest.threads import RUN_EVERY, ThreadChecker
from triagebot.runtime.answering import Answering
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
MANAGER = Identity("cli", "maria")  # a manager in the example configuration
TEXT = "So sorry about this! We've sent you a DM so we can sort it out today."


def _settings(db: Path) -> Settings:
    return load_settings(ROOT / "triagebot.example.toml", {"TRIAGEBOT_DB": str(db)})


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


async def reply_latency(active: int, runs: int = 30) -> dict[str, str]:
    db = _copy(active)
    settings = _settings(db)
    forum = DemoForum(limit=10_000)
    url = await forum.start()
    store = TinyDBStore(db)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    cases = store.list_cases(states=ACTIVE_STATES, limit=runs)
    sources = {c.mention.source: ForumSource(url, name=c.mention.source) for c in cases}
    answering = Answering(store, settings, sources, http, lambda: datetime.now(UTC))
    to_post, to_record = [], []
    try:
        for case in cases:
            sent = len(forum.requests)
            started = time.perf_counter()
            await answering.reply(case.id, MANAGER, "bench", TEXT)
            while len(forum.requests) == sent:
                await asyncio.sleep(0.0005)
            to_post.append(time.perf_counter() - started)
            await answering.drain()
            to_record.append(time.perf_counter() - started)
    finally:
        await answering.aclose()
        store.close()
        await forum.stop()
    return {
        "active cases": f"{active:,}",
        "click to POST at the platform": _ms(to_post),
        "click to reply recorded": _ms(to_record),
        "replies": str(len(to_post)),
        "load": f"{os.getloadavg()[0]:.1f}",
    }


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class CountingSource(ForumSource):
    """The forum's source, recording when (simulated) it read how many threads."""

    reads: list[datetime] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        self.reads.append(self.clock())
        return await super().threads(http, mentions)


def _most_in_window(reads: Sequence[datetime], window: timedelta) -> int:
    most, first = 0, 0
    for last, at in enumerate(reads):
        while at - reads[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def thread_reads(
    count: int, budgets: Mapping[str, ThreadBudget], hours: float = 2.0
) -> list[dict[str, str]]:
    db = _copy(count)
    settings = _settings(db)
    forum = DemoForum(limit=10_000)
    url = await forum.start()
    store = TinyDBStore(db)
    clock = Clock()
    cases = store.list_cases(states=ACTIVE_STATES)
    names = sorted({c.mention.source for c in cases})
    plan = {name: budgets[list(budgets)[i % len(budgets)]] for i, name in enumerate(names)}
    sources = {
        name: CountingSource(url, name=name, thread_budget=plan[name], clock=clock)
        for name in names
    }
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=20))
    checker = ThreadChecker(store, settings, sources, http, clock)
    rng = random.Random(count)
    answered_at: dict[str, datetime] = {}
    pending: list[tuple[datetime, Case]] = sorted(
        ((clock.now + timedelta(seconds=rng.uniform(0, hours * 3600 * 0.75)), c)
         for c in rng.sample(cases, min(200, len(cases)))),
        key=lambda pair: pair[0],
    )  # fmt: skip
    delays: dict[str, list[float]] = defaultdict(list)
    end = clock.now + timedelta(hours=hours)
    try:
        while clock.now < end:
            while pending and pending[0][0] <= clock.now:
                _, case = pending.pop(0)
                forum.say(case.mention.id.split(":", 1)[1], "northwind_support", TEXT)
                answered_at[case.id] = clock.now
            await checker.run()
            for case_id, at in list(answered_at.items()):
                stored = store.get_case(case_id)
                if stored.first_response is not None:
                    delays[stored.mention.source].append((clock.now - at).total_seconds())
                    del answered_at[case_id]
            clock.now += RUN_EVERY
    finally:
        await http.aclose()
        store.close()
        await forum.stop()
    source_of = {c.id: c.mention.source for c in cases}
    rows = []
    for name in names:
        budget, source = plan[name], sources[name]
        window = timedelta(seconds=budget.per_seconds)
        found = delays[name]
        limit = f"{budget.requests}/{budget.per_seconds:g} s, batch {budget.batch}"
        most = _most_in_window(source.reads, window)
        waited = (
            f"{statistics.median(found) / 60:.1f} / {max(found) / 60:.1f} min" if found else "-"
        )
        rows.append(
            {
                "source (budget)": f"{name} ({limit})",
                "cases": str(sum(1 for c in cases if c.mention.source == name)),
                "most requests in one window": f"{most} of {budget.requests}",
                "answer to recorded, median / max": waited,
                "not yet found": str(sum(1 for c in answered_at if source_of[c] == name)),
            }
        )
    return rows


def _table(rows: Sequence[Mapping[str, str]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(row[k] for k in keys) + " |" for row in rows]
    return "\n".join(lines)


DEFAULT_BUDGETS = {"fast": ThreadBudget(300, 300.0, 1), "slow": ThreadBudget(60, 900.0, 10)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, nargs="*", default=[300, 50_300])
    parser.add_argument("--threads", type=int, default=1_000)
    args = parser.parse_args(argv)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
    if args.active:
        print(_table([asyncio.run(reply_latency(n)) for n in args.active]))
    if args.threads:
        print(_table(asyncio.run(thread_reads(args.threads, DEFAULT_BUDGETS))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
