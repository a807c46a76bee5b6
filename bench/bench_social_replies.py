"""Benchmark of the public replies and thread reads of the X, Mastodon, Bluesky, Reddit and
Hacker News sources, the reply length counts, and the thread-read arithmetic for 1,000 active
cases.

Run ``python -m bench.bench_social_replies`` (``--write`` also puts the results into the
"Social source replies and threads" section of ``docs/benchmarks.md``). Every platform answer
comes from memory through ``httpx.MockTransport``, so no time is network time: what is
measured is what the adapter adds (checking the length, building the request, reading the
answer, walking and capping the thread's posts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.bench_source_replies import (
    CASES,
    REPLIES,
    THREADS,
    _summary,
    _timed,
    budget_rows,
    write_section,
)
from bench.bench_store import _machine
from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from integrations.sources._lengths import graphemes, mastodon_length, x_weighted_length
from triagebot.actions.public import PublicThreads, reply_capable
from triagebot.cases.records import Mention
from triagebot.config.file import BrandConfig
from triagebot.config.settings import SourceConfig
from triagebot.ingest.threads import BUDGET_SHARE

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Social source replies and threads"
NOW = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)
BRAND = BrandConfig(name="Northwind", keywords=["northwind"], handles=["northwind_support"])
TEXT = "Hi, sorry about that! We've reversed the duplicate charge: https://northwind.com/help 👍"
COUNTS = 2_000
ENV = {
    "X_BEARER_TOKEN": "app",
    "X_REPLY_TOKEN": "user",
    "MASTODON_REPLY_TOKEN": "write",
    "BLUESKY_HANDLE": "listener.bsky.social",
    "BLUESKY_APP_PASSWORD": "read",
    "BLUESKY_REPLY_HANDLE": "northwind.com",
    "BLUESKY_REPLY_APP_PASSWORD": "write",
    "REDDIT_CLIENT_ID": "id",
    "REDDIT_CLIENT_SECRET": "secret",
    "REDDIT_USERNAME": "listener",
    "REDDIT_PASSWORD": "read",
    "REDDIT_REPLY_REFRESH_TOKEN": "brand",
}


def _at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _x_search() -> dict[str, Any]:
    tweets = [
        {
            "id": str(1900600000000000000 + i),
            "text": f"@someone reply {i} &amp; more about order NW-{i}",
            "author_id": str(i % 7),
            "conversation_id": str(1900500000000000000 + i % 12),
            "created_at": _at(i),
            "referenced_tweets": [{"type": "replied_to", "id": "1900500000000000000"}],
        }
        for i in range(100)
    ]
    users = [{"id": str(i), "username": f"user_{i}"} for i in range(7)]
    return {"data": tweets, "includes": {"users": users}, "meta": {"result_count": 100}}


def _status(i: int) -> dict[str, Any]:
    return {
        "id": str(114161700000000000 + i),
        "uri": f"https://social.example/users/u{i}/statuses/{i}",
        "url": f"https://social.example/@u{i}/{i}",
        "created_at": _at(i),
        "in_reply_to_id": "114161579662965381",
        "spoiler_text": "",
        "content": f"<p>Reply {i} &amp; <a href='https://x.example'>link</a></p>",
        "account": {"acct": f"u{i}@social.example", "username": f"u{i}"},
    }


def _sky_thread() -> dict[str, Any]:
    def node(i: int) -> dict[str, Any]:
        post = {
            "uri": f"at://did:plc:u{i}/app.bsky.feed.post/3lk{i:010d}",
            "cid": f"bafy{i}",
            "author": {"did": f"did:plc:u{i}", "handle": f"u{i}.bsky.social"},
            "record": {"text": f"reply {i}", "createdAt": _at(i)},
            "indexedAt": _at(i),
        }
        return {"$type": "app.bsky.feed.defs#threadViewPost", "post": post, "replies": []}

    root = node(999)
    root["replies"] = [node(i) for i in range(20)]
    return {"thread": root}


def _reddit_tree() -> list[dict[str, Any]]:
    def comment(i: int) -> dict[str, Any]:
        data = {
            "name": f"t1_c{i}",
            "author": f"u{i}",
            "body": f"comment {i} <b>not html</b>",
            "parent_id": "t3_1jb3k8x",
            "created_utc": NOW.timestamp() - 60 * i,
            "permalink": f"/r/x/comments/1jb3k8x/t/c{i}/",
            "replies": "",
        }
        return {"kind": "t1", "data": data}

    post = {"kind": "t3", "data": {"name": "t3_1jb3k8x", "author": "tess", "selftext": "x"}}
    return [
        {"kind": "Listing", "data": {"children": [post]}},
        {"kind": "Listing", "data": {"children": [comment(i) for i in range(50)]}},
    ]


def _hn_item() -> dict[str, Any]:
    children = [
        {
            "id": 43371400 + i,
            "author": f"u{i}",
            "text": f"<p>reply {i}</p>",
            "created_at_i": 1741966000 + i,
            "children": [],
        }
        for i in range(30)
    ]
    return {"id": 43371288, "author": "ian", "text": "<p>x</p>", "children": children}


ANSWERS: dict[str, Any] = {
    "/2/tweets/search/recent": _x_search(),
    "/api/v2/instance": {"configuration": {"statuses": {"max_characters": 500}}},
    "/xrpc/app.bsky.feed.getPostThread": _sky_thread(),
    "/api/v1/items/43371288": _hn_item(),
}


def _platform(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path in ANSWERS:
        return httpx.Response(200, json=ANSWERS[path])
    if path == "/2/tweets":
        if request.method == "POST":
            return httpx.Response(201, json={"data": {"id": "1900610000000000001"}})
        return httpx.Response(200, json={"data": []})
    if path == "/api/v1/statuses":
        return httpx.Response(200, json=_status(0))
    if path.endswith("/context"):
        descendants = [_status(i) for i in range(20)]
        return httpx.Response(200, json={"ancestors": [], "descendants": descendants})
    if path.endswith("createSession"):
        login = json.loads(request.content)
        did = f"did:plc:{login['identifier']}"
        return httpx.Response(200, json={"accessJwt": "a", "refreshJwt": "r", "did": did})
    if path.endswith("createRecord"):
        uri = "at://did:plc:n/app.bsky.feed.post/3lke"
        return httpx.Response(200, json={"uri": uri, "cid": "c"})
    if path.endswith("/access_token"):
        token = {"access_token": "t", "token_type": "bearer", "expires_in": 3600}
        return httpx.Response(200, json=token)
    if path == "/api/comment":
        thing = {"kind": "t1", "data": {"name": "t1_new", "permalink": "/r/x/comments/1/t/new/"}}
        return httpx.Response(200, json={"json": {"errors": [], "data": {"things": [thing]}}})
    if path.startswith("/comments/"):
        return httpx.Response(200, json=_reddit_tree())
    return httpx.Response(404, json={"error": f"no route {path}"})


def _sources() -> dict[str, BaseSource]:
    base = "http://platform.test"
    blocks: dict[str, dict[str, Any]] = {
        "x": {},
        "mastodon": {"hashtags": ["northwind"]},
        "bluesky": {},
        "reddit": {"token_url": f"{base}/api/v1/access_token"},
        "hackernews": {"firebase_url": f"{base}/v0"},
    }
    made = {}
    for kind, options in blocks.items():
        config = SourceConfig.model_validate(
            {"name": kind, "type": kind, "base_url": base, **options}
        )
        made[kind] = ADAPTERS[kind](config, BRAND, ENV, lambda: NOW)
    return made


def _mention(source: BaseSource, number: int) -> Mention:
    raws: dict[str, dict[str, Any]] = {
        "x": {
            "id": str(1900500000000000000 + number),
            "conversation_id": str(1900500000000000000 + number),
        },
        "mastodon": {"id": str(114161579662965381 + number), "account": {"acct": "lena"}},
        "bluesky": {"uri": f"at://did:plc:w/app.bsky.feed.post/3lkd{number:09d}", "cid": "bafy"},
        "reddit": {"name": "t3_1jb3k8x"},
        "hackernews": {},
    }
    raw = raws[source.kind]
    external = {"hackernews": "43371288", "reddit": "t3_1jb3k8x"}.get(source.kind)
    external = external or str(raw.get("uri") or raw.get("id"))
    return source.mention(
        external,
        url="https://example.com/post",
        fallback_url="https://example.com",
        handle="customer",
        text="my card was charged twice",
        created_at=NOW - timedelta(hours=1),
        raw=raw,
    )


async def _measure(
    http: httpx.AsyncClient, kind: str, public: PublicThreads, source: BaseSource
) -> tuple[str, str, str, str]:
    batch = max(1, public.thread_budget.batch)
    mentions = [_mention(source, i) for i in range(batch)]

    async def reply() -> object:
        return await public.reply(http, mentions[0], TEXT, "k")

    async def read() -> object:
        return await public.threads(http, mentions)

    if public.can_reply:
        first = await _timed(reply, 1)
        replies = await _timed(reply, REPLIES)
        sent = f"{_summary(replies)} (first call: {first[0]:.1f} ms)"
    else:
        sent = "no write API"
    reads = await _timed(read, THREADS)
    found = await public.threads(http, mentions)
    posts = sum(len(r.posts) for r in found.values())
    return (
        kind,
        sent,
        f"{_summary(reads)} for {batch} post(s), {posts} thread posts read",
        f"{statistics.median(reads) / batch:.2f} ms",
    )


def _counts() -> list[tuple[str, str]]:
    """Median time of each length count over ordinary and hostile 10,000-character texts."""
    texts = {
        "a reply of 280 mixed characters": ("Thanks! 日本語 👍🏽 https://northwind.com/x " * 7)[
            :280
        ],
        "10,000 characters of @a.a.a. (hostile)": "@a." * 3333,
        "10,000 combining marks (hostile)": "\u0301" * 10_000,
    }
    rows = []
    for name, text in texts.items():
        cells = []
        for count in (x_weighted_length, mastodon_length, graphemes):
            times = []
            for _ in range(max(5, COUNTS // max(1, len(text) // 100))):
                start = time.perf_counter()
                count(text)
                times.append((time.perf_counter() - start) * 1000)
            cells.append(f"{statistics.median(times):.2f} ms")
        rows.append((name, " | ".join(cells)))
    return rows


async def run() -> dict[str, Any]:
    sources = _sources()
    rows: list[tuple[str, str, str, str]] = []
    budgets: list[tuple[str, PublicThreads]] = []
    load = os.getloadavg()[0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(_platform)) as http:
        for kind, source in sources.items():
            public = reply_capable(source)
            assert public is not None and public.can_read_threads, kind
            rows.append(await _measure(http, kind, public, source))
            budgets.append((kind, public))
    counts = _counts()
    load = max(load, os.getloadavg()[0])
    return {"rows": rows, "budgets": budgets, "counts": counts, "load": load}


def section(result: dict[str, Any]) -> str:
    rows = "\n".join(f"| {k} | {r} | {t} | {p} |" for k, r, t, p in result["rows"])
    budgets = "\n".join(budget_rows(result["budgets"]))
    counts = "\n".join(f"| {name} | {cells} |" for name, cells in result["counts"])
    return f"""{HEADING}

`python -m bench.bench_social_replies --write`. X, Mastodon, Bluesky, Reddit (OAuth) and
Hacker News: `reply` ({REPLIES} times; Hacker News has no write API) and `threads` ({THREADS}
times, one batch of the source's size) against answers served from memory through
`httpx.MockTransport`, so no time is network time: this is what the adapter adds to the
platform's own time (the length count, the request, reading the answer, walking and capping
the thread). The first reply of Bluesky and Reddit includes logging in (a session, a token).

Machine: {_machine()}; load average {result["load"]:.1f} when measured.

| Source | reply (adapter time) | thread read | per case read |
| --- | --- | --- | --- |
{rows}

Reply length counts (plain string scans and grapheme clusters; no backtracking pattern: the
`twitter-text-parser` package took 207 s on the second text), medians:

| text | X weighted | Mastodon | graphemes (Bluesky) |
| --- | --- | --- | --- |
{counts}

Thread reads for {CASES:,} active cases at the defaults, as in the section above (at most
`BUDGET_SHARE` = {BUDGET_SHARE} of each free limit, a case at most every 5 min). Each `threads`
call is one API request, except X: one recent search for up to 12 conversations plus one
`GET /2/tweets` for whether the posts still exist (its own limit, 3,500 per 15 min, is higher),
and Hacker News when Algolia no longer has an item (one Firebase item read). The search
limits are shared with polling, which runs on the other half.

| Source | `thread_budget` | calls a round | round | each case read | calls a day (limit) |
| --- | --- | --- | --- | --- | --- |
{budgets}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="social source replies and threads benchmark")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = section(asyncio.run(run()))
    print(text)
    if args.write:
        write_section(text, DOC, HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
