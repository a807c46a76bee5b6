"""Slowing down before a rate limit runs out: the requests left are spread until the reset;
Stack Exchange stops at a quota floor until its daily reset."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from integrations.sources._http import RateLimit, ResetStyle, pause_for
from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FakeServer, fixture_reply, json_reply

REDDIT = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.SECONDS)
MASTODON = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.ISO)
SE = "/2.3/search/advanced"
TAG = "/api/v1/timelines/tag/northwind"
MIDNIGHT = 8 * 3600.0  # from the fixtures' first poll, 16:00 UTC


def answer(headers: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, headers=headers)


@pytest.mark.parametrize(
    ("left", "wait"), [("97.0", None), ("20", None), ("4", 103.0), ("1", 412.0)]
)
def test_reddit_spreads_the_last_requests_until_the_reset(left: str, wait: float | None) -> None:
    headers = {"x-ratelimit-remaining": left, "x-ratelimit-reset": "412"}
    assert pause_for(answer(headers), REDDIT, POLL1, every=60.0) == wait


@pytest.mark.parametrize(("left", "wait"), [("3", 100.0), ("2", 150.0), ("1", 300.0)])
def test_mastodon_spreads_the_last_requests_until_the_reset(left: str, wait: float) -> None:
    reset = (POLL1 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    headers = {"x-ratelimit-remaining": left, "x-ratelimit-reset": reset}
    assert pause_for(answer(headers), MASTODON, POLL1, every=60.0) == wait


def test_a_spent_window_waits_for_the_reset_and_garbage_is_ignored() -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "412"}
    assert pause_for(answer(spent), REDDIT, POLL1, every=60.0) == 412.0
    odd = {"x-ratelimit-remaining": "lots", "x-ratelimit-reset": "soon"}
    assert pause_for(answer(odd), REDDIT, POLL1, every=60.0) is None


async def test_reddit_stops_the_walk_and_waits_when_one_request_is_left(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page1 = fixture_reply("reddit", "search_page1.json")
    page1.headers = {**page1.headers, "x-ratelimit-remaining": "1"}
    server.add("/search.json", page1)
    source = make_source("reddit", query="northwind outfitters", page_size=6, interval="1m")
    result = await source.poll(http, None)
    assert result.retry_after == 412.0
    assert len(server.seen("/search.json")) == 1  # page 2 waits for the next poll


async def test_mastodon_waits_when_three_requests_are_left(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    reset = (POLL1 + timedelta(minutes=5)).isoformat()
    headers = {
        "content-type": "application/json",
        "x-ratelimit-remaining": "3",
        "x-ratelimit-reset": reset,
    }
    server.add(TAG, fixture_reply("mastodon", "tag_northwind_poll_empty.json", headers=headers))
    source = make_source("mastodon", hashtags=["northwind"])
    result = await source.poll(http, '{"tag:northwind": "114161579662965381"}')
    assert result.retry_after == 100.0


def se_body(left: int) -> dict[str, object]:
    return {"items": [], "has_more": False, "quota_max": 300, "quota_remaining": left}


async def test_stackexchange_stops_at_the_quota_floor_until_the_daily_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SE, json_reply(se_body(3)))
    result = await make_source("stackexchange", site="outdoors").poll(http, None)
    assert result.retry_after == MIDNIGHT
    assert result.pause_reason == (
        "daily quota down to 3 (quota_floor 10): waits for the reset at 00:00 UTC"
    )


async def test_stackexchange_quota_floor_is_configurable_and_the_rest_is_spread(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SE, json_reply(se_body(3)))
    source = make_source("stackexchange", site="outdoors", quota_floor=0)
    result = await source.poll(http, None)
    assert result.retry_after == MIDNIGHT / 3
    assert result.pause_reason == "daily quota 3 left: spread until the reset at 00:00 UTC"
    server.routes.clear()
    server.add(SE, json_reply(se_body(9000)))
    plenty = await make_source("stackexchange", site="outdoors").poll(http, None)
    assert plenty.retry_after is None
