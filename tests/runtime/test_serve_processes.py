"""Several ``triagebot serve`` processes on one PostgreSQL database, as dynos on Heroku.

Real subprocesses, a loopback feed and the console surface: one process leads (polls and
delivers), a SIGKILLed leader mid-poll is replaced, nothing is lost or posted twice, and
SIGTERM gives back the outbox items not yet delivered and exits within 10 s.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.store.builders import T0, make_new
from tests.store.pg_helpers import throwaway_schema

psycopg = pytest.importorskip("psycopg")

from triagebot.store.postgres import PostgresStore  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT / "tests" / "fixtures" / "sources" / "google_alerts"
POST_LINE = re.compile(r"^#(\d+) P\d ")
TIMEOUT = 60


@dataclass
class Feed:
    """What the loopback feed answers; ``requests`` counts the polls."""

    body: bytes = field(default_factory=(FEEDS / "feed_poll1.xml").read_bytes)
    delay: float = 0.0
    requests: int = 0


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            time.sleep(state.delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/feed"
    state.delay = 0
    httpd.shutdown()
    httpd.server_close()


def write_config(folder: Path, feed_url: str | None) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    base, rest = text.split("[[sources]]")[0], text.split("[escalation]", 1)[1]
    source = f"""
[[sources]]
name = "alerts"
type = "rss"
base_url = "{feed_url or "http://127.0.0.1:9/none"}"
interval = "10s"
backfill = "5000d"
enabled = {"true" if feed_url else "false"}
"""
    path = folder / "triagebot.toml"
    path.write_text(base + source + "\n[escalation]" + rest, encoding="utf-8")
    return path


class Serve:
    """One ``triagebot serve`` process; its stdout lines are collected as they come."""

    def __init__(self, config: Path, database_url: str, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGEBOT_", "SLACK_"))}
        env.pop("DYNO", None)
        env |= {
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "TRIAGEBOT_CONFIG": str(config),
            "TRIAGEBOT_RULES": str(ROOT / "rules"),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "triagebot", "serve"],
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def posted(self) -> list[str]:
        return [m.group(1) for line in list(self.lines) if (m := POST_LINE.match(line))]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """(DATABASE_URL of a throwaway schema migrated by ``triagebot migrate``, schema)."""
    with throwaway_schema(migrate=False) as (url, schema):
        database_url = f"{url}?options=-csearch_path%3D{schema}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
        env |= {"DATABASE_URL": database_url, "TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG)}
        command = [sys.executable, "-m", "triagebot", "migrate"]
        for expected in ("applied migration 1", "store is up to date"):
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
            assert done.returncode == 0, done.stderr
            assert expected in done.stdout
        yield database_url, schema


def test_three_processes_one_leader_failover_nothing_lost_or_twice(
    tmp_path: Path, feed: tuple[Feed, str], database: tuple[str, str]
) -> None:
    state, feed_url = feed
    database_url, schema = database
    config = write_config(tmp_path, feed_url)
    procs: list[Serve] = []
    store = PostgresStore(database_url.split("?")[0], schema=schema)
    try:
        procs.append(Serve(config, database_url, free_port()))
        wait_until(lambda: procs[0].has("event=leader_acquired"), what="a leader")
        procs += [Serve(config, database_url, free_port()) for _ in range(2)]
        wait_until(lambda: all(p.has("event=follower") for p in procs[1:]), what="followers")
        wait_until(lambda: delivered(store, 6), what="the first poll delivered")
        assert procs[0].posted() and not procs[1].posted() and not procs[2].posted()

        # The leader's next poll hangs on the feed; kill it right then.
        state.body, state.delay = (FEEDS / "feed_poll2.xml").read_bytes(), 30.0
        seen = state.requests
        wait_until(lambda: state.requests > seen, what="the leader's second poll")
        procs[0].proc.send_signal(signal.SIGKILL)
        state.delay = 0.0
        killed_at = time.monotonic()
        wait_until(
            lambda: any(p.has("event=leader_acquired") for p in procs[1:]), what="a new leader"
        )
        assert time.monotonic() - killed_at < 10  # within one poll interval
        assert len([p for p in procs[1:] if p.has("event=leader_acquired")]) == 1
        wait_until(lambda: delivered(store, 10), what="the second poll delivered")
        time.sleep(2)  # anything posted twice would show by now
    finally:
        for proc in procs:
            proc.stop()

    posted = Counter(case_id for proc in procs for case_id in proc.posted())
    assert set(posted.values()) == {1}, posted
    with store:
        cases = store.list_cases()
        assert len({c.mention.id for c in cases}) == 10  # 6 + 5 entries, one in both feeds
        assert {c.id for c in cases if store.message_refs(c.id)} == set(posted)
        assert store.pending_outbox() == 0


def delivered(store: PostgresStore, count: int) -> bool:
    """``count`` cases stored and the outbox empty."""
    return len(store.list_cases()) == count and store.pending_outbox() == 0


def test_sigterm_gives_back_undelivered_items_and_exits_within_10s(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    database_url, schema = database
    url = database_url.split("?")[0]
    total = 3000
    with PostgresStore(url, schema=schema) as store:
        ids = store.next_case_ids(total)
        store.add_cases(
            [make_new(i, ingested_at=T0 + timedelta(seconds=n)) for n, i in enumerate(ids)]
        )
    serve = Serve(write_config(tmp_path, None), database_url, free_port())
    try:
        wait_until(lambda: len(serve.posted()) >= 50, what="delivery to start")
        serve.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        serve.proc.wait(TIMEOUT)
        assert time.monotonic() - sent < 10
        assert serve.proc.returncode == 0, "\n".join(serve.lines[-20:])
    finally:
        serve.stop()
    assert serve.has("event=shutdown_started")
    posted = Counter(serve.posted())
    assert set(posted.values()) == {1}
    assert len(posted) < total, "all were delivered before SIGTERM: nothing was tested"
    with PostgresStore(url, schema=schema) as store:
        refs = {i for i in ids if store.message_refs(i)}
        assert refs == set(posted)
    with psycopg.connect(url) as conn:
        leased, posts = conn.execute(
            f"SELECT count(*) FILTER (WHERE next_attempt_at > now()),"
            f" count(*) FILTER (WHERE doc->>'kind' = 'post') FROM {schema}.outbox"
        ).fetchone() or (None, None)
    assert posts == total - len(posted)  # every post not made is still in the outbox
    assert leased == 0  # and none is left leased: another process can deliver it at once
