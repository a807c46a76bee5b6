"""Viral-day benchmark: a flood of mentions through a running ``triagebot serve``.

Run ``python -m bench.bench_viral`` (``--store tinydb``, ``postgres`` or ``both``; PostgreSQL on
``TRIAGEBOT_BENCH_DATABASE_URL`` or ``TRIAGEBOT_TEST_DATABASE_URL``, in a schema of its own that
is dropped afterwards). ``--write`` puts the results of the last run of each store into the
"Viral day" section of ``docs/benchmarks.md``.

What runs: the real ``triagebot serve`` (listening on 127.0.0.1 only), its poller reading
``--sources`` Mastodon hashtag timelines served on 127.0.0.1 (``bench.viral_world.Firehose``),
where ``--mentions`` posts appear evenly over ``--minutes`` (the day's hour compressed by
60 / minutes); its router (rules only, 8 departments), store, delivery worker, SLA watcher and
Slack app, against the fake Slack Web API (``tests/fakes/slack.py``) that allows one
``chat.postMessage`` per second in each channel and answers 429 with Retry-After beyond;
``--staff`` people claiming and resolving the newest cards of their channels through signed
Slack clicks; and a process asking ``/healthz`` every ``--probe-every`` seconds throughout.
The posts start when serve is started; after they stop (or after serve first answers, if that
is later), the run goes on for ``--tail`` seconds, then serve is stopped (SIGTERM) and the
store is opened to count what it holds.

Measured: mentions stored against mentions arrived (and how far behind the poller fell), posts
delivered per second against 0.95 x channels x 1/s, /healthz p50/p99, claim and resolve clicks
(until the card is redrawn in Slack) p50/p99, serve's peak and final resident memory and CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.bench_cli import compiled
from bench.bench_store import WORK, _machine, write_doc
from bench.viral_world import DEPARTMENTS, Firehose, SlackWatch, Staff, control_server, probe
from tests.fakes.slack import TOKEN, FakeSlack
from tests.fakes.slack_requests import SECRET

ROOT = Path(__file__).resolve().parent.parent
RESULTS = WORK / "viral"
POLL_INTERVAL = 10  # seconds, the shortest a source may be polled
SLACK_INTERVAL = 1.0  # Slack: one chat.postMessage per second per channel
DELIVERY_SHARE = 0.95
HEALTH_P99_MS = 50.0
#: The poller keeps up when no mention waits longer than this to be stored (polls are 10 s apart).
KEEP_UP_S = 3 * POLL_INTERVAL
#: ``triagebot serve`` exactly as shipped, except that it listens on 127.0.0.1 only.
SERVE = (
    "import triagebot.cli.run as run; run.listen_host = lambda env: '127.0.0.1'; "
    "from triagebot.cli.main import main; raise SystemExit(main(['serve']))"
)


@dataclass
class Options:
    mentions: int = 50_000
    minutes: float = 60.0
    store: str = "tinydb"
    channels: int = 8
    sources: int = 4
    staff: int = 5
    think: float = 5.0  # seconds a person looks at a case before resolving it
    tail: float = 60.0
    probe_every: float = 0.1
    database_url: str | None = None


# --- the deployment under test ---------------------------------------------------------------
def write_deployment(folder: Path, o: Options, firehose_url: str) -> Path:
    """triagebot.toml and rules/ for the brand's channels and the sources."""
    rules = folder / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    departments = DEPARTMENTS[: o.channels]
    for dept, phrase, _ in departments:
        (rules / f"{dept}.yaml").write_text(
            f'department: {dept}\nrules:\n  - name: topic\n    weight: 3\n    terms: ["{phrase}"]\n'
        )
    blocks = "".join(
        f'\n[[departments]]\nid = "{dept}"\nslack_channel = "{channel}"\n'
        for dept, _, channel in departments
    )
    sources = "".join(
        f'\n[[sources]]\nname = "viral{n}"\ntype = "mastodon"\nbase_url = "{firehose_url}"\n'
        f'hashtags = ["northwind{n}"]\ninterval = "{POLL_INTERVAL}s"\nbackfill = "1h"\n'
        "max_pages = 100\npage_size = 40\n"
        for n in range(o.sources)
    )
    config = folder / "triagebot.toml"
    config.write_text(
        '[brand]\nname = "Northwind"\nkeywords = ["northwind"]\nhandles = ["@northwind"]\n\n'
        '[calendar]\ntimezone = "UTC"\nhours = "24/7"\n\n[routing]\nmodel = "off"\n'
        f'{blocks}\n[escalation]\nslack_channel = "C0ESCALATE"\n{sources}'
    )
    return config


def serve_env(folder: Path, o: Options, slack_url: str, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRIAGEBOT_", "SLACK_", "MICROSOFT_"))
        and k not in ("DATABASE_URL", "DYNO")
    }
    env |= {
        "TRIAGEBOT_CONFIG": str(folder / "triagebot.toml"),
        "TRIAGEBOT_RULES": str(folder / "rules"),
        "TRIAGEBOT_DB": str(folder / "data" / "triagebot.json"),
        "TRIAGEBOT_BOARD": "off",
        "TRIAGEBOT_CACHE_DIR": str(folder / "cache"),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_url,
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **compiled(),
    }
    if o.database_url:
        env["DATABASE_URL"] = o.database_url
    return env


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_figures(pid: int) -> dict[str, float]:
    """Resident and peak memory (MB) and CPU seconds of a running process."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith("Vm")
    }
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mb": kb.get("VmRSS", 0) / 1024,
        "peak_mb": kb.get("VmHWM", 0) / 1024,
        "cpu_s": (int(fields[11]) + int(fields[12])) / ticks,
    }


# --- PostgreSQL: a schema of the run's own ---------------------------------------------------
def postgres_url() -> str:
    url = os.environ.get("TRIAGEBOT_BENCH_DATABASE_URL") or os.environ.get(
        "TRIAGEBOT_TEST_DATABASE_URL"
    )
    if not url:
        sys.exit("set TRIAGEBOT_BENCH_DATABASE_URL=postgresql://USER@HOST:5432/DB")
    return url


def create_schema(url: str) -> str:
    import psycopg  # noqa: PLC0415

    schema = f"viral_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema


def drop_schema(url: str, schema: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def count_stored(folder: Path, o: Options) -> dict[str, int]:
    """Cases in the store after the run, and distinct mentions among them (a new process)."""
    script = (
        "import json, sys\n"
        "from triagebot.runtime.deploy import open_configured_store\n"
        "from triagebot.config.environment import Environment\n"
        "store = open_configured_store(Environment.read())\n"
        "cases = store.list_cases()\n"
        "ids = {c.mention.id for c in cases}\n"
        "states = {}\n"
        "for c in cases: states[str(c.state)] = states.get(str(c.state), 0) + 1\n"
        "print(json.dumps({'cases': len(cases), 'mentions': len(ids), 'pending_outbox': "
        "store.pending_outbox(), **states}))\n"
        "store.close()\n"
    )
    env = serve_env(folder, o, "http://127.0.0.1:9/", 9)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    counted: dict[str, int] = json.loads(done.stdout)
    return counted


# --- one run ---------------------------------------------------------------------------------
async def wait_for_health(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until serve's /healthz answers with counts."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"triagebot serve exited with {proc.returncode}")
            try:
                async with session.get(url) as answer:
                    body = await answer.json()
                    if body.get("counts_at"):
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("triagebot serve did not answer /healthz")


@dataclass
class Run:
    """One run: the world around serve, serve itself, and what was seen."""

    o: Options
    folder: Path
    firehose: Firehose
    watch: SlackWatch = field(default_factory=SlackWatch)
    figures: list[dict[str, float]] = field(default_factory=list)
    loads: list[float] = field(default_factory=lambda: [os.getloadavg()[0]])
    last: dict[str, float] = field(default_factory=dict)
    ready: float = 0.0
    started: float = 0.0  # monotonic time of the first post
    control: subprocess.Popen[bytes] | None = None
    seconds: float = 0.0

    @property
    def channels(self) -> list[str]:
        return [c for _, _, c in DEPARTMENTS[: self.o.channels]]

    @property
    def samples(self) -> Path:
        return self.folder / "healthz.jsonl"

    def start_serve(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.folder / "serve.log").open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-c", SERVE], env=env, cwd=ROOT, stdout=log, stderr=log
            )

    def start_probe(self, health: str) -> subprocess.Popen[bytes]:
        """The probe, and the idle control server it asks beside serve."""
        port = free_port()
        self.control = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_viral", "--control", str(port)], cwd=ROOT
        )
        control = f"http://127.0.0.1:{port}/healthz"
        for _ in range(100):
            if self.control.poll() is not None:
                raise RuntimeError("the control server did not start")
            try:
                with urllib.request.urlopen(control, timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        every = str(self.o.probe_every)
        command = [sys.executable, "-m", "bench.bench_viral", "--probe", health, every]
        return subprocess.Popen(
            [*command, str(self.samples), control], cwd=ROOT, stdin=subprocess.PIPE
        )

    async def watch_serve(self, serve: subprocess.Popen[bytes], staff: Staff) -> None:
        """Let the flood run its course; sample serve's memory and CPU every second."""
        started = self.started
        staff_task = asyncio.ensure_future(staff.run())
        # The tail follows the last post or serve's readiness, whichever is later: a slow start
        # must not eat the time the staff have to click.
        end = started + max(self.o.minutes * 60, self.ready) + self.o.tail
        while time.monotonic() < end:
            await asyncio.sleep(1.0)
            if serve.poll() is not None:
                raise RuntimeError(f"triagebot serve exited with {serve.returncode} in the run")
            self.figures.append({"t": time.monotonic() - started, **proc_figures(serve.pid)})
            if len(self.figures) % 10 == 0:
                self.loads.append(os.getloadavg()[0])
        self.seconds = time.monotonic() - started
        staff.stopping = True
        await asyncio.wait_for(staff_task, 90)
        self.last = proc_figures(serve.pid)

    async def go(self, slack_url: str) -> Staff:
        port = free_port()
        env = serve_env(self.folder, self.o, slack_url, port)
        if self.o.database_url:
            command = [sys.executable, "-m", "triagebot", "migrate"]
            subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
        self.firehose.start()  # the flood is on when serve starts
        self.started = time.monotonic()
        serve = self.start_serve(env)
        health = f"http://127.0.0.1:{port}/healthz"
        staff = Staff(
            self.watch,
            f"http://127.0.0.1:{port}/slack/events",
            self.channels,
            self.o.staff,
            self.o.think,
        )
        prober = None
        try:
            self.ready = await wait_for_health(health, serve)
            prober = self.start_probe(health)
            await self.watch_serve(serve, staff)
        finally:
            if prober is not None and prober.stdin is not None:
                prober.stdin.close()
                prober.wait(30)
            if self.control is not None:
                stop(self.control)
            stop(serve)
        return staff


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a platform stops a process; SIGKILL if it has not exited within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


async def run_once(o: Options, folder: Path) -> dict[str, Any]:
    """One viral hour on one store, its files in ``folder``; its figures."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    schema = None
    if o.store == "postgres":
        schema = create_schema(postgres_url())
        o.database_url = f"{postgres_url()}?options=-csearch_path%3D{schema}"
    tags = [f"northwind{n}" for n in range(o.sources)]
    run = Run(o, folder, Firehose(o.mentions, o.minutes * 60, tags, o.channels))
    runner = web.AppRunner(run.firehose.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    write_deployment(folder, o, f"http://127.0.0.1:{runner.addresses[0][1]}")
    fake = FakeSlack(
        channels={*run.channels, "C0ESCALATE"},
        rate_interval=SLACK_INTERVAL,
        keep_calls=False,
        observer=run.watch.observe,
    )
    try:
        staff = await run.go(fake.start_in_thread() + "/api/")
    finally:
        fake.stop_thread()
        await runner.cleanup()
    stored = count_stored(folder, o)
    if schema is not None:
        drop_schema(postgres_url(), schema)
    return summarise(run, staff, stored)


# --- figures ---------------------------------------------------------------------------------
def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def poller_figures(run: Run, answered: list[dict[str, Any]]) -> dict[str, Any]:
    """Stored (the sources' ``total_new`` in /healthz) against arrived, over the run; how old
    the oldest mention not stored yet was (a poll every 10 s makes up to 10 s of that)."""
    o, firehose = run.o, run.firehose
    assert firehose.started is not None
    arrivals_end = firehose.started + o.minutes * 60
    counted = [r for r in answered if r.get("new") is not None]
    behind = [firehose.arrived(r["at"]) - r["new"] for r in counted]
    late = [r["at"] - firehose.arrival(r["new"]) for r in counted if r["new"] < o.mentions]
    by_end = [r["new"] for r in counted if r["at"] <= arrivals_end]
    all_stored = next((r["at"] for r in counted if r["new"] >= o.mentions), None)
    return {
        "arrived": firehose.arrived(),
        "stored_by_end_of_arrivals": max(by_end, default=0),
        "stored_at_end": max((r["new"] for r in counted), default=0),
        "all_stored_after_last_arrival_s": (all_stored - arrivals_end) if all_stored else None,
        "behind_max": max(behind, default=0),
        "behind_median": statistics.median(behind) if behind else 0,
        "oldest_unstored_max_s": max(late, default=0.0),
        "firehose_requests": firehose.requests,
        "firehose_refused": firehose.refused,
    }


def timeline(run: Run, answered: list[dict[str, Any]], parts: int = 6) -> list[dict[str, Any]]:
    """The run in ``parts`` equal slices: arrived and stored at the end of each, posts a
    second, /healthz p99 and serve's memory in it."""
    started = run.firehose.started
    assert started is not None
    clock_offset = time.time() - time.monotonic()  # the fake's times are monotonic
    posts = sorted(at + clock_offset for at, _, _ in run.watch.posts)
    step = run.seconds / parts
    slices = []
    for n in range(parts):
        lo, hi = started + n * step, started + (n + 1) * step
        inside = [r for r in answered if lo <= r["at"] < hi]
        stored = [r["new"] for r in inside if r.get("new") is not None]
        rss = [f["rss_mb"] for f in run.figures if n * step <= f["t"] < (n + 1) * step]
        slices.append({
            "until_s": (n + 1) * step,
            "arrived": run.firehose.arrived(hi),
            "stored": max(stored, default=0),
            "active": max((r.get("active") or 0 for r in inside), default=0),
            "posts_per_s": sum(1 for at in posts if lo <= at < hi) / step,
            "healthz_p99_ms": pct([r["ms"] for r in inside], 0.99),
            "control_p99_ms": pct([r["control_ms"] for r in inside if "control_ms" in r], 0.99),
            "rss_mb": max(rss, default=0.0),
        })  # fmt: skip
    return slices


def delivery_figures(run: Run) -> dict[str, Any]:
    """Posts the fake Slack accepted: how many a second, none twice, none too close."""
    watch = run.watch
    posts = sorted(watch.posts)
    span = (posts[-1][0] - posts[0][0]) if len(posts) > 1 else 0.0
    last: dict[str, float] = {}
    gaps = []  # seconds between two posts in one channel
    for at, channel, _ in posts:
        if channel in last:
            gaps.append(at - last[channel])
        last[channel] = at
    return {
        "delivered_posts": len(posts),
        "delivered_cards": len(watch.posted_cases),
        "cards_posted_twice": len(watch.posted_cases) - len(set(watch.posted_cases)),
        "delivery_span_s": span,
        "delivery_rate": len(posts) / span if span else 0.0,
        "delivery_target": DELIVERY_SHARE * run.o.channels / SLACK_INTERVAL,
        "closest_posts_in_a_channel_s": min(gaps, default=float("nan")),
        "slack_failures": dict(watch.failed),
    }


def click_figures(staff: Staff) -> dict[str, Any]:
    t = staff.timings
    return {
        "count": len(t.claim_effect),
        "ack_p50_ms": pct(t.claim_ack, 0.5) * 1000,
        "ack_p99_ms": pct(t.claim_ack, 0.99) * 1000,
        "effect_p50_ms": pct(t.claim_effect, 0.5) * 1000,
        "effect_p99_ms": pct(t.claim_effect, 0.99) * 1000,
        "effect_max_ms": max(t.claim_effect, default=float("nan")) * 1000,
        "resolves": len(t.resolve_effect),
        "resolve_p50_ms": pct(t.resolve_effect, 0.5) * 1000,
        "resolve_p99_ms": pct(t.resolve_effect, 0.99) * 1000,
        "lost_clicks": t.lost,
    }


def summarise(run: Run, staff: Staff, stored: dict[str, int]) -> dict[str, Any]:
    rows = [json.loads(line) for line in run.samples.read_text().splitlines() if line.strip()]
    answered = [r for r in rows if "error" not in r]
    ms = [r["ms"] for r in answered]
    control = [r["control_ms"] for r in rows if "control_ms" in r and "control_error" not in r]
    last: dict[str, Any] = next((r for r in reversed(answered) if r.get("active") is not None), {})
    loads = run.loads
    return {
        "options": asdict(run.o) | {"database_url": None},
        "machine": _machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": {"min": min(loads), "max": max(loads), "median": statistics.median(loads)},
        "serve_ready_s": run.ready,
        "run_s": run.seconds,
        **poller_figures(run, answered),
        "timeline": timeline(run, answered),
        **delivery_figures(run),
        "stored": stored,
        "healthz": {
            "answers": len(answered),
            "errors": len(rows) - len(answered),
            "p50_ms": pct(ms, 0.5),
            "p99_ms": pct(ms, 0.99),
            "max_ms": max(ms, default=float("nan")),
            "control_p50_ms": pct(control, 0.5),
            "control_p99_ms": pct(control, 0.99),
        },
        "claims": click_figures(staff),
        "serve": {
            "peak_mb": run.last["peak_mb"],
            "rss_end_mb": run.last["rss_mb"],
            "rss_max_mb": max((f["rss_mb"] for f in run.figures), default=0.0),
            "cpu_s": run.last["cpu_s"],
        },
        "active_end": last.get("active"),
        "pending_end": last.get("pending"),
    }


# --- the report ------------------------------------------------------------------------------
def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict[str, dict[str, Any]]) -> str:
    """The "Viral day" section from the last result of each store."""
    names = [s for s in ("tinydb", "postgres") if s in results]
    label = {"tinydb": "TinyDB (embedded)", "postgres": "PostgreSQL"}
    any_run = results[names[0]]
    o = any_run["options"]

    def row(what: str, fn: Any, target: str = "") -> str:
        return f"| {what} | " + " | ".join(fn(results[n]) for n in names) + f" | {target} |"

    def keeps_up(r: dict[str, Any]) -> str:
        rate = r["stored_by_end_of_arrivals"] / (r["options"]["minutes"] / 60)
        after = r["all_stored_after_last_arrival_s"]
        tail = (
            f"all stored {after:.0f} s after the last arrived"
            if after is not None
            else f"{r['stored_at_end']:,} stored by the end of the run"
        )
        oldest = r["oldest_unstored_max_s"]
        ok = after is not None and oldest <= KEEP_UP_S
        return (
            f"{r['stored_by_end_of_arrivals']:,} of {r['arrived']:,} by the last arrival "
            f"({rate:,.0f} an hour); {tail}; oldest mention waiting at most {oldest:.0f} s "
            f"({r['behind_max']:,} mentions) ({_met(ok)})"
        )

    def delivery(r: dict[str, Any]) -> str:
        ok = r["delivery_rate"] >= r["delivery_target"]
        return (
            f"{r['delivery_rate']:.2f} posts/s over {r['delivery_span_s']:.0f} s "
            f"({r['delivered_posts']:,} posts, {r['delivered_cards']:,} cards) ({_met(ok)})"
        )

    def health(r: dict[str, Any]) -> str:
        h = r["healthz"]
        ok = h["p99_ms"] <= HEALTH_P99_MS and not h["errors"]
        return (
            f"p50 {h['p50_ms']:.1f} ms · p99 {h['p99_ms']:.1f} ms · max {h['max_ms']:.0f} ms "
            f"({h['answers']:,} answers, {h['errors']} failed) ({_met(ok)}); an idle server "
            f"under the same load: p50 {h.get('control_p50_ms', float('nan')):.1f} ms · p99 "
            f"{h.get('control_p99_ms', float('nan')):.1f} ms"
        )

    def claims(r: dict[str, Any]) -> str:
        c = r["claims"]
        return (
            f"p50 {c['effect_p50_ms']:.0f} ms · p99 {c['effect_p99_ms']:.0f} ms · max "
            f"{c['effect_max_ms']:.0f} ms ({c['count']} claims; ack p99 "
            f"{c['ack_p99_ms']:.0f} ms)"
        )

    def resolves(r: dict[str, Any]) -> str:
        c = r["claims"]
        return (
            f"p50 {c['resolve_p50_ms']:.0f} ms · p99 {c['resolve_p99_ms']:.0f} ms "
            f"({c['resolves']}; {c['lost_clicks']} clicks without effect)"
        )

    def memory(r: dict[str, Any]) -> str:
        s = r["serve"]
        return (
            f"peak {s['peak_mb']:.0f} MB, {s['rss_end_mb']:.0f} MB at the end; CPU "
            f"{s['cpu_s']:.0f} s in {r['run_s']:.0f} s ({_met(s['peak_mb'] <= 300)})"
        )

    def spacing(r: dict[str, Any]) -> str:
        if "closest_posts_in_a_channel_s" in r:
            return f"closest two posts in a channel {r['closest_posts_in_a_channel_s']:.3f} s apart"
        return f"busiest channel-second {r['max_posts_in_a_channel_second']} post(s)"

    def integrity(r: dict[str, Any]) -> str:
        s = r["stored"]
        return (
            f"{s['cases']:,} cases of {s['mentions']:,} distinct mentions; "
            f"{r['cards_posted_twice']} cards posted twice; "
            f"{spacing(r)}; "
            f"{s['pending_outbox']:,} outbox items left"
        )

    def conditions(r: dict[str, Any]) -> str:
        ld = r["load"]
        return f"{r['date']}, load {ld['min']:.1f}-{ld['max']:.1f} (median {ld['median']:.1f})"

    hour = 60 / o["minutes"]
    lines = [
        "## Viral day",
        "",
        f"`python -m bench.bench_viral --store both --mentions {o['mentions']} --minutes "
        f"{o['minutes']:g} --write`: the real `triagebot serve` (on 127.0.0.1) polls "
        f"{o['sources']} Mastodon hashtag timelines served on 127.0.0.1, where {o['mentions']:,} "
        f"posts about the brand appear evenly over {o['minutes']:g} minutes (an hour's flood at "
        f"{hour:g}x speed), routes them by rules to {o['channels']} departments, stores them and "
        f"delivers them to the fake Slack (`tests/fakes/slack.py`), which allows one "
        "`chat.postMessage` a second in each channel and answers 429 with Retry-After beyond; "
        f"{o['staff']} people claim the newest card of their channels with signed Slack clicks "
        f"and resolve it {o['think']:g} s later; the SLA watcher runs (calendar 24/7, the "
        "default targets); another process asks `/healthz` every "
        f"{o['probe_every'] * 1000:.0f} ms. The posts start as serve starts; the run goes on "
        f"{o['tail']:g} s after the last post, "
        "then serve gets SIGTERM and the store is opened to count what it holds.",
        "",
        f"Machine: {any_run['machine']}.",
        "",
        "| Measure | " + " | ".join(label[n] for n in names) + " | Target |",
        "| --- | " + " | ".join("---" for _ in names) + " | --- |",
        row("when, load average", conditions),
        row("poller: mentions stored", keeps_up, f"none waits over {KEEP_UP_S} s; all stored"),
        row(
            "delivery to Slack: posts a second (cards and thread notes)",
            delivery,
            f"≥ {DELIVERY_SHARE} x {o['channels']} channels x 1/s",
        ),
        row("`/healthz` answer time, whole run", health, f"p99 ≤ {HEALTH_P99_MS:.0f} ms"),
        row("claim click until the card is redrawn in Slack", claims),
        row("resolve click until the card is redrawn", resolves),
        row("`serve` memory", memory, "≤ 300 MB"),
        row("after the run", integrity, "every mention once, nothing posted twice"),
        "",
    ]
    for name in names:
        lines += timeline_table(label[name], results[name]["timeline"])
    return "\n".join(lines)


def timeline_table(label: str, slices: list[dict[str, Any]]) -> list[str]:
    """The run slice by slice: whether it holds up as the active cases grow."""
    rows = [
        f"| {s['until_s'] / 60:.1f} | {s['arrived']:,} | {s['stored']:,} | {s['active']:,} | "
        f"{s['posts_per_s']:.2f} | {s['healthz_p99_ms']:.1f} ms | "
        f"{s.get('control_p99_ms', float('nan')):.1f} ms | {s['rss_mb']:.0f} MB |"
        for s in slices
    ]
    return [
        f"{label}, slice by slice (figures at the end of each slice; posts and p99 within it):",
        "",
        "| minute | arrived | stored | active cases | posts/s | /healthz p99 | idle server p99 "
        "| serve RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def save(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result['options']['store']}.json").write_text(json.dumps(result, indent=2))


def saved() -> dict[str, dict[str, Any]]:
    found = {}
    for store in ("tinydb", "postgres"):
        path = RESULTS / f"{store}.json"
        if path.exists():
            found[store] = json.loads(path.read_text())
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:  # the /healthz probe's own process
        probe(argv[1], float(argv[2]), Path(argv[3]), argv[4] if len(argv) > 4 else None)
        return 0
    if argv[:1] == ["--control"]:  # the idle control server's own process
        control_server(int(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=50_000)
    parser.add_argument(
        "--minutes",
        type=float,
        default=60.0,
        help="minutes over which the mentions arrive (60: the real hour)",
    )
    parser.add_argument("--store", choices=["tinydb", "postgres", "both"], default="tinydb")
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--staff", type=int, default=5)
    parser.add_argument("--think", type=float, default=5.0, help="seconds from claim to resolve")
    parser.add_argument("--tail", type=float, default=60.0, help="seconds after the last post")
    parser.add_argument("--probe-every", type=float, default=0.1)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--saved", action="store_true", help="report the last saved runs, run nothing"
    )
    args = parser.parse_args(argv)
    stores = ["tinydb", "postgres"] if args.store == "both" else [args.store]
    for store in [] if args.saved else stores:
        o = Options(
            args.mentions,
            args.minutes,
            store,
            sources=args.sources,
            staff=args.staff,
            think=args.think,
            tail=args.tail,
            probe_every=args.probe_every,
        )
        result = asyncio.run(run_once(o, RESULTS / f"run-{store}"))
        save(result)
        print(json.dumps(result, indent=2), file=sys.stderr)
    section = report({s: r for s, r in saved().items() if s in stores or args.write or args.saved})
    print(section)
    if args.write:
        write_doc(section, "## Viral day")
        print("wrote the Viral day section of docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
