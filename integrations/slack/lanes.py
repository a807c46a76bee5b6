"""Per-channel pacing: at most one message every ``interval`` seconds in each channel.

Slack allows about one ``chat.postMessage`` a second per channel. Each channel is a lane with
its own lock, so posts to one channel go out in order and spaced, while other channels go on
at the same time. The clock is injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

DEFAULT_INTERVAL = 1.0


class _Lane:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.next_at = 0.0


class ChannelLanes:
    """Spaces messages per channel; ``async with lanes.turn(channel):`` then post."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._lanes: dict[str, _Lane] = {}

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        """Wait for the channel's next slot; the next one opens ``interval`` after this one's
        request is answered (so requests can never arrive closer together than ``interval``,
        however their network times vary)."""
        lane = self._lanes.setdefault(channel, _Lane())
        async with lane.lock:
            wait = lane.next_at - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                lane.next_at = max(lane.next_at, self._monotonic() + self.interval)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said to wait (429 Retry-After): keep the channel quiet for ``seconds``."""
        lane = self._lanes.setdefault(channel, _Lane())
        lane.next_at = max(lane.next_at, self._monotonic() + seconds)
