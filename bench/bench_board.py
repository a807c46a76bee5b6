"""Benchmark of the board: the page and its live fragment with 10,000 open cases.

Run ``python -m bench.bench_board`` (``--write`` also puts the results into the "Board" section
of ``docs/benchmarks.md``). The store is a TinyDB file holding 10,000 active cases of the example
configuration's departments (the watcher benchmark's data set: 40% claimed); the board is
mounted on an aiohttp app and fetched over 127.0.0.1 the way a browser does, so each time
includes reading the active cases, grouping and sorting them, the SLA clock of every card drawn
(at most 200 a column) and the template.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.bench_store import _machine, write_doc
from bench.bench_watch import EXAMPLE, NOW, seed
from integrations.board.app import add_board
from integrations.board.views import PER_COLUMN, PER_DEPARTMENT, Filters, columns
from integrations.board.web import BoardOptions
from triagebot.cases.records import ACTIVE_STATES
from triagebot.config.settings import load_settings
from triagebot.runtime.wiring import Runtime
from triagebot.store import open_store

TARGETS = {"page_ms": 1000.0}
ROUNDS = 7


async def _timed(client: TestClient[Any, Any], path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    response = await client.get(path)
    body = await response.read()
    assert response.status == 200, response.status
    return time.perf_counter() - t0, len(body)


async def _measure(runtime: Runtime) -> dict[str, Any]:
    app = web.Application()
    add_board(runtime, app, BoardOptions(writable=True, demo=True))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        result: dict[str, Any] = {}
        for label, path in (
            ("page", "/"),
            ("fragment", "/board/columns"),
            ("one_department", "/?department=shipping"),
        ):
            await _timed(client, path)  # warm: templates compiled, calendars built
            samples = [await _timed(client, path) for _ in range(ROUNDS)]
            result[label] = statistics.median(s for s, _ in samples)
            result[f"{label}_max"] = max(s for s, _ in samples)
            result[f"{label}_bytes"] = samples[0][1]
        return result
    finally:
        await client.close()


def run(count: int) -> dict[str, Any]:
    settings = load_settings(EXAMPLE, {})
    folder = Path(tempfile.mkdtemp(prefix="bench-board-"))
    try:
        store = open_store(folder / "db.json")
        seed(store, settings, count)
        store.close()
        runtime = Runtime.build(settings, store=open_store(folder / "db.json"), clock=lambda: NOW)
        try:
            result = asyncio.run(_measure(runtime))
            listing, views = [], []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                cases = runtime.store.list_cases(states=ACTIVE_STATES)
                listing.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                drawn = columns(cases, settings, Filters(), NOW)
                views.append(time.perf_counter() - t0)
            listing_s, view = statistics.median(listing), statistics.median(views)
            cards = sum(len(cards) for c in drawn for _, cards in c.groups)
            return result | {"list": listing_s, "view": view, "cards": cards, "cases": len(cases)}
        finally:
            runtime.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report(r: dict[str, Any]) -> str:
    target = TARGETS["page_ms"]
    met = "met" if r["page"] * 1000 <= target else "MISSED"
    rows = [
        (f"GET / with {r['cases']:,} active cases (median of {ROUNDS}, {r['cards']:,} cards "
         f"drawn, at most {PER_COLUMN} a column; {r['page_bytes'] / 1e6:.1f} MB of HTML)",
         f"{_ms(r['page'])} (max {_ms(r['page_max'])})", f"≤ {target:.0f} ms ({met})"),
        ("GET /board/columns (what each live refresh fetches)",
         f"{_ms(r['fragment'])} (max {_ms(r['fragment_max'])})", ""),
        (f"GET /?department=shipping (up to {PER_DEPARTMENT} cards, "
         f"{r['one_department_bytes'] / 1e3:.0f} kB)",
         f"{_ms(r['one_department'])} (max {_ms(r['one_department_max'])})", ""),
        ("… of which list_cases(active) alone", _ms(r["list"]), ""),
        ("… of which grouping, sorting and the SLA clocks of the cards drawn", _ms(r["view"]), ""),
    ]  # fmt: skip
    return "\n".join(
        [
            "## Board",
            "",
            "`python -m bench.bench_board --write`. The board mounted on an aiohttp app, fetched "
            "over 127.0.0.1; TinyDB store of active cases of the example configuration's "
            "departments (the watcher benchmark's data set, 40% claimed); each department's "
            f"column draws its most urgent cases (at most {PER_COLUMN}; {PER_DEPARTMENT} when "
            "filtered to one department) and counts the rest. Medians of 7 after one warm-up.",
            "",
            f"Machine: {_machine()}.",
            "",
            "| Measure | Result | Target |",
            "| --- | --- | --- |",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    section = report(run(args.cases))
    print(section)
    if args.write:
        write_doc(section, "## Board")
    return 0


if __name__ == "__main__":
    sys.exit(main())
