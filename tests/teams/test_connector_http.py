"""Bot Connector calls share their connections and never wait for the loop's default threads
(which button presses and the board use): over a loopback connector, with the real adapter."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from integrations.teams.surface import TeamsSurface
from tests.teams.test_surface import FakeConnector, connector, make_case, surface

__all__ = ["connector", "surface"]  # the fixtures this module uses


async def test_posts_one_after_another_reuse_their_connection(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime
) -> None:
    fake, _ = connector
    for n in range(6):
        await surface.post(replace(make_case(now), id=str(10 + n)))
    assert fake.n == 6
    # msrest alone opens a session, and so a connection, for every connector client it builds.
    assert len(fake.peers) <= 2, fake.peers


async def test_a_post_goes_out_while_the_default_threads_are_all_busy(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime
) -> None:
    fake, _ = connector
    loop = asyncio.get_running_loop()
    default = ThreadPoolExecutor(2)
    loop.set_default_executor(default)
    release = threading.Event()
    busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(2)]
    try:
        ref = await asyncio.wait_for(surface.post(make_case(now)), timeout=10)
        assert ref.message_id == "m1" and fake.n == 1
        assert not any(f.done() for f in busy)  # the default threads were busy all along
    finally:
        release.set()
        await asyncio.gather(*busy)
        default.shutdown()
