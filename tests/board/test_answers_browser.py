"""Answering the customer from the board in Debian's chromium.

The board runs in this process on a real socket (its own event loop in a thread) with the
delivery worker running, and ``Answering`` posts through a loopback forum
(``tests.fakes.public_source``). A reply too long for the platform is refused under the form
and the text stays; a valid one, hostile as it is, is posted once and the card turns to
"sent" with the reply's link, on the page that sent it and, live, on a page beside it. Where
the source cannot post, "Mark answered" refuses a javascript: link.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from integrations.board.app import add_board
from integrations.board.web import BoardOptions
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e_helpers import CHROMIUM_ARGS, require_chromium
from tests.fakes.public_source import LIMIT, FakeForum, ForumSource
from tests.runtime.test_demo import free_port
from triagebot.actions.executor import execute
from triagebot.actions.public import ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.ingest.threads import record_read
from triagebot.runtime.answering import Answering
from triagebot.runtime.wiring import Runtime

pytestmark = pytest.mark.browser

POST = "@northwind my order never came <img src=x onerror=alert(1)>"
FOLLOW_UP = "still nothing <img src=x onerror=alert(4)> {@user:slack:U1} <!channel>"
REPLY = "Sorry! <img src=x onerror=alert(2)> <!channel> {@user:slack:U1} <script>alert(3)</script>"


@dataclass
class Served:
    url: str
    runtime: Runtime
    forum: FakeForum
    case: Case
    elsewhere: Case


def _case(runtime: Runtime, n: int, source: str, text: str) -> Case:
    now = runtime.clock()
    url = f"https://{source}.example/item/{n}"
    author = Author(f"customer_{n}", "Sam", 12)
    at = now - timedelta(minutes=2)
    mention = Mention(f"{source}:{n}", source, "post", url, author, text, at)
    [case] = runtime.pipeline.ingest([mention], now).new
    claim = Claim(case.id, Identity("board", "ana"), "board")
    return execute(runtime.store, runtime.policy, claim, now).case


@contextlib.contextmanager
def _serve(runtime: Runtime, forum: FakeForum, port: int) -> Iterator[None]:
    """The board on 127.0.0.1:``port`` with delivery and ``Answering``, on a thread's loop."""
    app = web.Application()
    assert add_board(runtime, app, BoardOptions(writable=True, demo=True)) is not None
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    ready = threading.Event()
    http = httpx.AsyncClient(timeout=5.0)
    pump: list[asyncio.Task[None]] = []

    async def deliver() -> None:
        worker = runtime.delivery()
        while True:
            await worker.flush()
            await asyncio.sleep(0.2)

    async def start() -> None:
        runtime.answering = Answering(
            runtime.store, runtime.settings, {"x": ForumSource(forum.url)}, http, runtime.clock
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        pump.append(asyncio.ensure_future(deliver()))

    async def stop() -> None:
        pump[0].cancel()
        assert runtime.answering is not None
        await runtime.answering.drain()
        await http.aclose()
        await runner.cleanup()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the board did not start"
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    require_chromium()
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "db.json")})
    runtime = Runtime.build(settings)
    forum = FakeForum()
    forum.start_in_thread()
    case = _case(runtime, 1, "x", POST)
    elsewhere = _case(runtime, 2, "hackernews", "@northwind shipping <b>is</b> slow")
    port = free_port()
    try:
        with _serve(runtime, forum, port):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200
            yield Served(f"http://127.0.0.1:{port}/", runtime, forum, case, elsewhere)
    finally:
        forum.stop_thread()
        runtime.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(path), args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Browser, url: str, problems: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    refused = "Failed to load resource: the server responded with a status of 409"
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith(refused)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url)
    return page


def act_as(page: Page, name: str) -> None:
    page.fill("#name", name)
    page.click(".name-form button")
    expect(page.locator("#name")).to_have_value(name)


def test_a_reply_from_the_board_is_checked_posted_once_and_shown_sent(
    browser: Browser, served: Served
) -> None:
    problems: list[str] = []
    page = open_page(browser, served.url, problems)
    beside = open_page(browser, served.url, problems)  # someone else watching the board
    act_as(page, "ana")
    case_id = served.case.id
    card = page.locator(f"#case-{case_id}")
    page.locator(f"#reply-{case_id} summary").click()
    box = page.locator(f"#reply-text-{case_id}")
    too_long = "x" * (LIMIT + 20)
    box.fill(too_long)
    page.locator(f"#reply-send-{case_id}").click()
    expect(page.locator(f"#reply-error-{case_id}")).to_have_text(
        f"{LIMIT + 20} of {LIMIT} characters: shorten by 20"
    )
    expect(box).to_have_value(too_long)  # what was typed is kept
    assert served.forum.requests == []

    box.fill(REPLY)
    page.locator(f"#reply-send-{case_id}").click()
    expect(page.locator("#status")).to_have_text(
        f"Case #{case_id}: your reply is being posted on x."
    )
    for view in (page, beside):
        link = view.locator(f"#case-{case_id} .reply-sent .reply-link")
        expect(link).to_be_visible(timeout=15_000)
        [post] = served.forum.posts
        expect(link).to_have_attribute("href", post.url)
        expect(view.locator(f"#case-{case_id} .reply-sent .words")).to_have_text("sent")
        expect(view.locator(f"#case-{case_id} .reply-text")).to_have_text(REPLY)
        expect(view.locator(f"#case-{case_id} .answered")).to_contain_text("Answered in public")
        assert view.locator(f"#case-{case_id} img, #case-{case_id} script").count() == 0
    assert len(served.forum.requests) == 1 and served.forum.posts[0].text == REPLY
    expect(card.locator(".text")).to_contain_text("<img src=x onerror=alert(1)>")

    # The customer answers back with hostile text: the card's Thread shows it as text.
    runtime = served.runtime
    now = runtime.clock()
    follow_up = ThreadPost("f1", served.case.mention.author.handle, FOLLOW_UP, now)
    record_read(runtime.store, runtime.settings, case_id, ThreadRead(posts=[follow_up]), now)
    expect(card.locator(".waiting")).to_have_count(0, timeout=15_000)  # drawn again, live
    card.locator(f"#thread-{case_id} summary").click()
    note = card.locator(".thread-note").last
    expect(note).to_have_text(FOLLOW_UP)
    assert card.locator("img, script").count() == 0
    assert problems == [], problems  # no CSP violation, no script error, no alert()


def test_mark_answered_refuses_a_javascript_link(browser: Browser, served: Served) -> None:
    problems: list[str] = []
    page = open_page(browser, served.url, problems)
    act_as(page, "ana")
    case_id = served.elsewhere.id
    card = page.locator(f"#case-{case_id}")
    expect(card.locator(f"#reply-{case_id}")).to_have_count(0)
    expect(card.locator(f"#open-post-{case_id}")).to_have_attribute(
        "href", "https://hackernews.example/item/2"
    )
    card.locator(f"#answered-{case_id} summary").click()
    field = page.locator(f"#answer-url-{case_id}")
    field.fill("javascript:alert(1)")
    page.locator(f"#answered-send-{case_id}").click()
    expect(card.locator(f"#answered-{case_id} .form-error")).to_contain_text("http(s) address")
    expect(field).to_have_value("javascript:alert(1)")
    assert served.runtime.store.get_case(case_id).first_response is None

    field.fill("https://news.ycombinator.com/item?id=2")
    page.locator(f"#answered-send-{case_id}").click()
    answered = card.locator(".answered")
    expect(answered).to_contain_text("marked answered", timeout=15_000)
    expect(answered.locator("a")).to_have_attribute(
        "href", "https://news.ycombinator.com/item?id=2"
    )
    expect(card.locator(".waiting")).to_contain_text("Waiting on the customer since")
    assert problems == [], problems
