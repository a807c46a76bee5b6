"""Answering the customer from Teams, end to end with Microsoft's local Teams client.

The playground plays Teams; the case's source is the loopback forum
(``integrations.demo.forum``), which checks the token, the fields and the length as a real
write API does. A reply typed in the card's Reply box is checked before anything is recorded
(too long: the card comes back with the reason and the text kept), then posted once; the card
shows it sending, then sent. A hostile reply stays inert on the card; where triagebot cannot
post, Mark answered refuses a javascript: link and records an https one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.demo.forum import DemoForum, ForumSource
from integrations.teams.places import SURFACE
from tests.teams.playground import USER_AAD, card_text
from tests.teams.test_playground import (
    World,
    _card,
    _config,
    _data,
    _installed,
    playground_env,
    served,
)
from triagebot.actions.executor import execute
from triagebot.cases.answers import ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.cases.records import Author, Case, CaseState, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.answering import Answering
from triagebot.runtime.wiring import Runtime

pytestmark = pytest.mark.playground

HOSTILE_REPLY = "Sorry! <at>Alex Wilber</at> [win](javascript:alert(1)) **now** {@user:teams:x}"


#: The playground's user (Alex Wilber) as a manager (everyone else's replies are drafts).
MANAGERS_APPROVE = f"""
[[people]]
name = "Alex Wilber"
teams_aad_object_id = "{USER_AAD}"
manager = true
"""
#: Another user of the playground's tenant (Megan Bowen), not a manager.
OTHER_USER = "user-id-1"
OTHER_AAD = "00000000-0000-0000-0000-0000000000021"


@contextlib.asynccontextmanager
async def _forum_world(tmp_path: Path, extra: str = "") -> AsyncIterator[tuple[World, DemoForum]]:
    """The playground and the app with the loopback forum as source "x" (and "hn", which
    cannot post); ``extra``: people added to the test's configuration, with ``[replies]
    approval = "managers"``."""
    config = _config(tmp_path)
    text = config.read_text()
    if extra:
        assert text.count('approval = "none"') == 1
        text = text.replace('approval = "none"', 'approval = "managers"') + extra
    config.write_text(text)
    settings = load_settings(config, playground_env(tmp_path))
    runtime = Runtime.build(settings)
    forum = DemoForum()
    url = await forum.start()
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    sources = {"x": ForumSource(url, name="x"), "hn": ForumSource(url, name="hn", token=None)}
    runtime.answering = Answering(runtime.store, settings, sources, http, runtime.clock)
    try:
        async with served(runtime, tmp_path) as world:
            yield world, forum
    finally:
        await runtime.answering.aclose()
        await forum.stop()
        runtime.close()


@pytest.fixture
async def world_with_forum(tmp_path: Path) -> AsyncIterator[tuple[World, DemoForum]]:
    async with _forum_world(tmp_path) as world:
        yield world


@pytest.fixture
async def managed_world(tmp_path: Path) -> AsyncIterator[tuple[World, DemoForum]]:
    """As ``world_with_forum``, with ``[replies] approval = "managers"`` and the playground's
    user a manager."""
    async with _forum_world(tmp_path, MANAGERS_APPROVE) as world:
        yield world


async def _ingest(world: World, source: str, text: str) -> Case:
    world.n += 1
    now = world.runtime.clock()
    mention = Mention(
        id=f"{source}:{world.n}", source=source, kind="post", url=f"https://{source}.example/{world.n}",
        author=Author(f"customer_{world.n}", "Sam", 10), text=text,
        created_at=now - timedelta(minutes=1),
    )  # fmt: skip
    result = await asyncio.to_thread(world.runtime.pipeline.ingest, [mention], now)
    return result.new[0]


def _unescaped(text: str) -> str:
    """Card text as read: Teams markdown's escapes (doubled in the frame's JSON) dropped."""
    return text.replace("\\\\", "").replace("\\", "")


def _answer_action(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The Execute action named ``verb`` in the card's answer part (inside a ShowCard or not)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("verb") == verb:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    assert found, f"no {verb} on the card"
    return found[0]


async def test_reply_from_the_card_is_checked_then_posted_once(
    world_with_forum: tuple[World, DemoForum],
) -> None:
    world, forum = world_with_forum
    await _installed(world)
    case = await _ingest(world, "x", "My order #55 never arrived, two weeks now")
    await world.deliver()
    frame = await world.card_of(case)
    thread, card_id = frame["message"]["postConversationId"], frame["message"]["messageId"]
    card = _card(frame)

    # Reply before claiming: refused by the core, nothing posted, the text kept.
    data = _answer_action(card, "case-reply")["data"] | {"reply_text": "On it!"}
    status, answer = await world.pg.press(thread, card_id, "case-reply", data)
    assert status == 200 and "claim case" in json.dumps(answer["value"])
    assert forum.requests == []

    status, answer = await world.pg.press(thread, card_id, "case-claim", _data(card, "case-claim"))
    assert status == 200
    claimed = answer["value"]

    # Too long for the platform: the reason on top, the typed text still in the box.
    long_text = "x" * 300
    data = _answer_action(claimed, "case-reply")["data"] | {"reply_text": long_text}
    status, answer = await world.pg.press(thread, card_id, "case-reply", data)
    body = json.dumps(answer["value"])
    assert status == 200 and "shorten by 20" in body and long_text in body
    assert forum.requests == []

    # A hostile reply: posted once, as written; the card shows it inert.
    data = _answer_action(claimed, "case-reply")["data"] | {"reply_text": HOSTILE_REPLY}
    status, answer = await world.pg.press(thread, card_id, "case-reply", data)
    assert status == 200
    assert world.runtime.answering is not None
    await world.runtime.answering.drain()
    assert [p.text for p in forum.posts] == [HOSTILE_REPLY]
    stored = world.runtime.store.get_case(case.id)
    assert stored.replies[0].state is ReplyState.SENT
    assert stored.replies[0].by == Identity("teams", USER_AAD)
    assert stored.first_response is not None
    await world.deliver()
    update = await world.pg.frame(
        lambda f: (
            f.get("action") == "updateMessage"
            and f["message"]["messageId"] == card_id
            and "Answered in public" in card_text(f)
        )
    )
    shown = json.dumps(update["message"]["attachments"][0]["content"], ensure_ascii=False)
    assert "<at>Alex" not in shown and "](javascript" not in shown
    assert "\\\\*\\\\*now\\\\*\\\\*" in shown  # markdown shown as typed
    # The thread note quotes the reply: a {@user:…} in it never becomes a mention.
    note = await world.pg.frame(lambda f: "public reply by" in card_text(f))
    assert "(@user:teams:x}" in card_text(note) and "{@user:teams:x}" not in card_text(note)
    assert forum.posts[0].url in shown  # the reply's link, as an Open button
    ref = world.runtime.store.message_refs(case.id)[SURFACE]
    assert ref.message_id == card_id


async def test_mark_answered_where_triagebot_cannot_post(
    world_with_forum: tuple[World, DemoForum],
) -> None:
    world, forum = world_with_forum
    await _installed(world)
    case = await _ingest(world, "hn", "Northwind's checkout is broken again")
    await world.deliver()
    frame = await world.card_of(case)
    thread, card_id = frame["message"]["postConversationId"], frame["message"]["messageId"]
    card = _card(frame)
    assert "case-reply" not in json.dumps(card)  # no write API: no Reply box
    status, answer = await world.pg.press(thread, card_id, "case-claim", _data(card, "case-claim"))
    mark = _answer_action(answer["value"], "case-answered")["data"]
    status, answer = await world.pg.press(
        thread, card_id, "case-answered", mark | {"answer_url": "javascript:alert(1)"}
    )
    assert status == 200 and "must be an http" in json.dumps(answer["value"])
    assert world.runtime.store.get_case(case.id).first_response is None
    link = "https://news.ycombinator.com/item?id=42"
    status, answer = await world.pg.press(
        thread, card_id, "case-answered", mark | {"answer_url": link}
    )
    assert status == 200 and "Answered in public" in json.dumps(answer["value"])
    stored = world.runtime.store.get_case(case.id)
    assert stored.first_response is not None and stored.first_response.url == link
    assert forum.requests == []


async def test_a_draft_waits_for_a_manager_who_edits_it_and_it_is_posted_once(
    managed_world: tuple[World, DemoForum],
) -> None:
    world, forum = managed_world
    await _installed(world)
    case = await _ingest(world, "x", "Where is my refund? Three weeks of waiting")
    await world.deliver()
    frame = await world.card_of(case)
    thread, card_id = frame["message"]["postConversationId"], frame["message"]["messageId"]
    card = _card(frame)
    megan = Identity("teams", OTHER_AAD)

    status, answer = await world.pg.press(
        thread, card_id, "case-claim", _data(card, "case-claim"), user=OTHER_USER
    )
    assert status == 200
    assert world.runtime.store.get_case(case.id).claimed_by == megan

    # Megan is not a manager: her reply is a draft, nothing is posted.
    draft_text = "We are on it, sorry!"
    data = _answer_action(answer["value"], "case-reply")["data"] | {"reply_text": draft_text}
    status, answer = await world.pg.press(thread, card_id, "case-reply", data, user=OTHER_USER)
    assert status == 200
    assert world.runtime.answering is not None
    await world.runtime.answering.drain()
    assert forum.requests == []
    [draft] = world.runtime.store.get_case(case.id).replies
    assert draft.state is ReplyState.DRAFT and draft.by == megan
    drafted = answer["value"]
    shown = json.dumps(drafted, ensure_ascii=False)
    assert "Draft reply" in shown and draft_text in shown
    for verb in ("case-draft-approve", "case-draft-edit", "case-draft-discard"):
        assert _answer_action(drafted, verb)["data"]["reply"] == draft.id
    await world.deliver()
    await world.pg.frame(lambda f: "waits for a manager" in card_text(f))

    # Her own Approve is refused, and still nothing is posted.
    approve = _answer_action(drafted, "case-draft-approve")["data"]
    status, answer = await world.pg.press(
        thread, card_id, "case-draft-approve", approve, user=OTHER_USER
    )
    assert status == 200 and "only a manager may approve" in json.dumps(answer["value"])
    await world.runtime.answering.drain()
    assert forum.requests == []
    assert world.runtime.store.get_case(case.id).replies[0].state is ReplyState.DRAFT

    # Alex, a manager, edits it: the edited text is posted, once.
    edited = "So sorry for the wait! Your refund left today; DM us if it has not arrived."
    edit = _answer_action(drafted, "case-draft-edit")["data"] | {"reply_text": edited}
    status, answer = await world.pg.press(thread, card_id, "case-draft-edit", edit)
    assert status == 200
    await world.runtime.answering.drain()
    assert [p.text for p in forum.posts] == [edited]
    [sent] = world.runtime.store.get_case(case.id).replies
    assert sent.state is ReplyState.SENT and sent.text == edited
    assert sent.by == megan and sent.approved_by == Identity("teams", USER_AAD)

    # The stale buttons of the draft do nothing more.
    status, answer = await world.pg.press(thread, card_id, "case-draft-approve", approve)
    assert status == 200 and "no longer waiting" in json.dumps(answer["value"])
    status, answer = await world.pg.press(thread, card_id, "case-draft-edit", edit)
    assert status == 200 and "no longer waiting" in json.dumps(answer["value"])
    await world.runtime.answering.drain()
    assert len(forum.requests) == 1 and len(forum.posts) == 1


async def test_a_refused_post_tells_the_replier_why_on_the_card_and_in_the_thread(
    world_with_forum: tuple[World, DemoForum],
) -> None:
    world, forum = world_with_forum
    await _installed(world)
    case = await _ingest(world, "x", "Still no answer about my broken blender")
    await world.deliver()
    frame = await world.card_of(case)
    thread, card_id = frame["message"]["postConversationId"], frame["message"]["messageId"]
    status, answer = await world.pg.press(
        thread, card_id, "case-claim", _data(_card(frame), "case-claim")
    )
    assert status == 200
    forum.fail(429, retry_after=30)
    data = _answer_action(answer["value"], "case-reply")["data"] | {"reply_text": "Sorry!"}
    status, _ = await world.pg.press(thread, card_id, "case-reply", data)
    assert status == 200
    assert world.runtime.answering is not None
    await world.runtime.answering.drain()
    assert forum.posts == [] and len(forum.requests) == 1
    await world.deliver()
    why = "x: rate limited (HTTP 429) (the platform asks to wait 31 s)"
    update = await world.pg.frame(
        lambda f: (
            f.get("action") == "updateMessage"
            and f["message"]["messageId"] == card_id
            and "failed" in card_text(f)
        )
    )
    shown = _unescaped(card_text(update))
    assert "Reply by Alex Wilber: **failed**: " in shown and why in shown
    note = await world.pg.frame(lambda f: "was not posted" in card_text(f))
    told = _unescaped(card_text(note))
    assert "reply by @Alex Wilber was not posted: " + why in told
    # Nothing is in flight: the card offers Reply again, and the same text goes out once.
    status, _ = await world.pg.press(thread, card_id, "case-reply", data)
    assert status == 200
    await world.runtime.answering.drain()
    assert [p.text for p in forum.posts] == ["Sorry!"]


async def test_a_hostile_follow_up_reopens_the_case_and_stays_inert(
    world_with_forum: tuple[World, DemoForum],
) -> None:
    world, forum = world_with_forum
    await _installed(world)
    case = await _ingest(world, "x", "My order #77 arrived broken")
    await world.deliver()
    frame = await world.card_of(case)
    card_id = frame["message"]["messageId"]
    runtime = world.runtime
    alex = Identity("teams", USER_AAD)
    for command in (Claim(case.id, alex, SURFACE), Resolve(case.id, alex, SURFACE)):
        await asyncio.to_thread(execute, runtime.store, runtime.policy, command, runtime.clock())
    await world.deliver()

    def latest_card() -> str:
        updates = [
            f for f in world.pg.frames
            if f.get("action") == "updateMessage" and f["message"]["messageId"] == card_id
        ]  # fmt: skip
        return card_text(updates[-1]) if updates else ""

    for _ in range(100):  # the resolved card: no Resolve
        if "Resolved" in latest_card() or "resolved" in latest_card():
            break
        await asyncio.sleep(0.05)
    assert latest_card() and '"case-resolve"' not in latest_card()

    forum.say(case.mention.id.split(":", 1)[1], case.mention.author.handle, HOSTILE_REPLY)
    assert runtime.answering is not None
    checker = runtime.answering.thread_checker()
    assert checker is not None
    assert await checker.run() == 1
    reopened = runtime.store.get_case(case.id)
    assert reopened.is_active and reopened.state is not CaseState.RESOLVED
    await world.deliver()
    note = await world.pg.frame(lambda f: "the customer replied in the thread" in card_text(f))
    told = card_text(note)
    assert "<at>Alex" not in told and "](javascript" not in told
    assert "(@user:teams:x}" in told and "{@user:teams:x}" not in told
    assert not note["message"].get("entities")  # no mention of anyone
    await world.pg.frame(lambda f: "reopened: the customer replied" in card_text(f))

    for _ in range(100):  # the card is drawn open again: Resolve is back
        if '"case-resolve"' in latest_card():
            break
        await asyncio.sleep(0.05)
    assert '"case-resolve"' in latest_card()
    assert forum.requests == []  # nothing was posted in public
