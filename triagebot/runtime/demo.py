"""``triagebot demo``: the whole job on the embedded default, with no credentials.

Replays the bundled sample mentions of a fictional brand through the real pipeline, one every
``pace`` seconds, re-stamped so each looks posted a few minutes ago; the console surface shows
them. Simulated staff claim them from the board and answer the customer: a reply typed on the
board and posted to the (loopback) platform, or an answer given on the platform itself that
the thread check finds; some customers write again in the thread (a follow-up, which reopens
a resolved case). On a first run the store gets a month of handled cases
(``demo_history``), so ``triagebot sla``, the board's report and its chart have shapes to
show.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.cases.records import Case, CaseState, Mention
from triagebot.errors import TriagebotError
from triagebot.ingest.mention_io import iter_json_lines, mention_from_json
from triagebot.lanes import in_background
from triagebot.paths import packaged_path
from triagebot.runtime.demo_history import make_history, needs_history
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)
_T = TypeVar("_T")

STAFF = ("ana", "ben", "chloe")
#: The brand's account that answers on the platform itself (one of ``brand.handles``).
BRAND_ON_PLATFORM = "northwind_support"
ANSWERS = (
    "So sorry about this! We've sent you a DM so we can sort it out today.",
    "Thanks for flagging this. Could you DM us your order number? We'll take it from there.",
    "We hear you, and we're on it: a colleague from the right team will follow up shortly.",
    "Thank you for the kind words! We've passed them on to the team.",
)
FOLLOW_UPS = (
    "Sent the DM, still waiting on an answer though",
    "ok thanks, but it's still not working this morning",
    "Appreciate the quick reply! Order number is in your DMs now.",
)


class DemoPlatform(Protocol):
    """What the demo does on the (loopback) platform: others' posts in a thread, failures."""

    def say(self, parent: str, author: str, text: str) -> object: ...

    def fail(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None: ...


@dataclass(frozen=True)
class Sample:
    """A bundled sample post and how long before its ingest it was posted."""

    data: dict[str, Any]
    lag: timedelta

    def stamped(self, now: datetime) -> Mention:
        return mention_from_json(self.data, created_at=now - self.lag)


def load_samples() -> list[Sample]:
    return [
        Sample(data, timedelta(minutes=float(data.get("lag_minutes", 5))))
        for _, data in iter_json_lines(packaged_path("demo_mentions.jsonl"))
    ]


def post_id(mention: Mention) -> str:
    """The post's id on its platform (the part of the mention id after the source name)."""
    return mention.id.split(":", 1)[1]


@dataclass
class DemoOptions:
    pace: float = 1.5
    staff: bool = True
    until_done: bool = False
    seed: int | None = None


class DemoReplay:
    """Feeds the samples into the pipeline and plays the staff."""

    def __init__(
        self, runtime: Runtime, options: DemoOptions, platform: DemoPlatform | None = None
    ) -> None:
        self.runtime = runtime
        self.options = options
        self.platform = platform
        self.random = random.Random(options.seed)
        self.pending: set[asyncio.Task[Any]] = set()
        self.working: set[asyncio.Task[Any]] = set()  # store work a stop waits for
        self.task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self._failed_once = False
        self._reopened_once = False

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def stop(self, timeout: float = 5.0) -> None:
        """Feed no more samples and play no more staff; wait up to ``timeout`` s for the store
        work under way, so that the store closes after it."""
        for task in (self.task, *self.pending):
            if task is not None:
                task.cancel()
        if self.working:
            await asyncio.wait(self.working, timeout=timeout)

    async def _in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn`` in a thread that a stop waits for, even once the task awaiting it is
        cancelled."""
        work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self.working.add(work)
        work.add_done_callback(self._settled)
        return await asyncio.shield(work)

    def _settled(self, work: asyncio.Task[Any]) -> None:
        """Forget finished store work. Its error is its awaiter's, or nobody's once a stop has
        cancelled the awaiter: seen here, so that it is not logged as never retrieved."""
        self.working.discard(work)
        if not work.cancelled():
            work.exception()

    async def add_history(self) -> int:
        """A month of handled cases when the store has none (the number stored)."""
        runtime = self.runtime
        now = runtime.clock()
        if not await in_background(needs_history, runtime.store, now):
            return 0
        samples = [s.stamped(now) for s in load_samples()]
        return await in_background(
            make_history, runtime.store, runtime.settings, samples, now, self.options.seed
        )

    async def run(self) -> None:
        runtime = self.runtime
        known = 0
        history = await self.add_history()
        if history:
            log.info("demo: a month of history stored (%d handled cases)", history)
        for sample in load_samples():
            now = runtime.clock()
            result = await self._in_thread(runtime.pipeline.ingest, [sample.stamped(now)], now)
            known += result.duplicates
            for case in result.new:
                if self.options.staff and case.state is CaseState.NEW:
                    self._spawn(self._play_staff(case))
            if result.new:
                await asyncio.sleep(self.options.pace)
        if known:
            log.warning(
                "%d sample mentions were already in the store and were not posted again "
                "(delete the store file to start over)",
                known,
            )
        await asyncio.gather(*self.pending, return_exceptions=True)
        self.done.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _play_staff(self, case: Case) -> None:
        if self.random.random() > 0.75:
            return
        who = Identity("board", self.random.choice(STAFF))  # as if typed on the demo board
        scale = self.options.pace
        await asyncio.sleep(self.random.uniform(3, 12) * scale)
        if not await self._act(Claim(case.id, who, "demo")):
            return
        await asyncio.sleep(self.random.uniform(2, 8) * scale)
        answered = await self._answer(case, who)
        if answered and self.random.random() < 0.35:
            await asyncio.sleep(self.random.uniform(4, 10) * scale)
            self._customer_writes(case)
        if self.random.random() < 0.7:
            await asyncio.sleep(self.random.uniform(5, 20) * scale)
            resolved = await self._act(Resolve(case.id, who, "demo"))
            # After the resolve the case reopens: always once, so that every run shows it.
            if resolved and answered and (not self._reopened_once or self.random.random() < 0.2):
                self._reopened_once = True
                await asyncio.sleep(self.random.uniform(4, 10) * scale)
                self._customer_writes(case)

    async def _answer(self, case: Case, who: Identity) -> bool:
        """Answer the customer: from the board (a reply posted through the platform's API) or
        on the platform itself (the thread check finds it); some cases stay unanswered."""
        answering = self.runtime.answering
        text = self.random.choice(ANSWERS)
        roll = self.random.random()
        if roll < 0.5 and answering is not None and answering.can_reply(case):
            if not self._failed_once and self.platform is not None:
                self._failed_once = True  # once: the platform's rate limit, told to the replier
                self.platform.fail(429, retry_after=20)
            try:
                await answering.reply(case.id, who, "board", text)
            except TriagebotError as exc:
                log.info("demo staff %s: %s", who, exc)
                return False
            return True
        if roll < 0.75 and self.platform is not None:
            self.platform.say(post_id(case.mention), BRAND_ON_PLATFORM, text)
            return True
        return False

    def _customer_writes(self, case: Case) -> None:
        if self.platform is not None:
            text = self.random.choice(FOLLOW_UPS)
            self.platform.say(post_id(case.mention), case.mention.author.handle, text)

    async def _act(self, command: Claim | Resolve) -> bool:
        runtime = self.runtime
        try:
            await self._in_thread(execute, runtime.store, runtime.policy, command, runtime.clock())
        except TriagebotError as exc:
            # Somebody in another terminal got there first: that is the point of the demo.
            log.info("demo staff %s: %s", command.actor, exc)
            return False
        return True
