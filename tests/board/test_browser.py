"""The board end to end in Debian's chromium, against a real ``triagebot demo`` process.

The demo replays its samples (no simulated staff, so every claim here is the test's own);
other ``triagebot`` commands run as separate processes on the same store, the way a user would
run them in another terminal. Screenshots of the board and the report, at desktop and phone
width, are written to docs/screenshots/ on every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from tests.cli_helpers import run_cli
from tests.e2e_helpers import CHROMIUM_ARGS, require_chromium
from tests.runtime.test_demo import free_port, wait_for_health

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
HOSTILE = (
    "@northwind <script>alert(1)</script><img src=x onerror=alert(2)> "
    "[click](javascript:alert(3)) {{ 7*7 }} my order never came"
)


class Demo:
    def __init__(self, root: Path, port: int, proc: subprocess.Popen[str]) -> None:
        self.root, self.port, self.proc = root, port, proc
        self.url = f"http://127.0.0.1:{port}/"

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = run_cli(list(args), self.root, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result

    def cases(self) -> dict[str, dict[str, Any]]:
        out = self.cli("cases", "--state", "all", "--json", "--limit", "500").stdout
        return {c["id"]: c for c in map(json.loads, out.splitlines())}


def start_demo(root: Path, port: int) -> subprocess.Popen[str]:
    """``triagebot demo`` with its console output in a file (a pipe nobody reads would fill)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGEBOT_", "SLACK_",
           "MICROSOFT_")) and k not in {"DYNO", "DATABASE_URL"}}  # fmt: skip
    env.update({"PORT": str(port), "TRIAGEBOT_DB": str(root / "data" / "triagebot.json")})
    with (root / "demo.out").open("w") as out, (root / "demo.err").open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "triagebot", "demo", "--seed", "7", "--pace", "0.1",
             "--no-staff"],
            cwd=root, env=env, stdout=out, stderr=err, text=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_chromium()
    root = tmp_path_factory.mktemp("board-demo")
    port = free_port()
    proc = start_demo(root, port)
    try:
        wait_for_health(port, proc)
        deadline = time.monotonic() + 10
        while "board: " not in (root / "demo.out").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"board: http://127.0.0.1:{port}/" in (root / "demo.out").read_text()
        yield Demo(root, port, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in (root / "demo.err").read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(path), args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    refused = "Failed to load resource: the server responded with a status of 409"

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.goto(demo.url)
    yield opened
    context.close()
    unexpected = [p for p in problems if not p.startswith(refused)]  # a refused click is fine
    assert unexpected == [], unexpected  # no CSP violation, no script error, no alert()


def act_as(page: Page, name: str) -> None:
    page.fill("#name", name)
    page.click(".name-form button")
    expect(page.locator("#name")).to_have_value(name)


def first_waiting(page: Page) -> str:
    card = page.locator(".group-waiting .card").first
    expect(card).to_be_visible(timeout=20_000)
    return str(card.get_attribute("data-case"))


def test_claim_in_the_browser_moves_the_card_and_the_cli_sees_it(page: Page, demo: Demo) -> None:
    expect(page.locator(".card")).not_to_have_count(0, timeout=20_000)
    act_as(page, "zoe")
    case_id = first_waiting(page)
    page.click(f"#claim-{case_id}")
    expect(page.locator("#status")).to_have_text(f"Case #{case_id} claimed by zoe.")
    claimed = page.locator(f".group-claimed #case-{case_id}")
    expect(claimed).to_be_visible()
    expect(claimed.locator(".state")).to_have_text("claimed by zoe")
    assert demo.cases()[case_id]["claimed_by"] == "board:zoe"

    page.click(f"#claim-{first_waiting(page)}")  # a second one, still fine
    expect(page.locator("#status")).to_contain_text("claimed by zoe.")


def test_a_claim_made_in_another_terminal_appears_without_reload(page: Page, demo: Demo) -> None:
    case_id = first_waiting(page)
    page.evaluate("window.stillTheSamePage = true")
    demo.cli("claim", case_id, "--by", "ana")
    card = page.locator(f".group-claimed #case-{case_id}")
    # cli:ana is Ana Lopez in the example's [[people]]
    expect(card.locator(".state")).to_have_text("claimed by Ana Lopez", timeout=15_000)
    assert page.evaluate("window.stillTheSamePage") is True

    act_as(page, "ben")
    page.click(f"#unclaim-{case_id}")  # ben is not ana and not a manager
    expect(page.locator("#status")).to_have_text(
        f"case #{case_id} is claimed by Ana Lopez: only they or a manager may unclaim it"
    )


def test_a_hostile_post_renders_as_text(page: Page, demo: Demo) -> None:
    post = {
        "id": "x:hostile-1",
        "source": "x",
        "url": "https://x.example/status/1",
        "kind": "x",
        "author": "mallory",
        "text": HOSTILE,
        "created_at": datetime.now(UTC).isoformat(),
    }
    file = demo.root / "hostile.jsonl"
    file.write_text(json.dumps(post) + "\n")
    demo.cli("ingest", str(file))
    card = page.locator(".card", has_text="my order never came")
    expect(card).to_be_visible(timeout=15_000)
    text = card.locator(".text").inner_text()
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert "{{ 7*7 }}" in text
    assert card.locator("img, script, a[href^='javascript']").count() == 0
    card.screenshot(path=str(SHOTS / "board-hostile.png"))


def _set_clock(page: Page, remind_s: float, due_s: float, state: str) -> None:
    """Move the first clock's times (seconds from now) and wait for the countdown to show
    ``state``; again if a live refresh redrew the card meanwhile."""
    clock = page.locator(".clock").first
    for _ in range(5):
        page.evaluate(
            """([remind, due]) => {
            const el = document.querySelector('.clock');
            el.dataset.remind = new Date(Date.now() + remind * 1000).toISOString();
            el.dataset.due = new Date(Date.now() + due * 1000).toISOString();
        }""",
            [remind_s, due_s],
        )
        try:
            expect(clock).to_have_class(f"clock sla-{state}", timeout=2500)
            return
        except AssertionError:
            continue
    pytest.fail(f"the countdown never showed {state}")


def test_countdowns_change_colour_and_words_in_the_browser(page: Page) -> None:
    clock = page.locator(".clock").first
    expect(clock).to_have_class("clock sla-ok")
    _set_clock(page, -60, 3600, "nearing")
    expect(clock.locator(".label")).to_have_text("nearing")
    _set_clock(page, -3600, -125, "breached")
    expect(clock.locator(".left")).to_contain_text("over")
    expect(clock.locator(".label")).to_have_text("breached")


def test_posts_without_the_csrf_token_are_refused(page: Page, demo: Demo) -> None:
    case_id = first_waiting(page)
    url = f"{demo.url}board/cases/{case_id}/claim"
    refused = page.request.post(url, form={"version": "1"})
    assert refused.status == 403 and "CSRF" in refused.text()
    token = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    foreign = page.request.post(
        url, form={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status == 403
    assert demo.cases()[case_id]["state"] in {"new", "open"}


def test_keyboard_only_claim(page: Page, demo: Demo) -> None:
    act_as(page, "kim")
    page.goto(demo.url)
    page.locator(".group-waiting .card").first.wait_for()
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('btn-claim')"):
            break
    else:
        pytest.fail("no Claim button reachable with Tab")
    case_id = page.evaluate("document.activeElement.closest('[data-case]').dataset.case")
    page.keyboard.press("Enter")
    expect(page.locator(f".group-claimed #case-{case_id} .state")).to_have_text("claimed by kim")
    # Focus stays on the card (its first button) so the keyboard user is not sent to the top.
    focused = page.evaluate("document.activeElement.closest('[data-case]')?.dataset.case")
    assert focused == case_id


CONTRAST = """(selectors) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) worst.push(selector + ": " + ratio.toFixed(2));
    }
  }
  return worst;
}"""


def test_text_contrast_is_at_least_aa(page: Page) -> None:
    expect(page.locator(".card").first).to_be_visible(timeout=20_000)
    selectors = [".top a", ".brand", "h1", ".column h2", ".count", ".group", ".card h4",
                 ".state", ".meta", ".meta a", ".text", ".clock", "button", "select",
                 ".filters label", "label"]  # fmt: skip
    assert page.evaluate(CONTRAST, selectors) == []


def test_screenshots_and_phone_width(browser: Browser, demo: Demo) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("", (1440, 1000)), ("-phone", (390, 844))):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        page.goto(demo.url)
        expect(page.locator(".card").first).to_be_visible(timeout=20_000)
        page.wait_for_timeout(300)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport[0], f"horizontal scroll at {viewport[0]}px: {width}px"
        page.screenshot(path=str(SHOTS / f"board{label}.png"))
        page.goto(f"{demo.url}report?since=7d")
        page.wait_for_function("document.querySelector('.chart img').naturalWidth > 0")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport[0], f"report scrolls sideways at {viewport[0]}px: {width}px"
        page.screenshot(path=str(SHOTS / f"report{label}.png"), full_page=True)
        context.close()
