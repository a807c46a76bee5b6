"""Benchmark of the SLA summary's computation on the stored facts of a month of cases.

Run ``python -m bench.bench_sla_summary`` (``--cases N``, default 100,000). Cases of six
departments of the example configuration, ingested over 30 days, claimed and most resolved;
each has its respond due time, half were answered in public and a quarter of those wait (or
waited until the resolve) on the customer, so every target and the paused resolve clock are
measured. Times ``summarize_windows`` over the three windows ``triagebot sla`` asks for (the
period, its last week and the week before), median of 5 after one warm-up run; reading the
facts from a store is measured in the PostgreSQL and Store sections. Runs against an older
checkout too (``PYTHONPATH=<older triagebot>``): without a respond target, cases are built
without answers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from triagebot.cases.facts import sla_facts
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority
from triagebot.config.settings import example_config_path, load_settings
from triagebot.sla.summary import summarize_windows

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
DEPARTMENTS = ("billing", "shipping", "customer_service", "sales", "pr", "product")


def _answered(case: Case, claim: datetime, due: datetime, rng: random.Random) -> Case:
    from triagebot.cases.answers import FirstResponse, ResponseVia  # noqa: PLC0415

    at = claim + timedelta(minutes=rng.randint(1, 120))
    first = FirstResponse(at, "@northwind", ResponseVia.REPLY) if rng.random() < 0.5 else None
    waiting = at if first is not None and rng.random() < 0.25 else None
    changes: dict[str, Any] = {"respond_due": due, "first_response": first}
    return replace(case, waiting_since=waiting, **changes)


def cases(count: int) -> list[Case]:
    settings = load_settings(example_config_path(), {})
    rng = random.Random(3)
    found = []
    for n in range(count):
        at = NOW - timedelta(minutes=rng.randint(0, 30 * 24 * 60))
        department = DEPARTMENTS[n % len(DEPARTMENTS)]
        policy = settings.sla_policy(Priority.P2, department)
        calendar = settings.calendar_for(department)
        mention = Mention(f"x:{n}", "x", "post", f"https://x.test/{n}", Author(f"user{n}"),
                          "northwind", at - timedelta(minutes=3))  # fmt: skip
        claim = at + timedelta(minutes=rng.randint(1, 300))
        done = claim + timedelta(minutes=rng.randint(10, 3000))
        state = CaseState.RESOLVED if done < NOW else CaseState.CLAIMED
        case = Case(
            str(n), mention, department, Priority.P2, state, at,
            calendar.add(at, policy.claim_within), calendar.add(at, policy.resolve_within),
            first_claimed_at=claim, claimed_at=claim,
            resolved_at=done if state is CaseState.RESOLVED else None,
        )  # fmt: skip
        if hasattr(policy, "respond_within"):  # an older checkout has no respond target
            respond_due = calendar.add(at, policy.respond_within)
            case = _answered(case, claim, respond_due, random.Random(n))
        found.append(case)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args(argv)
    settings = load_settings(example_config_path(), {})
    facts = [sla_facts(c) for c in cases(args.cases)]
    windows = [
        (NOW - timedelta(days=30), NOW),
        (NOW - timedelta(days=7), NOW),
        (NOW - timedelta(days=14), NOW - timedelta(days=7)),
    ]
    summarize_windows(facts, settings.calendar_for, NOW, windows)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        summarize_windows(facts, settings.calendar_for, NOW, windows)
        runs.append(time.perf_counter() - t0)
    print(
        f"summary of {len(facts):,} cases' facts, three windows: median "
        f"{statistics.median(runs) * 1000:.0f} ms (runs {[round(r * 1000) for r in runs]}); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
