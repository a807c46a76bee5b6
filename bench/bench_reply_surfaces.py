"""Benchmark of a public reply sent from Slack's modal, Teams' card and the board's form.

Run ``python -m bench.bench_reply_surfaces [--active 300 50300] [--runs 30]``.

For each size, a TinyDB store holding only that many active cases (``bench_active``'s data
set, copied to a folder of its own) serves the real aiohttp app: Slack mounted (signed
requests, Bolt, the fake Slack Web API on a thread of its own), the board (demo options:
writable, no login), Teams in local mode (``POST /api/messages``, a loopback Bot Connector on
a thread of its own), the scheduler and the outbox job running. The loopback forum
(``integrations.demo.forum``) stands for the platform on its own thread and answers at once,
so everything measured is triagebot's own time. ``--runs`` cases each get one reply from a
manager: through a signed ``view_submission`` of the Reply modal, an ``Action.Execute`` of the
Teams card's Send reply (the text in its ``Input.Text``), and the board's form (``POST
/board/cases/{id}/replies/send`` with the session's CSRF token). Measured: the time to the
HTTP answer (Slack's ack closes the modal; Teams' invoke response carries the redrawn card;
the board's JSON answer) and to the POST arriving at the platform. Medians and the slowest
are printed as a Markdown table with the machine and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web

from bench.bench_active import WORK, generate
from bench.bench_store import _machine
from bench.bench_teams import Connector
from integrations.board.app import add_board
from integrations.board.web import BoardOptions
from integrations.common.answers import AnswerAction
from integrations.common.payload import CasePayload
from integrations.demo.forum import DemoForum, ForumSource
from integrations.slack import modals
from integrations.slack.app import build_slack, mount
from integrations.slack.lanes import ChannelLanes
from integrations.teams import app as teams_app
from integrations.teams.render_answers import REPLY_INPUT
from tests.fakes.slack import TOKEN
from tests.fakes.slack_requests import SECRET, signed, view_submission
from tests.fakes.slack_views import ModalSlack
from triagebot.cases.records import ACTIVE_STATES, Case
from triagebot.config.settings import load_settings
from triagebot.runtime.answering import Answering
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
RUN = WORK / "reply-surfaces"
TEXT = "So sorry about this! We've sent you a DM so we can sort it out today."
MANAGER_SLACK = "U0MANAGER"  # Maria Chen, a manager in the example configuration
MANAGER_BOARD = "maria"
MANAGER_AAD = "6c0f3e52-2f4b-4a0e-9d55-0d1b6a9e7c21"  # Maria Chen's Teams (Entra ID) object id
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _store_copy(active: int) -> Path:
    """A fresh copy of the data set of ``active`` active cases, in this benchmark's folder."""
    data = WORK / f"{active}" / "data"
    if not (data / "triagebot.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data / "triagebot.json", active)
    shutil.rmtree(RUN, ignore_errors=True)
    shutil.copytree(data, RUN / "data")
    db = RUN / "data" / "triagebot.json"
    with TinyDBStore(db) as store:
        store.migrate()
    return db


async def _arrived(forum: DemoForum, before: int, started: float) -> float:
    deadline = started + 30
    while len(forum.requests) == before:
        if time.perf_counter() > deadline:
            raise AssertionError("the reply never reached the platform")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - started


async def _slack_reply(
    session: aiohttp.ClientSession, url: str, forum: DemoForum, case: Case
) -> tuple[float, float]:
    view = {
        "type": "modal",
        "callback_id": modals.REPLY_MODAL,
        "private_metadata": modals.ModalTarget(case.id, "C0SUPPORT").to_metadata(),
        "blocks": [],
    }
    values = {modals.TEXT_BLOCK: {modals.TEXT_INPUT: TEXT}}
    body = view_submission(view, values, user=MANAGER_SLACK)
    before = len(forum.requests)
    started = time.perf_counter()
    async with session.post(url, data=body, headers=signed(body)) as response:
        answer = await response.read()
        assert response.status == 200 and not answer, (response.status, answer)
    acked = time.perf_counter() - started
    return acked, await _arrived(forum, before, started)


async def _teams_reply(
    session: aiohttp.ClientSession, url: str, connector: str, forum: DemoForum, case: Case
) -> tuple[float, float]:
    verb = AnswerAction.REPLY.value
    data = CasePayload(case.id, case.version).to_dict() | {"verb": verb, REPLY_INPUT: TEXT}
    body = {
        "type": "invoke", "name": "adaptiveCard/action", "channelId": "msteams",
        "serviceUrl": connector, "id": f"in-{case.id}", "replyToId": f"card-{case.id}",
        "from": {"id": "29:maria", "name": "Maria Chen", "aadObjectId": MANAGER_AAD},
        "recipient": {"id": "bot", "name": "bot"},
        "conversation": {"id": "19:support;messageid=1", "conversationType": "channel"},
        "channelData": {"team": {"id": "19:team"}, "channel": {"id": "19:support"}},
        "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}},
    }  # fmt: skip
    before = len(forum.requests)
    started = time.perf_counter()
    async with session.post(url, json=body) as response:
        answer = await response.json()
        assert response.status == 200 and answer["statusCode"] == 200, answer
        assert "sending" in json.dumps(answer["value"]), answer  # not a refusal
    answered = time.perf_counter() - started
    return answered, await _arrived(forum, before, started)


async def _board_session(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base + "/") as response:
        token = _CSRF.search(await response.text())
    assert token is not None
    form = {"csrf": token.group(1), "name": MANAGER_BOARD, "next": "/"}
    async with session.post(base + "/board/name", data=form, allow_redirects=False) as response:
        assert response.status == 303, response.status
    async with session.get(base + "/") as response:
        token = _CSRF.search(await response.text())
    assert token is not None
    return token.group(1)


async def _board_reply(
    session: aiohttp.ClientSession, base: str, csrf: str, forum: DemoForum, case: Case
) -> tuple[float, float]:
    before = len(forum.requests)
    started = time.perf_counter()
    async with session.post(
        f"{base}/board/cases/{case.id}/replies/send",
        data={"csrf": csrf, "text": TEXT},
        headers={"Accept": "application/json", "Origin": base},
    ) as response:
        answer = await response.json()
        assert response.status == 200 and answer["ok"], answer
    answered = time.perf_counter() - started
    return answered, await _arrived(forum, before, started)


async def measure(active: int, runs: int) -> dict[str, str]:
    db = _store_copy(active)
    fake = ModalSlack(channels={"C0SUPPORT", "C0ESCALATE", "C0MANAGERS"})
    fake.start_in_thread()
    connector = Connector()
    connector.start()
    forum = DemoForum(limit=10_000)
    forum_url = forum.start_in_thread()
    env = {"TRIAGEBOT_DB": str(db), "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url, "TRIAGEBOT_TEAMS": "1"}  # fmt: skip
    settings = load_settings(ROOT / "triagebot.example.toml", env)
    store = TinyDBStore(db)
    runtime = Runtime.build(settings, [], store=store, routing=False)
    cases = store.list_cases(states=ACTIVE_STATES, limit=3 * runs)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    names = {c.mention.source for c in cases}
    sources = {n: ForumSource(forum_url, name=n) for n in names}
    runtime.answering = Answering(store, settings, sources, http, lambda: datetime.now(UTC))
    slack = build_slack(runtime, lanes=ChannelLanes(0.0))
    runtime.surfaces.append(slack.surface)
    app = create_app(runtime)
    mount(app, slack)
    teams = teams_app.build_teams(runtime)
    runtime.surfaces.append(teams.surface)
    teams_app.mount(app, teams)
    add_board(runtime, app, BoardOptions(writable=True, demo=True))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    slack_times: list[tuple[float, float]] = []
    board_times: list[tuple[float, float]] = []
    teams_times: list[tuple[float, float]] = []
    try:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            for case in cases[:runs]:
                slack_times.append(await _slack_reply(session, base + "/slack/events", forum, case))
            csrf = await _board_session(session, base)
            for case in cases[runs : 2 * runs]:
                board_times.append(await _board_reply(session, base, csrf, forum, case))
            for case in cases[2 * runs : 3 * runs]:
                teams_times.append(
                    await _teams_reply(session, base + "/api/messages", connector.url, forum, case)
                )
        await runtime.answering.drain()
        sent = len(forum.posts)
    finally:
        logging.disable(logging.CRITICAL)
        await runtime.answering.aclose()
        await runner.cleanup()
        fake.stop_thread()
        forum.stop_thread()
        store.close()
        logging.disable(logging.NOTSET)
    return {
        "active cases": f"{active:,}",
        "Slack: submit to ack (median / max)": _pair([t[0] for t in slack_times]),
        "Slack: submit to POST at the platform": _pair([t[1] for t in slack_times]),
        "board: submit to answer": _pair([t[0] for t in board_times]),
        "board: submit to POST at the platform": _pair([t[1] for t in board_times]),
        "Teams: Send reply to invoke response": _pair([t[0] for t in teams_times]),
        "Teams: Send reply to POST at the platform": _pair([t[1] for t in teams_times]),
        "replies posted": f"{sent} of {len(slack_times) + len(board_times) + len(teams_times)}",
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def _pair(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} / {max(values) * 1000:.1f} ms"


def _table(rows: Sequence[dict[str, str]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(row[k] for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, nargs="+", default=[300, 50_300])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = [asyncio.run(measure(n, args.runs)) for n in args.active]
    print(_machine())
    print(_table(rows))
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
