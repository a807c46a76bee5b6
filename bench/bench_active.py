"""Benchmark of the TinyDB store's lookups as the number of active cases grows.

Run ``python -m bench.bench_active [--active 300 10300 50300] [--writes [--serve] | --layouts]``.
For each size a store holding only that many active cases (ingested over the last two days, so all
inside the cross-post window) is generated through the store's API under ``bench/.work/``. Measured
on it: opening the store cold, asking ``has_mention`` for 1,000 unknown mentions one by one and
``known_mentions`` for the same 1,000 at once, the cross-post lookup of a batch of 1,000 posts in a
fresh process (``crosspost_candidates``), a claim in the process (get_case + compare-and-set save
with one event, fsync included), and the whole ``triagebot ingest`` command of 1,000 new mentions.
``--writes`` measures what a write costs instead: 200 claims (each with an outbox item, p50 / p99),
three ``add_cases`` of 1,000 new cases with their outbox items (median), and, in a fresh process,
opening the store and listing the active cases (with that process's peak RSS); ``--serve`` adds
``triagebot serve``'s peak RSS (open 24/7) after 200 /healthz requests and two minutes of the SLA
watcher's passes. ``--layouts`` compares the two layouts considered for the store on the data set's
documents: a journal record against a file per case for one write, one snapshot against a file per
case for reading every case. Results are printed as one Markdown table, load average per row.
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
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.bench_cli import _config, _env, _mentions, _serve_rss, _timed
from bench.bench_store import _event, _mention, _p99, new_cases
from triagebot.cases.facts import author_key
from triagebot.cases.identities import Identity
from triagebot.cases.links import canonical_url
from triagebot.cases.records import ACTIVE_STATES, CaseState, NewCase, OutboxItem, OutboxKind
from triagebot.store._atomic import fsync_dir, write_temp
from triagebot.store._journal import append, encode_record
from triagebot.store._root import plain_tables
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work" / "active"
#: Seconds ``serve`` runs with /healthz asked once a second before its peak RSS is read.
SERVE_SETTLE = 130.0


def generate(path: Path, active: int) -> None:
    rng = random.Random(active)
    start = datetime.now(UTC) - timedelta(days=2)
    cases = new_cases(rng, 1, active, start, 2 * 86_400 - 600)
    with TinyDBStore(path, gc_grace=0) as store:
        for first in range(0, len(cases), 2_000):
            batch = cases[first : first + 2_000]
            store.add_cases([NewCase(c, (_event(c, "created", "triagebot", ""),)) for c in batch])
        store.migrate()  # as a deployed store is: its one-time migrations done
        while not store.compact():  # a compaction started by a write is still running
            time.sleep(0.1)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def measure(active: int, ingest: bool = True) -> dict[str, str]:
    data = WORK / f"{active}" / "data"
    if not (data / "triagebot.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data / "triagebot.json", active)
    run = WORK / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(data, run / "data")
    db = run / "data" / "triagebot.json"
    unknown = [f"bench:{n}" for n in range(1_000)]
    urls = {canonical_url(f"https://example.com/posts/{n}") for n in range(1_000)}
    authors = {author_key(f"user{n}") for n in range(1_000)}
    since = datetime.now(UTC) - timedelta(days=3)

    started = time.perf_counter()
    store = TinyDBStore(db)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    found = sum(store.has_mention(m) for m in unknown)
    has_s = time.perf_counter() - started
    known_mentions = getattr(store, "known_mentions", None)
    known_s = float("nan")
    if known_mentions is not None:
        started = time.perf_counter()
        known_mentions(unknown)
        known_s = time.perf_counter() - started
    store.close()
    with TinyDBStore(db) as cold:
        started = time.perf_counter()
        candidates = cold.crosspost_candidates(urls, authors, since)
        cross_s = time.perf_counter() - started
    claims: list[float] = []
    with TinyDBStore(db) as store:
        ids = [c.id for c in store.list_cases(states=[CaseState.NEW], limit=50)]
        for case_id in ids:
            started = time.perf_counter()
            case = store.get_case(case_id)
            who = Identity("cli", "bench")
            nxt = replace(case, state=CaseState.CLAIMED, version=case.version + 1, claimed_by=who)
            store.save_case(nxt, case.version, [_event(nxt, "claimed", "bench", "new")])
            claims.append(time.perf_counter() - started)
    ingest_s = float("nan")
    if ingest:
        env = _env(_config(run), db)
        ingest_s = _timed(["ingest", str(_mentions(run / "in.jsonl", 1000))], env)
    shutil.rmtree(run, ignore_errors=True)
    assert found == 0
    return {
        "active": f"{active:,}",
        "root": f"{os.path.getsize(data / 'triagebot.json') / 1e6:.1f} MB",
        "open": _ms(open_s),
        "has_mention x1000": _ms(has_s),
        "known_mentions(1000)": _ms(known_s),
        "crosspost_candidates, cold": f"{_ms(cross_s)} ({len(candidates)} found)",
        "claim p50 / max": f"{_ms(statistics.median(claims))} / {_ms(max(claims))}",
        "`triagebot ingest` 1,000": f"{ingest_s:.2f} s",
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def _copy(active: int) -> Path:
    """A fresh copy of the data set of ``active`` cases (generated once); its root file."""
    data = WORK / f"{active}" / "data"
    if not (data / "triagebot.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data / "triagebot.json", active)
    run = WORK / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(data, run / "data")
    db = run / "data" / "triagebot.json"
    with TinyDBStore(db) as store:
        store.migrate()  # the layout of the code measured, before anything is timed
    return db


def _claims(store: TinyDBStore, count: int) -> list[float]:
    """``count`` claims of new cases (get_case + compare-and-set with an event and an outbox
    item, as a click does); seconds each."""
    who = Identity("cli", "bench")
    ids = [c.id for c in store.list_cases(states=[CaseState.NEW], limit=count)]
    took: list[float] = []
    for case_id in ids:
        started = time.perf_counter()
        case = store.get_case(case_id)
        nxt = replace(case, state=CaseState.CLAIMED, version=case.version + 1, claimed_by=who)
        update = OutboxItem(f"claim-{case_id}", case_id, OutboxKind.UPDATE, datetime.now(UTC))
        store.save_case(nxt, case.version, [_event(nxt, "claimed", "bench", "new")], [update])
        took.append(time.perf_counter() - started)
    return took


def _adds(store: TinyDBStore, batches: int, size: int) -> list[float]:
    """``batches`` calls of ``add_cases`` with ``size`` new cases and their post items."""
    rng = random.Random(size)
    took: list[float] = []
    for b in range(batches):
        ids = store.next_case_ids(size)
        now = datetime.now(UTC)
        batch = []
        for n, template in enumerate(new_cases(rng, 1, size, now - timedelta(minutes=5), 60)):
            mention = _mention(rng, 50_000_000 + b * size + n, template.ingested_at)
            case = replace(template, id=ids[n], mention=mention)
            post = OutboxItem(f"post-{case.id}", case.id, OutboxKind.POST, now)
            batch.append(NewCase(case, (_event(case, "created", "triagebot", ""),), (post,)))
        started = time.perf_counter()
        store.add_cases(batch)
        took.append(time.perf_counter() - started)
    return took


def cold_list(db: Path) -> dict[str, float]:
    """In this (fresh) process: open the store, list its active cases; seconds and peak RSS."""
    started = time.perf_counter()
    store = TinyDBStore(db)
    opened = time.perf_counter() - started
    active = store.list_cases(states=ACTIVE_STATES)
    listed = time.perf_counter() - started
    page = store.list_cases(states=ACTIVE_STATES, limit=50)
    store.close()
    import resource  # noqa: PLC0415

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"open": opened, "list": listed, "count": len(active), "page": len(page), "rss": rss}


def _cold_list_process(db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_active", "--cold-list", str(db)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out))


def measure_writes(active: int, serve: bool, count: int = 200) -> dict[str, str]:
    db = _copy(active)
    load = [os.getloadavg()[0]]
    root_mb = os.path.getsize(db) / 1e6
    cold = [_cold_list_process(db) for _ in range(3)]
    load.append(os.getloadavg()[0])
    with TinyDBStore(db) as store:
        claims = _claims(store, count)
        load.append(os.getloadavg()[0])
        adds = _adds(store, 3, 1_000)
        load.append(os.getloadavg()[0])
    after = _cold_list_process(db)  # with the journal of those writes to replay
    serve_mb = float("nan")
    if serve:
        # Open 24/7, and two minutes of /healthz once a second: the SLA watcher's passes
        # (every minute) read every active case.
        config = _config(db.parent.parent, hours="24/7")
        _, serve_mb = _serve_rss(config, db, settle=SERVE_SETTLE)
        load.append(os.getloadavg()[0])
    shutil.rmtree(db.parent.parent, ignore_errors=True)
    return {
        "active": f"{active:,}",
        "snapshot": f"{root_mb:.1f} MB",
        f"claim p50 / p99 ({len(claims)})": (
            f"{_ms(statistics.median(claims))} / {_ms(_p99(claims))}"
        ),
        "add_cases 1,000 (median of 3)": f"{statistics.median(adds):.3f} s",
        "cold open + list active (median of 3)": (
            f"{_ms(statistics.median(c['open'] for c in cold))} + "
            f"{_ms(statistics.median(c['list'] - c['open'] for c in cold))} = "
            f"{_ms(statistics.median(c['list'] for c in cold))}"
        ),
        "cold RSS": f"{statistics.median(c['rss'] for c in cold):.0f} MB",
        "the same after the writes": f"{_ms(after['list'])}, {after['rss']:.0f} MB",
        "`serve` RSS": f"{serve_mb:.0f} MB",
        "load": f"{min(load):.1f}-{max(load):.1f}",
    }


def _read_files(folder: Path) -> float:
    """Seconds to read and parse every file of ``folder`` (a file per case)."""
    started = time.perf_counter()
    docs = [orjson.loads(path.read_bytes()) for path in folder.iterdir()]
    assert docs
    return time.perf_counter() - started


def compare_layouts(active: int, writes: int = 200) -> dict[str, str]:
    """The two layouts considered for the embedded store, on the data set's case documents:
    one journal beside one snapshot, or a file per case. For each, one write of a claimed case
    (fsynced as the store does it; medians of ``writes``) and reading every case back."""
    db = _copy(active)
    docs = list(compacted_cases(db).values())
    folder = db.parent / "per-case"
    folder.mkdir()
    for n, doc in enumerate(docs):
        (folder / f"{n}.json").write_bytes(orjson.dumps(doc))
    journal = db.parent / "journal-bench"
    load = [os.getloadavg()[0]]
    appended: list[float] = []
    replaced: list[float] = []
    for n in range(writes):
        doc = docs[n % len(docs)] | {"state": "claimed", "version": n + 2}
        started = time.perf_counter()
        append(journal, journal.stat().st_size if journal.exists() else 0, encode_record(doc))
        appended.append(time.perf_counter() - started)
        started = time.perf_counter()
        tmp, fd = write_temp(folder / f"{n % len(docs)}.json", orjson.dumps(doc))
        os.replace(tmp, folder / f"{n % len(docs)}.json")
        fsync_dir(folder)
        os.close(fd)
        replaced.append(time.perf_counter() - started)
    load.append(os.getloadavg()[0])
    started = time.perf_counter()
    plain_tables(db.read_bytes(), db)  # every document decoded, as the files are
    snapshot_s = time.perf_counter() - started
    files_s = _read_files(folder)
    load.append(os.getloadavg()[0])
    shutil.rmtree(db.parent.parent, ignore_errors=True)
    return {
        "active": f"{active:,}",
        "write: journal record (pwrite + fdatasync)": _ms(statistics.median(appended)),
        "write: file per case (write, fsync, rename, fsync dir)": _ms(statistics.median(replaced)),
        "read all: one snapshot": _ms(snapshot_s),
        "read all: a file per case": _ms(files_s),
        "load": f"{min(load):.1f}-{max(load):.1f}",
    }


def compacted_cases(db: Path) -> dict[str, Any]:
    """The active case documents of the store at ``db``, by slot, after a compaction."""
    with TinyDBStore(db) as store:
        store.compact()
    cases: dict[str, Any] = plain_tables(db.read_bytes(), db).get("cases", {})
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, nargs="+", default=[300, 10_300])
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest command")
    parser.add_argument("--writes", action="store_true", help="measure writes, open and RSS")
    parser.add_argument("--serve", action="store_true", help="with --writes: serve's RSS")
    parser.add_argument("--claims", type=int, default=200, help="with --writes: how many")
    parser.add_argument("--layouts", action="store_true", help="journal or a file per case")
    parser.add_argument("--cold-list", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_list is not None:
        print(json.dumps(cold_list(args.cold_list)))
        return 0
    if args.layouts:
        rows = [compare_layouts(n) for n in args.active]
    elif args.writes:
        rows = [measure_writes(n, args.serve, args.claims) for n in args.active]
    else:
        rows = [measure(n, ingest=not args.no_ingest) for n in args.active]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
