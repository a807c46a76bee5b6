"""Per-channel pacing: at most one message every ``interval`` seconds in each channel.

Slack allows about one ``chat.postMessage`` a second per channel. Each channel is a lane with
its own lock, so posts to one channel go out in order and spaced, while other channels go on
at the same time. The clocks are injectable for tests.

A channel's next slot opens ``interval`` (plus a small ``margin``) after its previous request
was *sent*, not after it was answered, so a channel carries one message an interval whatever
the latency. What Slack compares is when the requests *arrive*, and a request that took longer
than usual to arrive brings the next one closer to it: the slot opens that much later. Slack's
answer carries the message's ``ts`` (its clock when the message was made); ``ts`` minus the
local time of sending is the request's one-way time plus the difference of the two clocks, and
the least of these over recent requests is the quickest arrival plus the same difference, so
their difference, the *lag*, is how much later than the quickest one this request arrived,
whatever the clocks say. A request whose arrival is not known (no answer, an error, a turn that
does not say when it sent) opens the next slot ``interval`` after it was answered, as it
must arrive before its answer; so does every request until ``_OFFSETS`` arrivals are known,
since the first requests of a process open their connections and arrive late, and measured
against them alone a request on a warm connection would seem to arrive early. The local time
of sending is read from the monotonic clock (set against the wall clock once), so a step of
the system clock does not pass for a quick arrival.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

DEFAULT_INTERVAL = 1.0
#: Seconds added to each interval: room for a request that arrives quicker than all recent.
DEFAULT_MARGIN = 0.02
#: Recent requests whose one-way time (plus the clocks' difference) is remembered.
_OFFSETS = 64


class _Lane:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.next_at = 0.0


class Turn:
    """A channel's slot, held by one request: call ``sending()`` right before the request
    goes out and ``arrived(ts)`` with the ``ts`` of Slack's answer."""

    def __init__(self, monotonic: Callable[[], float], epoch: float) -> None:
        self._monotonic = monotonic
        self._epoch = epoch  # wall time at monotonic 0
        self.sent: float | None = None  # monotonic time of sending
        self.sent_wall = 0.0
        self.server_time: float | None = None  # Slack's clock when the message was made

    def sending(self) -> None:
        self.sent = self._monotonic()
        self.sent_wall = self._epoch + self.sent

    def arrived(self, ts: object) -> None:
        """Slack answered with the message's ``ts`` (seconds since the epoch, as a string)."""
        try:
            value = float(str(ts))
        except ValueError:
            value = math.nan
        self.server_time = value if math.isfinite(value) else None  # "nan" would spoil 64 lags


class ChannelLanes:
    """Spaces messages per channel; ``async with lanes.turn(channel) as turn:`` then post."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        margin: float = DEFAULT_MARGIN,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.interval = interval
        self.margin = margin if interval > 0 else 0.0
        self._monotonic = monotonic
        #: Wall time at monotonic 0, read once: later steps of the system clock do not move
        #: the times of sending that arrivals are measured against.
        self._epoch = wall() - monotonic()
        self._lanes: dict[str, _Lane] = {}
        self._offsets: deque[float] = deque(maxlen=_OFFSETS)

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[Turn]:
        """Wait for the channel's next slot; the next one opens when this request's arrival
        allows (see the module docstring)."""
        lane = self._lanes.setdefault(channel, _Lane())
        async with lane.lock:
            wait = lane.next_at - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            turn = Turn(self._monotonic, self._epoch)
            try:
                yield turn
            finally:
                lane.next_at = max(lane.next_at, self._opens(turn))

    def _opens(self, turn: Turn) -> float:
        """When the slot after ``turn`` opens (monotonic seconds)."""
        answered = self._monotonic()
        if turn.sent is None or turn.server_time is None:
            return answered + self.interval  # arrived at the latest when answered
        offset = turn.server_time - turn.sent_wall  # one-way time + the clocks' difference
        self._offsets.append(offset)
        if len(self._offsets) < _OFFSETS:  # the quickest arrival is not known yet
            return answered + self.interval
        lag = offset - min(self._offsets)  # later than the quickest recent arrival
        lag = min(max(lag, 0.0), answered - turn.sent)  # it arrived before its answer
        return turn.sent + self.interval + max(self.margin, lag)

    def next_slot(self, channel: str) -> float:
        """When the channel's next slot opens (monotonic seconds; 0 for a new channel)."""
        lane = self._lanes.get(channel)
        return 0.0 if lane is None else lane.next_at

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said to wait (429 Retry-After): keep the channel quiet for ``seconds``."""
        lane = self._lanes.setdefault(channel, _Lane())
        lane.next_at = max(lane.next_at, self._monotonic() + seconds)
