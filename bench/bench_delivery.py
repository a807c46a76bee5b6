"""Benchmark of delivery: how fast the outbox drains, by store and number of active cases.

Run ``python -m bench.bench_delivery`` (``--active 300 10300``, ``--items 1000``; PostgreSQL too
when ``TRIAGEBOT_BENCH_DATABASE_URL`` or ``TRIAGEBOT_TEST_DATABASE_URL`` is set). Each run fills a
fresh store through its API with ``active`` open cases (already shown, nothing queued) and
``items`` new cases, each with its post queued, then times one ``DeliveryWorker`` draining the
outbox onto a surface that answers at once: every post publishes its case (new -> open), which
queues an update of the card, so 2 x ``items`` outbox items are delivered. What is measured is
the store's share of delivery (Slack's own pace is bench_slack's subject). Medians of
``--repeat`` runs, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_store import WORK, _event, new_cases
from triagebot.actions.executor import SettingsPolicy
from triagebot.cases.records import Case, CaseState, MessageRef, NewCase, OutboxItem, OutboxKind
from triagebot.config.settings import load_settings
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2_000


class InstantSurface:
    """A surface that shows every case and answers at once."""

    name = "slack"

    def shows(self, case: Case) -> bool:
        return True

    async def post(self, case: Case) -> MessageRef:
        return MessageRef("slack", "C0SUPPORT", f"{case.id}.000100")

    async def update(self, case: Case, ref: MessageRef) -> None:
        return None

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        return None

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        return None


def fill(store: Store, active: int, items: int, now: datetime) -> None:
    """``active`` open cases shown earlier, then ``items`` new ones with their posts queued."""
    rng = random.Random(21)
    cases = new_cases(rng, 1, active + items, now - timedelta(days=2), 2 * 86_400 - 60)
    shown = [replace(c, state=CaseState.OPEN) for c in cases[:active]]
    for start in range(0, len(shown), BATCH):
        batch = shown[start : start + BATCH]
        store.add_cases([NewCase(c, (_event(c, "created", "triagebot", ""),)) for c in batch])
    fresh = []
    for case in cases[active:]:
        post = OutboxItem(f"post-{case.id}", case.id, OutboxKind.POST, case.ingested_at)
        fresh.append(NewCase(case, (_event(case, "created", "triagebot", ""),), (post,)))
    for start in range(0, len(fresh), BATCH):
        store.add_cases(fresh[start : start + BATCH])


async def drain(store: Store, items: int) -> tuple[float, int]:
    """Seconds to deliver everything queued, and how many items were delivered."""
    settings = load_settings(ROOT / "triagebot.example.toml", {})
    worker = DeliveryWorker(
        store, [InstantSurface()], SettingsPolicy(settings), lambda: datetime.now(UTC)
    )
    started = time.perf_counter()
    done = 0
    while (count := await worker.flush()) > 0:
        done += count
    elapsed = time.perf_counter() - started
    assert store.pending_outbox() == 0, "items left in the outbox"
    assert done == 2 * items, f"delivered {done} items, expected {2 * items}"
    return elapsed, done


def run_tinydb(active: int, items: int) -> float:
    folder = WORK / f"delivery-{uuid.uuid4().hex[:8]}"
    try:
        store = TinyDBStore(folder / "triagebot.json")
        fill(store, active, items, datetime.now(UTC))
        store.close()
        store = TinyDBStore(folder / "triagebot.json")  # a fresh process's view
        elapsed, done = asyncio.run(drain(store, items))
        store.close()
        return done / elapsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_postgres(url: str, active: int, items: int) -> float:
    import psycopg  # noqa: PLC0415

    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    schema = f"bench_delivery_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            store.migrate()
            fill(store, active, items, datetime.now(UTC))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {schema}.cases")
        with PostgresStore(url, schema=schema) as store:
            elapsed, done = asyncio.run(drain(store, items))
        return done / elapsed
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, nargs="+", default=[300, 10_300])
    parser.add_argument("--items", type=int, default=1_000, help="new cases to deliver")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", nargs="+", default=["tinydb", "postgres"])
    args = parser.parse_args(argv)
    url = os.environ.get("TRIAGEBOT_BENCH_DATABASE_URL") or os.environ.get(
        "TRIAGEBOT_TEST_DATABASE_URL"
    )
    WORK.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name in args.stores:
        if name == "postgres" and not url:
            print("no database URL: PostgreSQL skipped", file=sys.stderr)
            continue
        for active in args.active:
            rates, loads = [], []
            for _ in range(args.repeat):
                loads.append(os.getloadavg()[0])
                if name == "tinydb":
                    rates.append(run_tinydb(active, args.items))
                else:
                    assert url is not None
                    rates.append(run_postgres(url, active, args.items))
                print(f"{name} active={active}: {rates[-1]:.1f} items/s", file=sys.stderr)
            rows.append(
                {
                    "store": name,
                    "active": active,
                    "items": 2 * args.items,
                    "median": statistics.median(rates),
                    "runs": rates,
                    "load": statistics.median(loads),
                }
            )
    print("| store | active cases | items drained | items/s (median) | runs | load avg |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        runs = " · ".join(f"{x:.1f}" for x in r["runs"])
        print(
            f"| {r['store']} | {r['active']:,} | {r['items']:,} | {r['median']:.1f} | {runs} "
            f"| {r['load']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
