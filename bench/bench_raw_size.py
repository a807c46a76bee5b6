"""Size of a stored case document per source, with the source's whole payload in ``raw`` and
with only the fields the adapter declares (``RAW_FIELDS``).

Run ``python -m bench.bench_raw_size``. Each source is polled once from its recorded fixtures
over a loopback server (``tests.sources.recorded_polls``); for each mention, the case it would
become (``Case.to_dict``, compact JSON as the stores write it, without its events, outbox items
and surface references, which do not depend on ``raw``) is serialised twice: with the raw the
adapter now keeps, and with the raw it kept before (the whole item, capped by
``triagebot.cases.caps``). "parsed" is what ``json.loads`` of the document allocates
(tracemalloc), the form the TinyDB store holds an active case's document in. Prints a Markdown
table of medians per source.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bench.bench_store import _machine
from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from tests.conftest import EXAMPLE_CONFIG
from tests.sources.conftest import Clock
from tests.sources.recorded_polls import POLLS
from tests.sources.server import FakeServer
from tests.store.builders import make_case
from triagebot.cases.caps import cap_raw
from triagebot.cases.records import Mention
from triagebot.config.settings import SourceConfig, load_settings

#: What each adapter stored in ``raw`` before it kept only its declared fields.
BEFORE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "hackernews": lambda hit: {k: v for k, v in hit.items() if k != "_highlightResult"},
    "discourse": lambda post: {
        k: v for k, v in post.items() if k not in ("cooked", "avatar_template")
    },
    "instagram": lambda item: {k: v for k, v in item.items() if k != "replies"},
    "rss": lambda entry: {
        "id": entry.get("id"),
        "link": entry.get("link"),
        "title": entry.get("title"),
        "published": dict.get(entry, "published") or dict.get(entry, "updated"),
        "author": entry.get("author"),
    },
}


def _at(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def document(mention: Mention) -> str:
    case = replace(make_case("1"), mention=mention)
    return json.dumps(case.to_dict(), separators=(",", ":"), ensure_ascii=False)


def parsed_bytes(text: str) -> int:
    """What ``json.loads(text)`` allocates and keeps."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = json.loads(text)
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return size


async def measure_source(kind: str, settings_path: Path) -> dict[str, Any]:
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(settings_path)})
    clock = Clock()
    server = FakeServer()
    await server.start()

    def make_source(kind_: str, env: dict[str, str] | None = None, **options: Any) -> BaseSource:
        options.setdefault("name", kind_)
        options.setdefault("base_url", server.url)
        options.setdefault("backfill", "2d")
        config = SourceConfig.model_validate({"type": kind_, **options})
        return ADAPTERS[kind_](config, settings.config.brand, env or {}, clock)

    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
            polled = await POLLS[kind](server, http, make_source, clock)
    finally:
        await server.close()
    by_key = {str(_at(item, polled.key)): item for item in polled.items}
    old_raw = BEFORE.get(kind, dict)
    rows: dict[str, list[int]] = {k: [] for k in ("doc0", "doc1", "raw0", "raw1", "mem0", "mem1")}
    for mention in polled.mentions:
        item = by_key[str(_at(mention.raw, polled.key))]
        old = replace(mention, raw=cap_raw(old_raw(item)))
        for suffix, version in (("0", old), ("1", mention)):
            text = document(version)
            rows["doc" + suffix].append(len(text.encode()))
            raw = json.dumps(version.raw, separators=(",", ":"), ensure_ascii=False)
            rows["raw" + suffix].append(len(raw.encode()))
            rows["mem" + suffix].append(parsed_bytes(text))
    return {"kind": kind, "mentions": len(polled.mentions)} | {
        k: statistics.median(v) for k, v in rows.items()
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| source (mentions) | document before → after | raw before → after "
        "| parsed before → after |",
        "| --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['kind']} ({r['mentions']}) | {r['doc0']:,.0f} → {r['doc1']:,.0f} B "
            f"({r['doc1'] / r['doc0'] - 1:+.0%}) | {r['raw0']:,.0f} → {r['raw1']:,.0f} B "
            f"| {r['mem0'] / 1024:,.1f} → {r['mem1'] / 1024:,.1f} kB |"
        )
    return "\n".join(lines)


async def run(kinds: list[str]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        return [await measure_source(kind, Path(tmp) / "db" / "triagebot.json") for kind in kinds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", nargs="*", default=list(POLLS), choices=list(POLLS))
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.sources))
    print(f"Machine: {_machine()}; load average {os.getloadavg()[0]:.2f}")
    print("Medians per mention.\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
