"""Every adapter caps what it stores before triage: text, links, author fields, raw payload."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from integrations.sources._text import parse_time
from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FakeServer, json_reply
from triagebot.cases.caps import MAX_HANDLE, MAX_LINKS, MAX_NAME, MAX_RAW_STRING

LINKS = " ".join(f"https://spam.example/{i}" for i in range(500))
HUGE = "Northwind " + LINKS + " " + "a" * 1_000_000


async def test_reddit_caps_a_megabyte_post(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    post = {
        "name": "t3_big",
        "author": "u" * 5000,
        "title": "Northwind " * 2000,
        "selftext": HUGE,
        "permalink": "/r/x/comments/big/t/",
        "url": "https://spam.example/" + "a" * 1_000_000,
        "created_utc": POLL1.timestamp() - 60,
    }
    listing = {"kind": "Listing", "data": {"after": None, "children": [{"data": post}]}}
    server.add("/search.json", json_reply(listing))
    (mention,) = (await make_source("reddit", max_text=3000).poll(http, None)).mentions
    assert len(mention.text) <= 3000
    assert mention.text.count("https://") <= MAX_LINKS
    assert len(mention.author.handle) <= MAX_HANDLE
    assert len(mention.raw["url"]) <= MAX_RAW_STRING
    assert "selftext" not in mention.raw  # the text is the mention's; raw keeps ids and links


async def test_x_caps_author_fields_and_drops_a_bogus_follower_count(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    body = {
        "data": [
            {
                "id": "1900000000000000001",
                "text": HUGE,
                "author_id": "7",
                "created_at": "2025-03-14T15:00:00.000Z",
                "edit_history_tweet_ids": ["1900000000000000001"],
            }
        ],
        "includes": {
            "users": [
                {
                    "id": "7",
                    "username": "x" * 3000,
                    "name": "Nice\u202e\n" + "N" * 9000,
                    "public_metrics": {"followers_count": True},
                }
            ]
        },
        "meta": {"newest_id": "1900000000000000001", "result_count": 1},
    }
    server.add("/2/tweets/search/recent", json_reply(body))
    source = make_source("x", env={"X_BEARER_TOKEN": "t"})
    (mention,) = (await source.poll(http, None)).mentions
    assert len(mention.text) <= 10_000
    assert mention.text.count("https://") == MAX_LINKS
    assert len(mention.author.handle) <= MAX_HANDLE
    assert mention.author.name is not None
    assert len(mention.author.name) <= MAX_NAME
    assert "\u202e" not in mention.author.name
    assert mention.author.followers is None
    assert len(mention.url) <= 2048


def test_dates_at_the_ends_of_the_calendar_fall_back_to_the_fetch_time() -> None:
    for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z"):
        assert parse_time(value, POLL1) == POLL1
    assert parse_time("2025-03-14T10:00:00Z", datetime.max.replace(tzinfo=UTC)).year == 2025
