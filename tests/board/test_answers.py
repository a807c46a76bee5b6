"""The board's answer forms over HTTP: reply, mark answered, drafts, permissions, CSRF, escaping.

The board runs as ``triagebot demo`` runs it (no login, buttons on), with ``Answering``
posting through a loopback forum (``tests.fakes.public_source``) on the test's loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from tests.board.conftest import BoardWorld
from tests.fakes.public_source import LIMIT, FakeForum, ForumSource
from triagebot.actions.executor import execute
from triagebot.actions.public import ThreadRead
from triagebot.cases.answers import ReplyState, ResponseVia, ThreadPost
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import Case, CaseState
from triagebot.config.settings import Settings
from triagebot.ingest.threads import record_read
from triagebot.runtime.answering import Answering

HOSTILE_FOLLOW_UP = "<img src=x onerror=alert(1)> still nothing {@user:slack:U1} <!channel>"
HOSTILE_REPLY = "<img src=x onerror=alert(1)> <!channel> {@user:slack:U1} <script>x()</script>"


@dataclass
class Forms:
    world: BoardWorld
    forum: FakeForum
    answering: Answering

    async def claimed(self, text: str = "@northwind my parcel never came", **kw: Any) -> Case:
        case = await self.world.ingest(text, **kw)
        command = Claim(case.id, Identity("board", "ana"), "board")
        runtime = self.world.runtime
        await asyncio.to_thread(execute, runtime.store, runtime.policy, command, runtime.clock())
        return case

    async def send(self, case: Case, action: str, **form: str) -> tuple[int, Any]:
        return await self.world.act(case.id, f"replies/{action}", **form)

    async def card(self, case: Case) -> str:
        page = await self.world.page("/")
        match = re.search(rf'<li class="card[^"]*" id="case-{case.id}".*?</article>', page, re.S)
        assert match, f"case {case.id} is not on the board"
        return match.group(0)


def managers_approve(settings: Settings) -> Settings:
    """The settings with ``[replies] approval = "managers"`` (the shared ones stay as they are)."""
    replies = settings.config.replies.model_copy(update={"approval": "managers"})
    return replace(settings, config=settings.config.model_copy(update={"replies": replies}))


@pytest.fixture
async def forms(demo: BoardWorld) -> AsyncIterator[Forms]:
    forum = FakeForum()
    await forum.start()
    http = httpx.AsyncClient(timeout=5.0)
    runtime = demo.runtime
    answering = Answering(
        runtime.store, runtime.settings, {"x": ForumSource(forum.url)}, http, runtime.clock
    )
    runtime.answering = answering
    try:
        yield Forms(demo, forum, answering)
    finally:
        await answering.drain()
        await http.aclose()
        await forum.stop()


async def test_a_reply_is_checked_then_posted_once_and_shown_sent_with_its_link(
    forms: Forms,
) -> None:
    world = forms.world
    case = await world.ingest("@northwind my parcel never came")
    await world.name("ana")
    assert f'id="reply-text-{case.id}"' in await forms.card(case)
    status, body = await forms.send(case, "send", text="We are on it.")
    assert status == 409 and body["message"] == f"claim case #{case.id} before replying"

    case = await forms.claimed("@northwind where is my refund")
    status, body = await forms.send(case, "send", text="y" * (LIMIT + 5))
    assert status == 409 and body["message"] == f"{LIMIT + 5} of {LIMIT} characters: shorten by 5"
    status, body = await forms.send(case, "send", text=" \n ")
    assert status == 409 and "empty" in body["message"]
    await forms.answering.drain()
    assert forms.forum.requests == []

    status, body = await forms.send(case, "send", text=HOSTILE_REPLY)
    assert status == 200 and body == {
        "ok": True,
        "message": f"Case #{case.id}: your reply is being posted on x.",
    }
    await forms.answering.drain()
    [post] = forms.forum.posts
    assert post.text == HOSTILE_REPLY and len(forms.forum.requests) == 1
    stored = world.runtime.store.get_case(case.id)
    assert stored.replies[0].state is ReplyState.SENT
    assert stored.replies[0].by == Identity("board", "ana")
    html = await forms.card(case)
    assert 'class="reply reply-sent"' in html and '<strong class="words">sent</strong>' in html
    assert f'<a class="reply-link" href="{post.url}"' in html
    assert "Reply by Ana Lopez" in html and "Answered in public" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "{@user:slack:U1}" in html


async def test_a_refused_post_shows_why_on_the_card(forms: Forms) -> None:
    case = await forms.claimed()
    await forms.world.name("ana")
    forms.forum.fail(429, retry_after=30)
    status, body = await forms.send(case, "send", text="We are on it.")
    assert status == 200 and body["ok"]
    await forms.answering.drain()
    assert forms.forum.posts == [] and len(forms.forum.requests) == 1
    [failed] = forms.world.runtime.store.get_case(case.id).replies
    assert failed.state is ReplyState.FAILED
    html = await forms.card(case)
    assert 'class="reply reply-failed"' in html and '<strong class="words">failed</strong>' in html
    why = "x: rate limited (HTTP 429) (the platform asks to wait 31 s)"
    assert f'<span class="reason">{why}</span>' in html
    assert f'id="reply-text-{case.id}"' in html  # nothing in flight: the form is back
    status, body = await forms.send(case, "send", text="We are on it.")
    assert status == 200
    await forms.answering.drain()
    assert [p.text for p in forms.forum.posts] == ["We are on it."]


async def test_a_second_reply_waits_while_the_first_may_have_been_posted(forms: Forms) -> None:
    case = await forms.claimed()
    await forms.world.name("ana")
    forms.forum.fail(502)  # published, then answered 502: it may have been posted
    status, _ = await forms.send(case, "send", text="We are on it.")
    assert status == 200
    await forms.answering.drain()
    html = await forms.card(case)
    assert "may have been posted: checking the thread" in html
    assert f'id="reply-text-{case.id}"' not in html  # no form while it is settled
    status, body = await forms.send(case, "send", text="We are on it.")  # an older page
    assert status == 409
    assert body["message"] == f"a reply to case #{case.id} is still being sent; wait for it"
    await forms.answering.drain()
    assert len(forms.forum.requests) == 1 and len(forms.forum.posts) == 1


async def test_someone_elses_claim_is_refused(forms: Forms) -> None:
    case = await forms.claimed()
    await forms.world.name("ben")
    status, body = await forms.send(case, "send", text="Hello")
    assert status == 409
    assert body["message"] == (
        f"case #{case.id} is claimed by Ana Lopez: only they or a manager may reply"
    )
    await forms.answering.drain()
    assert forms.forum.requests == []


async def test_mark_answered_takes_only_http_links(forms: Forms) -> None:
    world = forms.world
    case = await forms.claimed("@northwind slow shipping", source="hackernews")
    html = await forms.card(case)
    assert f'id="reply-text-{case.id}"' not in html
    assert f'id="open-post-{case.id}" href="https://x.example/status/' in html
    await world.name("ana")
    for bad in ("javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,<b>", "//evil"):
        status, body = await forms.send(case, "answered", url=bad)
        assert status == 409 and "http(s) address" in body["message"]
    assert world.runtime.store.get_case(case.id).first_response is None
    link = "https://news.ycombinator.com/item?id=5"
    status, body = await forms.send(case, "answered", url=link)
    assert status == 200, body
    first = world.runtime.store.get_case(case.id).first_response
    assert first is not None and first.via is ResponseVia.MARKED and first.url == link
    html = await forms.card(case)
    assert f'href="{link}"' in html and "marked answered" in html
    assert "Waiting on the customer since" in html


async def test_drafts_wait_for_a_manager(forms: Forms) -> None:
    world = forms.world
    forms.answering.settings = managers_approve(forms.answering.settings)
    case = await forms.claimed()
    await world.name("ana")
    status, body = await forms.send(case, "send", text="Draft <b>one</b>")
    assert status == 200 and "saved as a draft" in body["message"]
    [draft] = world.runtime.store.get_case(case.id).replies
    html = await forms.card(case)
    assert f'id="approve-{draft.id}"' in html and "Draft &lt;b&gt;one&lt;/b&gt;" in html
    status, body = await forms.send(case, "approve", reply=draft.id)
    assert status == 409 and body["message"] == "only a manager may approve a draft reply"

    await world.name("maria")
    status, body = await forms.send(case, "approve", reply=draft.id, text="z" * (LIMIT + 1))
    assert status == 409 and "shorten by 1" in body["message"]
    status, body = await forms.send(case, "approve", reply=draft.id, text="Edited by Maria")
    assert status == 200 and "approved as edited" in body["message"]
    await forms.answering.drain()
    assert [p.text for p in forms.forum.posts] == ["Edited by Maria"]

    await world.name("ana")
    await forms.send(case, "send", text="Second draft")
    second = world.runtime.store.get_case(case.id).replies[-1]
    status, body = await forms.send(case, "discard", reply=second.id)  # its author may
    assert status == 200
    assert world.runtime.store.get_case(case.id).replies[-1].state is ReplyState.DISCARDED
    assert len(forms.forum.posts) == 1


async def test_a_deleted_post_closes_as_deleted(forms: Forms) -> None:
    world = forms.world
    case = await forms.claimed()
    await world.name("ana")
    assert f'id="close-deleted-{case.id}"' not in await forms.card(case)
    status, body = await forms.send(case, "close-deleted")  # an older page, or a script
    assert status == 409
    assert body["message"] == f"the post of case #{case.id} is not known to be deleted"

    forms.forum.delete(ForumSource.post_id(case.mention))  # its author deleted it
    checker = forms.answering.thread_checker()
    assert checker is not None and await checker.run() == 1  # the thread read sees a 404
    html = await forms.card(case)
    assert "Post deleted by its author" in html and f'id="close-deleted-{case.id}"' in html
    await world.name("ben")  # not the holder
    status, body = await forms.send(case, "close-deleted")
    assert status == 409 and "claimed by Ana Lopez" in body["message"]
    assert world.runtime.store.get_case(case.id).state is CaseState.CLAIMED

    await world.name("ana")
    status, body = await forms.send(case, "close-deleted")
    assert status == 200 and body == {
        "ok": True,
        "message": f"Case #{case.id} is closed: its post was deleted by its author.",
    }
    closed = world.runtime.store.get_case(case.id)
    assert closed.state is CaseState.RESOLVED and closed.closed_as == "deleted"
    assert closed.resolved_by == Identity("board", "ana")
    assert forms.forum.requests == []  # nothing was posted


async def test_answer_forms_need_the_csrf_token(forms: Forms) -> None:
    world = forms.world
    case = await forms.claimed()
    await world.name("ana")
    response = await world.client.post(
        f"/board/cases/{case.id}/replies/send", data={"text": "hi"},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert response.status == 403
    status, _ = await forms.send(case, "nonsense")
    assert status == 404
    assert forms.forum.requests == []


async def test_the_thread_shows_a_hostile_follow_up_as_text(forms: Forms) -> None:
    world = forms.world
    case = await forms.claimed()
    await world.name("ana")
    await forms.send(case, "send", text="We are on it.")
    await forms.answering.drain()
    customer = case.mention.author.handle
    post = ThreadPost("f1", customer, HOSTILE_FOLLOW_UP, world.clock.now, "https://x.example/f1")
    read = ThreadRead(posts=[post])
    runtime = world.runtime
    await asyncio.to_thread(record_read, runtime.store, runtime.settings, case.id, read,
                            world.clock.now)  # fmt: skip
    assert f'id="thread-{case.id}"' in await forms.card(case)
    html = await world.page(f"/board/cases/{case.id}/thread")
    assert "the customer replied in the thread" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "{@user:slack:U1}" in html and "Ana Lopez</blockquote>" not in html
    assert "a public reply was posted" in html
    response = await world.client.get("/board/cases/404/thread")
    assert response.status in (200, 404)


async def test_an_unexpected_failure_answers_with_the_id_it_was_logged_under(
    forms: Forms, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    case = await forms.claimed()
    await forms.world.name("ana")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Answering, "mark_answered", broken)  # no wire to break it through
    status, body = await forms.send(case, "answered", url="")
    assert status == 409
    said = re.search(r"nothing was sent \(error id ([0-9a-f]{8})\)", body["message"])
    assert said is not None and "disk on fire" not in body["message"]
    [logged] = [r for r in caplog.records if said.group(1) in r.getMessage()]
    assert logged.exc_info is not None and f"on case {case.id} failed" in logged.getMessage()
