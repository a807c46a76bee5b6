"""``triagebot demo``: the whole job on the embedded default, with no credentials.

Replays the bundled sample mentions of a fictional brand through the real pipeline, one every
``pace`` seconds, re-stamped so each looks posted a few minutes ago; the console surface shows
them; simulated staff claim and resolve some of them so the SLA summary has something to say.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.cases.records import Case, CaseState, Mention
from triagebot.errors import TriagebotError
from triagebot.ingest.mention_io import iter_json_lines, mention_from_json
from triagebot.paths import packaged_path
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

STAFF = ("ana", "ben", "chloe")


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


@dataclass
class DemoOptions:
    pace: float = 1.5
    staff: bool = True
    until_done: bool = False
    seed: int | None = None


class DemoReplay:
    """Feeds the samples into the pipeline and plays the staff."""

    def __init__(self, runtime: Runtime, options: DemoOptions) -> None:
        self.runtime = runtime
        self.options = options
        self.random = random.Random(options.seed)
        self.pending: set[asyncio.Task[Any]] = set()
        self.done = asyncio.Event()

    async def run(self) -> None:
        runtime = self.runtime
        known = 0
        for sample in load_samples():
            now = runtime.clock()
            result = await asyncio.to_thread(runtime.pipeline.ingest, [sample.stamped(now)], now)
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
        if self.random.random() > 0.6:
            return
        who = Identity("board", self.random.choice(STAFF))  # as if typed on the demo board
        scale = self.options.pace
        await asyncio.sleep(self.random.uniform(3, 12) * scale)
        if not await self._act(Claim(case.id, who, "demo")):
            return
        if self.random.random() < 0.7:
            await asyncio.sleep(self.random.uniform(5, 20) * scale)
            await self._act(Resolve(case.id, who, "demo"))

    async def _act(self, command: Claim | Resolve) -> bool:
        runtime = self.runtime
        try:
            await asyncio.to_thread(
                execute, runtime.store, runtime.policy, command, runtime.clock()
            )
        except TriagebotError as exc:
            # Somebody in another terminal got there first: that is the point of the demo.
            log.info("demo staff %s: %s", command.actor, exc)
            return False
        return True
