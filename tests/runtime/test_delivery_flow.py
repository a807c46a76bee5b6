"""The outbox worker's flow: cases in parallel, one case's items in order, permanent errors,
and a shutdown that leaves nothing running."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.fakes.surface import RecordingSurface
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import Author, Case, Mention, MessageRef, OutboxItem, OutboxKind
from triagebot.config.settings import Settings
from triagebot.errors import DeliveryError
from triagebot.runtime.delivery import LEASE
from triagebot.runtime.wiring import Runtime


class SlowSurface(RecordingSurface):
    """Takes ``delay`` seconds per call and logs the order of calls."""

    def __init__(self, delay: float) -> None:
        super().__init__("slow")
        self.delay = delay
        self.log: list[str] = []

    async def post(self, case: Case) -> MessageRef:
        await asyncio.sleep(self.delay)
        self.log.append(f"post {case.id}")
        return await super().post(case)

    async def update(self, case: Case, ref: MessageRef) -> None:
        await asyncio.sleep(self.delay)
        self.log.append(f"update {case.id}")
        await super().update(case, ref)

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        self.log.append(f"reply {case.id}")
        await super().reply(case, ref, text)


class BrokenSurface(RecordingSurface):
    async def post(self, case: Case) -> MessageRef:
        raise DeliveryError("channel_not_found (check slack_channel)", permanent=True)


def mention(n: int, now: datetime) -> Mention:
    texts = ["parcel never arrived", "charged twice for my order", "zipper broke on day two",
             "love the new jacket", "login code never comes", "returns label missing"]  # fmt: skip
    return Mention(f"x:{n}", "x", "x", f"https://x.example/{n}", Author(f"user{n}"),
                   f"northwind {texts[n % len(texts)]} ({n})", now)  # fmt: skip


@pytest.fixture
def runtime(settings: Settings, now: datetime) -> Iterator[Runtime]:
    runtime = Runtime.build(settings, [], clock=lambda: now)
    yield runtime
    runtime.close()


async def test_cases_go_out_in_parallel_and_one_cases_items_in_order(
    runtime: Runtime, now: datetime
) -> None:
    slow = SlowSurface(0.2)
    runtime.surfaces.append(slow)
    cases = runtime.pipeline.ingest([mention(n, now) for n in range(6)], now).new
    loop = asyncio.get_running_loop()
    started = loop.time()
    await runtime.delivery().drain()
    assert loop.time() - started < 6 * 0.2 * 2 * 0.75  # six posts and updates, not one by one
    execute(runtime.store, runtime.policy, Claim(cases[0].id, Identity("cli", "ana"), "cli"), now)
    await runtime.delivery().drain()
    mine = [entry for entry in slow.log if entry.endswith(f" {cases[0].id}")]
    assert mine == [f"post {cases[0].id}", f"update {cases[0].id}", f"update {cases[0].id}",
                    f"reply {cases[0].id}"]  # fmt: skip
    assert runtime.store.pending_outbox() == 0


async def test_a_permanent_error_is_not_retried(
    runtime: Runtime, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = BrokenSurface("broken"), RecordingSurface("fine")
    runtime.surfaces.extend([broken, fine])
    runtime.pipeline.ingest([mention(1, now)], now)
    await runtime.delivery().drain()
    assert runtime.store.pending_outbox() == 0
    assert len(fine.posts) == 1
    assert "not retried: channel_not_found (check slack_channel)" in caplog.text


async def test_a_shutdown_gives_up_what_is_still_waiting(runtime: Runtime, now: datetime) -> None:
    slow = SlowSurface(30)
    runtime.surfaces.append(slow)
    runtime.pipeline.ingest([mention(n, now) for n in range(3)], now)
    worker = runtime.delivery()
    flush = asyncio.ensure_future(worker.flush())
    await asyncio.sleep(0.1)
    worker.stop()
    assert await worker.wait_idle(0.2) is True  # cancelled and given back: none left leased
    assert await asyncio.wait_for(flush, 1) == 0  # everything in flight was cancelled
    assert slow.posts == []
    assert len(runtime.store.lease_outbox(now, 10, LEASE)) == 3  # due at once, for another


async def test_a_post_for_one_surface_goes_there_alone(runtime: Runtime, now: datetime) -> None:
    late = RecordingSurface("late", departments=set())  # this process has no channel for it
    other = RecordingSurface("other")
    runtime.surfaces.extend([late, other])
    [case] = runtime.pipeline.ingest([mention(1, now)], now).new
    await runtime.delivery().drain()
    assert (late.posts, len(other.posts)) == ([], 1)
    item = OutboxItem("late-post-" + case.id, case.id, OutboxKind.POST, now, surface="late")
    assert runtime.store.queue_outbox([item, item]) == [True, False]
    await runtime.delivery().drain()
    assert [c.id for c in late.posts] == [case.id] and len(other.posts) == 1
    assert runtime.store.queue_outbox([item]) == [True]  # queued again: already shown there
    await runtime.delivery().drain()
    assert len(late.posts) == 1 and runtime.store.pending_outbox() == 0
