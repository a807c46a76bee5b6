"""Benchmark of the PostgreSQL store holding a year of a busy brand (100,000 cases by default).

Run ``python -m bench.bench_postgres`` with ``TRIAGEBOT_BENCH_DATABASE_URL`` (or
``TRIAGEBOT_TEST_DATABASE_URL``) set; ``--write`` puts the results into the "PostgreSQL"
section of ``docs/benchmarks.md``, ``--cases 1000000`` sizes the data set. The data set is
generated once through the store's API into its own schema (``bench_<cases>_g<version>``) and
kept; the measurements add a few thousand cases to it. Measured: a claim (get_case + conditional
UPDATE with one event and one outbox item), add_cases of 1,000 mentions, the whole ingest
pipeline (brand filter, triage, dedupe, store) on 1,000 mentions, the SLA summary of the last
30 days in the process, and ``triagebot sla --since 30d`` as a whole command.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.bench_cli import _config, _env
from bench.bench_store import (
    END,
    ROOT,
    WORK,
    _event,
    _lifecycle,
    _machine,
    _mention,
    _p99,
    _percentiles,
    _ref,
    _step,
    new_cases,
    write_doc,
)
from triagebot.cases.records import (
    ACTIVE_STATES,
    Author,
    CaseState,
    Mention,
    NewCase,
    OutboxItem,
    OutboxKind,
)
from triagebot.config.settings import load_settings
from triagebot.reports.summary import summary_for
from triagebot.runtime.wiring import Runtime
from triagebot.store._pg_schema import LATEST
from triagebot.store.postgres import PostgresStore

GENERATOR_VERSION = 1
CHUNK = 2_000
TARGETS = {"claim_p99_ms": 20.0, "sla_s": 0.5, "ingest_per_s": 2_000.0}


def _url() -> str:
    url = os.environ.get("TRIAGEBOT_BENCH_DATABASE_URL") or os.environ.get(
        "TRIAGEBOT_TEST_DATABASE_URL"
    )
    if not url:
        sys.exit("set TRIAGEBOT_BENCH_DATABASE_URL=postgresql://USER@HOST:5432/DB")
    return url


# --- data set ---------------------------------------------------------------------------------


def generate(store: PostgresStore, count: int, active: int) -> dict[str, Any]:
    """Fill the store with a year of cases, oldest first; the newest ``active`` stay open."""
    rng = random.Random(20251231)
    started = time.perf_counter()
    first_at = END - timedelta(days=365)
    chunks = max(1, count // CHUNK)
    span = 365 * 86_400 / chunks
    made = 0
    for k in range(chunks):
        size = count // chunks + (1 if k < count % chunks else 0)
        cases = new_cases(rng, made + 1, size, first_at + timedelta(seconds=k * span), span)
        batch = []
        for case in cases:
            n = int(case.id)
            if n > count - active:
                final = rng.choice([CaseState.NEW, CaseState.OPEN, CaseState.CLAIMED])
            else:
                final = CaseState.SPAM if rng.random() < 0.15 else CaseState.RESOLVED
            steps = _lifecycle(rng, case, final)
            batch.append(NewCase(steps[-1][0], tuple(e for _, e in steps)))
        store.add_cases(batch)
        store.put_message_refs([(nc.case.id, _ref(nc.case)) for nc in batch])
        made += size
        if k % 50 == 0:
            print(f"  {made:,} cases", file=sys.stderr)
    store.reserve_case_ids(count + 1)
    return {"cases": count, "active": active, "generation_s": time.perf_counter() - started}


def _schema(count: int, version: int, active: int = 300) -> str:
    """The data set's schema (its active cases named unless they are the usual 300)."""
    busy = "" if active == 300 else f"_a{active}"
    return f"bench_{count}{busy}_g{GENERATOR_VERSION}_f{version}"


def _has_data(conn: psycopg.Connection[Any], schema: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'bench_info'",
            (schema,),
        ).fetchone()
    )


def _migrate_older(url: str, count: int, active: int) -> None:
    """Bring a data set of an older schema version up to date (timed) and rename it."""
    with psycopg.connect(url, autocommit=True) as conn:
        older = [v for v in range(LATEST - 1, 0, -1) if _has_data(conn, _schema(count, v, active))]
    if not older:
        return
    schema = _schema(count, older[0], active)
    print(f"migrating {schema} to schema version {LATEST} ...", file=sys.stderr)
    started = time.perf_counter()
    with PostgresStore(url, schema=schema, check_schema=False) as store:
        store.migrate()
    migrated = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {schema}.cases")
        conn.execute(f"ALTER TABLE {schema}.bench_info ADD COLUMN IF NOT EXISTS migrated text")
        conn.execute(
            f"UPDATE {schema}.bench_info SET migrated = concat_ws('; ', migrated, %s::text)",
            (f"schema version {older[0]} to {LATEST} in {migrated:.0f} s",),
        )
        conn.execute(f"ALTER SCHEMA {schema} RENAME TO {_schema(count, LATEST, active)}")


def dataset(url: str, count: int, active: int, regenerate: bool) -> tuple[str, dict[str, Any]]:
    """The schema holding the data set (generated, or migrated from an older schema version,
    if missing) and facts about it."""
    schema = _schema(count, LATEST, active)
    with psycopg.connect(url, autocommit=True) as conn:
        if regenerate:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        found = _has_data(conn, schema)
    if not found and not regenerate:
        _migrate_older(url, count, active)
    with psycopg.connect(url, autocommit=True) as conn:
        if _has_data(conn, schema):
            conn.execute(f"ALTER TABLE {schema}.bench_info ADD COLUMN IF NOT EXISTS migrated text")
            row = conn.execute(f"SELECT generation_s, migrated FROM {schema}.bench_info").fetchone()
            assert row is not None
            info = {"cases": count, "active": active, "generation_s": row[0], "migrated": row[1]}
            return schema, info
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    print(f"generating {count:,} cases in schema {schema} ...", file=sys.stderr)
    with PostgresStore(url, schema=schema, check_schema=False) as store:
        store.migrate()
        info = generate(store, count, active)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {schema}.cases")
        conn.execute(f"CREATE TABLE {schema}.bench_info (generation_s float)")
        conn.execute(f"INSERT INTO {schema}.bench_info VALUES (%s)", (info["generation_s"],))
    return schema, info


# --- measurements ------------------------------------------------------------------------------
def _claim(store: PostgresStore, case_id: str, actor: str, item_id: str) -> float:
    started = time.perf_counter()
    case = store.get_case(case_id)
    nxt = _step(case, CaseState.CLAIMED, actor, END)
    event = _event(nxt, "claimed", actor, case.state.value)
    store.save_case(
        nxt, case.version, [event], [OutboxItem(item_id, case.id, OutboxKind.UPDATE, END)]
    )
    return time.perf_counter() - started


def _new(store: PostgresStore, rng: random.Random, tag: str) -> list[NewCase]:
    ids = store.next_case_ids(1_000)
    batch = []
    for n, case_id in enumerate(ids):
        template = new_cases(rng, 0, 1, END, 1)[0]
        mention = replace(_mention(rng, n, END), id=f"bench-{tag}:{n}")
        case = replace(template, id=case_id, mention=mention, ingested_at=END)
        post = OutboxItem(f"post-{case_id}", case_id, OutboxKind.POST, END)
        batch.append(NewCase(case, (_event(case, "created", "triagebot", ""),), (post,)))
    return batch


def _mentions(tag: str, count: int) -> list[Mention]:
    """New posts: authors and texts of their own in every run, so that no post of this run is
    a cross-post of a case an earlier run left in the (reused) data set."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        Mention(
            id=f"bench-{tag}-p:{n}",
            source="bench",
            kind="post",
            url=f"https://example.com/posts/{tag}/{n}",
            author=Author(f"user{tag}x{n}", followers=n),
            text=f"my order {tag}-{n} arrived broken and the parcel was late, refund please",
            created_at=now,
        )
        for n in range(count)
    ]


def _crossposts(mentions: list[Mention]) -> list[Mention]:
    """The same posts seen again through another source at other links."""
    return [
        replace(m, id=f"{m.id.replace('-p:', '-x:')}", source="bench-x", url=m.url + "/again")
        for m in mentions
    ]


def _ingest(runtime: Runtime, store: PostgresStore, tag: str) -> dict[str, Any]:
    """1,000 new posts, then the same posts seen again elsewhere (all cross-posts)."""
    r: dict[str, Any] = {}
    mentions = _mentions(tag, 1_000)
    now = datetime.now(UTC)
    since = now - runtime.pipeline.crossposts.window
    r["window_active"] = len(store.list_cases(states=ACTIVE_STATES, since=since))
    started = time.perf_counter()
    result = runtime.pipeline.ingest(mentions, now)
    r["ingest"] = time.perf_counter() - started
    r["ingested"] = len(result.new)
    started = time.perf_counter()
    result = runtime.pipeline.ingest(_crossposts(mentions), datetime.now(UTC))
    r["crosspost"] = time.perf_counter() - started
    r["attached"] = len(result.also_seen)
    return r


def _sla(runtime: Runtime, store: PostgresStore) -> dict[str, Any]:
    """The 30-day summary in the process (5 times), and reading its facts alone."""
    sla, facts = [], []
    for _ in range(5):
        started = time.perf_counter()
        summary = summary_for(runtime, timedelta(days=30))
        sla.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.sla_facts(since=datetime.now(UTC) - timedelta(days=30))
        facts.append(time.perf_counter() - started)
    return {
        "sla": statistics.median(sla),
        "sla_max": max(sla),
        "sla_cases": summary.total.count,
        "facts": statistics.median(facts),
    }


def measure_claims(url: str, schema: str, count: int = 2_000) -> dict[str, Any]:
    """Claims alone (``--claims-only``): ``count`` of them, cycling over the active cases."""
    tag = f"{time.time_ns():x}"
    with PostgresStore(url, schema=schema) as store:
        active = [c.id for c in store.list_cases(states=ACTIVE_STATES)]
        load = os.getloadavg()[0]
        claims = [
            _claim(store, active[n % len(active)], f"agent{n}", f"c-{tag}-{n}")
            for n in range(count)
        ]
    return {
        "claim": _percentiles(claims),
        "claim_p99": _p99(claims),
        "claims": count,
        "load": (load + os.getloadavg()[0]) / 2,
    }


def measure(url: str, schema: str) -> dict[str, Any]:
    tag = f"{time.time_ns():x}"
    rng = random.Random(7)
    r: dict[str, Any] = {}
    database_url = f"{url}?options=-csearch_path%3D{schema}"
    config = _config(WORK)
    settings = load_settings(config, {"DATABASE_URL": database_url})
    with PostgresStore(url, schema=schema) as store:
        active = [c.id for c in store.list_cases(states=[CaseState.NEW, CaseState.OPEN])]
        claims = [
            _claim(store, active[n % len(active)], f"agent{n}", f"c-{tag}-{n}") for n in range(500)
        ]
        r["claim"], r["claim_p99"] = _percentiles(claims), _p99(claims)
        batch = _new(store, rng, tag)
        started = time.perf_counter()
        assert all(store.add_cases(batch))
        r["add"] = time.perf_counter() - started
        runtime = Runtime.build(settings, store=store)
        r |= _ingest(runtime, store, tag) | _sla(runtime, store)
        started = time.perf_counter()
        r["list_count"] = len(store.list_cases(since=END - timedelta(days=30)))
        r["list"] = time.perf_counter() - started
        r["pending"] = store.pending_outbox()
        started = time.perf_counter()
        leased = store.lease_outbox(END + timedelta(days=1), 50, timedelta(minutes=2))
        r["lease"], r["leased"] = time.perf_counter() - started, len(leased)
    env = _env(config, WORK / "unused.json", DATABASE_URL=database_url)
    command = [sys.executable, "-m", "triagebot", "sla", "--since", "30d"]
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
        runs.append(time.perf_counter() - started)
    r["sla_cli"], r["sla_cli_max"] = statistics.median(runs), max(runs)
    r["load"] = os.getloadavg()[0]
    return r


# --- report ------------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(info: dict[str, Any], r: dict[str, Any], server: str) -> str:
    per_s = 1_000 / r["ingest"]
    rows = [
        (
            "claim: get_case + save_case (one conditional UPDATE, 1 event, 1 outbox item, "
            "one transaction), 500 claims cycling over the active cases",
            r["claim"],
            f"p99 ≤ 20 ms ({_verdict(r['claim_p99'] * 1000 <= TARGETS['claim_p99_ms'])})",
        ),
        ("add_cases: 1,000 new cases in one batch", f"{r['add']:.2f} s", ""),
        (
            "ingest: Pipeline.ingest of 1,000 new mentions (brand filter, triage, dedupe, "
            f"cross-post check against {r['window_active']:,} active cases of the last 3 days, "
            f"store; {r['ingested']:,} cases stored)",
            f"{r['ingest']:.2f} s ({per_s:,.0f} mentions/s)",
            f"≥ 2,000/s ({_verdict(per_s >= TARGETS['ingest_per_s'])})",
        ),
        (
            "ingest: the same 1,000 posts again from another source at other links (each a "
            f"cross-post: one compare-and-set on its case; {r['attached']:,} cases updated)",
            f"{r['crosspost']:.2f} s ({1_000 / r['crosspost']:,.0f} mentions/s)",
            "",
        ),
        (
            f"SLA summary of the last 30 days in the process ({r['sla_cases']:,} cases), "
            "median of 5 (the first of them imports numpy and builds the calendar tables)",
            f"{_ms(r['sla'])} (max {_ms(r['sla_max'])})",
            f"≤ 500 ms ({_verdict(r['sla'] <= TARGETS['sla_s'])})",
        ),
        ("… of which reading the SLA facts (`sla_facts`)", _ms(r["facts"]), ""),
        (
            f"list_cases(since=30 days ago): {r['list_count']:,} cases",
            _ms(r["list"]),
            "",
        ),
        (
            f"lease_outbox: 50 of {r['pending']:,} pending items (FOR UPDATE SKIP LOCKED)",
            _ms(r["lease"]),
            "",
        ),
        (
            "`triagebot sla --since 30d`: whole command (interpreter start, imports, connect), "
            "5 runs",
            f"median {r['sla_cli']:.2f} s · max {r['sla_cli_max']:.2f} s",
            "",
        ),
    ]
    return "\n".join(
        [
            "## PostgreSQL",
            "",
            "`TRIAGEBOT_BENCH_DATABASE_URL=postgresql://… python -m bench.bench_postgres --write` "
            f"(PostgreSQL store; server: {server}, on the same machine).",
            "",
            f"Data set: {info['cases']:,} cases ingested over 365 days, {info['active']} active, "
            "the rest resolved or spam; mentions of ~300 characters; 1-4 events and one message "
            f"ref per case. Generated through the store's API in {info['generation_s']:.0f} s "
            f"(add_cases in batches of {CHUNK:,})"
            + (f"; then migrated, {info['migrated']}." if info.get("migrated") else "."),
            "",
            f"Machine: {_machine()}; load average {r['load']:.1f} when measured (two cores "
            "shared with other work).",
            "",
            "| Measure | Result | Target |",
            "| --- | --- | --- |",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=300)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the data set")
    parser.add_argument(
        "--claims-only", action="store_true", help="measure claims alone (one table row)"
    )
    args = parser.parse_args(argv)
    url = _url()
    WORK.mkdir(parents=True, exist_ok=True)
    schema, info = dataset(url, args.cases, args.active, args.regenerate)
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    server = f"PostgreSQL {row[0].split()[0] if row else '?'}"
    if args.claims_only:
        r = measure_claims(url, schema)
        print(
            f"| {info['cases']:,} | {args.active:,} | {r['claims']:,} | {r['claim']} "
            f"| {r['load']:.1f} |"
        )
        return 0
    section = report(info, measure(url, schema), server)
    print(section)
    if args.write:
        write_doc(section, "## PostgreSQL")
        print("wrote the PostgreSQL section of docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
