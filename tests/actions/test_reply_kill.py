"""A process killed (SIGKILL) between sending a reply and recording it: on restart the reply
is settled from the thread, and the platform has seen exactly one post."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.public_source import FakeForum, ForumSource
from tests.store.builders import make_case, make_mention
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.cases.answers import ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import CaseState, NewCase
from triagebot.config.settings import Settings
from triagebot.runtime.answering import Answering
from triagebot.store.tinydb_store import TinyDBStore

ANA = Identity("cli", "ana")

REPLIER = """
import asyncio, sys
from pathlib import Path
from datetime import UTC, datetime
import httpx
from triagebot.cases.identities import Identity
from triagebot.config.settings import load_settings
from triagebot.runtime.answering import Answering
from triagebot.store.tinydb_store import TinyDBStore
from tests.fakes.public_source import ForumSource

config, db, url = sys.argv[1:4]
settings = load_settings(Path(config), {"TRIAGEBOT_DB": db})
store = TinyDBStore(db)

async def main() -> None:
    http = httpx.AsyncClient(timeout=httpx.Timeout(3600.0))
    answering = Answering(store, settings, {"x": ForumSource(url)}, http, lambda: datetime.now(UTC))
    await answering.reply("1", Identity("cli", "ana"), "cli", "Your refund is on its way")
    print("recorded", flush=True)
    await answering.drain()

asyncio.run(main())
"""


@pytest.fixture
def forum() -> Iterator[FakeForum]:
    fake = FakeForum()
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


def test_a_reply_killed_in_flight_is_never_posted_twice(
    tmp_path: Path, settings: Settings, forum: FakeForum
) -> None:
    db = tmp_path / "db.json"
    now = datetime.now(UTC)
    store = TinyDBStore(db)
    mention = make_mention("x:101", created_at=now - timedelta(minutes=5))
    case = replace(make_case("1", state=CaseState.OPEN, ingested_at=now), mention=mention)
    store.add_cases([NewCase(case)])
    execute(store, SettingsPolicy(settings), Claim("1", ANA, "cli"), now)
    store.close()

    forum.hang()  # the forum publishes the reply, then never answers
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    replier = subprocess.Popen(
        [sys.executable, "-c", REPLIER, str(EXAMPLE_CONFIG), str(db), forum.url],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not forum.posts and time.monotonic() < deadline and replier.poll() is None:
        time.sleep(0.05)
    replier.send_signal(signal.SIGKILL)
    _, errors = replier.communicate(timeout=10)
    assert forum.posts, errors.decode()

    store = TinyDBStore(db)
    try:
        left = store.get_case("1").replies
        assert [r.state for r in left] == [ReplyState.SENDING]  # recorded before it was sent
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        answering = Answering(
            store, settings, {"x": ForumSource(forum.url)}, http, lambda: datetime.now(UTC)
        )
        checker = answering.thread_checker()
        assert checker is not None

        async def settle() -> None:
            await checker.run()
            await answering.aclose()

        asyncio.run(settle())
        settled = store.get_case("1").reply(left[0].id)
        assert settled is not None and settled.state is ReplyState.SENT
        assert settled.external_id == forum.posts[0].id
    finally:
        store.close()
    assert len(forum.requests) == 1 and len(forum.posts) == 1
