"""Delivery to Slack: pacing and 429s, a crash between posting and recording, hard errors,
and the SLA watcher's notes and escalations."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from integrations.slack.app import web_client
from integrations.slack.lanes import ChannelLanes
from integrations.slack.surface import SlackSurface
from tests.fakes.slack import TOKEN
from tests.slack.conftest import SlackWorld
from triagebot.cases.identities import Identity
from triagebot.cases.note_mentions import mention_oncall, mention_user
from triagebot.cases.records import MessageRef
from triagebot.errors import DeliveryError

MARIA = Identity("cli", "maria")


@pytest.fixture(autouse=True)
async def _only_this_test_delivers(world: SlackWorld) -> None:
    """The scheduler's own flush would race the posts these tests make by hand."""
    await world.hold_scheduler()


async def test_a_post_lost_in_a_crash_is_found_by_its_metadata(world: SlackWorld) -> None:
    case = await world.ingest("northwind: the parcel arrived wet")
    surface = world.slack.surface
    lost = await surface.post(case)  # posted, then the process died before recording it
    # A new process: a new surface (nothing in memory) delivers the outbox.
    restarted = SlackSurface(
        web_client(TOKEN, world.fake.api_url), surface.targets, world.clock, lanes=ChannelLanes(0)
    )
    world.runtime.surfaces[:] = [restarted]
    await world.deliver()
    assert world.ref(case.id).message_id == lost.message_id
    assert len(world.fake.top_level(lost.channel)) == 1
    assert world.fake.calls_of("conversations.history")


@pytest.mark.parametrize("thread_ts", [None, "", "same"])
async def test_history_with_an_empty_thread_ts_is_still_the_case_message(
    world: SlackWorld, thread_ts: str | None
) -> None:
    case = await world.ingest("northwind: the parcel arrived wet")
    lost = await world.slack.surface.post(case)  # posted; the process died before recording it
    message = world.fake.find(lost.channel, lost.message_id)
    message["thread_ts"] = lost.message_id if thread_ts == "same" else thread_ts
    restarted = SlackSurface(
        web_client(TOKEN, world.fake.api_url), world.slack.surface.targets, world.clock,
        lanes=ChannelLanes(0),
    )  # fmt: skip
    world.runtime.surfaces[:] = [restarted]
    await world.deliver()
    assert world.ref(case.id).message_id == lost.message_id
    assert len(world.fake.calls_of("chat.postMessage")) == 1


async def test_a_thread_reply_carrying_case_metadata_is_not_the_case_message(
    world: SlackWorld,
) -> None:
    case = await world.ingest("northwind: the parcel arrived wet")
    lost = await world.slack.surface.post(case)
    message = world.fake.find(lost.channel, lost.message_id)
    message["thread_ts"] = "1000000000.000001"  # a reply in some other thread
    restarted = SlackSurface(
        web_client(TOKEN, world.fake.api_url), world.slack.surface.targets, world.clock,
        lanes=ChannelLanes(0),
    )  # fmt: skip
    world.runtime.surfaces[:] = [restarted]
    await world.deliver()
    assert world.ref(case.id).message_id != lost.message_id
    assert len(world.fake.calls_of("chat.postMessage")) == 2


async def test_a_lost_answer_is_not_posted_twice(world: SlackWorld) -> None:
    case = await world.ingest("northwind: where is my refund")
    surface = world.slack.surface
    await surface.post(case)  # reaches Slack ...
    surface._uncertain.add(case.id)  # ... but the answer was lost (a timeout)
    ref = await surface.post(case)
    assert len(world.fake.top_level(ref.channel)) == 1


async def test_rate_limited_posts_wait_and_none_is_lost(world: SlackWorld) -> None:
    world.fake.rate_interval = 0.5
    cases = [await world.ingest(f"northwind: my parcel {n} is late") for n in range(3)]
    await world.deliver()  # lanes without pacing: the fake answers 429, the client waits
    channel = world.ref(cases[0].id).channel
    assert world.fake.rejected >= 1
    assert len(world.fake.top_level(channel)) == 3
    assert {world.ref(c.id).message_id for c in cases} == {
        m["ts"] for m in world.fake.top_level(channel)
    }


async def test_paced_posts_are_never_rejected(world: SlackWorld) -> None:
    world.fake.rate_interval = 0.2
    world.slack.surface.lanes = ChannelLanes(0.2)  # paced from when each post was sent
    for n in range(6):
        await world.ingest(f"northwind: my parcel {n} is late")
    await world.deliver()
    assert world.fake.rejected == 0
    posts = world.fake.calls_of("chat.postMessage")
    assert len(posts) == 6
    assert len({c.args["channel"] for c in posts}) == 1
    closest = min(b.at - a.at for a, b in itertools.pairwise(posts))
    assert closest >= world.fake.rate_interval - world.fake.rate_tolerance


async def test_a_missing_channel_is_reported_and_not_retried(
    world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.fake.channels.discard("C0SHIPPING")
    case = await world.ingest("northwind: my parcel never came")
    assert case.department == "shipping"
    with caplog.at_level(logging.ERROR):
        await world.deliver()
    assert await asyncio.to_thread(world.runtime.store.pending_outbox) == 0
    assert "channel_not_found (check the channel id in triagebot.toml" in caplog.text
    assert len(world.fake.calls) == 3  # auth.test, history, one post: no retry


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("not_in_channel", "invite the bot"),
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("channel_not_found", "slack_channel"),
    ],
)
async def test_hard_errors_are_permanent(world: SlackWorld, error: str, hint: str) -> None:
    case = await world.ingest("northwind: my parcel never came")
    world.fake.fail("chat.postMessage", error)
    with pytest.raises(DeliveryError, match=hint) as caught:
        await world.slack.surface.post(case)
    assert caught.value.permanent


async def test_server_errors_are_retried_later(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    world.fake.fail("chat.postMessage", "internal_error", status=500, times=3)
    with pytest.raises(DeliveryError) as caught:
        await world.slack.surface.post(case)
    assert not caught.value.permanent


async def test_reminders_mention_people_and_groups_and_escalations_go_up(
    world: SlackWorld,
) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    ref = world.ref(case.id)
    surface = world.slack.surface
    await surface.reply(
        case, ref, f"{mention_user(Identity('slack', 'U0ANA'))} half the claim time is gone"
    )
    await surface.reply(case, ref, f"{mention_oncall('shipping')} 75% of the claim time is gone")
    await surface.reply(case, ref, f"{mention_user(MARIA)} <!channel> is overdue")
    # A Teams user whose id reads like a Slack id is named, never mentioned as that Slack user.
    look_alike = Identity("teams", "U0BOB")
    await surface.reply(case, ref, f"claimed by {mention_user(look_alike)} (U0BOB in Teams)")
    await surface.escalate(case, ref, f"claim overdue; {mention_user(MARIA)} please look")
    notes = [m["text"] for m in world.fake.replies(ref.channel, ref.message_id)]
    assert notes == [
        "<@U0ANA> half the claim time is gone",
        "<!subteam^S0SHIPONCALL> 75% of the claim time is gone",
        "<@U0MANAGER> &lt;!channel&gt; is overdue",
        "claimed by @U0BOB (U0BOB in Teams)",
    ]
    [escalation] = world.fake.top_level("C0ESCALATE")
    assert escalation["text"].startswith(":rotating_light: *Escalation*")
    assert "<@U0MANAGER> please look" in escalation["text"]
    assert f"<#{ref.channel}>" in escalation["text"]


async def test_an_escalation_without_a_channel_goes_to_the_thread(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    ref = world.ref(case.id)
    surface = world.slack.surface
    surface.targets = type(surface.targets)(
        surface.targets.channels, surface.targets.departments, None
    )
    await surface.escalate(case, ref, "claim overdue")
    [note] = world.fake.replies(ref.channel, ref.message_id)
    assert "claim overdue" in note["text"]
    await surface.escalate(case, None, "nowhere to go")  # logged, not raised


async def test_a_deleted_message_is_not_updated_forever(world: SlackWorld) -> None:
    case = await world.ingest("northwind: my parcel never came")
    await world.deliver()
    ref = world.ref(case.id)
    world.fake.messages[ref.channel].clear()
    with pytest.raises(DeliveryError, match="message_not_found") as caught:
        await world.slack.surface.update(case, MessageRef("slack", ref.channel, ref.message_id))
    assert caught.value.permanent


async def test_lanes_space_one_channel_and_leave_others_free() -> None:
    lanes = ChannelLanes(0.2)
    loop = asyncio.get_running_loop()
    started: dict[str, list[float]] = {}

    async def send(channel: str) -> None:
        async with lanes.turn(channel):
            started.setdefault(channel, []).append(loop.time())

    began = loop.time()
    await asyncio.gather(*(send(c) for c in ["A", "A", "A", "B", "B"]))
    a, b = started["A"], started["B"]
    assert a[1] - a[0] >= 0.2 and a[2] - a[1] >= 0.2
    assert b[0] - began < 0.05  # B did not wait for A
    last_b = b[-1]
    lanes.hold("B", 0.5)
    await send("B")
    assert started["B"][-1] - last_b >= 0.5


async def test_a_post_whose_connection_broke_after_it_reached_slack_is_not_posted_twice(
    world: SlackWorld,
) -> None:
    case = await world.ingest("northwind: the parcel arrived wet")
    world.fake.hang_ups["chat.postMessage"] = 1  # posted, then the connection drops unanswered
    await world.deliver()  # the post fails as uncertain; the item waits for its retry
    world.clock.advance(minutes=10)
    await world.deliver()
    channel = world.ref(case.id).channel
    assert len(world.fake.top_level(channel)) == 1
    assert world.ref(case.id).message_id == world.fake.top_level(channel)[0]["ts"]
    assert world.fake.calls_of("conversations.history")  # found by its metadata


async def test_web_api_calls_share_their_connections(world: SlackWorld) -> None:
    # The server's client keeps one session: six cards delivered one after another (a post
    # and an update each) come over one connection or two, where the SDK alone opens one for
    # every call.
    for n in range(6):
        await world.ingest(f"@northwind parcel {n} never arrived, where is it?")
        await world.deliver()
    calls = world.fake.calls_of("chat.postMessage") + world.fake.calls_of("chat.update")
    assert len(calls) >= 12
    assert len(world.fake.connections) <= 2
