"""Outbox handover between real ``triagebot serve`` processes posting to a (fake) Slack.

Ten cases for one channel are posted one a second (Slack's pace per channel), so the leader
holds leased items for several seconds. SIGTERM gives every item it has not posted back at
once (the next process posts them without waiting out a lease); after a SIGKILL the items come
back when the short lease runs out (about 10 s), not minutes later. On both stores: TinyDB
(the next process is a restart) and PostgreSQL (the next process is a follower that leads).
Nothing is posted twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.slack import TOKEN, FakeSlack
from tests.fakes.slack_requests import SECRET
from tests.runtime.test_serve_processes import free_port, wait_until, write_config
from tests.store.builders import make_new
from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "C0SHIPPING"
CASES = 10
TIMEOUT = 60


class Serve:
    """One ``triagebot serve`` process with Slack pointed at the fake; stdout collected."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TRIAGEBOT_", "SLACK_", "MICROSOFT_", "DATABASE_URL", "DYNO"))
        }
        environ |= {
            "PORT": str(free_port()),
            "TRIAGEBOT_CONFIG": str(config),
            "TRIAGEBOT_RULES": str(ROOT / "rules"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "triagebot", "serve"],
            cwd=config.parent,
            env=environ,
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(channels={CHANNEL, "C0ESCALATE", "C0MANAGERS"})
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


def posted(fake: FakeSlack) -> list[tuple[str, float]]:
    """(case id, Slack ts) of every case message in the channel, oldest first."""
    found = []
    for message in list(fake.messages.get(CHANNEL, [])):
        case_id = ((message.get("metadata") or {}).get("event_payload") or {}).get("case_id")
        if case_id and not message.get("thread_ts"):
            found.append((str(case_id), float(message["ts"])))
    return found


@pytest.fixture(params=["tinydb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that points ``serve`` at a fresh store of each kind, ten cases queued."""
    if request.param == "tinydb":
        path = tmp_path / "data" / "triagebot.json"
        seed(TinyDBStore(path))
        yield {"TRIAGEBOT_DB": str(path)}
        return
    pytest.importorskip("psycopg")
    from tests.store.pg_helpers import throwaway_schema  # noqa: PLC0415
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with throwaway_schema() as (url, schema):
        seed(PostgresStore(url, schema=schema))
        yield {"DATABASE_URL": f"{url}?options=-csearch_path%3D{schema}"}


def seed(store: Store) -> None:
    """Ten fresh cases (nothing overdue, so no reminder or escalation joins the queue)."""
    now = datetime.now(UTC)
    try:
        ids = store.next_case_ids(CASES)
        store.add_cases(
            [
                make_new(i, department="shipping", ingested_at=now + timedelta(seconds=n))
                for n, i in enumerate(ids)
            ]
        )
    finally:
        store.close()


def slack_env(fake: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url}


def test_sigterm_hands_back_the_paced_posts_at_once(
    tmp_path: Path, slack: FakeSlack, store_env: dict[str, str]
) -> None:
    config = write_config(tmp_path, None)
    env = store_env | slack_env(slack)
    first = Serve(config, env)
    try:
        wait_until(lambda: len(posted(slack)) >= 2, TIMEOUT, "the first posts")
        first.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        first.proc.wait(TIMEOUT)
        assert time.monotonic() - sent < 10
        assert first.proc.returncode == 0, "\n".join(first.lines[-20:])
    finally:
        first.stop()
    left = CASES - len(posted(slack))
    assert left > 0, "all were posted before SIGTERM: nothing was tested"
    assert first.has("event=outbox_released")

    second = Serve(config, env)
    try:
        wait_until(lambda: second.has("event=leader_acquired"), TIMEOUT, "the next leader")
        led = time.monotonic()
        # One post a second, starting at once: not after the lease the first process held.
        wait_until(lambda: len(posted(slack)) == CASES, left + 8, "the handed-back posts")
        assert time.monotonic() - led < left + 8
    finally:
        second.stop()
    counts = Counter(case_id for case_id, _ in posted(slack))
    assert len(counts) == CASES and set(counts.values()) == {1}, counts


def test_a_killed_leaders_posts_are_retried_within_15s(
    tmp_path: Path, slack: FakeSlack, store_env: dict[str, str]
) -> None:
    config = write_config(tmp_path, None)
    env = store_env | slack_env(slack)
    procs = [Serve(config, env)]
    try:
        wait_until(lambda: procs[0].has("event=leader_acquired"), TIMEOUT, "a leader")
        if "DATABASE_URL" in env:  # a follower, ready to lead
            procs.append(Serve(config, env))
            wait_until(lambda: procs[1].has("event=follower"), TIMEOUT, "a follower")
        wait_until(lambda: len(posted(slack)) >= 2, TIMEOUT, "the first posts")
        procs[0].proc.send_signal(signal.SIGKILL)
        killed_at, killed_ts = time.monotonic(), time.time()
        procs[0].proc.wait(TIMEOUT)
        if len(procs) == 1:  # the embedded store: the process is restarted
            procs.append(Serve(config, env))
        before = len(posted(slack))
        assert before < CASES, "all were posted before SIGKILL: nothing was tested"
        wait_until(lambda: len(posted(slack)) > before, 20, "a post by the next process")
        resumed = time.monotonic() - killed_at
        wait_until(lambda: len(posted(slack)) == CASES, TIMEOUT, "every post")
    finally:
        for proc in procs:
            proc.stop()
    assert resumed < 15, f"posting resumed {resumed:.1f} s after the kill"
    first_after = min(ts for _, ts in posted(slack) if ts > killed_ts)
    assert first_after - killed_ts < 15
    counts = Counter(case_id for case_id, _ in posted(slack))
    assert len(counts) == CASES and set(counts.values()) == {1}, counts
