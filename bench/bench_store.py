"""Benchmark of the TinyDB store holding a year of a busy brand: 100,000 cases.

Run ``python -m bench.bench_store`` (``--write`` also puts the results into the "Store"
section of ``docs/benchmarks.md``). The data set is generated once through the store's own
API, in a child process, and kept under ``bench/.work/``; every run measures a fresh copy.
Measured: a claim (get_case + compare-and-set save with one event and one outbox item, fsync
included), a resolve, ingesting 1,000 mentions in one batch, listing the last 30 days, the
peak memory of the process holding the store, and what a CLI command pays to open the store
cold and read one old case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from triagebot.cases.identities import Identity
from triagebot.cases.records import (
    Assignment,
    Author,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    MessageRef,
    NewCase,
    OutboxItem,
    OutboxKind,
    Priority,
)
from triagebot.store._root import FORMAT, plain_tables
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
DOC = ROOT / "docs" / "benchmarks.md"
#: Bump when the generated data changes, so cached data sets are rebuilt.
GENERATOR_VERSION = 3
#: The data set's "now": the end of the generated year, today at midnight UTC, so that
#: commands looking back from the real clock (``triagebot sla --since 30d``) find the last month.
END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DEPARTMENTS = ["support", "billing", "shipping", "returns", "sales", "press", "careers", "triage"]
SOURCES = ["x", "reddit", "trustpilot", "news", "instagram"]
_VOCABULARY = (
    "order parcel delivery refund invoice charged twice still waiting support chat agent "
    "broken arrived damaged replacement tracking number courier warehouse late week again "
    "thanks great service quick answer disappointed never buying subscription cancel account "
    "login password app crash update price discount code store manager return label box"
)
WORDS = tuple(_VOCABULARY.split())
LIFECYCLE = 1_000  # the last closed cases go through add -> ref -> claim -> resolve
TARGETS = {"claim_p99_ms": 50.0, "add_s": 2.0, "rss_mb": 300.0}


# --- data set ---------------------------------------------------------------------------------
def _text(rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < rng.randint(260, 340):
        words.append(rng.choice(WORDS))
    return "@brand " + " ".join(words)


def _mention(rng: random.Random, n: int, at: datetime) -> Mention:
    source = SOURCES[n % len(SOURCES)]
    handle = f"user{rng.randint(1, 60_000)}"
    return Mention(
        id=f"{source}:{10_000_000 + n}",
        source=source,
        kind="post" if n % 4 else "comment",
        url=f"https://{source}.example.com/{handle}/status/{10_000_000 + n}",
        author=Author(handle=handle, name=handle.title(), followers=rng.randint(0, 50_000)),
        text=_text(rng),
        created_at=at - timedelta(seconds=rng.randint(5, 600)),
        lang="en",
        raw={
            "likes": rng.randint(0, 900),
            "reposts": rng.randint(0, 90),
            "verified": rng.random() < 0.05,
            "platform_id": str(10_000_000 + n),
        },
    )


def _event(case: Case, action: str, actor: str, before: str) -> CaseEvent:
    after: dict[str, Any] = {"state": case.state.value}
    if action == "claimed":
        after["claimed_by"] = f"slack:{actor}"
    at = case.updated_at or case.ingested_at
    who = Identity("slack", actor)
    return CaseEvent(case.id, action, who, "slack", at, case.version, {"state": before}, after)


def _step(case: Case, state: CaseState, actor: str, at: datetime) -> Case:
    nxt = replace(case, state=state, version=case.version + 1, updated_at=at)
    if state is CaseState.CLAIMED:
        return replace(nxt, claimed_by=Identity("slack", actor), claimed_at=at, first_claimed_at=at)
    if state.is_closed:
        return replace(nxt, resolved_by=Identity("slack", actor), resolved_at=at)
    return nxt


def _lifecycle(rng: random.Random, case: Case, final: CaseState) -> list[tuple[Case, CaseEvent]]:
    """The versions of ``case`` on its way to ``final``, each with its event (2-4 in all)."""
    steps = [(case, _event(case, "created", "triagebot", ""))]
    at = case.ingested_at + timedelta(minutes=rng.uniform(0.2, 2))
    agent = f"agent{rng.randint(1, 40)}"
    plan = [(CaseState.OPEN, "posted", "triagebot")]
    if final in (CaseState.CLAIMED, CaseState.RESOLVED):
        plan.append((CaseState.CLAIMED, "claimed", agent))
    if final.is_closed:
        plan.append((final, final.value, agent))
    for state, action, actor in plan if final is not CaseState.NEW else []:
        previous = steps[-1][0]
        nxt = _step(previous, state, actor, at)
        steps.append((nxt, _event(nxt, action, actor, previous.state.value)))
        at += timedelta(minutes=rng.expovariate(1 / 90))
    return steps


def new_cases(
    rng: random.Random, first: int, count: int, start: datetime, span: float
) -> list[Case]:
    """``count`` new cases, ids from ``first``, ingested over ``span`` seconds from ``start``."""
    cases = []
    for n, offset in enumerate(sorted(rng.uniform(0, span) for _ in range(count)), first):
        at = start + timedelta(seconds=offset)
        department = rng.choice(DEPARTMENTS)
        cases.append(
            Case(
                id=str(n),
                mention=_mention(rng, n, at),
                department=department,
                priority=rng.choice(list(Priority)),
                state=CaseState.NEW,
                ingested_at=at,
                claim_due=at + timedelta(hours=1),
                resolve_due=at + timedelta(days=1),
                rules=(f"{department}.keywords",),
                updated_at=at,
                assignments=(Assignment(department, at),),
            )
        )
    return cases


def _cases(rng: random.Random, count: int) -> list[Case]:
    return new_cases(rng, 1, count, END - timedelta(days=365), 365 * 86_400)


def _ref(case: Case) -> MessageRef:
    return MessageRef("slack", "C0SUPPORT", f"{case.ingested_at.timestamp():.6f}")


def generate(data: Path, count: int, active: int) -> dict[str, Any]:
    """Fill a new store at ``data`` through the public API; returns facts about it.

    Closed cases are added in batches of 2,000 in the order they closed (so they fill the
    history segments as the live service would); the last 1,000 closed ones go through the
    whole lifecycle (add, message ref, claim, resolve), then the active ones are added.
    """
    rng = random.Random(20251231)
    started = time.perf_counter()
    cases = _cases(rng, count)
    newest = active * 5 // 6  # most active cases are recent, some are older leftovers
    live_ids = set(range(count - newest, count))
    live_ids |= set(rng.sample(range(count - 8_000, count - newest), active - newest))
    closed: list[list[tuple[Case, CaseEvent]]] = []
    live: list[list[tuple[Case, CaseEvent]]] = []
    for n, case in enumerate(cases):
        if n in live_ids:
            final = rng.choice([CaseState.NEW, CaseState.OPEN, CaseState.OPEN, CaseState.CLAIMED])
            live.append(_lifecycle(rng, case, final))
        else:
            spam = rng.random() < 0.15
            closed.append(_lifecycle(rng, case, CaseState.SPAM if spam else CaseState.RESOLVED))
    del cases
    closed.sort(key=lambda steps: steps[-1][0].resolved_at or END)
    bulk, replayed = closed[:-LIFECYCLE], closed[-LIFECYCLE:]
    store = TinyDBStore(data, gc_grace=0)  # one writer: replaced segments can go at once
    for start in range(0, len(bulk), 2_000):
        batch = bulk[start : start + 2_000]
        store.add_cases([NewCase(s[-1][0], tuple(e for _, e in s)) for s in batch])
    bulk_s = time.perf_counter() - started
    for start in range(0, len(replayed), 50):
        batch = replayed[start : start + 50]
        store.add_cases([NewCase(s[0][0], (s[0][1],)) for s in batch])
        for steps in batch:
            store.set_message_ref(steps[0][0].id, _ref(steps[0][0]))
            for case, event in steps[1:]:
                store.save_case(case, case.version - 1, [event])
    store.add_cases([NewCase(s[-1][0], tuple(e for _, e in s)) for s in live])
    for steps in live:
        store.set_message_ref(steps[0][0].id, _ref(steps[0][0]))
    while not store.compact():  # the root then holds everything (a compaction was running)
        time.sleep(0.1)
    store.close()
    return {
        "cases": count,
        "active": len(live),
        "generation_s": round(time.perf_counter() - started, 1),
        "bulk_s": round(bulk_s, 1),
        "replayed": len(replayed),
    }


# --- measurements ------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _percentiles(samples: list[float]) -> str:
    return (
        f"p50 {_ms(statistics.median(samples))} · p99 {_ms(_p99(samples))} "
        f"· max {_ms(max(samples))}"
    )


def _change(
    store: TinyDBStore, case_id: str, state: CaseState, actor: str, n: int
) -> tuple[Case, float]:
    """One button click: read the case, compare-and-set the next version; (case, seconds)."""
    started = time.perf_counter()
    case = store.get_case(case_id)
    nxt = _step(case, state, actor, END)
    action = "claimed" if state is CaseState.CLAIMED else state.value
    event = _event(nxt, action, actor, case.state.value)
    update = OutboxItem(f"click-{n}", case.id, OutboxKind.UPDATE, END)
    store.save_case(nxt, case.version, [event], [update])
    return nxt, time.perf_counter() - started


def _new_batch(store: TinyDBStore, rng: random.Random, count: int, first: int) -> list[NewCase]:
    ids = store.next_case_ids(count)
    batch = []
    for n, template in enumerate(_cases(rng, count)):
        mention = _mention(rng, first + n, END)
        case = replace(template, id=ids[n], mention=mention, ingested_at=END)
        batch.append(
            NewCase(
                case,
                (_event(case, "created", "triagebot", ""),),
                (OutboxItem(f"post-{case.id}", case.id, OutboxKind.POST, END),),
            )
        )
    return batch


def _cold_cli(path: Path, case_id: str) -> tuple[float, float]:
    """(open + get_case seconds inside a new process, whole process wall seconds)."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from triagebot.store import open_store\n"
        "t = time.perf_counter()\n"
        "store = open_store(Path(sys.argv[1]))\n"
        "store.get_case(sys.argv[2])\n"
        "print(time.perf_counter() - t)\n"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), case_id],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout), time.perf_counter() - started


def measure(path: Path) -> dict[str, Any]:
    """Run every measurement against the store at ``path`` (a fresh copy of the data set)."""
    rng = random.Random(7)
    results: dict[str, Any] = {}
    store = TinyDBStore(path)
    active = [c.id for c in store.list_cases(states=[CaseState.NEW, CaseState.OPEN])]
    active += [c.id for c in store.list_cases(states=[CaseState.CLAIMED])]
    claims = [
        _change(store, active[n % len(active)], CaseState.CLAIMED, f"agent{n % 40}", n)[1]
        for n in range(500)
    ]
    results["claim"], results["claim_p99"] = _percentiles(claims), _p99(claims)
    resolves = [
        _change(store, active[n], CaseState.RESOLVED, "agent1", 1000 + n)[1]
        for n in range(min(100, len(active)))
    ]
    results["resolve"] = _percentiles(resolves)
    results["cli"] = _cold_cli(path, "1234")

    first = _new_batch(store, rng, 1_000, 50_000_000)
    started = time.perf_counter()
    added = store.add_cases(first)
    results["add_cold"] = time.perf_counter() - started
    second = _new_batch(store, rng, 1_000, 60_000_000)
    started = time.perf_counter()
    added += store.add_cases(second)
    results["add_warm"] = time.perf_counter() - started
    assert all(added), "the generated mentions must all be new"

    since = END - timedelta(days=30)
    started = time.perf_counter()
    listed = store.list_cases(since=since)
    results["list"] = time.perf_counter() - started
    results["list_count"] = len(listed)
    results["list_segments"] = sum(1 for s in store._history.segments if s.overlaps(since, None))
    del listed
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    return results


# --- report ------------------------------------------------------------------------------------
def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {date.today().isoformat()}"
    )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def report(info: dict[str, Any], r: dict[str, Any]) -> str:
    ok = {
        "claim": "met" if r["claim_p99"] * 1000 <= TARGETS["claim_p99_ms"] else "MISSED",
        "add": "met" if max(r["add_cold"], r["add_warm"]) <= TARGETS["add_s"] else "MISSED",
        "rss": "met" if r["rss_mb"] <= TARGETS["rss_mb"] else "MISSED",
    }
    rows = [
        (
            "claim: get_case + save_case (compare-and-set, 1 event, 1 outbox item, fsync), "
            "500 claims cycling over the active cases (a second claim is a takeover)",
            r["claim"],
            f"p99 ≤ 50 ms ({ok['claim']})",
        ),
        (
            "resolve: the same, moving the case into a history segment, 100 resolves",
            r["resolve"],
            "",
        ),
        (
            "add_cases: 1,000 new mentions in one batch, first in the process "
            "(loads the dedupe index of every segment)",
            f"{r['add_cold']:.2f} s",
            f"≤ 2 s ({ok['add']})",
        ),
        ("add_cases: another 1,000 (index in memory)", f"{r['add_warm']:.2f} s", "≤ 2 s"),
        (
            f"list_cases(since=30 days ago): {r['list_count']:,} cases (2,000 of them just "
            f"added) from the root and {r['list_segments']} overlapping segments",
            _ms(r["list"]),
            "",
        ),
        (
            "peak RSS of the process holding the store, after all of the above",
            f"{r['rss_mb']:.0f} MB",
            f"≤ 300 MB ({ok['rss']})",
        ),
        (
            "CLI: new process opens the store and reads one old resolved case",
            f"{_ms(r['cli'][0])} (whole process with interpreter start and imports: "
            f"{_ms(r['cli'][1])})",
            "",
        ),
    ]
    lines = [
        "## Store",
        "",
        "`python -m bench.bench_store --write` (TinyDB store, durable writes with fsync).",
        "",
        f"Data set: {info['cases']:,} cases ingested over 365 days, {info['active']} active, "
        f"the rest resolved or spam; mentions of ~300 characters; 1-4 events per case (3-4 for "
        f"closed ones); root file {info['root_mb']:.1f} MB, "
        f"{info['segments']} history segments ({info['history_mb']:.0f} MB). Generated through "
        f"the store's API in {info['generation_s']:.0f} s (closed cases by add_cases in batches "
        f"of 2,000; the last {info['replayed']:,} through add, message ref, claim and resolve).",
        "",
        f"Machine: {_machine()}; load average {os.getloadavg()[0]:.1f} when measured.",
        "",
        "A claim appends one journal record (the case and its outbox item) to the journal that "
        "continues the root file; a resolve also writes a new version of the newest history "
        "segment (at most 500 cases), its index and its SLA facts file.",
        "",
        "| Measure | Result | Target |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
    ]
    return "\n".join(lines)


def write_doc(section: str, heading: str = "## Store") -> None:
    """Replace the section under ``heading`` of docs/benchmarks.md (append it if missing)."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        merged = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        after = "\n".join(lines[end:])
        merged = "\n".join(lines[:start]) + "\n" + section + ("\n" + after if after else "")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(merged.rstrip("\n") + "\n")


def dataset(count: int, active: int, regenerate: bool) -> tuple[Path, dict[str, Any]]:
    """The cached data set (generated in a child process if missing) and facts about it."""
    folder = WORK / f"store-{count}-f{FORMAT}-g{GENERATOR_VERSION}-{END:%Y%m%d}"
    info_file = folder / "info.json"
    if regenerate or not info_file.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        print(f"generating {count:,} cases in {folder} ...", file=sys.stderr)
        command = [sys.executable, "-m", "bench.bench_store", "--generate", str(folder)]
        command += ["--cases", str(count), "--active", str(active)]
        subprocess.run(command, cwd=ROOT, check=True)
    info = json.loads(info_file.read_text())
    started = time.perf_counter()
    with TinyDBStore(folder / "data" / "triagebot.json") as store:
        done = store.migrate()  # a data set written by an earlier version is brought up to date
    if done:
        info["migrated"] = f"{'; '.join(done)} in {time.perf_counter() - started:.1f} s"
        info_file.write_text(json.dumps(info, indent=2))
        print(f"migrated {folder}: {info['migrated']}", file=sys.stderr)
    return folder / "data", info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=300)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached data set")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        info = generate(args.generate / "data" / "triagebot.json", args.cases, args.active)
        data = args.generate / "data"
        info["root_mb"] = (data / "triagebot.json").stat().st_size / 1e6
        info["history_mb"] = _size(data / "triagebot.history") / 1e6
        root = data / "triagebot.json"
        info["segments"] = len(plain_tables(root.read_bytes(), root)["meta"]["1"]["segments"])
        (args.generate / "info.json").write_text(json.dumps(info, indent=2))
        return 0
    data, info = dataset(args.cases, args.active, args.regenerate)
    run = WORK / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(data, run)
    results = measure(run / "triagebot.json")
    section = report(info, results)
    print(section)
    if args.write:
        write_doc(section)
        print(f"wrote the Store section of {DOC}", file=sys.stderr)
    shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
