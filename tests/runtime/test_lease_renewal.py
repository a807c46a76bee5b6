"""A worker renews the leases of what it holds while it works, and gives back what it leaves.

Two workers on one store (as two processes would be), a surface slower than the lease, the
real clock: the second worker never gets an item the first is still delivering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.surface import RecordingSurface
from triagebot.cases.records import Author, Case, Mention, MessageRef
from triagebot.config.settings import Settings
from triagebot.runtime.delivery import LEASE, RENEW_EVERY, DeliveryWorker
from triagebot.runtime.wiring import Runtime


class SlowSurface(RecordingSurface):
    def __init__(self, delay: float) -> None:
        super().__init__("slow")
        self.delay = delay

    async def post(self, case: Case) -> MessageRef:
        await asyncio.sleep(self.delay)
        return await super().post(case)


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.build(settings, [], clock=utcnow)
    yield runtime
    runtime.close()


def ingest(runtime: Runtime, count: int) -> None:
    now = utcnow()
    mentions = [
        Mention(
            f"x:{n}",
            "x",
            "x",
            f"https://x.example/{n}",
            Author(f"user{n}"),
            f"northwind my parcel {n} never arrived",
            now,
        )
        for n in range(count)
    ]
    assert len(runtime.pipeline.ingest(mentions, now).new) == count


def worker(runtime: Runtime, surface: RecordingSurface, **lease: object) -> DeliveryWorker:
    return DeliveryWorker(runtime.store, [surface], runtime.policy, utcnow, **lease)  # type: ignore[arg-type]


def test_the_lease_fits_delivery_and_is_renewed_well_within_it() -> None:
    assert timedelta(seconds=15) >= LEASE
    assert LEASE.total_seconds() >= RENEW_EVERY * 3


async def test_a_second_worker_never_gets_what_the_first_is_delivering(runtime: Runtime) -> None:
    ingest(runtime, 2)
    first, second = SlowSurface(1.5), RecordingSurface("slow")
    short = {"lease": timedelta(seconds=0.5), "renew_every": 0.1}
    a, b = worker(runtime, first, **short), worker(runtime, second, **short)
    flushing = asyncio.ensure_future(a.flush())
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    until = loop.time() + 2.0  # four times the lease
    while loop.time() < until and not flushing.done():
        await b.flush()
        await asyncio.sleep(0.05)
    await flushing
    assert second.posts == [] and len(first.posts) == 2


async def test_a_dead_workers_items_come_back_after_the_lease(runtime: Runtime) -> None:
    ingest(runtime, 1)
    short = {"lease": timedelta(seconds=0.5), "renew_every": 0.1}
    dying = worker(runtime, SlowSurface(30), **short)
    flushing = asyncio.ensure_future(dying.flush())
    await asyncio.sleep(0.2)
    flushing.cancel()  # as if the process died: nothing given back, no more renewals
    heir = RecordingSurface("slow")
    assert await worker(runtime, heir, **short).flush() == 0  # still leased
    await asyncio.sleep(0.6)
    await worker(runtime, heir, **short).flush()
    assert len(heir.posts) == 1


async def test_stopping_gives_back_the_items_waiting_and_in_flight(runtime: Runtime) -> None:
    ingest(runtime, 3)
    slow = SlowSurface(30)
    leaving = worker(runtime, slow)
    flushing = asyncio.ensure_future(leaving.flush())
    await asyncio.sleep(0.2)
    leaving.stop()
    assert await leaving.wait_idle(0.2) is True  # nothing left leased
    assert await asyncio.wait_for(flushing, 1) == 0
    assert slow.posts == []
    # The next worker delivers them at once, without waiting out a lease.
    heir = RecordingSurface("slow")
    await worker(runtime, heir).flush()
    assert len(heir.posts) == 3
