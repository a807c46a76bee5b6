"""Mastodon and Bluesky adapters against recorded responses on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest

from integrations.sources._text import parse_time
from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply, json_reply
from triagebot.errors import MissingCredentials, SourceError

TAG = "/api/v1/timelines/tag/northwind"
SEARCH = "/api/v2/search"
BSKY = "/xrpc/app.bsky.feed.searchPosts"
SESSION = "/xrpc/com.atproto.server.createSession"
BSKY_ENV = {"BLUESKY_HANDLE": "brand.example", "BLUESKY_APP_PASSWORD": "app-pass"}
HTML = {"content-type": "text/html; charset=utf-8"}


async def test_mastodon_tag_timeline_walks_back_then_forward(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAG, fixture_reply("mastodon", "tag_northwind_page1.json"))
    server.add(
        TAG, fixture_reply("mastodon", "tag_northwind_page2.json"), max_id="114161151872869063"
    )
    server.add(TAG, json_reply([]), max_id="114156919304387639")
    server.add(
        TAG, fixture_reply("mastodon", "tag_northwind_poll_empty.json"), min_id="114161579662965381"
    )
    source = make_source("mastodon", hashtags=["#Northwind"], page_size=5)
    first = await source.poll(http, None)
    assert len(first.mentions) == 9
    lena = first.mentions[0]
    assert (
        lena.id
        == "mastodon:https://social.trails.example/users/lena_outdoors/statuses/114161579662965381"
    )
    assert lena.author.handle == "lena_outdoors@127.0.0.1"
    assert lena.url == "https://social.trails.example/@lena_outdoors/114161579662965381"
    assert "#northwind" in lena.text
    assert "<" not in lena.text
    assert json.loads(first.cursor or "{}") == {"tag:northwind": "114161579662965381"}
    again = await source.poll(http, first.cursor)
    assert list(again.mentions) == []
    assert server.seen(TAG)[-1].query["min_id"] == "114161579662965381"


async def test_mastodon_search_needs_a_token_and_dedupes_across_endpoints(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SEARCH, fixture_reply("mastodon", "search_statuses.json"))
    server.add(TAG, fixture_reply("mastodon", "tag_northwind_page1.json"))
    server.add(TAG, json_reply([]), max_id="114161151872869063")
    env = {"MASTODON_ACCESS_TOKEN": "user-token"}
    source = make_source("mastodon", env=env, hashtags=["northwind"], page_size=6, max_pages=1)
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 10  # M1 comes from both endpoints, reported once
    german = next(m for m in result.mentions if m.lang == "de")
    assert german.author.handle == "bergfex@mountains.example"
    assert server.seen(SEARCH)[0].headers["Authorization"] == "Bearer user-token"
    with pytest.raises(MissingCredentials, match="MASTODON_ACCESS_TOKEN"):
        make_source("mastodon", search=True)


async def test_mastodon_boost_content_warning_and_hidden_link_parts(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    original = {
        "id": "200",
        "uri": "https://remote.example/users/ana/statuses/1",
        "url": None,
        "created_at": "2025-03-14T15:00:00.000Z",
        "spoiler_text": "refund rant",
        "language": "ja",
        "content": (
            '<p>北風 Northwind の返金がまだ &amp; まだ 😤 <a href="https://x.example/long">'
            '<span class="invisible">https://</span><span class="ellipsis">x.example/lo</span>'
            '<span class="invisible">ng</span></a></p><p>second &lt;p&gt; para</p>'
        ),
        "account": {
            "acct": "ana@remote.example",
            "display_name": "Ana :tent:",
            "followers_count": 12,
        },
    }
    boost = {
        "id": "201",
        "uri": "https://social.example/b/1",
        "content": "",
        "reblog": original,
        "created_at": "2025-03-14T15:05:00.000Z",
        "account": {"acct": "booster"},
    }
    server.add(TAG, json_reply([boost, original]))
    server.add(TAG, json_reply([]), max_id="200")
    (mention,) = (await make_source("mastodon", hashtags=["northwind"]).poll(http, None)).mentions
    assert mention.url == "https://remote.example/users/ana/statuses/1"  # url was null
    assert (
        mention.text
        == "refund rant\n\n北風 Northwind の返金がまだ & まだ 😤 x.example/lo\n\nsecond <p> para"
    )
    assert (mention.author.handle, mention.author.followers, mention.lang) == (
        "ana@remote.example",
        12,
        "ja",
    )


async def test_mastodon_429_waits_until_the_iso_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2025-03-14T16:05:00.000000Z"}
    server.add(TAG, json_reply({"error": "Too many requests"}, 429, headers))
    with pytest.raises(SourceError) as caught:
        await make_source("mastodon", hashtags=["northwind"]).poll(http, None)
    assert caught.value.retry_after == 300.0


async def test_bluesky_logs_in_pages_with_cursor_and_dedupes(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SESSION, json_reply({"accessJwt": "jwt-1", "did": "did:plc:brand"}))
    server.add(BSKY, fixture_reply("bluesky", "searchPosts_page1.json"))
    server.add(BSKY, fixture_reply("bluesky", "searchPosts_page2.json"), cursor="6")
    source = make_source("bluesky", env=BSKY_ENV, query="northwind outfitters", page_size=6)
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 10
    wes = result.mentions[0]
    assert wes.url == "https://bsky.app/profile/wildcamp-wes.bsky.social/post/3lkdxbnudicxm"
    assert wes.author.name == "Wes Adeyemi 🏕️"
    assert wes.author.followers is None
    assert wes.lang == "en"
    spam = next(m for m in result.mentions if m.author.handle == "deals4u.bsky.social")
    assert spam.author.name is None
    assert spam.lang is None
    assert all(r.headers["Authorization"] == "Bearer jwt-1" for r in server.seen(BSKY))
    server.add(
        BSKY, fixture_reply("bluesky", "searchPosts_empty.json"), since="2025-03-14T15:39:11Z"
    )
    later = await source.poll(http, result.cursor)
    assert list(later.mentions) == []
    assert "since" in server.seen(BSKY)[-1].query
    assert len(server.seen(SESSION)) == 1  # the session is reused


async def test_bluesky_renews_an_expired_token(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SESSION, json_reply({"accessJwt": "old"}), times=1)
    server.add(SESSION, json_reply({"accessJwt": "new"}))
    server.add(
        BSKY, json_reply({"error": "ExpiredToken", "message": "Token has expired"}, 400), times=1
    )
    server.add(BSKY, fixture_reply("bluesky", "searchPosts_empty.json"))
    result = await make_source("bluesky", env=BSKY_ENV).poll(http, None)
    assert list(result.mentions) == []
    assert server.seen(BSKY)[-1].headers["Authorization"] == "Bearer new"


async def test_bluesky_anonymous_block_and_missing_credentials(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    with pytest.raises(MissingCredentials) as caught:
        make_source("bluesky", env={"BLUESKY_HANDLE": "brand.example"})
    assert caught.value.variables == ["BLUESKY_APP_PASSWORD"]
    server.add(SESSION, json_reply({"error": "AuthFactorTokenRequired"}, 401))
    with pytest.raises(SourceError, match="login refused"):
        await make_source("bluesky", env=BSKY_ENV).poll(http, None)


def test_bluesky_future_created_at_is_clamped() -> None:
    assert parse_time("2031-01-01T00:00:00Z", POLL1) == POLL1


async def test_bluesky_html_refusal_says_authentication_is_needed(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page = Reply(b"<html><body><h1>403 Forbidden</h1></body></html>", 403, HTML)
    server.add(SESSION, json_reply({"accessJwt": "token"}))
    server.add(BSKY, page)
    with pytest.raises(SourceError) as caught:
        await make_source("bluesky", env=BSKY_ENV).poll(http, None)
    assert str(caught.value) == (
        "bluesky: authentication needed (HTTP 403): set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
    )
    server.routes.clear()
    server.add(SESSION, Reply(b"<html>Unauthorized</html>", 401, HTML))
    with pytest.raises(SourceError, match="authentication needed \\(HTTP 401\\)"):
        await make_source("bluesky", env=BSKY_ENV).poll(http, None)


async def test_mastodon_a_failing_search_keeps_the_tag_timeline_posts(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    expired = json_reply({"error": "The access token was revoked"}, 401)
    server.add(SEARCH, expired)
    server.add(TAG, fixture_reply("mastodon", "tag_northwind_page1.json"))
    server.add(TAG, json_reply([]), max_id="114161151872869063")
    env = {"MASTODON_ACCESS_TOKEN": "expired"}
    source = make_source("mastodon", env=env, hashtags=["northwind"], page_size=6, max_pages=2)
    result = await source.poll(http, None)
    assert len(result.mentions) == 5  # the page's six statuses hold one boost of another
    (error,) = result.errors
    assert error.startswith("search: mastodon: HTTP 401 on /api/v2/search")
    cursor = json.loads(result.cursor or "{}")
    assert cursor == {"tag:northwind": "114161579662965381"}  # search starts afresh next time


async def test_mastodon_every_stream_failing_is_a_failed_poll(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SEARCH, json_reply({"error": "revoked"}, 401))
    server.add(TAG, Reply(b"busy", 503))
    env = {"MASTODON_ACCESS_TOKEN": "expired"}
    source = make_source("mastodon", env=env, hashtags=["northwind"])
    with pytest.raises(SourceError, match="HTTP 503"):
        await source.poll(http, None)


async def test_bluesky_json_refusal_of_search_names_the_credentials(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SESSION, json_reply({"accessJwt": "token"}))
    server.add(
        BSKY, json_reply({"error": "AuthMissing", "message": "Authentication Required"}, 401)
    )
    with pytest.raises(SourceError) as caught:
        await make_source("bluesky", env=BSKY_ENV).poll(http, None)
    assert str(caught.value) == (
        "bluesky: authentication needed (HTTP 401: AuthMissing): "
        "set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
    )
