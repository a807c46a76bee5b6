"""The suggested departments of a case waiting in triage, pressed in Debian's chromium.

The board runs in this process on a real socket (its own event loop in a thread), with a
department model whose probabilities the test sets, so the router itself sends the post to
``triage`` with its suggestions. One page presses "Send to Billing & Refunds · 41%"; the card
moves to Billing there and, without a reload, on a second page open beside it.
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

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from integrations.board.app import add_board
from integrations.board.web import BoardOptions
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e_helpers import CHROMIUM_ARGS, require_chromium
from tests.fakes.routing import unsure
from tests.runtime.test_demo import free_port
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.wiring import Runtime

pytestmark = pytest.mark.browser

TEXT = "@northwind well well well <img src=x onerror=alert(1)> look at this"


@dataclass
class Served:
    url: str
    runtime: Runtime
    case: Case


@contextlib.contextmanager
def _serve(app: web.Application, port: int, ready: threading.Event) -> Iterator[None]:
    """Run ``app`` on 127.0.0.1:``port`` in a thread of its own until the generator closes."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=1.0)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    require_chromium()
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "db.json")})
    runtime = Runtime.build(settings)
    unsure(runtime.router, billing=0.41, sales=0.33, shipping=0.2, none=0.06)
    now = runtime.clock()
    author = Author("customer_1", "Sam", 12)
    url = "https://x.example/status/1"
    mention = Mention("x:1", "x", "post", url, author, TEXT, now - timedelta(minutes=2))
    [case] = runtime.pipeline.ingest([mention], now).new
    assert case.department == "triage"
    app = web.Application()
    assert add_board(runtime, app, BoardOptions(writable=True, demo=True)) is not None
    port, ready = free_port(), threading.Event()
    try:
        with _serve(app, port, ready):
            assert ready.wait(10), "the board did not start"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200
            yield Served(f"http://127.0.0.1:{port}/", runtime, case)
    finally:
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
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url)
    return page


def test_a_suggestion_pressed_in_the_browser_moves_the_card(
    browser: Browser, served: Served
) -> None:
    problems: list[str] = []
    page = open_page(browser, served.url, problems)
    beside = open_page(browser, served.url, problems)  # someone else watching the board
    case_id = served.case.id
    triage = page.locator(f'section[aria-labelledby="col-triage"] #case-{case_id}')
    expect(triage).to_be_visible()
    expect(triage.locator(".text")).to_contain_text("<img src=x onerror=alert(1)>")
    first, second = page.locator(f"#suggest-1-{case_id}"), page.locator(f"#suggest-2-{case_id}")
    expect(first).to_have_text("Send to Billing & Refunds · 41%")
    expect(second).to_have_text("Send to Sales · 33%")
    expect(triage.locator(".suggestions .hint")).to_have_text(
        "Not sure where this belongs; the likeliest departments:"
    )

    page.fill("#name", "zoe")
    page.click(".name-form button")
    expect(page.locator("#name")).to_have_value("zoe")
    page.locator(f"#suggest-1-{case_id}").click()
    expect(page.locator("#status")).to_have_text(
        f"Case #{case_id} reassigned from triage to billing by zoe."
    )
    for view in (page, beside):  # the pressing page and, live, the one beside it
        moved = view.locator(f'section[aria-labelledby="col-billing"] #case-{case_id}')
        expect(moved).to_be_visible(timeout=15_000)
        expect(
            view.locator(f'section[aria-labelledby="col-triage"] #case-{case_id}')
        ).to_have_count(0)
        expect(moved.locator(".btn-suggest")).to_have_count(0)
    stored = served.runtime.store.get_case(case_id)
    assert stored.department == "billing" and stored.version > served.case.version
    assert problems == [], problems  # no CSP violation, no script error, no alert()
