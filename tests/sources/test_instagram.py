"""The Instagram source against Graph API answers on 127.0.0.1 (fixtures in
tests/fixtures/sources/instagram, shaped after the Instagram Graph API reference)."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import timedelta
from typing import Any

import httpx
import pytest

from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from tests.conftest import EXAMPLE_CONFIG
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply, json_reply
from triagebot.config.settings import Settings, SourceConfig
from triagebot.errors import ConfigError, MissingCredentials, SourceError

ACCOUNT = "17841405822304914"
TAGS = f"/v22.0/{ACCOUNT}/tags"
MEDIA = f"/v22.0/{ACCOUNT}/media"
COMMENTS = "/v22.0/18066554433221100/comments"
ENV = {"INSTAGRAM_ACCESS_TOKEN": "ig-token-1"}


def source_of(make_source: MakeSource, **options: Any) -> BaseSource:
    options.setdefault("account_id", ACCOUNT)
    return make_source("instagram", env=ENV, **options)


def comment(comment_id: str, minutes_ago: float, text: str = "Northwind?") -> dict[str, Any]:
    at = POLL1 - timedelta(minutes=minutes_ago)
    return {
        "id": comment_id,
        "text": text,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "username": f"user{comment_id}",
    }


def page(items: list[Any], after: str | None = None) -> Reply:
    paging: dict[str, Any] = {"cursors": {"before": "b", "after": after or "z"}}
    if after:
        paging["next"] = f"https://graph.facebook.com/next?after={after}"
    return json_reply({"data": items, "paging": paging})


async def test_tagged_media_walk_pages_once_each_and_skip_captionless(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGS, fixture_reply("instagram", "tags_page1.json"))
    server.add(TAGS, fixture_reply("instagram", "tags_page2.json"), after="QVFIUjZAXTGs2")
    source = source_of(make_source, comments=False, page_size=3)
    result = await source.poll(http, None)
    handles = [m.author.handle for m in result.mentions]
    assert handles == ["summit_sasha", "hikes_with_mo", "dealz4u.example", "lena_outdoors"]
    sasha = result.mentions[0]
    assert sasha.id == "instagram:17998877665544331"
    assert sasha.url == "https://www.instagram.com/p/DHa1xQ2sK9e/"
    assert sasha.created_at.isoformat() == "2025-03-14T15:21:09+00:00"
    first, second = server.seen(TAGS)
    assert first.headers["Authorization"] == "Bearer ig-token-1"
    assert first.query == {
        "fields": "id,caption,timestamp,permalink,username,media_type",
        "limit": "3",
    }
    assert second.query["after"] == "QVFIUjZAXTGs2"
    assert result.retry_after is None


async def test_comments_with_replies_without_the_accounts_own(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=4)
    server.add(MEDIA, fixture_reply("instagram", "media.json"))
    server.add(COMMENTS, fixture_reply("instagram", "media_comments.json"))
    result = await source_of(make_source, mentions=False).poll(http, None)
    by_handle = {m.author.handle: m for m in result.mentions}
    assert sorted(by_handle) == [
        "pack_and_go.example",
        "priya.r.example",
        "trailmix_tess",
        "zipper_zeke",
    ]  # the account's reply to Tess is not a mention; the other reply is
    tess = by_handle["trailmix_tess"]
    assert tess.url == "https://www.instagram.com/p/DHaWq1Ns2Lm/c/17870011223344556/"
    assert tess.raw["media_id"] == "18066554433221100"
    assert "replies" not in tess.raw
    reply = by_handle["pack_and_go.example"]
    assert reply.text == "Same here, charged twice for NW-105902."
    (media_request,) = server.seen(MEDIA)
    assert media_request.query["limit"] == "10"
    assert media_request.query["fields"] == "id,permalink,timestamp,username,comments_count"
    (comments_request,) = server.seen(COMMENTS)  # the item without comments was not read
    assert "replies{" in comments_request.query["fields"]
    assert comments_request.headers["Authorization"] == "Bearer ig-token-1"


async def test_comments_in_any_order_over_pages_and_no_repeat_next_poll(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    server.add(MEDIA, fixture_reply("instagram", "media.json"))
    oldest_first = [comment("1", 50), comment("2", 40)]
    server.add(COMMENTS, page(oldest_first, after="p2"))
    server.add(COMMENTS, page([comment("3", 5), comment("2", 40), comment("4", 30)]), after="p2")
    source = source_of(make_source, mentions=False)
    first = await source.poll(http, None)
    assert sorted(m.id for m in first.mentions) == [f"instagram:{i}" for i in "1234"]
    clock.now = POLL1 + timedelta(minutes=5)
    again = await source.poll(http, first.cursor)
    assert list(again.mentions) == []
    assert len(server.seen(COMMENTS)) == 4  # both pages read again: no order to stop on


async def test_throttled_comments_keep_the_tags_and_pause(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGS, fixture_reply("instagram", "tags_page2.json"))
    buc = {
        ACCOUNT: [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 3}]
    }
    error = {"error": {"message": "(#80002) too many calls", "code": 80002, "fbtrace_id": "x"}}
    headers = {"x-business-use-case-usage": json.dumps(buc)}
    server.add(MEDIA, json_reply(error, 400, headers))
    result = await source_of(make_source).poll(http, None)
    assert len(result.mentions) == 2  # the tags were read before the limit
    assert result.retry_after == 180.0
    assert result.pause_reason == "rate limited by the Graph API (code 80002)"
    assert "comments" in json.loads(result.cursor or "{}")


async def test_an_expired_token_names_the_instagram_variable(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    error = {
        "error": {"message": "Error validating access token", "code": 190, "error_subcode": 460}
    }
    server.add(TAGS, json_reply(error, 400))
    source = make_source(
        "instagram", env={"NW_IG_TOKEN": "t"}, account_id=ACCOUNT, access_token_env="NW_IG_TOKEN"
    )
    with pytest.raises(SourceError) as caught:
        await source.poll(http, None)
    assert str(caught.value) == (
        "instagram: access token rejected (Graph API code 190: the password changed); "
        "create a new token and set NW_IG_TOKEN"
    )


async def test_429_with_retry_after_and_malformed_bodies(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGS, Reply(b"", 429, {"retry-after": "30"}), times=1)
    server.add(TAGS, Reply(b'{"data": [', 200, {"content-type": "application/json"}))
    source = source_of(make_source, comments=False)
    with pytest.raises(SourceError) as limited:
        await source.poll(http, None)
    assert limited.value.retry_after == 30.0
    with pytest.raises(SourceError, match="malformed JSON"):
        await source.poll(http, None)


async def test_hostile_text_bad_dates_and_broken_items(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    media = {"id": "m1", "permalink": "javascript:alert(1)", "username": "northwind"}
    server.add(MEDIA, page([media, "junk", {"comments_count": 3}]))
    items = [
        comment("1", 5, "<!here> Northwind <script>x</script> &amp;"),
        {**comment("2", 0), "timestamp": "13/45/2025"},
        {**comment("3", 0), "replies": {"data": ["junk", comment("4", 1, "   ")]}},
        {**comment("5", 2), "username": "NorthWind"},  # the account itself, other case
        {"text": "no id"},
    ]
    server.add("/v22.0/m1/comments", page(items))
    result = await source_of(make_source, mentions=False).poll(http, None)
    by_id = {m.id: m for m in result.mentions}
    assert sorted(by_id) == ["instagram:1", "instagram:2", "instagram:3"]
    hostile = by_id["instagram:1"]
    assert hostile.text == "<!here> Northwind <script>x</script> &amp;"  # kept as typed
    assert hostile.url.startswith("http")  # never the javascript: permalink
    assert by_id["instagram:2"].created_at == POLL1


def test_credentials_and_options(make_source: MakeSource) -> None:
    with pytest.raises(MissingCredentials) as caught:
        make_source("instagram", account_id=ACCOUNT)
    assert caught.value.variables == ["INSTAGRAM_ACCESS_TOKEN"]
    with pytest.raises(ConfigError, match=r"account_id: Field required"):
        make_source("instagram", env=ENV)
    with pytest.raises(ConfigError, match=r"acount_id: unknown key .*did you mean 'account_id'"):
        make_source("instagram", env=ENV, account_id=ACCOUNT, acount_id="1")
    with pytest.raises(ConfigError, match=r"media: must be a whole number"):
        make_source("instagram", env=ENV, account_id=ACCOUNT, media="ten")
    with pytest.raises(ConfigError, match=r"cannot both be false"):
        make_source("instagram", env=ENV, account_id=ACCOUNT, mentions=False, comments=False)


@pytest.mark.parametrize(
    ("kind", "variable"),
    [("facebook", "FACEBOOK_PAGE_TOKEN"), ("instagram", "INSTAGRAM_ACCESS_TOKEN")],
)
def test_the_commented_example_block_is_valid_once_uncommented(
    kind: str, variable: str, settings: Settings
) -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    blocks = re.findall(r"^# \[\[sources\]\]\n((?:# .*\n)+)", text, re.MULTILINE)
    (block,) = [b for b in blocks if f'# type = "{kind}"' in b]
    config = SourceConfig.model_validate(tomllib.loads(re.sub(r"^# ", "", block, flags=re.M)))
    source = ADAPTERS[kind](config, settings.config.brand, {variable: "token"})
    assert source.kind == kind
    with pytest.raises(MissingCredentials):
        ADAPTERS[kind](config, settings.config.brand, {})


async def test_failing_tags_keep_the_comments(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=4)
    error = {"error": {"message": "(#200) Permissions error", "code": 200}}
    server.add(TAGS, json_reply(error, 403))
    server.add(MEDIA, fixture_reply("instagram", "media.json"))
    server.add(COMMENTS, fixture_reply("instagram", "media_comments.json"))
    result = await source_of(make_source).poll(http, None)
    assert len(result.mentions) == 4
    assert result.errors == [
        "tags: instagram: permission missing (Graph API code 200): (#200) Permissions error"
    ]
