"""Benchmark of the Teams bot: card presses and ``sla`` answers through the real aiohttp app.

Run ``python -m bench.bench_teams`` (``--write`` also puts the results into the "Teams"
section of ``docs/benchmarks.md``). The app (scheduler and outbox job running, Teams in local
mode) works on a copy of the 100,000-case store of ``bench.bench_store``; a loopback Bot
Connector on its own thread and loop records what the bot sends. Measured:

* presses: an ``Action.Execute`` Claim on each active case, at a steady rate, by 20 people
  in turn; the time to the HTTP answer (the invoke response carrying the redrawn card) and
  until everyone's card is updated (the connector's ``PUT``);
* sla: ``sla 30d`` and ``sla breached`` messages; the time until the answer card reaches the
  connector.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.bench_store import WORK, _machine, dataset, write_doc
from integrations.common.payload import ActionId, CasePayload
from integrations.teams.app import build_teams, mount
from integrations.teams.places import SURFACE
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState, MessageRef
from triagebot.config.settings import load_settings
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime, utcnow
from triagebot.store.tinydb_store import TinyDBStore

DEPARTMENTS = ["support", "billing", "shipping", "returns", "sales", "press", "careers"]
TARGETS = {"ack_p99_ms": 300.0}
STAFF = 20  # people pressing in turn (the first press of each stores their name)


@dataclass
class Connector:
    """A Bot Connector on its own thread: records (method, path, monotonic time, text), the
    text being the path and the JSON body (made on the connector's thread)."""

    calls: list[tuple[str, str, float, str]] = field(default_factory=list)
    url: str = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text() if request.can_read_body else ""
        self.calls.append((request.method, request.path, time.monotonic(), body))
        return web.json_response({"id": f"a{len(self.calls)}"})

    def start(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True, name="fake-connector").start()
        ready.wait(10)
        return self.url

    async def seen(self, method: str, needle: str, after: float) -> float:
        """Seconds from ``after`` until a call of ``method`` whose path or body has ``needle``."""
        deadline = after + 30
        while time.monotonic() < deadline:
            for m, path, at, body in reversed(self.calls):
                if at < after:
                    break
                if m == method and (needle in path or needle in body):
                    return float(at - after)
            await asyncio.sleep(0.005)
        raise AssertionError(f"no {method} with {needle!r}")


def write_config(folder: Path) -> Path:
    blocks = "\n".join(
        f'[[departments]]\nid = "{d}"\nteams_channel = "19:{d}"\n' for d in DEPARTMENTS
    )
    text = (
        '[brand]\nname = "Northwind"\nkeywords = ["northwind"]\n\n'
        f'[calendar]\nhours = "24/7"\n\n{blocks}'
    )
    (folder / "rules").mkdir(exist_ok=True)
    path = folder / "triagebot.toml"
    path.write_text(text)
    return path


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _activity(service_url: str, user: str, **fields: Any) -> dict[str, Any]:
    return {
        "channelId": "msteams", "serviceUrl": service_url, "id": f"in-{user}-{time.monotonic()}",
        "from": {"id": user, "name": f"User {user}"}, "recipient": {"id": "bot", "name": "bot"},
        "conversation": {"id": "19:support;messageid=1", "conversationType": "channel"},
        "channelData": {"team": {"id": "19:team", "name": "Northwind"},
                        "channel": {"id": "19:support"}},
        **fields,
    }  # fmt: skip


async def _press(
    session: aiohttp.ClientSession, url: str, connector: Connector, case: Case, user: str
) -> tuple[float, float]:
    data = CasePayload(case.id, case.version).to_dict() | {"verb": ActionId.CLAIM.value}
    value = {"action": {"type": "Action.Execute", "verb": ActionId.CLAIM.value, "data": data}}
    body = _activity(connector.url, user, type="invoke", name="adaptiveCard/action",
                     value=value, replyToId=f"card-{case.id}")  # fmt: skip
    started = time.monotonic()
    async with session.post(url, json=body) as response:
        answer = await response.json()
        assert response.status == 200 and answer["statusCode"] == 200, answer
    acked = time.monotonic() - started
    updated = await connector.seen("PUT", f"/activities/card-{case.id}", started)
    return acked, updated


async def _sla(
    session: aiohttp.ClientSession, url: str, connector: Connector, words: str, user: str
) -> float:
    body = _activity(connector.url, user, type="message", text=f"sla {words}")
    started = time.monotonic()
    async with session.post(url, json=body) as response:
        assert response.status in (200, 201), response.status
    return await connector.seen("POST", "SLA", started)


async def measure(data: Path, rate: float, sla_rounds: int) -> dict[str, Any]:
    connector = Connector()
    connector.start()
    env = {"TRIAGEBOT_DB": str(data), "TRIAGEBOT_TEAMS": "1"}
    settings = load_settings(write_config(data.parent), env)
    store = TinyDBStore(data)
    runtime = Runtime.build(settings, [], clock=utcnow, store=store, routing=False)
    active = store.list_cases(states=ACTIVE_STATES)
    for case in active:
        ref = MessageRef(SURFACE, f"19:{case.department};messageid=card-{case.id}",
                         f"card-{case.id}", {"service_url": connector.url})  # fmt: skip
        store.set_message_ref(case.id, ref)
    teams = build_teams(runtime)
    runtime.surfaces.append(teams.surface)
    app = create_app(runtime)
    mount(app, teams)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/messages"
    try:
        async with aiohttp.ClientSession() as session:
            first = await _press(session, url, connector, active[0], "29:warmup")
            tasks = []
            for n, case in enumerate(active[1:]):
                tasks.append(
                    asyncio.ensure_future(_press(session, url, connector, case, f"29:u{n}"))
                )
                await asyncio.sleep(1 / rate)
            presses = await asyncio.gather(*tasks)
            slas = [await _sla(session, url, connector, "30d", "29:m") for _ in range(sla_rounds)]
            breached = [
                await _sla(session, url, connector, "breached", "29:m") for _ in range(sla_rounds)
            ]
        claimed = len(await asyncio.to_thread(store.list_cases, states=[CaseState.CLAIMED]))
    finally:
        logging.disable(logging.CRITICAL)
        await runner.cleanup()
        logging.disable(logging.NOTSET)
    acks = [p[0] for p in presses]
    updates = [p[1] for p in presses]
    return {
        "presses": len(presses), "rate": rate, "active": len(active), "claimed": claimed,
        "first_ack": first[0],
        "ack_p50": statistics.median(acks), "ack_p99": _percentile(acks, 0.99),
        "ack_max": max(acks),
        "update_p50": statistics.median(updates), "update_p99": _percentile(updates, 0.99),
        "sla_p50": statistics.median(slas), "sla_max": max(slas),
        "breached_p50": statistics.median(breached), "breached_max": max(breached),
        "sla_rounds": sla_rounds, "load": f"{os.getloadavg()[0]:.1f}",
    }  # fmt: skip


def report(info: dict[str, Any], r: dict[str, Any]) -> str:
    ok = "met" if r["ack_p99"] * 1000 <= TARGETS["ack_p99_ms"] else "MISSED"
    rows = [
        (f"Claim press answered (invoke response with the redrawn card), {r['presses']} presses "
         f"by {STAFF} people at {r['rate']:g}/s, store of {info['cases']:,} cases",
         f"p50 {_ms(r['ack_p50'])}, p99 {_ms(r['ack_p99'])}, max {_ms(r['ack_max'])}",
         f"p99 ≤ 300 ms ({ok})"),
        ("First press after start", _ms(r["first_ack"]), ""),
        ("Press to everyone's card updated (the connector's PUT)",
         f"p50 {_ms(r['update_p50'])}, p99 {_ms(r['update_p99'])}", ""),
        (f"`sla 30d` by message to the answer card at the connector ({r['sla_rounds']} times)",
         f"p50 {_ms(r['sla_p50'])}, max {_ms(r['sla_max'])}", ""),
        (f"`sla breached` to the answer card ({r['sla_rounds']} times)",
         f"p50 {_ms(r['breached_p50'])}, max {_ms(r['breached_max'])}", ""),
    ]  # fmt: skip
    lines = [
        "## Teams",
        "",
        "`python -m bench.bench_teams --write`: the Teams bot (local mode) through the whole "
        "aiohttp app, with a loopback Bot Connector on its own thread.",
        "",
        f"Machine: {_machine()}.",
        "",
        f"Presses go through `POST /api/messages` (CloudAdapter, the bot, `actions.execute` in a "
        f"thread, the invoke response, then `update_activity` in the background) with the "
        f"scheduler and outbox job running, on a copy of the store of the Store section "
        f"({r['active']} active cases; {r['claimed']} claimed after the run; a press on a case "
        f"already claimed is answered with the card and the reason). The first press of each "
        f"person also stores their name (one more store write, in the background); the load "
        f"average of the machine (shared with other work) was {r['load']} during the run. "
        f"botbuilder builds a Bot Connector client for every turn and proactive call; as "
        f"shipped, msrest spends about 3 ms of event-loop time on each "
        f"(`ClientRetryPolicy`), which `gateway.speed_up_connector_clients` cuts to 0.05 ms "
        f"(before it: p50 39 ms, p99 366 ms here).",
        "",
        "| Measure | Result | Target |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {t} |" for a, b, t in rows),
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    data, info = dataset(100_000, 300, regenerate=False)
    work = WORK / "teams-run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data, work / "data")
    try:
        return info, await measure(work / "data" / "triagebot.json", args.rate, args.sla_rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="presses per second")
    parser.add_argument("--sla-rounds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    info, result = asyncio.run(run(args))
    print(json.dumps(result, indent=2), file=sys.stderr)
    section = report(info, result)
    print(section)
    if args.write:
        write_doc(section, "## Teams")
        print("wrote the Teams section of docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
