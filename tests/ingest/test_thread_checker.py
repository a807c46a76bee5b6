"""The leader's paced thread reads against the loopback forum: within each source's budget,
fair to every case, and one failing source never stalls the others."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest_asyncio

from integrations.demo.forum import DemoForum, ForumSource
from tests.store.builders import make_case, make_mention
from triagebot.actions.public import ThreadBudget, ThreadRead, ThreadReads
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState, Mention, NewCase
from triagebot.config.settings import Settings
from triagebot.errors import SourceError
from triagebot.ingest.threads import RUN_EVERY, ThreadChecker
from triagebot.store.tinydb_store import TinyDBStore


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Counting(ForumSource):
    reads: list[tuple[datetime, int]] = field(default_factory=list)
    posts_read: list[tuple[datetime, str]] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    broken: bool = False

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        self.reads.append((self.clock(), len(mentions)))
        self.posts_read.extend((self.clock(), self.post_id(m)) for m in mentions)
        if self.broken:
            raise httpx.ConnectError("the platform is down")
        return await super().threads(http, mentions)


@pytest_asyncio.fixture
async def forum() -> AsyncIterator[DemoForum]:
    fake = DemoForum()
    await fake.start()
    yield fake
    await fake.stop()


def fill(store: TinyDBStore, now: datetime, source: str, count: int, first: int) -> None:
    new = []
    for n in range(first, first + count):
        mention = make_mention(f"{source}:{n}", created_at=now - timedelta(hours=1))
        case = make_case(str(n), state=CaseState.OPEN, ingested_at=now - timedelta(minutes=50))
        new.append(NewCase(replace(case, mention=mention)))
    store.add_cases(new)


async def test_reads_stay_in_budget_and_reach_every_case(
    tmp_path: Path, settings: Settings, forum: DemoForum
) -> None:
    clock = Clock()
    store = TinyDBStore(tmp_path / "db.json")
    fill(store, clock.now, "x", 60, 1)
    fill(store, clock.now, "down", 10, 100)
    budget = ThreadBudget(requests=8, per_seconds=60.0)  # 4 reads a minute for threads
    fast = Counting(forum.url, name="x", thread_budget=budget, clock=clock)
    down = Counting(forum.url, name="down", thread_budget=budget, clock=clock, broken=True)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    checker = ThreadChecker(store, settings, {"x": fast, "down": down}, http, clock)
    forum.say("7", "northwind", "Sorry! Sending a new one today")
    try:
        for _ in range(40):  # 20 minutes
            await checker.run()
            clock.now += RUN_EVERY
    finally:
        await http.aclose()
    times = [at for at, _ in fast.reads]
    for i, at in enumerate(times):  # never more than the budget's share in any minute
        assert sum(1 for t in times[i:] if t - at < timedelta(seconds=60)) <= 4 + 1
    assert len(times) >= 70  # ~4 a minute for 20 minutes, despite the broken source
    assert len(down.reads) < len(times) / 3  # the broken source pauses after each failure
    assert store.get_case("7").first_response is not None  # the brand's answer was found
    store.close()


async def test_every_case_is_read_before_any_is_read_twice(
    tmp_path: Path, settings: Settings, forum: DemoForum
) -> None:
    clock = Clock()
    store = TinyDBStore(tmp_path / "db.json")
    fill(store, clock.now, "x", 30, 1)
    seen: list[str] = []

    @dataclass
    class Recording(Counting):
        async def threads(
            self, http: httpx.AsyncClient, mentions: Sequence[Mention]
        ) -> Mapping[str, ThreadRead]:
            seen.extend(m.id for m in mentions)
            return await super().threads(http, mentions)

    source = Recording(
        forum.url, name="x", thread_budget=ThreadBudget(4, 30.0), clock=clock
    )  # 2 reads per run
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    checker = ThreadChecker(store, settings, {"x": source}, http, clock, every=timedelta(0))
    try:
        for _ in range(40):
            await checker.run()
            clock.now += RUN_EVERY
    finally:
        await http.aclose()
        store.close()
    assert len(seen) >= 60
    assert len(set(seen[:30])) == 30  # the first 30 reads cover all 30 cases


async def test_a_closed_case_is_read_for_follow_closed_for_then_no_more(
    tmp_path: Path, settings: Settings, forum: DemoForum
) -> None:
    """Within ``[replies] follow_closed_for`` of its resolve a case's thread is still read (a
    follow-up reopens it); past it, the reads stop and a late follow-up is never seen."""
    clock = Clock()
    store = TinyDBStore(tmp_path / "db.json")
    resolved_at = clock.now - timedelta(hours=1)
    new = []
    for n in ("1", "2"):
        case = make_case(n, state=CaseState.RESOLVED, ingested_at=clock.now - timedelta(hours=3))
        case = replace(
            case, resolved_at=resolved_at, resolved_by=Identity("cli", "ana"),
            thread_seen_at=resolved_at,
        )  # fmt: skip
        new.append(NewCase(case))
    store.add_cases(new)
    customer = store.get_case("1").mention.author.handle
    source = Counting(forum.url, name="x", clock=clock)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    checker = ThreadChecker(store, settings, {"x": source}, http, clock)
    window = settings.config.replies.follow_closed_for
    every = settings.config.replies.check_every
    ends = resolved_at + window

    def reads_of(post: str, after: datetime) -> list[datetime]:
        return [at for at, post_id in source.posts_read if post_id == post and at > after]

    try:
        await checker.run()  # both resolved cases are followed
        forum.say("1", customer, "Still nothing arrived, can you check again?")
        clock.now = ends - timedelta(minutes=30)  # late in the window: still read
        await checker.run()
        assert store.get_case("1").state is CaseState.OPEN  # the follow-up reopened it
        while clock.now < ends:
            clock.now += every
            await checker.run()
        assert reads_of("2", ends - timedelta(minutes=31))  # read until the window closed
        last = clock.now
        clock.now += every
        await checker.run()  # at most this one read finds the window closed
        forum.say("2", customer, "Hello? Anyone there?")  # too late to be followed
        for _ in range(36):  # three more hours, past a full refresh of the followed cases
            clock.now += every
            await checker.run()
    finally:
        await http.aclose()
    assert reads_of("2", last + every) == []
    assert store.get_case("2").state is CaseState.RESOLVED
    assert reads_of("1", last + every)  # the reopened case is still read
    store.close()


@dataclass
class Throttled(Counting):
    """Answers its first round as a platform at its limit: ``cut`` reads some threads first
    (the round comes back cut short), else the first read already fails; both ask for
    ``wait`` seconds."""

    wait: float = 600.0
    cut: bool = False
    throttled: bool = True

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        if not self.throttled:
            return await super().threads(http, mentions)
        self.throttled = False
        self.reads.append((self.clock(), len(mentions)))
        if not self.cut:
            raise SourceError("rate limited (HTTP 429)", retry_after=self.wait)
        first = await super().threads(http, mentions[:1])
        self.reads.pop()  # counted above as the throttled round
        return ThreadReads(first, self.wait)


async def _runs(checker: ThreadChecker, clock: Clock, minutes: int) -> None:
    for _ in range(int(timedelta(minutes=minutes) / RUN_EVERY)):
        await checker.run()
        clock.now += RUN_EVERY


async def test_a_throttled_source_waits_as_long_as_the_platform_asked(
    tmp_path: Path, settings: Settings, forum: DemoForum
) -> None:
    clock = Clock()
    store = TinyDBStore(tmp_path / "db.json")
    fill(store, clock.now, "x", 3, 1)
    source = Throttled(forum.url, name="x", thread_budget=ThreadBudget(60, 60.0), clock=clock)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    checker = ThreadChecker(store, settings, {"x": source}, http, clock, every=timedelta(0))
    started = clock.now
    try:
        await _runs(checker, clock, 15)
    finally:
        await http.aclose()
        store.close()
    assert source.reads[0][0] == started
    assert source.reads[1][0] - started >= timedelta(seconds=600)  # not the 2 minutes' pause
    assert source.reads[1][0] - started < timedelta(seconds=600) + 2 * RUN_EVERY


async def test_a_round_cut_short_keeps_what_it_read_and_the_rest_waits_its_turn(
    tmp_path: Path, settings: Settings, forum: DemoForum
) -> None:
    clock = Clock()
    store = TinyDBStore(tmp_path / "db.json")
    fill(store, clock.now, "x", 3, 1)
    for n in ("1", "2", "3"):
        forum.say(n, "northwind", f"We are on it, case {n}")
    budget = ThreadBudget(60, 60.0, batch=3)
    source = Throttled(forum.url, name="x", thread_budget=budget, clock=clock, cut=True)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    every = timedelta(hours=1)  # a thread read is not due again within the test
    checker = ThreadChecker(store, settings, {"x": source}, http, clock, every=every)
    started = clock.now
    try:
        await checker.run()
        answered = [n for n in ("1", "2", "3") if store.get_case(n).first_response is not None]
        assert len(answered) == 1  # the one thread read before the platform said stop
        clock.now += RUN_EVERY
        await _runs(checker, clock, 9)
        assert [at for at, _ in source.reads] == [started]  # paused for the 600 s asked
        await _runs(checker, clock, 2)
        assert all(store.get_case(n).first_response is not None for n in ("1", "2", "3"))
        assert sum(count for _, count in source.reads[1:]) == 2  # only the two left unread
    finally:
        await http.aclose()
        store.close()
