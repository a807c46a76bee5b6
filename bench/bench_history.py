"""Benchmark of the TinyDB store's dedupe against a long history: memory and time of
``known_mentions`` in a fresh process, with 100,000 and 1,100,000 closed cases.

Run ``python -m bench.bench_history`` (``--cases 100000 1100000``, ``--repeat 3``). The data sets
are generated once through the store's API (closed cases by ``add_cases`` in batches of 5,000,
so they fill history segments of 500 as the live service would; 300 active cases beside them)
and kept under ``bench/.work/``. Each measurement is a new process that opens the store and asks
``known_mentions`` for a batch of 1,000 mention ids (500 stored anywhere in history, 500 new),
then the same for a second batch (warm) and for a third whose known ids are among the newest 2%
(a source returning posts seen lately), and reads one old closed case (``get_case``); it reports the
resident memory (VmRSS) before and after and the peak (VmHWM). Medians of ``--repeat``
processes, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_store import WORK, new_cases
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState, NewCase
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_VERSION = 1
BATCH = 5_000
ACTIVE = 300
SOURCES = ["x", "reddit", "trustpilot", "news", "instagram"]


def mention_id(n: int) -> str:
    """A mention id as the sources give them (a tweet's id has 19 digits)."""
    return f"{SOURCES[n % len(SOURCES)]}:{1_860_000_000_000_000_000 + n * 7_919}"


def generate(path: Path, count: int) -> float:
    """``count`` closed cases and ``ACTIVE`` open ones; seconds taken."""
    started = time.perf_counter()
    rng = random.Random(5)
    end = datetime.now(UTC).replace(microsecond=0)
    template = new_cases(rng, 1, 1, end, 1)[0]
    span = 365 * 86_400 / (count + ACTIVE)
    agent = Identity("slack", "agent1")
    store = TinyDBStore(path, gc_grace=0)
    for first in range(1, count + ACTIVE + 1, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, count + ACTIVE + 1)):
            at = end - timedelta(days=365) + timedelta(seconds=n * span)
            case = replace(
                template,
                id=str(n),
                mention=replace(template.mention, id=mention_id(n), text=f"@brand parcel {n}"),
                ingested_at=at,
                updated_at=at,
                claim_due=at + timedelta(hours=1),
                resolve_due=at + timedelta(days=1),
            )
            if n <= count:
                done = at + timedelta(hours=2)
                case = replace(
                    case,
                    state=CaseState.RESOLVED,
                    version=3,
                    claimed_by=agent,
                    first_claimed_at=at + timedelta(minutes=20),
                    resolved_by=agent,
                    resolved_at=done,
                    updated_at=done,
                )
            batch.append(NewCase(case))
        assert all(store.add_cases(batch))
        if first // BATCH % 40 == 0:
            print(f"  {first + len(batch) - 1:,} cases", file=sys.stderr)
    store.close()
    return time.perf_counter() - started


def dataset(count: int, work: Path) -> Path:
    path = work / f"history-{count}-g{GENERATOR_VERSION}" / "triagebot.json"
    done = path.with_name("generated.json")
    if not done.exists():
        print(f"generating {count:,} closed cases in {path.parent} ...", file=sys.stderr)
        seconds = generate(path, count)
        done.write_text(json.dumps({"cases": count, "generation_s": seconds}))
    return path


def _status(field: str) -> float:
    """A VmRSS-like field of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(path: Path, count: int) -> dict[str, Any]:
    """In this (fresh) process: open, two batches of known_mentions, one old case."""
    rng = random.Random(time.time_ns())
    r: dict[str, Any] = {"rss_start": _status("VmRSS")}
    started = time.perf_counter()
    store = TinyDBStore(path)
    r["open"] = time.perf_counter() - started
    r["rss_open"] = _status("VmRSS")
    for name in ("cold", "warm", "recent"):
        low = count - count // 50 if name == "recent" else 1  # recent: the newest 2%
        known = [mention_id(rng.randint(low, count)) for _ in range(500)]
        new = [f"x:new-{rng.getrandbits(64)}" for _ in range(500)]
        batch = known + new
        rng.shuffle(batch)
        started = time.perf_counter()
        found = store.known_mentions(batch)
        r[name] = time.perf_counter() - started
        assert found == set(known), "known_mentions is wrong"
    r["rss"] = _status("VmRSS")
    old = str(rng.randint(1, count))
    started = time.perf_counter()
    assert store.get_case(old).state is CaseState.RESOLVED
    r["get_old"] = time.perf_counter() - started
    r["hwm"] = _status("VmHWM")
    store.close()
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[100_000, 1_100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=WORK, help="where the data sets are kept")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.cases[0])))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        "| closed cases | known_mentions of 1,000, cold | warm | warm, known ones recent "
        "| get_case of an old case "
        "| RSS after open | RSS after | peak RSS | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for count in args.cases:
        path = dataset(count, args.work)
        runs, loads = [], []
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            command = ["-m", "bench.bench_history", "--measure", str(path), "--cases", str(count)]
            done = subprocess.run(
                [sys.executable, *command],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {count:,}: {runs[-1]}", file=sys.stderr)

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(statistics.median(run[key] for run in runs))

        print(
            f"| {count:,} | {med('cold') * 1000:.0f} ms | {med('warm') * 1000:.1f} ms "
            f"| {med('recent') * 1000:.1f} ms "
            f"| {med('get_old') * 1000:.1f} ms | {med('rss_open'):.0f} MB | {med('rss'):.0f} MB "
            f"| {med('hwm'):.0f} MB | {statistics.median(loads):.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
