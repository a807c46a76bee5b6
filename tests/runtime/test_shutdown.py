"""A shutdown waits for the job runs in flight before it closes the store.

A thread read or a poll that is half-way through its store work when SIGTERM arrives must
finish it: the store closes after, not under it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from triagebot.config.settings import Settings
from triagebot.lanes import in_background
from triagebot.runtime.demo import DemoOptions, DemoReplay
from triagebot.runtime.scheduler import EVERY_PROCESS, add_interval_job, create_scheduler
from triagebot.runtime.server import SCHEDULER, create_app
from triagebot.runtime.wiring import Runtime


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.build(settings, [], clock=lambda: datetime.now(UTC))
    yield runtime
    runtime.close()


async def test_the_store_closes_after_the_job_that_is_using_it(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[int] = []

    def slow_store_work() -> None:  # a thread read: HTTP first, then the store
        started.set()
        release.wait(5)
        finished.append(runtime.store.active_count())

    app = create_app(runtime)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    add_interval_job(app[SCHEDULER], "slow", lambda: in_background(slow_store_work), HOUR)
    assert await asyncio.to_thread(started.wait, 5)

    closing = asyncio.ensure_future(server.close())  # on_shutdown, then on_cleanup
    await asyncio.sleep(0.3)
    assert not closing.done() and not finished  # still waiting for the run
    release.set()
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(closing, 10)

    assert finished == [0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_run_that_outlasts_the_wait_is_cut_short_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = create_scheduler()
    scheduler.start()
    gate = asyncio.Event()

    async def stuck() -> None:
        await gate.wait()
        raise RuntimeError("the store is closed")

    add_interval_job(scheduler, "stuck", stuck, HOUR, executor=EVERY_PROCESS)
    await asyncio.sleep(0.1)
    with caplog.at_level(logging.WARNING):
        assert await scheduler.wait_idle(0.1) is False
        gate.set()
        await asyncio.sleep(0.05)
    scheduler.shutdown(wait=False)

    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in lines] == ["event=job_cut_short job=stuck error=RuntimeError"]
    assert lines[0].exc_info is None  # no traceback


async def test_the_demo_stops_after_the_store_work_under_way(runtime: Runtime) -> None:
    replay = DemoReplay(runtime, DemoOptions(pace=0.01, staff=False))
    started = threading.Event()
    finished: list[int] = []

    def ingest_slowly() -> None:
        started.set()
        time.sleep(0.3)
        finished.append(runtime.store.active_count())

    async def feed() -> None:
        await replay._in_thread(ingest_slowly)

    replay.task = asyncio.ensure_future(feed())
    assert await asyncio.to_thread(started.wait, 5)
    await replay.stop()
    assert finished == [0]  # the store work ended before the stop returned
    assert replay.task.cancelled()


HOUR = timedelta(hours=1)
