"""Benchmark of the SLA watcher's pass and of the SLA chart.

Run ``python -m bench.bench_watch`` (``--write`` also puts the results into the "SLA watcher and
charts" section of ``docs/benchmarks.md``). The watcher runs against a TinyDB store holding
10,000 active cases of the example configuration's departments, ingested over the last two
business days, each with the steps it has already reached recorded (the steady state of a
watcher that runs every minute); a pass is timed when nothing is due and when a minute later
some cases reach their next step. Every case has a respond due time; half of the claimed ones
were answered in public and half of those wait on the customer. The chart is drawn for 100,000
resolved cases over 90 days, from cases in memory (reading them from the store is measured in
the Store section).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_store import _machine, write_doc
from triagebot.actions.executor import SettingsPolicy
from triagebot.actions.watcher import SlaWatcher
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import (
    ACTIVE_STATES,
    Author,
    Case,
    CaseState,
    Mention,
    NewCase,
    Priority,
)
from triagebot.config.settings import Settings, load_settings
from triagebot.store import open_store
from triagebot.store.base import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "triagebot.example.toml"
#: A Wednesday, 11:00 in New York: every department of the example is open.
NOW = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
ANA = Identity("cli", "ana")
DEPARTMENTS = ["customer_service", "billing", "shipping", "sales", "product", "pr", "triage"]
TARGETS = {"pass_ms": 200.0, "chart_s": 2.0}


def _case(settings: Settings, n: int, at: datetime, rng: random.Random) -> Case:
    department = DEPARTMENTS[n % len(DEPARTMENTS)]
    priority = rng.choice([Priority.P1, Priority.P2, Priority.P2, Priority.P3])
    policy = SettingsPolicy(settings)
    claim_due, resolve_due = policy.due_times(priority, department, at)
    respond_due = policy.respond_due(priority, department, at)
    mention = Mention(
        id=f"reddit:{n}", source="reddit", kind="post", url=f"https://example.test/{n}",
        author=Author(f"user{n}"), text="northwind " + "parcel late again " * 15,
        created_at=at - timedelta(minutes=2),
    )  # fmt: skip
    case = Case(
        id=str(n), mention=mention, department=department, priority=priority,
        state=CaseState.OPEN, ingested_at=at, claim_due=claim_due, resolve_due=resolve_due,
        updated_at=at, respond_due=respond_due,
    )  # fmt: skip
    if rng.random() < 0.4:  # claimed, recently touched (idle release is not due)
        claimed = min(at + timedelta(minutes=rng.randint(1, 30)), NOW - timedelta(minutes=5))
        case = replace(
            case, state=CaseState.CLAIMED, claimed_by=Identity("slack", f"U0AGENT{n % 40}"),
            claimed_at=claimed,
            first_claimed_at=claimed, updated_at=NOW - timedelta(minutes=rng.randint(5, 50)),
        )  # fmt: skip
        case = _answered(case, claimed, random.Random(n))
    return case


def _answered(case: Case, claimed: datetime, rng: random.Random) -> Case:
    """Half of the claimed cases answered in public soon after the claim; half of those then
    waiting on the customer (a random source of its own: the other draws stay as they were)."""
    if rng.random() < 0.5:
        return case
    at = claimed + timedelta(minutes=rng.randint(1, 120))
    first = FirstResponse(at, "@northwind", ResponseVia.REPLY, f"https://example.test/r{case.id}")
    waiting = at if rng.random() < 0.5 else None
    return replace(case, first_response=first, waiting_since=waiting)


def seed(store: Store, settings: Settings, count: int) -> None:
    """``count`` active cases with the steps already reached at NOW recorded on them."""
    rng = random.Random(11)
    planner = SlaWatcher(store, settings, lambda: NOW)
    cases = []
    for n in range(1, count + 1):
        case = _case(settings, n, NOW - timedelta(minutes=rng.randint(1, 2 * 24 * 60)), rng)
        plan = planner.plan(case, NOW)
        cases.append(replace(case, sla_marks=plan.case.sla_marks) if plan else case)
    for start in range(0, count, 2000):
        store.add_cases([NewCase(c) for c in cases[start : start + 2000]])


def measure(store: Store, settings: Settings) -> dict[str, Any]:
    """A new watcher's first pass, its later passes, list_cases alone, and a busy pass."""
    watcher = SlaWatcher(store, settings, lambda: NOW)
    t0 = time.perf_counter()
    assert watcher.run_once(NOW) == 0
    first = time.perf_counter() - t0
    steady, listing = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        assert watcher.run_once(NOW) == 0
        steady.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.list_cases(states=ACTIVE_STATES)
        listing.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    changed = watcher.run_once(NOW + timedelta(minutes=1))
    busy = time.perf_counter() - t0
    return {
        "first": first,
        "steady": statistics.median(steady),
        "steady_max": max(steady),
        "list": statistics.median(listing),
        "busy": busy,
        "busy_changed": changed,
    }


def bench_tinydb(settings: Settings, count: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    try:
        store = open_store(folder / "db.json")
        seed(store, settings, count)
        store.close()
        store = open_store(folder / "db.json")  # measure a store opened afresh
        try:
            return measure(store, settings)
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_postgres(settings: Settings, count: int, url: str) -> dict[str, Any]:
    """The same on PostgreSQL, in a throwaway schema."""
    import psycopg  # noqa: PLC0415

    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            store.migrate()
            seed(store, settings, count)
            return measure(store, settings)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _chart_cases(settings: Settings, count: int) -> list[Case]:
    rng = random.Random(5)
    start = NOW - timedelta(days=90)
    cases = []
    for n in range(count):
        at = start + timedelta(minutes=rng.randint(0, 89 * 24 * 60))
        case = _case(settings, n, at, rng)
        claim = at + timedelta(minutes=rng.randint(1, 300))
        done = claim + timedelta(minutes=rng.randint(10, 3000))
        resolved = replace(
            case, state=CaseState.RESOLVED, claimed_by=ANA, claimed_at=claim,
            first_claimed_at=claim, resolved_by=ANA, resolved_at=done,
        )  # fmt: skip
        cases.append(_answered(resolved, claim, random.Random(n)))
    return cases


def bench_chart(count: int) -> dict[str, Any]:
    """Cold (first chart in the process, importing matplotlib) and warm timings."""
    settings = load_settings(EXAMPLE, {})
    cases = _chart_cases(settings, count)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        from triagebot.sla.chart import chart_data, render_chart  # noqa: PLC0415

        t1 = time.perf_counter()
        data = chart_data(cases, settings.calendar_for, NOW, NOW - timedelta(days=90), NOW)
        t2 = time.perf_counter()
        png = render_chart(data)
        t3 = time.perf_counter()
        runs.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0, len(png)))
    return {"count": count, "cold": runs[0], "warm": runs[1:]}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _watch_rows(name: str, count: int, w: dict[str, Any]) -> list[tuple[str, str, str]]:
    ok = "met" if w["steady"] * 1000 <= TARGETS["pass_ms"] else "MISSED"
    return [
        (
            f"{name}: watcher pass over {count:,} active cases, nothing due (median of 7)",
            f"{_ms(w['steady'])} (max {_ms(w['steady_max'])})",
            f"≤ 200 ms ({ok})",
        ),
        (f"{name}: … of which list_cases(active) alone", _ms(w["list"]), ""),
        (
            f"{name}: first pass of a new watcher (business-time progress of every case)",
            _ms(w["first"]),
            "",
        ),
        (
            f"{name}: pass a minute later, {w['busy_changed']} cases reach a step "
            "(one compare-and-set each)",
            _ms(w["busy"]),
            "",
        ),
    ]


def report(count: int, watch: dict[str, dict[str, Any]], c: dict[str, Any]) -> str:
    cold, warm = c["cold"], min(c["warm"], key=lambda r: r[3])
    chart_ok = "met" if cold[3] <= TARGETS["chart_s"] else "MISSED"
    rows = [row for name, w in watch.items() for row in _watch_rows(name, count, w)]
    rows += [
        (
            f"chart of {c['count']:,} resolved cases, first in the process (figures "
            f"{_ms(cold[1])}, drawing the PNG with the matplotlib import {_ms(cold[2])})",
            f"{cold[3]:.2f} s",
            f"≤ 2 s ({chart_ok})",
        ),
        (
            f"the same chart again (figures {_ms(warm[1])}, drawing {_ms(warm[2])}); "
            f"PNG {warm[4] / 1000:.0f} kB",
            f"{warm[3]:.2f} s",
            "",
        ),
    ]
    return "\n".join(
        [
            "## SLA watcher and charts",
            "",
            "`python -m bench.bench_watch --write` (PostgreSQL rows with `--database-url` or "
            "TRIAGEBOT_TEST_DATABASE_URL). Watcher: active cases of the example configuration's "
            "departments over two business days, the steps already reached recorded (what a "
            "watcher running every minute leaves); every case has its three targets (claim, "
            "first public answer, resolve); half of the claimed cases were answered in public, "
            "half of those wait on the customer (their resolve ladder pauses). A watcher "
            "remembers for each case version "
            "when its next step can be due, so later passes skip the calendar arithmetic for "
            "unchanged cases. Chart: cases in memory, times as a share of each case's target "
            "(claim, first public answer, resolve), breaches per day, PNG at 100 dpi.",
            "",
            f"Machine: {_machine()}; load average {os.getloadavg()[0]:.1f} when measured.",
            "",
            "| Measure | Result | Target |",
            "| --- | --- | --- |",
            *(f"| {a} | {b} | {t} |" for a, b, t in rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="active cases for the watcher")
    parser.add_argument("--chart-cases", type=int, default=100_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--chart-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TRIAGEBOT_TEST_DATABASE_URL"),
        help="also measure on this PostgreSQL database (in a throwaway schema)",
    )
    args = parser.parse_args(argv)
    if args.chart_only:
        print(json.dumps(bench_chart(args.chart_cases)))
        return 0
    settings = load_settings(EXAMPLE, {})
    watch = {"TinyDB": bench_tinydb(settings, args.cases)}
    if args.database_url:
        watch["PostgreSQL"] = bench_postgres(settings, args.cases, args.database_url)
    # The chart runs in a fresh process so that its first run pays the matplotlib import.
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_watch", "--chart-only",
         "--chart-cases", str(args.chart_cases)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    text = report(args.cases, watch, json.loads(out))
    print(text)
    if args.write:
        write_doc(text, "## SLA watcher and charts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
