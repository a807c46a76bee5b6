"""Channel lanes: when a channel's next slot opens, on clocks moved by hand.

A slot opens an interval (plus the margin) after the previous request was sent, later by as
much as that request arrived later than the quickest recent one, and never sooner than an
interval after the answer when its arrival is unknown (or the quickest arrival is not known
yet).
"""

from __future__ import annotations

import itertools

import pytest

from integrations.slack.lanes import _OFFSETS, ChannelLanes

SKEW = 37.5  # Slack's clock ahead of ours: lags do not depend on it


class Clocks:
    """Our monotonic and wall clocks, moved together by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.wall_step = 0.0  # the system clock set forward by this much

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now + self.wall_step


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def lanes(clocks: Clocks) -> ChannelLanes:
    return ChannelLanes(1.0, clocks.monotonic, margin=0.02, wall=clocks.wall)


async def post(
    lanes: ChannelLanes, clocks: Clocks, one_way: float | None, answer: float = 0.2
) -> float:
    """One request in C1 that takes ``one_way`` seconds to reach Slack (None: its answer says
    nothing), answered ``answer`` seconds after sending; returns when it was sent."""
    clocks.now = max(clocks.now, lanes.next_slot("C1"))
    async with lanes.turn("C1") as turn:
        sent = clocks.now
        turn.sending()
        clocks.now += answer
        if one_way is not None:
            slack_now = clocks.wall() - clocks.wall_step  # Slack's clock did not step
            turn.arrived(f"{slack_now - answer + one_way + SKEW:.6f}")
    return sent


async def known(lanes: ChannelLanes, clocks: Clocks) -> None:
    """Enough requests that the quickest arrival (0.05 s) is known."""
    for _ in range(_OFFSETS):
        await post(lanes, clocks, one_way=0.05)


async def test_a_slow_answer_does_not_delay_the_next_slot(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    await known(lanes, clocks)
    sent = await post(lanes, clocks, one_way=0.05, answer=0.4)
    assert lanes.next_slot("C1") == pytest.approx(sent + 1.02)


async def test_a_request_that_arrived_late_pushes_the_next_slot_by_its_lag(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    await known(lanes, clocks)
    sent = await post(lanes, clocks, one_way=0.15)  # 0.1 s later than the quickest
    assert lanes.next_slot("C1") == pytest.approx(sent + 1.1)


async def test_arrivals_stay_an_interval_apart_however_the_one_way_times_vary(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    one_way = [0.05, 0.19, 0.05, 0.12, 0.06, 0.05, 0.18, 0.07]
    arrivals = [await post(lanes, clocks, one_way=d) + d for d in one_way]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.0


async def test_an_unknown_arrival_opens_the_slot_an_interval_after_the_answer(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    sent = await post(lanes, clocks, one_way=None, answer=0.3)
    assert lanes.next_slot("C1") == pytest.approx(sent + 0.3 + 1.0)


async def test_a_failed_request_opens_the_slot_an_interval_after_it_failed(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    async def timed_out() -> None:
        async with lanes.turn("C1") as turn:
            turn.sending()
            clocks.now += 15.0
            raise TimeoutError

    with pytest.raises(TimeoutError):
        await timed_out()
    assert lanes.next_slot("C1") == pytest.approx(clocks.now + 1.0)


async def test_a_lag_beyond_the_round_trip_counts_as_the_round_trip(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    await post(lanes, clocks, one_way=0.05)
    sent = await post(lanes, clocks, one_way=3.0, answer=0.2)  # a clock jumped meanwhile
    assert lanes.next_slot("C1") == pytest.approx(sent + 0.2 + 1.0)


async def test_retry_after_keeps_the_channel_quiet(lanes: ChannelLanes, clocks: Clocks) -> None:
    await post(lanes, clocks, one_way=0.05)
    lanes.hold("C1", 30.0)
    assert lanes.next_slot("C1") == pytest.approx(clocks.now + 30.0)
    await post(lanes, clocks, one_way=0.05)  # waits out the hold, then is paced as usual
    assert clocks.now >= 130.0


async def test_channels_are_paced_apart(lanes: ChannelLanes, clocks: Clocks) -> None:
    await post(lanes, clocks, one_way=0.05)
    assert lanes.next_slot("C2") == 0.0


async def test_the_first_requests_of_a_process_do_not_set_the_quickest_arrival(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    # The first requests open connections (DNS, TCP, TLS) and arrive late: measured against
    # them alone, a request on a warm connection would seem to arrive early.
    one_way = [0.35, 0.05, 0.05]
    arrivals = [await post(lanes, clocks, one_way=d, answer=d + 0.1) + d for d in one_way]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.0


async def test_several_channels_opening_connections_at_once_do_not_set_the_quickest_arrival(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    # Eight channels' first posts go out together, each on a new connection.
    turns = []
    for n in range(8):
        turn = lanes.turn(f"C{n + 2}")
        turns.append((turn, await turn.__aenter__()))
    for _, t in turns:
        t.sending()
    clocks.now += 0.5
    for turn, t in turns:
        t.arrived(f"{clocks.wall() - 0.5 + 0.4 + SKEW:.6f}")
        await turn.__aexit__(None, None, None)
    one_way = [0.4, 0.05]
    arrivals = [await post(lanes, clocks, one_way=d, answer=d + 0.1) + d for d in one_way]
    assert arrivals[1] - arrivals[0] >= 1.0


async def test_a_step_of_the_wall_clock_does_not_shorten_the_interval(
    lanes: ChannelLanes, clocks: Clocks
) -> None:
    await known(lanes, clocks)
    clocks.wall_step = 5.0  # the system clock is set forward while the channel is busy
    one_way = [0.3, 0.05]
    arrivals = [await post(lanes, clocks, one_way=d, answer=d + 0.1) + d for d in one_way]
    assert arrivals[1] - arrivals[0] >= 1.0


@pytest.mark.parametrize("ts", ["nan", "inf", "-inf", "not a ts"])
async def test_a_ts_that_is_no_time_counts_as_an_unknown_arrival(
    lanes: ChannelLanes, clocks: Clocks, ts: str
) -> None:
    await known(lanes, clocks)
    clocks.now = lanes.next_slot("C1")
    async with lanes.turn("C1") as turn:
        turn.sending()
        clocks.now += 0.2
        turn.arrived(ts)
    assert lanes.next_slot("C1") == pytest.approx(clocks.now + 1.0)
    sent = await post(lanes, clocks, one_way=0.05)  # the lags after it are still measured
    assert lanes.next_slot("C1") == pytest.approx(sent + 1.02)
