"""Benchmark of the TinyDB store's lookups as the number of active cases grows.

Run ``python -m bench.bench_active [--active 300 10300]``. For each size a store holding only
that many active cases (ingested over the last two days, so all inside the cross-post window)
is generated through the store's API under ``bench/.work/``. Measured on it: opening the
store cold, asking ``has_mention`` for 1,000 unknown mentions one by one and ``known_mentions``
for the same 1,000 at once, the cross-post lookup of a batch of 1,000 posts in a fresh process
(``crosspost_candidates``), a claim in the process (get_case + compare-and-set save with one
event, fsync included), and the whole ``triagebot ingest`` command of 1,000 new mentions.
Results are printed as one Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_cli import _config, _env, _mentions, _timed
from bench.bench_store import _event, new_cases
from triagebot.cases.facts import author_key
from triagebot.cases.identities import Identity
from triagebot.cases.links import canonical_url
from triagebot.cases.records import CaseState, NewCase
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work" / "active"


def generate(path: Path, active: int) -> None:
    rng = random.Random(active)
    start = datetime.now(UTC) - timedelta(days=2)
    cases = new_cases(rng, 1, active, start, 2 * 86_400 - 600)
    with TinyDBStore(path, gc_grace=0) as store:
        for first in range(0, len(cases), 2_000):
            batch = cases[first : first + 2_000]
            store.add_cases([NewCase(c, (_event(c, "created", "triagebot", ""),)) for c in batch])


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, nargs="+", default=[300, 10_300])
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest command")
    args = parser.parse_args(argv)
    rows = [measure(n, ingest=not args.no_ingest) for n in args.active]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
