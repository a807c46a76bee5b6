"""/healthz answers from memory while the store is held; interactive work never waits for
the threads of delivery or background work."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.conftest import EXAMPLE_CONFIG
from tests.store.builders import make_new
from triagebot.config.settings import load_settings
from triagebot.lanes import BACKGROUND_THREADS, DELIVERY_THREADS, in_background, in_delivery
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime
from triagebot.store.tinydb_store import TinyDBStore

HELD = 3.0  # seconds the store stays held: far longer than any answer may take


async def _health(
    session: aiohttp.ClientSession, server: TestServer
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    async with session.get(server.make_url("/healthz")) as response:
        assert response.status == 200
        body = await response.json()
    return time.perf_counter() - started, body


async def test_healthz_answers_while_a_writer_holds_the_store(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "db.json")})
    runtime = Runtime.build(settings)
    store = runtime.store
    assert isinstance(store, TinyDBStore)
    store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
    server = TestServer(create_app(runtime))
    await server.start_server()
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:  # what a long commit of delivery or ingest does to readers
        with store._lock:
            holding.set()
            release.wait(HELD)

    holder = threading.Thread(target=hold)
    try:
        async with aiohttp.ClientSession() as session:
            _, before = await _health(session, server)
            assert before["active_cases"] == 2
            assert before["counts_at"] is not None
            holder.start()
            assert holding.wait(5)
            took = [(await _health(session, server))[0] for _ in range(5)]
            assert max(took) < 1.0, took  # without the counts in memory: HELD seconds
            release.set()
    finally:
        release.set()
        if holder.is_alive():
            holder.join()
        await server.close()


async def test_a_click_thread_is_free_while_delivery_and_background_work_are_busy() -> None:
    gate = threading.Event()
    started: list[str] = []

    def busy(name: str) -> str:
        started.append(name)
        gate.wait(10)
        return name

    work = [
        asyncio.ensure_future(in_background(busy, f"b{n}")) for n in range(BACKGROUND_THREADS + 2)
    ]
    work += [asyncio.ensure_future(in_delivery(busy, f"d{n}")) for n in range(DELIVERY_THREADS + 1)]
    try:
        for _ in range(200):
            if len(started) == BACKGROUND_THREADS + DELIVERY_THREADS:
                break
            await asyncio.sleep(0.01)
        # Each lane is bounded: the extra calls wait for their own lane's threads ...
        assert len(started) == BACKGROUND_THREADS + DELIVERY_THREADS
        # ... and a click's call, on the default executor, runs at once.
        name = await asyncio.wait_for(asyncio.to_thread(lambda: threading.current_thread().name), 2)
        assert not name.startswith(("triagebot-background", "triagebot-delivery"))
    finally:
        gate.set()
        await asyncio.gather(*work)
    assert sorted(started) == sorted(f"b{n}" for n in range(BACKGROUND_THREADS + 2)) + sorted(
        f"d{n}" for n in range(DELIVERY_THREADS + 1)
    )
