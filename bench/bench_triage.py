"""Benchmark of the router: mentions per second with the default rules and with 5,000 more.

Run ``python -m bench.bench_triage`` (``--write`` puts the results into the "Triage" section
of ``docs/benchmarks.md``). The process is pinned to one core. Mentions are the labelled
posts of tests/data/triage_posts.jsonl, each made unique with an order number and a handle,
routed round-robin. The large rule set is the default rules plus 5,000 generated rules
(3-6 terms each, a fifth of them phrases; every 20th with a regular expression, every 10th
with an ``unless`` term, every 25th with a ``when`` condition) over a vocabulary of real
and made-up words (one in twenty a common word, so some of them fire on ordinary posts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triagebot.cases.records import Author, Mention, Priority
from triagebot.routing.router import Router

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
POSTS = ROOT / "tests" / "data" / "triage_posts.jsonl"
RULES = ROOT / "rules"
DEPARTMENTS = ("customer_service", "sales", "shipping", "billing", "hr", "pr", "product")


def load_posts(path: Path = POSTS) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def as_mention(number: int, post: dict[str, Any]) -> Mention:
    source = str(post.get("source", "x"))
    return Mention(
        id=f"{source}:{number}",
        source=source,
        kind=source,
        url=f"https://example.invalid/{number}",
        author=Author(f"user{number}", followers=post.get("followers", 250)),
        text=str(post["text"]),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lang=post.get("lang"),
    )


GENERATED = 5_000
COMMON = """order refund parcel invoice login app crash price stock size shipping delivery card
account warranty broken love thanks job interview press idea feature design store support
update charge return box late week days team help email phone screen battery"""
REAL_WORDS = COMMON.split()


def mentions(count: int, seed: int = 7) -> list[Mention]:
    rng = random.Random(seed)
    posts = load_posts()
    found = []
    for n in range(count):
        p = dict(posts[n % len(posts)])
        p["text"] = f"@user{rng.randrange(10**6)} {p['text']} #{rng.randrange(10**5, 10**6)}"
        found.append(as_mention(n, p))
    return found


def _word(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(REAL_WORDS)
    return "".join(
        rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4))
    )


def generated_rules(folder: Path, count: int = GENERATED, seed: int = 11) -> None:
    """``count`` rules spread over the departments, in files of 500."""
    rng = random.Random(seed)
    departments = list(DEPARTMENTS)
    for start in range(0, count, 500):
        lines = ["rules:"]
        for n in range(start, min(start + 500, count)):
            terms = [
                " ".join(_word(rng) for _ in range(2)) if rng.random() < 0.2 else _word(rng)
                for _ in range(rng.randint(3, 6))
            ]
            lines += [f"  - name: g{n}", f"    department: {rng.choice(departments)}"]
            lines.append(f"    weight: {rng.choice([1, 1.5, 2, 2.5, 3])}")
            lines.append("    terms: [" + ", ".join(f'"{t}"' for t in terms) + "]")
            if n % 20 == 0:
                lines.append(f"    regex: ['\\b{_word(rng)}\\s+\\d{{3,}}']")
            if n % 10 == 0:
                lines.append(f'    unless: ["{_word(rng)}"]')
            if n % 25 == 0:
                lines.append("    when: {source: [x, reddit]}")
        (folder / f"generated_{start // 500:02d}.yaml").write_text("\n".join(lines) + "\n")


def rate(router: Router, batch: list[Mention], seconds: float = 3.0) -> float:
    """Mentions routed per CPU second, best of repeated passes over ``batch`` for ``seconds``."""
    for mention in batch[:500]:
        router.route(mention)  # warm the stem cache like a running server
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.process_time()  # CPU time: other processes on the machine do not count
        for mention in batch:
            router.route(mention)
        best = max(best, len(batch) / (time.process_time() - start))
    return best


def timed_load(folder: Path) -> tuple[Router, float]:
    start = time.perf_counter()
    router = Router.load(folder, DEPARTMENTS, Priority.P2)
    return router, time.perf_counter() - start


def run() -> dict[str, float]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    batch = mentions(20_000)
    default, load_default = timed_load(RULES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in [*RULES.glob("*.yaml"), *RULES.glob("*.jsonl")]:
            shutil.copy(path, folder / path.name)
        generated_rules(folder)
        large, load_large = timed_load(folder)
    base = rate(default, batch)
    big = rate(large, batch)
    return {
        "rules_default": len(default.ruleset.rules),
        "patterns_default": default.compiled.size,
        "rules_large": len(large.ruleset.rules),
        "patterns_large": large.compiled.size,
        "load_default": load_default,
        "load_large": load_large,
        "rate_default": base,
        "rate_large": big,
        "slowdown": base / big,
    }


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def section(r: dict[str, float]) -> str:
    python = platform.python_version()
    machine = f"{platform.platform()}, {_cpu()}, {os.cpu_count()} cores, Python {python}"
    met = "met" if r["rate_default"] >= 20_000 else "NOT met"
    met_large = "met" if r["slowdown"] < 3 else "NOT met"
    return "\n".join(
        [
            "## Triage",
            "",
            "`python -m bench.bench_triage --write` (one core; `Router.route` on 20,000 unique "
            "mentions built from the labelled posts, best pass of 3 s, in CPU time).",
            "",
            f"Machine: {machine}, {datetime.now(UTC):%Y-%m-%d}.",
            "",
            "| Measure | Result | Target |",
            "| --- | --- | --- |",
            f"| default rules ({r['rules_default']:.0f} rules, {r['patterns_default']:.0f} "
            f"automaton patterns): mentions routed per second | {r['rate_default']:,.0f} | "
            f">= 20,000 ({met}) |",
            f"| default + 5,000 generated rules ({r['rules_large']:.0f} rules, "
            f"{r['patterns_large']:.0f} patterns): mentions routed per second | "
            f"{r['rate_large']:,.0f} ({r['slowdown']:.2f}x slower) | < 3x slower ({met_large}) |",
            f"| load and compile rules/ (default / with 5,000 generated) | "
            f"{r['load_default'] * 1000:.0f} ms / {r['load_large'] * 1000:.0f} ms |  |",
            "",
        ]
    )


def replace_section(content: str, text: str) -> str:
    """``content`` with its "## Triage" section replaced by ``text`` (or ``text`` appended)."""
    start = content.find("## Triage")
    if start < 0:
        return content.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    end = content.find("\n## ", start + 1)
    rest = content[end + 1 :] if end >= 0 else ""
    return (content[:start] + text.rstrip("\n") + "\n" + ("\n" + rest if rest else "")).rstrip(
        "\n"
    ) + "\n"


def write_section(text: str, doc: Path = DOC) -> None:
    content = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    doc.write_text(replace_section(content, text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="router throughput benchmark")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = section(run())
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
