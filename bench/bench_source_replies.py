"""Benchmark of the public replies and thread reads of the Discourse, Google Play, Facebook,
Instagram, Stack Exchange and App Store sources, and the thread-read arithmetic for 1,000
active cases.

Run ``python -m bench.bench_source_replies`` (``--write`` also puts the results into the
"Source replies and threads" section of ``docs/benchmarks.md``). Every platform answer comes
from memory through ``httpx.MockTransport``, so no time is network time: what is measured is
what the adapter spends (building the request, signing tokens, reading the answer, capping
the thread's posts), the part of "reply click to public post" that is triagebot's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from math import ceil
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.bench_store import _machine
from bench.poll_payloads import service_account_key
from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from triagebot.actions.public import PublicThreads, reply_capable
from triagebot.cases.records import Mention
from triagebot.config.file import BrandConfig
from triagebot.config.settings import SourceConfig
from triagebot.ingest.threads import BUDGET_SHARE

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Source replies and threads"
REPLIES = 300
THREADS = 300
CASES = 1_000
CHECK_EVERY = 300.0  # seconds: [replies] check_every's default
NOW = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)
BRAND = BrandConfig(name="Northwind", keywords=["northwind"], handles=["northwind_support"])
TEXT = "Hi, sorry about that! Zippers are covered for life: we've sent you a message."
EC_KEY = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


def _json(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=data)


def _thread_posts(count: int) -> list[dict[str, Any]]:
    cooked = "<p>Still waiting on order NW-104822 &amp; the <b>replacement</b> zipper.</p>"
    return [
        {"id": 31877 + i, "post_number": 3 + i, "username": f"u{i}", "cooked": cooked,
         "created_at": "2025-03-14T11:05:12.331Z", "post_type": 1, "topic_slug": "zip"}
        for i in range(count)
    ]  # fmt: skip


def _platform(request: httpx.Request) -> httpx.Response:
    """Every endpoint the six sources write to or read threads from, answered at once."""
    path = request.url.path
    if path == "/token":
        return _json({"access_token": "ya29.bench", "expires_in": 3600, "token_type": "Bearer"})
    if path == "/posts.json":
        return _json({"id": 1, "post_number": 9, "topic_id": 5190, "topic_slug": "zip"})
    if path.startswith("/t/"):
        return _json({"post_stream": {"posts": _thread_posts(20)}})
    if path.endswith(":reply"):
        return _json({"result": {"replyText": TEXT, "lastEdited": {"seconds": "1741968000"}}})
    if "/reviews" in path:
        reviews = [_play_review(str(i)) for i in range(100)]
        return _json({"reviews": reviews} if path.endswith("/reviews") else reviews[0])
    if path.endswith(("/comments", "/replies")) and request.method == "POST":
        return _json({"id": "122_99"})
    if path.endswith(("/comments", "/replies")) and "/2.3/" not in path:
        item = {"id": "122_1", "from": {"id": "112233445566778", "name": "Northwind"},
                "message": TEXT, "text": TEXT, "created_time": "2025-03-14T15:00:00+0000",
                "timestamp": "2025-03-14T15:00:00+0000", "username": "northwind"}  # fmt: skip
        return _json({"data": [item] * 25, "paging": {"cursors": {"after": "x"}}})
    if path.endswith("/comments/add"):
        return _json({"items": [{"comment_id": 138250, "post_id": 1}], "quota_remaining": 9})
    if path.startswith("/2.3/"):
        return _json({"items": _se_items(path), "has_more": False, "quota_remaining": 9000})
    if path.endswith("/customerReviewResponses"):
        return _json({"data": {"type": "customerReviewResponses", "id": "r1"}}, 201)
    if path.endswith("/customerReviews"):
        return _json(_connect_reviews())
    return httpx.Response(404)


def _play_review(review_id: str) -> dict[str, Any]:
    stamp = {"seconds": "1741960000", "nanos": 0}
    comments = [
        {"userComment": {"text": "Freezes\tat checkout", "lastModified": stamp}},
        {"developerComment": {"text": TEXT, "lastModified": {"seconds": "1741965000"}}},
    ]
    return {"reviewId": review_id, "authorName": "Dana", "comments": comments}


def _se_items(path: str) -> list[dict[str, Any]]:
    ids = [int(i) for i in path.split("/")[3].split(";")]
    owner = {"user_id": 52001, "display_name": "Gear &amp; Repair"}
    if path.endswith("/answers"):
        return [{"answer_id": 9_000 + i, "question_id": i, "owner": owner,
                 "creation_date": 1741960100, "body": "<p>Try the <code>slider</code>.</p>"}
                for i in ids]  # fmt: skip
    if path.endswith("/comments"):
        return [{"comment_id": 7_000 + i, "post_id": i, "owner": owner,
                 "creation_date": 1741967210, "body": "Thanks &mdash; filed it."}
                for i in ids]  # fmt: skip
    return [{"question_id": i} for i in ids]


def _connect_reviews() -> dict[str, Any]:
    reviews = [
        {
            "type": "customerReviews",
            "id": f"asc-{i}",
            "attributes": {"rating": 1, "title": f"Title {i}", "reviewerNickname": f"nick{i}"},
            "relationships": {"response": {"data": {"id": f"r{i}"}}},
        }
        for i in range(200)
    ]
    included = [
        {"type": "customerReviewResponses", "id": f"r{i}",
         "attributes": {"responseBody": TEXT, "lastModifiedDate": "2025-03-14T08:10:00-07:00"}}
        for i in range(200)
    ]  # fmt: skip
    return {"data": reviews, "included": included, "links": {}}


def _sources() -> dict[str, BaseSource]:
    env = {
        "DISCOURSE_REPLY_KEY": "k",
        "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": service_account_key("https://bench.invalid/token"),
        "FACEBOOK_PAGE_TOKEN": "r",
        "FACEBOOK_PUBLISH": "w",
        "INSTAGRAM_ACCESS_TOKEN": "r",
        "INSTAGRAM_PUBLISH": "w",
        "STACKEXCHANGE_KEY": "k",
        "SE_WRITE": "w",
        "ASC_ISSUER": "57246542-96fe-1a63-e053-0824d011072a",
        "ASC_KEY_ID": "2X9R4HXF34",
        "ASC_KEY_P8": EC_KEY.decode(),
    }
    blocks: dict[str, dict[str, Any]] = {
        "discourse": {"base_url": "https://forum.bench.invalid", "reply_username": "nw",
                      "reply_api_key_env": "DISCOURSE_REPLY_KEY"},
        "googleplay": {"package_name": "com.northwind.outfitters",
                       "reply_service_account_json_env": "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON"},
        "facebook": {"page_id": "112233445566778", "reply_token_env": "FACEBOOK_PUBLISH"},
        "instagram": {"account_id": "17841405822304914", "reply_token_env": "INSTAGRAM_PUBLISH"},
        "stackexchange": {"site": "outdoors", "key_env": "STACKEXCHANGE_KEY",
                          "reply_access_token_env": "SE_WRITE"},
        "appstore": {"app_id": "1498765432", "connect_issuer_id_env": "ASC_ISSUER",
                     "connect_key_id_env": "ASC_KEY_ID", "connect_private_key_env": "ASC_KEY_P8"},
    }  # fmt: skip
    made: dict[str, BaseSource] = {}
    for kind, options in blocks.items():
        config = SourceConfig.model_validate({"name": kind, "type": kind, **options})
        made[kind] = ADAPTERS[kind](config, BRAND, env, lambda: NOW)
    return made


def _mention(source: BaseSource, number: int) -> Mention:
    raw: dict[str, Any] = {"topic_id": 5190, "post_number": 3, "post_id": "122", "media_id": "1"}
    raw |= {"author": {"name": {"label": f"nick{number % 200}"}},
            "title": {"label": f"Title {number % 200}"}, "im:rating": {"label": "1"}}  # fmt: skip
    external = str(number) if source.kind == "stackexchange" else f"{number}"
    return source.mention(
        external,
        url=f"https://bench.invalid/p/{number}",
        fallback_url="https://bench.invalid/",
        handle=f"u{number}",
        text="Northwind zipper split",
        created_at=datetime(2025, 3, 14, 11, 0, tzinfo=UTC),
        raw=raw,
    )


async def _timed(action: Callable[[], Awaitable[object]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.2f} ms · p95 {p95:.2f} ms"


async def _measure(
    http: httpx.AsyncClient, kind: str, public: PublicThreads, source: BaseSource
) -> tuple[str, str, str, str]:
    batch = max(1, public.thread_budget.batch)
    mentions = [_mention(source, i) for i in range(batch)]

    async def reply() -> object:
        return await public.reply(http, mentions[0], TEXT, "k")

    async def read() -> object:
        return await public.threads(http, mentions)

    first = await _timed(reply, 1)
    replies = await _timed(reply, REPLIES)
    reads = await _timed(read, THREADS)
    found = await public.threads(http, mentions)
    posts = sum(len(r.posts) for r in found.values())
    return (
        kind,
        f"{_summary(replies)} (first call: {first[0]:.1f} ms)",
        f"{_summary(reads)} for {batch} post(s), {posts} thread posts read",
        f"{statistics.median(reads) / batch:.2f} ms",
    )


async def run() -> dict[str, Any]:
    sources = _sources()
    rows: list[tuple[str, str, str, str]] = []
    budgets: list[tuple[str, PublicThreads]] = []
    load = os.getloadavg()[0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(_platform)) as http:
        for kind, source in sources.items():
            public = reply_capable(source)
            assert public is not None and public.can_reply, kind
            rows.append(await _measure(http, kind, public, source))
            budgets.append((kind, public))
    return {"rows": rows, "budgets": budgets, "load": max(load, os.getloadavg()[0])}


def budget_rows(budgets: list[tuple[str, PublicThreads]]) -> list[str]:
    """For each source: how long one read of all 1,000 cases takes within half its limit."""
    lines = []
    for kind, public in budgets:
        budget = public.thread_budget
        rate = BUDGET_SHARE * budget.requests / budget.per_seconds  # calls a second
        calls = ceil(CASES / max(1, budget.batch))
        round_s = calls / rate
        every = max(CHECK_EVERY, round_s)
        per_day = rate * 86_400
        lines.append(
            f"| {kind} | {budget.requests:,} per {budget.per_seconds:,.0f} s, "
            f"{budget.batch} a call | {calls:,} | {round_s / 60:,.1f} min | "
            f"every {every / 60:,.1f} min | {per_day:,.0f} of "
            f"{budget.requests * 86_400 / budget.per_seconds:,.0f} a day |"
        )
    return lines


def section(result: dict[str, Any]) -> str:
    rows = "\n".join(f"| {k} | {r} | {t} | {p} |" for k, r, t, p in result["rows"])
    budgets = "\n".join(budget_rows(result["budgets"]))
    return f"""{HEADING}

`python -m bench.bench_source_replies --write`. Discourse, Google Play, Facebook Page,
Instagram, Stack Exchange and App Store: `reply` ({REPLIES} times) and `threads` ({THREADS}
times, one batch of the source's size) against answers served from memory through
`httpx.MockTransport`, so no time is network time: this is what the adapter adds to the
platform's own time (building and signing the request, reading the answer, capping the
posts). The first reply of Google Play and App Store includes the service-account token
exchange (RS256) or the ES256 signature, and App Store's the listing of 200 App Store
Connect reviews that finds the feed's review; later replies reuse the token and the match. A
thread read of App Store includes that listing every time.

Machine: {_machine()}; load average {result["load"]:.1f} when measured.

| Source | reply (adapter time) | thread read | per case read |
| --- | --- | --- | --- |
{rows}

Thread reads for {CASES:,} active cases at the defaults: the leader spends at most half of
each source's declared free limit (`BUDGET_SHARE` = {BUDGET_SHARE}) and reads a case at most
every `[replies] check_every` (5 min). Calls per round = {CASES:,} / batch; a round takes
calls / (half the limit per second); each case is read every max(5 min, round). A
`threads` call is one API request, except Stack Exchange (four requests for up to 30
questions: the budget is its 10,000 requests a day / 4), Google Play (one `reviews.list` and
at most three `reviews.get`: 200 an hour / 4) and App Store (up to three listing pages: 3,600
an hour / 3).

| Source | `thread_budget` | calls a round | round | each case read | calls a day (limit) |
| --- | --- | --- | --- | --- | --- |
{budgets}

The Graph sources have the tightest free limit (Business Use Case: 4,800 calls a day per
engaged user of the Page, 200 an hour with one; more with a busier Page): {CASES:,} cases
are each read about every 10 hours there, so an answer given on Facebook or Instagram itself
is seen within that time (a reply sent from triagebot is recorded at once). Google Play reads
the reviews changed in the last week in one call; its read quota is shared with the
`reviews.list` polling.
"""


def write_section(text: str, doc: Path = DOC, heading: str = HEADING) -> None:
    """Put ``text`` in ``doc`` in place of its ``heading`` section (appended when absent)."""
    content = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    start = content.find(heading)
    if start < 0:
        merged = content.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = content.find("\n## ", start + 1)
        rest = content[end + 1 :] if end >= 0 else ""
        merged = content[:start] + text.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    doc.write_text(merged.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="source replies and threads benchmark")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = section(asyncio.run(run()))
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
