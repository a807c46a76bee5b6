"""A burst of hostile posts does not stall ``triagebot serve``: /healthz keeps answering.

A real ``serve`` process (TinyDB store, console surface) polls a loopback feed of posts built
to make a backtracking regex engine spin: 9,000 exclamation marks, then a sales question
naming the brand that the ``question_fit`` expression of ``tests/hostile_rules.py`` almost
matches. On Python's ``re`` each such post held the interpreter lock for seconds and /healthz
went silent; now the test asks /healthz every 20 ms through the whole poll and ingest (the
feed is parsed and the posts routed off the event loop) and none of the answers may take long.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.hostile_rules import rules_with_question_fit

pytestmark = pytest.mark.slow

POSTS = 100
#: Under every text cap, so the whole post, question included, reaches the rules.
BANGS = 9_000
QUESTION = " how much is the northwind trail kettle, and is it available in canada?"
TIMEOUT = 60
#: Generous: an answer takes a few milliseconds; a stalled server took 13-21 s.
SLOWEST_ANSWER_S = 1.0


def hostile_feed(count: int) -> bytes:
    entries = "".join(
        f'<entry><id>tag:example.org,2026:{n}</id><title type="html">{"!" * BANGS}{QUESTION}'
        f'</title><link href="https://forum.example.org/t/{n}"/>'
        "<published>2026-11-17T14:00:00Z</published></entry>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>tag:example.org,2026:feed</id><title>Forum</title>{entries}</feed>"
    ).encode()


@dataclass
class Feed:
    """Holds the first request until ``release`` is set; notes when the body went out."""

    body: bytes
    release: threading.Event = field(default_factory=threading.Event)
    sent_at: float | None = None


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed(hostile_feed(POSTS))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.release.wait(TIMEOUT)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)
            state.sent_at = state.sent_at or time.monotonic()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/feed"
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


def write_config(folder: Path, feed_url: str) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    base, rest = text.split("[[sources]]")[0], text.split("[escalation]", 1)[1]
    source = (
        f'\n[[sources]]\nname = "forum"\ntype = "rss"\nbase_url = "{feed_url}"\n'
        'interval = "10m"\nbackfill = "5000d"\n'
    )
    path = folder / "triagebot.toml"
    path.write_text(base + source + "\n[escalation]" + rest, encoding="utf-8")
    return path


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ask_health(port: int) -> float:
    """Seconds /healthz took to answer 200."""
    start = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT) as answer:
        assert answer.status == 200
        answer.read()
    return time.monotonic() - start


def wait_for_health(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            ask_health(port)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve never answered /healthz")


def test_healthz_keeps_answering_while_hostile_posts_are_routed(
    tmp_path: Path, feed: tuple[Feed, str]
) -> None:
    state, url = feed
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGEBOT_", "SLACK_"))}
    env.pop("DATABASE_URL", None)
    env.pop("DYNO", None)
    env |= {
        "PORT": str(port),
        "TRIAGEBOT_CONFIG": str(write_config(tmp_path, url)),
        "TRIAGEBOT_RULES": str(rules_with_question_fit(tmp_path / "rules")),
        "TRIAGEBOT_DB": str(tmp_path / "db.json"),
        "TRIAGEBOT_BOARD": "off",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "triagebot", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "source forum:" in line and "fetched" in line:
                done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for_health(port, proc)
        state.release.set()  # the poll that was waiting gets the hostile feed now
        answers: list[tuple[float, float]] = []
        while not done.is_set():
            assert time.monotonic() - (state.sent_at or time.monotonic()) < TIMEOUT
            asked = time.monotonic()
            answers.append((asked, ask_health(port)))
            time.sleep(0.02)
        finished = time.monotonic()
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        reader.join(TIMEOUT)
        assert proc.stdout is not None
        proc.stdout.close()
    assert f"source forum: {POSTS} fetched, {POSTS} new" in "".join(lines), "".join(lines[-20:])
    assert state.sent_at is not None
    during = [took for asked, took in answers if asked >= state.sent_at]
    assert during, "the ingest finished before /healthz was asked: nothing was measured"
    print(f"{len(during)} answers in {finished - state.sent_at:.2f} s, slowest {max(during):.3f} s")
    assert max(during) < SLOWEST_ANSWER_S, (max(during), len(during), finished - state.sent_at)
