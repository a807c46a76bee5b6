"""Answering the customer from Slack, over the wire: the fake Slack, the real app and a loopback
forum that takes public replies (``tests.fakes.public_source``).

Reply opens a modal (``views.open`` with the press's trigger, within its 3 s); a reply too long
for the platform keeps the modal open with the reason and posts nothing; a valid one posts
exactly one public reply and the card shows it sent with its link. Claim first (or be a
manager); drafts for managers; Mark answered where the source cannot post (http(s) links
only); a post deleted by its author closes as such; hostile reply text stays inert.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from integrations.common.answers import AnswerAction
from integrations.slack import modals
from integrations.slack.payload import ActionId, CasePayload
from integrations.slack.render import as_dicts, case_blocks
from tests.fakes.public_source import LIMIT, TOKEN, FakeForum, ForumSource
from tests.fakes.slack_requests import block_action, view_submission
from tests.slack.conftest import SlackWorld
from triagebot.actions.executor import execute, outbox_item
from triagebot.actions.public import ThreadRead
from triagebot.actions.reply import save_change
from triagebot.cases.answers import FirstResponse, PublicReply, ReplyState, ResponseVia, ThreadPost
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import Reassign
from triagebot.cases.records import Case, CaseEvent, CaseState, Mention, OutboxKind
from triagebot.config.settings import Settings
from triagebot.ingest.threads import record_read
from triagebot.runtime.answering import Answering

HOSTILE = "<!channel> <img src=x onerror=alert(1)> {@user:slack:U1} *bold* <https://evil|bank>"


@dataclass
class Answers:
    world: SlackWorld
    forum: FakeForum
    answering: Answering

    async def case(self, text: str = "@northwind my parcel never came", **changes: Any) -> Case:
        case = await self.world.ingest(text, **changes)
        await self.world.deliver()
        return case

    async def claim(self, case: Case, user: str = "U0ANA") -> None:
        await self.world.click(ActionId.CLAIM, case.id, user)
        await self.world.until(lambda: self.world.case(case.id).state is CaseState.CLAIMED)

    def message(self, case: Case) -> dict[str, Any]:
        ref = self.world.ref(case.id)
        return self.world.fake.find(ref.channel, ref.message_id)

    def buttons(self, case: Case) -> dict[str, dict[str, Any]]:
        found = {}
        for block in self.message(case)["blocks"]:
            answer_part = block["block_id"].startswith(("case-answer", "case-draft"))
            if block["type"] == "actions" and answer_part:
                found.update({e["action_id"]: e for e in block["elements"]})
        return found

    def notes(self, case: Case) -> list[str]:
        ref = self.world.ref(case.id)
        return [m["text"] for m in self.world.fake.replies(ref.channel, ref.message_id)]

    async def press(
        self, action: AnswerAction, case: Case, user: str, value: str | None = None
    ) -> str:
        """Press an answer button; the trigger id Slack gave the press."""
        ref = self.world.ref(case.id)
        trigger = self.world.fake.trigger()
        if value is None:
            value = CasePayload(case.id, self.world.case(case.id).version).to_value()
        body = block_action(action.value, value, user=user, channel=ref.channel,
                            message_ts=ref.message_id, response_url=self.world.fake.response_url(),
                            block_id="case-answer-actions", trigger_id=trigger)  # fmt: skip
        status, _ = await self.world.post(body)
        assert status == 200
        return trigger

    async def open_view(
        self, action: AnswerAction, case: Case, user: str, value: str | None = None
    ) -> dict[str, Any]:
        """Press a button that opens a modal; the view Slack was asked to open."""
        seen = len(self.world.fake.views)
        await self.press(action, case, user, value)
        await self.world.until(lambda: len(self.world.fake.views) > seen)
        return self.world.fake.views[-1]

    def has_draft(self, case: Case) -> bool:
        return any(r.state is ReplyState.DRAFT for r in self.world.case(case.id).replies)

    async def submit(self, view: dict[str, Any], text: str, user: str) -> Any:
        block, action = (
            (modals.URL_BLOCK, modals.URL_INPUT)
            if view["callback_id"] == modals.ANSWERED_MODAL
            else (modals.TEXT_BLOCK, modals.TEXT_INPUT)
        )
        status, body = await self.world.post(view_submission(view, {block: {action: text}},
                                                             user=user))  # fmt: skip
        assert status == 200
        return body

    def ephemerals(self) -> list[str]:
        return [c.args["text"] for c in self.world.fake.calls_of("chat.postEphemeral")]

    async def settled(self, case: Case) -> Case:
        await self.answering.drain()
        await self.world.deliver()
        return self.world.case(case.id)


@pytest.fixture
async def answers(world: SlackWorld) -> AsyncIterator[Answers]:
    forum = FakeForum()
    await forum.start()
    http = httpx.AsyncClient(timeout=5.0)
    runtime = world.runtime
    answering = Answering(
        runtime.store, runtime.settings, {"x": ForumSource(forum.url)}, http, runtime.clock
    )
    runtime.answering = answering
    try:
        yield Answers(world, forum, answering)
    finally:
        await answering.drain()
        await http.aclose()
        await forum.stop()


def managers_approve(settings: Settings) -> Settings:
    """The settings with ``[replies] approval = "managers"`` (the shared ones stay as they are)."""
    replies = settings.config.replies.model_copy(update={"approval": "managers"})
    return replace(settings, config=settings.config.model_copy(update={"replies": replies}))


async def test_reply_opens_a_modal_refuses_a_long_text_and_posts_a_valid_one_once(
    answers: Answers,
) -> None:
    world = answers.world
    case = await answers.case()
    assert set(answers.buttons(case)) == {"case-reply"}
    await answers.claim(case)

    started = time.monotonic()
    trigger = await answers.press(AnswerAction.REPLY, case, "U0ANA")
    await world.until(lambda: world.fake.views)
    assert time.monotonic() - started < 3.0
    [opened] = world.fake.calls_of("views.open")
    assert opened.args["trigger_id"] == trigger and world.fake.view_problems == []
    view = world.fake.views[0]
    assert view["callback_id"] == modals.REPLY_MODAL
    [text_input] = [b for b in view["blocks"] if b["type"] == "input"]
    assert text_input["block_id"] == modals.TEXT_BLOCK
    assert text_input["element"]["type"] == "plain_text_input"
    assert text_input["element"]["multiline"] is True
    assert json.loads(view["private_metadata"])["case"] == case.id

    body = await answers.submit(view, "x" * (LIMIT + 1), "U0ANA")
    assert body == {
        "response_action": "errors",
        "errors": {modals.TEXT_BLOCK: f"{LIMIT + 1} of {LIMIT} characters: shorten by 1"},
    }
    body = await answers.submit(view, "   ", "U0ANA")
    assert body["errors"] == {modals.TEXT_BLOCK: "write the reply first: it is empty"}
    await answers.answering.drain()
    assert answers.forum.requests == [] and world.case(case.id).replies == ()

    body = await answers.submit(view, "So sorry! We have sent a new parcel today.", "U0ANA")
    assert body == ""  # an empty ack closes the modal
    stored = await answers.settled(case)
    [request] = answers.forum.requests
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["body"] == {"in_reply_to": case.mention.id.split(":", 1)[1],
                               "text": "So sorry! We have sent a new parcel today."}  # fmt: skip
    [post] = answers.forum.posts
    [reply] = stored.replies
    assert request["headers"]["Idempotency-Key"] == reply.id
    assert reply.state is ReplyState.SENT and reply.url == post.url
    assert reply.by == Identity("slack", "U0ANA") and reply.external_id == post.id
    assert stored.first_response is not None and stored.first_response.via is ResponseVia.REPLY
    card = json.dumps(answers.message(case)["blocks"])
    assert f"<{post.url}|open the reply>" in card and "*sent*" in card
    assert "Answered in public" in card and "Waiting on the customer" in card
    assert f"public reply by <@U0ANA> posted {post.url}" in answers.notes(case)[-1]


@dataclass
class PrefixingForum(ForumSource):
    """A forum that puts the customer's handle before a reply (as Mastodon does) and says so
    only by asking the platform; ``delay``: how long the platform takes to say it."""

    delay: float = 0.0

    async def reply_problem_for(
        self, http: httpx.AsyncClient, mention: Mention, text: str
    ) -> str | None:
        await asyncio.sleep(self.delay)
        status = f"@{mention.author.handle} {text}"
        return self.reply_problem(status) and f"{self.reply_problem(status)} (with the handle)"


async def test_a_length_only_the_platform_knows_is_checked_before_the_modal_closes(
    answers: Answers,
) -> None:
    world = answers.world
    answers.answering.sources = {"x": PrefixingForum(answers.forum.url)}
    case = await answers.case()
    await answers.claim(case)
    fits_alone = "y" * LIMIT  # within the limit by itself, not with the handle before it
    view = await answers.open_view(AnswerAction.REPLY, case, "U0ANA")
    body = await answers.submit(view, fits_alone, "U0ANA")
    assert body["response_action"] == "errors"
    assert body["errors"][modals.TEXT_BLOCK].endswith("(with the handle)")
    await answers.answering.drain()
    assert answers.forum.requests == [] and world.case(case.id).replies == ()

    # A platform too slow to say: the modal closes in time and the text is checked when sent.
    answers.answering.sources = {"x": PrefixingForum(answers.forum.url, delay=5.0)}
    started = time.monotonic()
    assert await answers.submit(view, "Sorry!", "U0ANA") == ""
    assert time.monotonic() - started < 3.0  # Slack's ack deadline
    await world.until(lambda: world.case(case.id).replies)
    stored = await answers.settled(case)
    assert [r.state for r in stored.replies] == [ReplyState.SENT]


async def test_only_the_claimer_or_a_manager_may_reply(answers: Answers) -> None:
    world = answers.world
    case = await answers.case()
    await answers.press(AnswerAction.REPLY, case, "U0ANA")
    await world.until(answers.ephemerals)
    assert answers.ephemerals() == [f"claim case #{case.id} before replying"]
    await answers.claim(case)
    await answers.press(AnswerAction.REPLY, case, "U0BOB")
    await world.until(lambda: len(answers.ephemerals()) == 2)
    assert "claimed by Ana Lopez: only they or a manager may reply" in answers.ephemerals()[1]
    assert world.fake.views == []

    # A modal submitted by someone else (opened before the claim changed hands) is refused.
    await answers.press(AnswerAction.REPLY, case, "U0MANAGER")
    await world.until(lambda: world.fake.views)
    body = await answers.submit(world.fake.views[0], "We are on it.", "U0BOB")
    assert "only they or a manager may reply" in body["errors"][modals.TEXT_BLOCK]
    await answers.answering.drain()
    assert answers.forum.requests == []


async def test_hostile_reply_text_stays_inert_on_the_card_and_in_the_thread(
    answers: Answers,
) -> None:
    world = answers.world
    case = await answers.case()
    await answers.claim(case)
    await answers.press(AnswerAction.REPLY, case, "U0ANA")
    await world.until(lambda: world.fake.views)
    assert await answers.submit(world.fake.views[0], HOSTILE, "U0ANA") == ""
    await answers.settled(case)
    assert answers.forum.posts[0].text == HOSTILE  # sent as typed
    card = json.dumps(answers.message(case)["blocks"])
    assert "&lt;!channel&gt; &lt;img src=x onerror=alert(1)&gt; {@user:slack:U1}" in card
    assert "<!channel>" not in card and "<@U1>" not in card and "<https://evil" not in card
    note = answers.notes(case)[-1]
    assert "&lt;!channel&gt;" in note and "<!channel>" not in note and "<@U1>" not in note


async def test_a_case_reassigned_while_the_modal_is_open_keeps_it_open_with_why(
    answers: Answers,
) -> None:
    world = answers.world
    case = await answers.case()
    await answers.claim(case)
    view = await answers.open_view(AnswerAction.REPLY, case, "U0ANA")
    runtime = world.runtime
    elsewhere = "billing" if world.case(case.id).department != "billing" else "shipping"
    command = Reassign(case.id, Identity("slack", "U0MANAGER"), "slack", department=elsewhere)
    await asyncio.to_thread(execute, runtime.store, runtime.policy, command, runtime.clock())
    body = await answers.submit(view, "On it!", "U0ANA")
    assert body == {
        "response_action": "errors",
        "errors": {modals.TEXT_BLOCK: f"claim case #{case.id} before replying"},
    }
    await answers.claim(case, "U0BO")
    body = await answers.submit(view, "On it!", "U0ANA")
    assert "only they or a manager may reply" in body["errors"][modals.TEXT_BLOCK]
    await answers.answering.drain()
    assert answers.forum.requests == [] and world.case(case.id).replies == ()


async def test_a_refused_or_doubtful_send_shows_why_on_the_card(answers: Answers) -> None:
    failing, doubtful = await answers.case(), await answers.case("@northwind refund please")
    for case, status in ((failing, 403), (doubtful, 502)):
        await answers.claim(case)
        answers.forum.fail(status)
        view = await answers.open_view(AnswerAction.REPLY, case, "U0ANA")
        assert await answers.submit(view, "Looking into it.", "U0ANA") == ""
        await answers.answering.drain()
    failed = (await answers.settled(failing)).replies[0]
    assert failed.state is ReplyState.FAILED and "HTTP 403" in (failed.error or "")
    assert "*failed*: x: HTTP 403" in json.dumps(answers.message(failing)["blocks"])
    # The thread note names the replier (a Slack mention: they are notified) and says why.
    assert "<@U0ANA> was not posted: x: HTTP 403" in "\n".join(answers.notes(failing))
    unsure = (await answers.settled(doubtful)).replies[0]
    assert unsure.state is ReplyState.UNCERTAIN
    card = json.dumps(answers.message(doubtful)["blocks"])
    assert "may have been posted: checking the thread" in card
    assert "case-reply" in answers.buttons(failing)  # nothing is in flight: reply again
    assert "case-reply" not in answers.buttons(doubtful)  # settled from the thread first


async def test_drafts_are_approved_edited_or_discarded_by_managers(answers: Answers) -> None:
    world = answers.world
    answers.answering.settings = managers_approve(answers.answering.settings)
    case = await answers.case()
    await answers.claim(case)

    async def draft(text: str) -> str:
        view = await answers.open_view(AnswerAction.REPLY, case, "U0ANA")
        assert view["submit"]["text"] == "Save draft"
        assert await answers.submit(view, text, "U0ANA") == ""
        await world.until(lambda: answers.has_draft(case))
        await answers.settled(case)
        found = [b["elements"][0]["value"] for b in answers.message(case)["blocks"]
                 if b["block_id"] == "case-draft-actions-1"]  # fmt: skip
        return str(found[0])

    value = await draft("We are sorry <!here>")
    assert answers.forum.requests == []
    assert "waits for a manager's approval" in answers.notes(case)[-1]
    card = json.dumps(answers.message(case)["blocks"])
    assert "Draft reply* by <@U0ANA>" in card and "&lt;!here&gt;" in card

    await answers.press(AnswerAction.APPROVE, case, "U0ANA", value)  # the author is no manager
    await world.until(answers.ephemerals)
    assert answers.ephemerals() == ["only a manager may approve a draft reply"]
    await answers.press(AnswerAction.EDIT, case, "U0ANA", value)
    await world.until(lambda: len(answers.ephemerals()) == 2)

    edit = await answers.open_view(AnswerAction.EDIT, case, "U0MANAGER", value)
    assert edit["callback_id"] == modals.EDIT_MODAL
    [field] = [b for b in edit["blocks"] if b["type"] == "input"]
    assert field["element"]["initial_value"] == "We are sorry <!here>"
    body = await answers.submit(edit, "y" * 500, "U0MANAGER")
    assert "shorten by" in body["errors"][modals.TEXT_BLOCK]
    edited = "We are sorry: a new parcel is on its way."
    assert await answers.submit(edit, edited, "U0MANAGER") == ""
    stored = await answers.settled(case)
    [sent] = stored.replies
    assert sent.state is ReplyState.SENT and sent.approved_by == Identity("slack", "U0MANAGER")
    assert [p.text for p in answers.forum.posts] == [edited]

    body = await answers.submit(edit, "Approved twice?", "U0MANAGER")  # the same form again
    assert "no longer waiting" in body["errors"][modals.TEXT_BLOCK]
    assert len(answers.forum.posts) == 1

    value = await draft("Second thoughts")
    await answers.press(AnswerAction.DISCARD, case, "U0MANAGER", value)
    await world.until(lambda: world.case(case.id).replies[-1].state is ReplyState.DISCARDED)
    await answers.settled(case)
    assert len(answers.forum.posts) == 1
    assert not any(b["block_id"].startswith("case-draft") for b in answers.message(case)["blocks"])


async def test_mark_answered_where_the_source_cannot_post(answers: Answers) -> None:
    world = answers.world
    case = await answers.case(
        "northwind shipping is slow", id="hackernews:77", source="hackernews",
        url="https://news.ycombinator.com/item?id=77",
    )  # fmt: skip
    buttons = answers.buttons(case)
    assert set(buttons) == {"case-open-post", "case-answered"}
    assert buttons["case-open-post"]["url"] == "https://news.ycombinator.com/item?id=77"
    await answers.claim(case)
    await answers.press(AnswerAction.ANSWERED, case, "U0ANA")
    await world.until(lambda: world.fake.views)
    view = world.fake.views[0]
    assert view["callback_id"] == modals.ANSWERED_MODAL and world.fake.view_problems == []

    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "ftp://a.b/c"):
        body = await answers.submit(view, bad, "U0ANA")
        assert body["response_action"] == "errors"
        assert "http(s) address" in body["errors"][modals.URL_BLOCK]
    assert world.case(case.id).first_response is None

    link = "https://news.ycombinator.com/item?id=78"
    assert await answers.submit(view, link, "U0ANA") == ""
    await world.until(lambda: world.case(case.id).first_response is not None)
    stored = await answers.settled(case)
    assert stored.first_response is not None
    assert stored.first_response.via is ResponseVia.MARKED and stored.first_response.url == link
    card = json.dumps(answers.message(case)["blocks"])
    assert f"<{link}|see the answer>" in card and "marked answered" in card
    assert answers.forum.requests == []


async def test_a_post_without_an_http_link_gets_no_open_button(answers: Answers) -> None:
    case = await answers.case(
        "@northwind my parcel never came", id="rss:1", source="rss", url="javascript:alert(1)"
    )
    assert set(answers.buttons(case)) == {"case-answered"}


async def test_a_deleted_post_closes_as_deleted(answers: Answers) -> None:
    world = answers.world
    case = await answers.case()
    await answers.claim(case)
    now = world.clock.now

    def gone(current: Case) -> tuple[Case, CaseEvent, list[Any]]:
        changed = replace(current, version=current.version + 1, gone_at=now)
        event = CaseEvent(case_id=current.id, action="gone", actor=SYSTEM, surface="pipeline",
                          at=now, version=current.version + 1)  # fmt: skip
        return changed, event, [outbox_item(current.id, OutboxKind.UPDATE, now)]

    save_change(world.runtime.store, case.id, gone)
    await world.deliver()
    assert "Post deleted by its author" in json.dumps(answers.message(case)["blocks"])
    assert "case-close-deleted" in answers.buttons(case)
    await answers.press(AnswerAction.CLOSE_DELETED, case, "U0BOB")  # not the holder
    await world.until(answers.ephemerals)
    assert world.case(case.id).state is CaseState.CLAIMED
    await answers.press(AnswerAction.CLOSE_DELETED, case, "U0ANA")
    await world.until(lambda: world.case(case.id).state is CaseState.RESOLVED)
    assert world.case(case.id).closed_as == "deleted"


def test_a_card_with_every_kind_of_answer_stays_within_slacks_limits() -> None:
    from tests.fakes.slack import check_blocks  # noqa: PLC0415
    from tests.slack.test_render import CTX, T0, all_text, make_case  # noqa: PLC0415

    long_text = (HOSTILE + " ") * 400
    replies = tuple(
        PublicReply(f"{n:032x}", long_text, Identity("slack", "U0ANA"), state, T0,
                    sent_at=T0, url="https://forum.example/p/1", error=long_text)
        for n, state in enumerate([ReplyState.SENT, ReplyState.FAILED, ReplyState.UNCERTAIN,
                                   ReplyState.SENDING, ReplyState.DISCARDED] * 3
                                  + [ReplyState.DRAFT] * 5)
    )  # fmt: skip
    first = FirstResponse(T0, "@brand<!channel>|x>", ResponseVia.THREAD, "javascript:alert(1)")
    case = make_case(replies=replies, first_response=first, waiting_since=T0, gone_at=T0)
    ctx = replace(CTX, can_reply=lambda c: True)
    blocks = as_dicts(case_blocks(case, ctx))
    assert check_blocks(blocks) == [] and len(blocks) <= 50
    drafts = [b for b in blocks if b["block_id"].startswith("case-draft-actions")]
    assert len(drafts) == 3
    texts = all_text(blocks)
    joined = "\n".join(texts)
    for live in ("<!channel>", "<!here>", "<@U0123ABCD>", "<#C0SECRET>", "<https://evil",
                 "<javascript", "<!subteam"):  # fmt: skip
        assert live not in joined
    assert "@brand&lt;!channel&gt;|x&gt;" in json.dumps(blocks)
    assert "javascript" not in json.dumps([b for b in blocks if b["block_id"] == "case-answer"])
    assert blocks[-1]["block_id"] == "case-actions"


async def test_a_hostile_follow_up_is_an_inert_thread_note(answers: Answers) -> None:
    world = answers.world
    case = await answers.case()
    await answers.claim(case)
    view = await answers.open_view(AnswerAction.REPLY, case, "U0ANA")
    assert await answers.submit(view, "We are on it.", "U0ANA") == ""
    stored = await answers.settled(case)
    assert stored.is_waiting_on_customer
    follow_up = ThreadPost("f1", case.mention.author.handle, HOSTILE, world.clock.now,
                           "https://x.example/f1")  # fmt: skip
    runtime = world.runtime
    await asyncio.to_thread(record_read, runtime.store, runtime.settings, case.id,
                            ThreadRead(posts=[follow_up]), world.clock.now)  # fmt: skip
    stored = await answers.settled(case)
    assert not stored.is_waiting_on_customer
    note = answers.notes(case)[-1]
    assert note.startswith("the customer replied in the thread")
    assert "&lt;!channel&gt;" in note and "&lt;img src=x onerror=alert(1)&gt;" in note
    for live in ("<!channel>", "<@U1>", "<https://evil", "<img"):
        assert live not in note
    assert "Waiting on the customer" not in json.dumps(answers.message(case)["blocks"])
