"""A page walk stopped half-way (a pause asked for, a failing page, max_pages) goes on next time
from where it stopped, with the same query, instead of restarting from the newer watermark."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from tests.sources.conftest import Clock, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply

HN = "/api/v1/search_by_date"
BSKY = "/xrpc/app.bsky.feed.searchPosts"
SESSION = "/xrpc/com.atproto.server.createSession"
BSKY_ENV = {"BLUESKY_HANDLE": "brand.example", "BLUESKY_APP_PASSWORD": "app-pass"}
APP = "/us/rss/customerreviews/page={}/id=1498765432/sortBy=mostRecent/json"
RECENT = "/2/tweets/search/recent"
X_TOKEN = "b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal"
MASTODON_NEWEST = "114161579662965381"  # the newest status of the Mastodon tag fixture
OLDEST = "114156919304387639"  # the oldest, on its second page


async def test_reddit_goes_on_after_a_spent_rate_limit(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "60"}
    page1 = fixture_reply("reddit", "search_page1.json")
    page1.headers = {**page1.headers, **spent}
    server.add("/search.json", page1, times=1)
    server.add("/search.json", fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    source = make_source("reddit", query="northwind outfitters", page_size=6, backfill="3d")
    first = await source.poll(http, None)
    assert len(first.mentions) == 6
    assert first.retry_after == 60.0
    clock.now += timedelta(seconds=61)
    second = await source.poll(http, first.cursor)
    seen = server.seen("/search.json")[-1].query
    assert seen["after"] == "t3_1japv51"
    assert seen["count"] == "6"
    assert len(second.mentions) == 4  # RD7..RD10; RD6 repeats and is not reported again
    assert "resume" not in json.loads(second.cursor or "{}")["search"]


async def test_hackernews_goes_on_where_max_pages_stopped(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(HN, fixture_reply("hackernews", "search_by_date_page0.json"), page=0)
    server.add(HN, fixture_reply("hackernews", "search_by_date_page1.json"), page=1)
    source = make_source("hackernews", query="northwind outfitters", page_size=6, max_pages=1)
    first = await source.poll(http, None)
    second = await source.poll(http, first.cursor)
    queries = [r.query for r in server.seen(HN)]
    assert [q["page"] for q in queries] == ["0", "1"]
    assert queries[0]["numericFilters"] == queries[1]["numericFilters"]
    ids = [m.id for m in [*first.mentions, *second.mentions]]
    assert len(ids) == len(set(ids)) == 10


async def test_bluesky_keeps_the_pages_read_before_a_failing_page(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SESSION, Reply(b'{"accessJwt": "t"}', 200, {"content-type": "application/json"}))
    server.add(BSKY, fixture_reply("bluesky", "searchPosts_page1.json"))
    server.add(BSKY, Reply(b"upstream failure", 502), cursor="6", times=1)
    source = make_source("bluesky", env=BSKY_ENV)
    first = await source.poll(http, None)
    assert len(first.mentions) == 6
    assert first.errors
    server.add(BSKY, fixture_reply("bluesky", "searchPosts_page2.json"), cursor="6")
    second = await source.poll(http, first.cursor)
    assert server.seen(BSKY)[-1].query["cursor"] == "6"
    assert second.mentions
    ids = [m.id for m in [*first.mentions, *second.mentions]]
    assert len(ids) == len(set(ids))


async def test_app_store_keeps_page_one_when_page_two_fails(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(APP.format(1), fixture_reply("app_store", "customerreviews_page1.json"))
    server.add(APP.format(2), Reply(b"<html>busy</html>", 503), times=1)
    source = make_source("appstore", app_id="1498765432", backfill="7d")
    first = await source.poll(http, None)
    assert first.mentions
    assert first.errors
    server.add(APP.format(2), fixture_reply("app_store", "customerreviews_page2.json"))
    server.add(APP.format(3), fixture_reply("app_store", "customerreviews_empty.json"))
    second = await source.poll(http, first.cursor)
    assert server.seen(APP.format(2))
    assert second.mentions
    assert not {m.id for m in first.mentions} & {m.id for m in second.mentions}


async def test_x_keeps_the_pages_read_before_a_429(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(RECENT, fixture_reply("x", "recent_page1.json"))
    server.add(RECENT, Reply(b"", 429, {"retry-after": "30"}), next_token=X_TOKEN, times=1)
    source = make_source("x", env={"X_BEARER_TOKEN": "t"}, backfill="7d")
    first = await source.poll(http, None)
    assert len(first.mentions) == 8
    assert first.retry_after == 30.0
    assert json.loads(first.cursor or "{}")["resume"]["next_token"] == X_TOKEN
    server.add(RECENT, fixture_reply("x", "recent_page2.json"), next_token=X_TOKEN)
    second = await source.poll(http, first.cursor)
    assert second.mentions
    assert "since_id" in json.loads(second.cursor or "{}")


async def test_mastodon_goes_on_walking_back_after_a_spent_window(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    tag = "/api/v1/timelines/tag/northwind"
    page1 = fixture_reply("mastodon", "tag_northwind_page1.json")
    page1.headers = {**page1.headers, "x-ratelimit-remaining": "0"}
    server.add(tag, page1, times=1)
    older = "114161151872869063"
    server.add(tag, fixture_reply("mastodon", "tag_northwind_page2.json"), max_id=older)
    server.add(tag, Reply(b"[]", 200, {"content-type": "application/json"}), max_id=OLDEST)
    server.add(tag, Reply(b"[]", 200, {"content-type": "application/json"}), min_id=MASTODON_NEWEST)
    source = make_source("mastodon", hashtags=["northwind"], page_size=5)
    first = await source.poll(http, None)
    assert first.retry_after == 300.0  # until the reset at 16:05
    assert json.loads(first.cursor or "{}") == {
        "tag:northwind": MASTODON_NEWEST,
        "tag:northwind:back": older,
    }
    clock.now += timedelta(minutes=5)
    second = await source.poll(http, first.cursor)
    later = [r.query for r in server.seen(tag)[1:]]
    assert [q.get("min_id") or q.get("max_id") for q in later] == [MASTODON_NEWEST, older, OLDEST]
    assert second.mentions
    assert json.loads(second.cursor or "{}") == {"tag:northwind": MASTODON_NEWEST}
    ids = [m.id for m in [*first.mentions, *second.mentions]]
    assert len(ids) == len(set(ids)) == 9


async def test_reddit_a_failing_comment_stream_keeps_the_search_posts(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/search.json", fixture_reply("reddit", "search_page1.json"))
    server.add("/search.json", fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    server.add("/r/NorthwindOutfitters/comments.json", Reply(b"<html>private</html>", 403))
    source = make_source(
        "reddit", page_size=6, backfill="3d", comments_subreddits=["NorthwindOutfitters"]
    )
    result = await source.poll(http, None)
    assert len(result.mentions) == 10
    (error,) = result.errors
    assert error.startswith("comments:NorthwindOutfitters: reddit: HTTP 403")
    assert set(json.loads(result.cursor or "{}")) == {"search"}
