"""Reddit and X adapters against recorded responses on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, fixture_reply, json_reply
from triagebot.errors import MissingCredentials, SourceError

SEARCH = "/search.json"
RECENT = "/2/tweets/search/recent"
X_ENV = {"X_BEARER_TOKEN": "test-token"}


async def test_reddit_walks_pages_and_reports_a_repeated_post_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SEARCH, fixture_reply("reddit", "search_page1.json"))
    server.add(SEARCH, fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    source = make_source("reddit", query="northwind outfitters", page_size=6, backfill="3d")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == 10
    assert len(set(ids)) == 10
    assert ids[0] == "reddit:t3_1jb3k8x"
    first = result.mentions[0]
    assert first.url == (
        "https://www.reddit.com/r/CampingGear/comments/1jb3k8x/"
        "northwind_charged_my_card_twice_for_one_order/"
    )
    assert first.author.handle == "trailmix_tess"
    assert first.text.startswith("Northwind charged my card twice for one order\n\n")
    assert first.created_at.timestamp() == 1741966304
    page2 = server.seen(SEARCH)[1].query
    assert page2["after"] == "t3_1japv51"
    assert page2["count"] == "6"
    assert server.seen(SEARCH)[0].query["t"] == "week"  # covers the 2-day backfill


async def test_reddit_later_poll_stops_at_the_watermark(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    server.add(SEARCH, fixture_reply("reddit", "search_page1.json"))
    server.add(SEARCH, fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    source = make_source("reddit", page_size=6)
    first = await source.poll(http, None)
    again = await source.poll(http, first.cursor)  # same listing again: nothing new
    assert list(again.mentions) == []
    assert len(server.seen(SEARCH)) == 3  # the second poll stopped on page 1


async def test_reddit_deleted_and_removed_posts_are_not_mentions(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    def post(name: str, author: str, selftext: str, **extra: object) -> dict[str, object]:
        data = {
            "name": name,
            "author": author,
            "title": "Northwind &amp; me <3",
            "selftext": selftext,
            "permalink": f"/r/x/comments/{name}/t/",
            "created_utc": POLL1.timestamp() - 60,
            **extra,
        }
        return {"kind": "t3", "data": data}

    children = [
        post("t3_gone1", "[deleted]", "[removed]"),
        post("t3_gone2", "tess", "[deleted]"),
        post("t3_gone3", "[deleted]", "my card was charged twice"),
        post("t3_gone4", "sam", "parcel late", removed_by_category="moderator"),
        post("t3_kept", "lena", ""),
    ]
    listing = {"kind": "Listing", "data": {"after": None, "children": children}}
    server.add(SEARCH, json_reply(listing))
    result = await make_source("reddit").poll(http, None)
    (mention,) = result.mentions
    assert mention.id == "reddit:t3_kept"
    assert mention.text == "Northwind &amp; me <3"  # raw_json=1: text is taken as it is
    assert {g.id: g.why for g in result.gone} == {
        "reddit:t3_gone1": "removed by moderators",
        "reddit:t3_gone2": "deleted",
        "reddit:t3_gone3": "deleted",
        "reddit:t3_gone4": "removed (moderator)",
    }


async def test_reddit_throttle_in_a_200_answer(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(
        SEARCH,
        json_reply(
            {"message": "Too Many Requests", "error": 429}, 200, {"x-ratelimit-reset": "412"}
        ),
    )
    with pytest.raises(SourceError) as caught:
        await make_source("reddit").poll(http, None)
    assert caught.value.retry_after == 412.0  # Reddit counts seconds, not an epoch


async def test_reddit_429_with_reset_seconds(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "37"}
    server.add(SEARCH, json_reply({"message": "Too Many Requests", "error": 429}, 429, headers))
    with pytest.raises(SourceError) as caught:
        await make_source("reddit").poll(http, None)
    assert caught.value.retry_after == 37.0


async def test_x_joins_authors_decodes_text_and_moves_since_id_after_the_last_page(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(RECENT, fixture_reply("x", "recent_page1.json"))
    server.add(
        RECENT,
        fixture_reply("x", "recent_page2.json"),
        next_token="b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal",
    )
    source = make_source("x", env=X_ENV, page_size=10)
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    sasha = result.mentions[0]
    assert (sasha.author.handle, sasha.author.followers) == ("summit_sasha", 251437)
    assert sasha.url == "https://x.com/summit_sasha/status/1900572635953812027"
    tomas = next(m for m in result.mentions if m.author.handle == "pct_tomas")
    assert "@northwind Portland & their repair bar" in tomas.text
    spam = next(m for m in result.mentions if m.author.handle == "gear_deals_4u")
    assert ">>>" in spam.text
    assert "&gt;" not in spam.text
    assert json.loads(result.cursor or "{}")["since_id"] == "1900572635953812027"
    assert server.seen(RECENT)[0].headers["Authorization"] == "Bearer test-token"


async def test_x_edit_is_the_same_mention_and_empty_poll_keeps_since_id(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(
        RECENT, fixture_reply("x", "recent_poll2_since_id.json"), since_id="1900572635953812027"
    )
    server.add(RECENT, fixture_reply("x", "recent_empty.json"), since_id="1900611110305960178")
    source = make_source("x", env=X_ENV)
    second = await source.poll(http, json.dumps({"since_id": "1900572635953812027"}))
    assert "x:1900539282849504331" in {m.id for m in second.mentions}  # X14 is X4 edited
    edited = next(m for m in second.mentions if m.id == "x:1900539282849504331")
    assert edited.url.endswith("/status/1900600360304843330")
    third = await source.poll(http, second.cursor)
    assert list(third.mentions) == []
    assert json.loads(third.cursor or "{}")["since_id"] == "1900611110305960178"


async def test_x_missing_author_and_long_post(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    body = {
        "data": [
            {
                "id": "1900000000000000001",
                "text": "truncated &amp;hellip;",
                "note_tweet": {"text": "Full text: Northwind &amp;amp; friends 🏕️ 北風"},
                "author_id": "999",
                "created_at": "2025-03-14T15:00:00.000Z",
                "lang": "und",
            }
        ],
        "errors": [{"resource_id": "999", "title": "Authorization Error"}],
        "meta": {"newest_id": "1900000000000000001", "result_count": 1},
    }
    server.add(RECENT, json_reply(body))
    (mention,) = (await make_source("x", env=X_ENV).poll(http, None)).mentions
    assert mention.author.handle == "unknown"
    assert mention.text == "Full text: Northwind &amp; friends 🏕️ 北風"
    assert mention.lang is None
    assert mention.url == "https://x.com/i/status/1900000000000000001"


async def test_x_429_waits_until_the_epoch_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    reset = str(int(POLL1.timestamp()) + 120)
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
    server.add(
        RECENT,
        json_reply(body, 429, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}),
    )
    with pytest.raises(SourceError) as caught:
        await make_source("x", env=X_ENV).poll(http, None)
    assert caught.value.retry_after == 120.0


def test_x_without_a_token_names_the_variable(make_source: MakeSource) -> None:
    with pytest.raises(MissingCredentials) as caught:
        make_source("x", bearer_token_env="MY_X_TOKEN")
    assert caught.value.variables == ["MY_X_TOKEN"]


async def test_x_finishes_a_long_walk_on_the_next_poll(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    token = "b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal"
    server.add(RECENT, fixture_reply("x", "recent_page1.json"))
    server.add(RECENT, fixture_reply("x", "recent_page2.json"), next_token=token)
    source = make_source("x", env=X_ENV, max_pages=1)
    first = await source.poll(http, None)
    assert len(first.mentions) == 8
    start = "2025-03-12T16:00:00Z"  # the 2-day backfill window, sent as start_time
    assert server.seen(RECENT)[0].query["start_time"] == start
    assert json.loads(first.cursor or "{}") == {
        "resume": {"next_token": token, "newest_id": "1900572635953812027", "start_time": start}
    }
    second = await source.poll(http, first.cursor)
    assert {m.id for m in second.mentions} >= {"x:1900276312570364562"}  # X12, the oldest
    assert server.seen(RECENT)[-1].query["next_token"] == token
    assert json.loads(second.cursor or "{}") == {"since_id": "1900572635953812027"}


async def test_x_recovers_from_a_since_id_older_than_the_search_window(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    refused = {
        "errors": [
            {
                "parameters": {"since_id": ["1890000000000000000"]},
                "message": "Invalid 'since_id':'1890000000000000000'. 'since_id' must be a tweet "
                "id created after 2025-03-07T16:00Z.",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    server.add(RECENT, json_reply(refused, 400), since_id="1890000000000000000")
    server.add(RECENT, fixture_reply("x", "recent_page1.json"))
    server.add(
        RECENT,
        fixture_reply("x", "recent_page2.json"),
        next_token="b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal",
    )
    source = make_source("x", env=X_ENV, backfill="1d")
    stale = json.dumps({"since_id": "1890000000000000000"})
    result = await source.poll(http, stale)
    assert result.mentions
    fallback = server.seen(RECENT)[1].query
    assert "since_id" not in fallback
    assert fallback["start_time"] == "2025-03-13T16:00:00Z"
    assert json.loads(result.cursor or "{}") == {"since_id": "1900572635953812027"}
    server.add(RECENT, fixture_reply("x", "recent_empty.json"), since_id="1900572635953812027")
    again = await source.poll(http, result.cursor)  # and later polls work again
    assert list(again.mentions) == []


async def test_x_other_400s_are_errors_that_name_the_problem(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(RECENT, json_reply({"title": "Invalid Request", "detail": "bad query"}, 400))
    with pytest.raises(SourceError, match=r"HTTP 400 on /2/tweets/search/recent: .*bad query"):
        await make_source("x", env=X_ENV).poll(http, json.dumps({"since_id": "1"}))
