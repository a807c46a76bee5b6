"""Hacker News, App Store and Stack Exchange adapters; slow, broken and throttled answers."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply, json_reply
from triagebot.errors import SourceError

HN = "/api/v1/search_by_date"
SE = "/2.3/search/advanced"
APP = "/us/rss/customerreviews/page={}/id=1498765432/sortBy=mostRecent/json"


async def test_hackernews_stories_and_comments_across_pages(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(HN, fixture_reply("hackernews", "search_by_date_page0.json"), page=0)
    server.add(HN, fixture_reply("hackernews", "search_by_date_page1.json"), page=1)
    source = make_source("hackernews", query="northwind outfitters", page_size=6)
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 10  # HN4 repeats on page 1
    comment = result.mentions[0]
    assert comment.url == "https://news.ycombinator.com/item?id=43371288"
    assert "<" not in comment.text
    assert "&#x27;" not in comment.text
    ask = next(m for m in result.mentions if m.id == "hackernews:43365188")
    assert ask.text.startswith("Ask HN: Has anyone gotten a zipper warranty repair")
    assert 'Northwind\'s site says "lifetime warranty"' in ask.text
    assert (
        server.seen(HN)[0].query["numericFilters"]
        == f"created_at_i>{int(POLL1.timestamp()) - 2 * 86400 - 1}"
    )
    server.add(HN, fixture_reply("hackernews", "search_by_date_empty.json"), page=0)
    later = await source.poll(http, result.cursor)
    assert list(later.mentions) == []
    newest = 1741967282  # HN1, minus the 300 s overlap
    assert server.seen(HN)[-1].query["numericFilters"] == f"created_at_i>{newest - 300 - 1}"


async def test_hackernews_dead_item_without_text_is_skipped(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    hits = [
        {
            "objectID": "1",
            "comment_text": None,
            "_tags": ["comment"],
            "author": "x",
            "created_at_i": int(POLL1.timestamp()) - 5,
        },
        {
            "objectID": "2",
            "title": "Northwind &amp; co",
            "story_text": None,
            "author": "y",
            "created_at_i": int(POLL1.timestamp()) - 9,
            "_tags": ["story"],
        },
    ]
    server.add(HN, json_reply({"hits": hits, "nbPages": 1, "page": 0}))
    result = await make_source("hackernews").poll(http, None)
    assert [(m.id, m.text) for m in result.mentions] == [("hackernews:2", "Northwind & co")]


async def test_appstore_reviews_stop_at_known_ones(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(APP.format(1), fixture_reply("app_store", "customerreviews_page1.json"))
    server.add(APP.format(2), fixture_reply("app_store", "customerreviews_page2.json"))
    server.add(APP.format(3), fixture_reply("app_store", "customerreviews_empty.json"))
    source = make_source("appstore", app_id="1498765432", backfill="5d")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 10
    first = result.mentions[0]
    assert first.text.startswith("1★ Crashes when I open the cart\nSince the 4.12.0 update")
    assert first.created_at.isoformat() == "2025-03-14T15:41:17+00:00"  # from -07:00
    assert first.url.startswith("https://apps.apple.com/us/app/id1498765432?see-all=reviews")
    again = await source.poll(http, result.cursor)
    assert list(again.mentions) == []
    assert len(server.seen(APP.format(1))) == 2
    assert len(server.seen(APP.format(2))) == 1


async def test_appstore_single_entry_is_an_object(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    entry = json.loads(fixture_reply("app_store", "customerreviews_page1.json").body)["feed"][
        "entry"
    ][0]
    app_info = {"im:name": {"label": "Northwind"}, "id": {"label": "1498765432"}}
    server.add(APP.format(1), json_reply({"feed": {"entry": [app_info, entry]}}))
    server.add(APP.format(2), json_reply({"feed": {"entry": entry}}))
    server.add(APP.format(3), json_reply({"feed": {}}))
    result = await make_source("appstore", app_id="1498765432").poll(http, None)
    assert [m.id for m in result.mentions] == ["appstore:12238410911"]


async def test_stackexchange_honours_backoff_in_a_successful_answer(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SE, fixture_reply("stackexchange", "search_advanced_page1.json"), page=1)
    server.add(SE, fixture_reply("stackexchange", "search_advanced_page2.json"), page=2)
    source = make_source("stackexchange", site="outdoors", page_size=5, backfill="7d")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 8
    assert result.retry_after == 10.0
    flick = next(m for m in result.mentions if m.id == "stackexchange:33827")
    assert flick.text.startswith(
        "Do Northwind Switchback pole flick-locks fit other brands' poles?"
    )
    assert "18 mm" in flick.text
    assert "&#160;" not in flick.text
    assert flick.author.handle == "Sue Whitlock"
    assert "key" not in server.seen(SE)[0].query


async def test_stackexchange_errors_are_http_400_with_a_wait(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    body = {
        "error_id": 502,
        "error_message": "too many requests from this IP, more requests available in 43127 seconds",
        "error_name": "throttle_violation",
    }
    server.add(SE, json_reply(body, 400))
    source = make_source(
        "stackexchange", site="outdoors", env={"STACKEXCHANGE_KEY": "SECRET-KEY-1"}
    )
    with pytest.raises(SourceError, match="throttle_violation") as caught:
        await source.poll(http, None)
    assert caught.value.retry_after == 43127.0
    assert server.seen(SE)[0].query["key"] == "SECRET-KEY-1"
    assert "SECRET-KEY-1" not in str(caught.value)


async def test_malformed_json_is_a_source_error(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(
        HN, Reply(b'{"hits": [ {"objectID": "1", ', 200, {"content-type": "application/json"})
    )
    with pytest.raises(SourceError, match="malformed JSON"):
        await make_source("hackernews").poll(http, None)


async def test_a_response_slower_than_the_timeout(
    server: FakeServer, make_source: MakeSource
) -> None:
    server.add(HN, Reply(b'{"hits": []}', 200, {"content-type": "application/json"}, delay=1.0))
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as quick:
        with pytest.raises(SourceError, match="timed out"):
            await make_source("hackernews").poll(quick, None)


async def test_server_errors_carry_retry_after(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(HN, Reply(b"down", 503, {"retry-after": "30"}))
    with pytest.raises(SourceError, match="HTTP 503") as caught:
        await make_source("hackernews").poll(http, None)
    assert caught.value.retry_after == 30.0


async def test_stackexchange_resumes_a_walk_stopped_by_backoff(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    server.add(SE, fixture_reply("hard", "stackexchange_backoff_page1.json"), page=1)
    server.add(SE, fixture_reply("stackexchange", "search_advanced_page2.json"), page=2)
    source = make_source("stackexchange", site="outdoors", page_size=5, backfill="7d")
    first = await source.poll(http, None)
    assert first.retry_after == 30.0
    assert len(first.mentions) == 5
    assert [r.query["page"] for r in server.seen(SE)] == ["1"]
    clock.now += timedelta(seconds=30)
    second = await source.poll(http, first.cursor)
    assert server.seen(SE)[-1].query["page"] == "2"
    assert server.seen(SE)[-1].query["fromdate"] == server.seen(SE)[0].query["fromdate"]
    assert sorted(m.id for m in second.mentions) == [
        "stackexchange:33814",
        "stackexchange:33818",
        "stackexchange:33822",
    ]  # S5 repeats on page 2 and is not reported again
    server.add(SE, fixture_reply("stackexchange", "search_advanced_empty.json"), page=1)
    third = await source.poll(http, second.cursor)
    assert server.seen(SE)[-1].query["page"] == "1"
    assert list(third.mentions) == []


async def test_stackexchange_keeps_the_pages_read_before_an_error(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SE, fixture_reply("stackexchange", "search_advanced_page1.json"), page=1)
    server.add(SE, json_reply({"error_id": 500, "error_name": "internal_error"}, 400), page=2)
    source = make_source("stackexchange", site="outdoors", page_size=5, backfill="7d")
    result = await source.poll(http, None)
    assert len(result.mentions) == 5
    (error,) = result.errors
    assert error.startswith("page 2: stackexchange: internal_error")
    server.routes.clear()
    server.add(SE, fixture_reply("stackexchange", "search_advanced_page2.json"), page=2)
    later = await source.poll(http, result.cursor)
    assert len(later.mentions) == 3
