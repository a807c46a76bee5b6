"""Learning from the team: does routing get better on an industry it has never seen?

For each evaluation industry (``tests/data/routing_eval/<industry>.jsonl``, none of them in the
training corpus) on its own: its posts, shuffled with a fixed seed (the file is grouped by
label, a real stream is not), are split in time order into an *early* half that a deployment
ingests and whose misrouted cases staff correct, and a *later* half that is only routed. The
early half goes in with ``triagebot ingest``; every misrouted case is corrected through the
real commands (``reassign``, which also reopens a post marked as spam, and ``spam``); then
``triagebot routing learn``; the later half is routed with ``triagebot triage --json``
before and after learning. Top-1 is where the router sends the post, or the model's first
choice when it leaves the post to triage.

    python -m bench.bench_learning [--industry rail_transit] [--seed 7] [--database URL]

An evaluation industry has about 95 posts, too few for the corrections a team makes in weeks.
``--stream veterinary_clinics`` feeds instead the learning stream
(``tests/data/routing_stream/<name>.jsonl``: 1,078 posts of one industry that neither the
corpus nor the evaluation set covers) in time order, ``--chunk`` posts at a time: each chunk
is ingested and its misrouted cases corrected, until ``--corrections`` (200) have been made;
then ``routing learn``, and the posts not yet ingested are routed before and after.

    python -m bench.bench_learning --stream veterinary_clinics [--corrections 200] [--database URL]

With ``--resolve`` the team also resolves, through ``triagebot resolve``, every case of the
ingested chunks that was routed right (up to the last correction): what a team does all day,
and a weaker confirmation for learning. Without it, corrections are the only labels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.routing.learning_flow import Deployment, accuracy

EVAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "routing_eval"
STREAM = EVAL.parent / "routing_stream"
#: Posts kept back from a stream to be routed after learning.
MIN_LATER = 100


def load(industry: str, seed: int, folder: Path = EVAL) -> list[dict[str, Any]]:
    path = folder / f"{industry}.jsonl"
    posts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    random.Random(seed).shuffle(posts)
    return posts


def run_one(
    industry: str, seed: int, env: dict[str, str], *, resolve: bool = False
) -> dict[str, Any]:
    posts = load(industry, seed)
    half = len(posts) // 2
    early, later = posts[:half], posts[half:]
    with tempfile.TemporaryDirectory() as folder:
        deployment = Deployment(Path(folder), env).setup([p["text"] for p in posts])
        texts = [p["text"] for p in later]
        before = accuracy(deployment.triage(texts), later)
        started = time.perf_counter()
        deployment.ingest(early)
        corrected = deployment.correct(early, resolve=resolve)
        learned = deployment.learn()
        after = accuracy(deployment.triage(texts), later)
        seconds = time.perf_counter() - started
    return {
        "industry": industry,
        "early": len(early),
        "later": len(later),
        "corrections": corrected,
        "resolved": deployment.resolved,
        "before": before,
        "after": after,
        "activated": learned["activated"],
        "held_out_before": learned["before"]["accuracy"],
        "held_out_after": learned["after"]["accuracy"],
        "overruled_rules": learned.get("overruled_rules", []),
        "seconds": round(seconds, 1),
    }


def run_stream(
    name: str,
    seed: int,
    corrections: int,
    chunk: int,
    env: dict[str, str],
    *,
    resolve: bool = False,
) -> dict[str, Any]:
    """Ingest and correct a stream chunk by chunk until ``corrections``; learn; route the rest."""
    posts = load(name, seed, STREAM)
    with tempfile.TemporaryDirectory() as folder:
        deployment = Deployment(Path(folder), env).setup([p["text"] for p in posts])
        started = time.perf_counter()
        corrected = used = 0
        while corrected < corrections and used + chunk <= len(posts) - MIN_LATER:
            batch = posts[used : used + chunk]
            used += len(batch)
            deployment.ingest(batch)
            corrected += deployment.correct(batch, corrections - corrected, resolve=resolve)
        later = posts[used:]
        texts = [p["text"] for p in later]
        before = accuracy(deployment.triage(texts), later)
        learned = deployment.learn()
        after = accuracy(deployment.triage(texts), later)
        seconds = time.perf_counter() - started
    return {
        "stream": name,
        "early": used,
        "later": len(later),
        "corrections": corrected,
        "resolved": deployment.resolved,
        "before": before,
        "after": after,
        "activated": learned["activated"],
        "held_out": learned["held_out"],
        "held_out_before": learned["before"]["accuracy"],
        "held_out_after": learned["after"]["accuracy"],
        "overruled_rules": learned.get("overruled_rules", []),
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--industry", action="append", help="default: every evaluation industry")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", help="PostgreSQL URL (default: an embedded store)")
    parser.add_argument("--stream", help="a stream of tests/data/routing_stream/ instead")
    parser.add_argument("--corrections", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--resolve", action="store_true", help="resolve the rightly routed")
    args = parser.parse_args()
    industries = args.industry or sorted(p.stem for p in EVAL.glob("*.jsonl"))
    machine = platform.processor() or platform.machine()
    print(f"# {platform.node()} {machine}, Python {sys.version.split()[0]}, {time.ctime()}")
    print(f"# load average {os.getloadavg()[0]:.1f}")
    rows = []
    for industry in [args.stream] if args.stream else industries:
        env: dict[str, str] = {}
        schema = None
        if args.database:
            schema = _schema(args.database)
            env["DATABASE_URL"] = f"{args.database}?options=-csearch_path%3D{schema}"
        try:
            if args.stream:
                row = run_stream(
                    industry, args.seed, args.corrections, args.chunk, env, resolve=args.resolve
                )
            else:
                row = run_one(industry, args.seed, env, resolve=args.resolve)
        finally:
            if schema:
                _drop(args.database, schema)
        rows.append(row)
        print(json.dumps(row), flush=True)
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("before", "after", "corrections")}
    print(json.dumps({"industries": len(rows), "mean": mean}))
    return 0


def _schema(url: str) -> str:
    import psycopg  # noqa: PLC0415

    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    with PostgresStore(url, schema=schema, check_schema=False) as store:
        store.migrate()
    return schema


def _drop(url: str, schema: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    raise SystemExit(main())
