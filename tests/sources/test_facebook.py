"""The Facebook Page source against recorded Graph API answers on 127.0.0.1."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.sources._graph import Usage, read_usage
from tests.conftest import EXAMPLE_CONFIG
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply, json_reply
from triagebot.cases.records import CaseState
from triagebot.cli.sources import build_poller, cmd_sources
from triagebot.config.settings import load_settings
from triagebot.errors import ConfigError, MissingCredentials, SourceError
from triagebot.runtime.wiring import Runtime

PAGE = "112233445566778"
TAGGED = f"/v22.0/{PAGE}/tagged"
FEED = f"/v22.0/{PAGE}/feed"
POST = f"{PAGE}_122189950421773019"
COMMENTS = f"/v22.0/{POST}/comments"
ENV = {"FACEBOOK_PAGE_TOKEN": "page-token-1"}
AFTER1 = (
    "QVFIUmxUOG5NeDFPRjlpZAzdNVjF5ZAkhWb1ZAjeGVYbDZA4VG1x"
    "VkRTNkdCc3RfMHRhQ3R0a3FmYnZAHdVl3bmFPbUlxSnBR"
)


def graph_error(
    code: int, message: str, subcode: int | None = None, headers: dict[str, str] | None = None
) -> Reply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return json_reply({"error": {**error, "fbtrace_id": "Ab12"}}, 400, headers)


def post(
    post_id: str, minutes_ago: float, message: str | None = "Northwind help", **more: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": post_id,
        "created_time": (POLL1 - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "permalink_url": f"https://www.facebook.com/{post_id.replace('_', '/posts/')}",
        **more,
    }
    if message is not None:
        item["message"] = message
    return item


def page_of(items: list[dict[str, Any]], after: str | None = None, **headers: str) -> Reply:
    paging: dict[str, Any] = {"cursors": {"before": "b", "after": after or "end"}}
    if after:
        paging["next"] = (
            f"https://graph.facebook.com/v22.0/x?access_token=PAGE_ACCESS_TOKEN&after={after}"
        )
    return json_reply({"data": items, "paging": paging}, headers=headers)


def tagged_only(make_source: MakeSource, **options: Any) -> Any:
    options.setdefault("page_id", PAGE)
    return make_source("facebook", env=ENV, comments=False, **options)


async def test_tagged_posts_walk_the_cursor_and_take_a_repeated_post_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page1.json"))
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"), after=AFTER1)
    source = tagged_only(make_source, page_size=5)
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == 8 and len(set(ids)) == 8  # nine items, FB5 twice
    first = result.mentions[0]
    assert first.id == "facebook:100089234561234_1239876543210987"
    assert first.url == "https://www.facebook.com/100089234561234/posts/1239876543210987"
    assert first.author.handle == "unknown"  # Graph hides the author of people's posts
    assert first.created_at.isoformat() == "2025-03-14T15:05:22+00:00"  # "+0000" read
    boulder = result.mentions[1]
    assert (boulder.author.handle, boulder.author.name) == ("108877665544332", "Boulder Beat")
    first_request, second_request = server.seen(TAGGED)
    assert first_request.headers["Authorization"] == "Bearer page-token-1"
    assert "access_token" not in first_request.query  # the token never travels in the URL
    assert first_request.query == {
        "fields": "id,message,created_time,updated_time,permalink_url,from",
        "limit": "5",
    }
    assert second_request.query["after"] == AFTER1
    assert result.retry_after is None  # usage of 3-4 % asks for no pause


async def test_a_later_poll_stops_at_the_watermark(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page1.json"))
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"), after=AFTER1)
    source = tagged_only(make_source, page_size=5)
    first = await source.poll(http, None)
    clock.now = POLL1 + timedelta(hours=4)
    again = await source.poll(http, first.cursor)
    assert list(again.mentions) == []
    assert len(server.seen(TAGGED)) == 3  # the second poll read page 1 only


async def test_comments_on_the_pages_posts_skip_its_own_replies_and_old_posts(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    old_post = post(f"{PAGE}_1000", 60 * 24 * 9, updated_time="2025-03-05T10:00:00+0000")
    fresh = post(POST, 90, updated_time="2025-03-14T16:40:12+0000")
    server.add(FEED, page_of([fresh, old_post]))
    body = json.loads(fixture_reply("facebook", "post_comments.json").body)
    body["data"].insert(
        0,
        {
            "id": "122189950421773019_1042233445566779",
            "created_time": "2025-03-14T16:45:00+0000",
            "from": {"name": "Northwind Outfitters", "id": PAGE},
            "message": "Thanks Tess, we have sent you a message.",
        },
    )
    body["data"].append(
        {
            "id": "122189950421773019_1042233445566770",
            "created_time": "2025-03-14T15:00:00+0000",
            "from": {"name": "A", "id": "1"},
        }
    )
    server.add(COMMENTS, json_reply(body))
    source = make_source("facebook", env=ENV, page_id=PAGE, tagged=False, page_size=5)
    result = await source.poll(http, None)
    names = [m.author.name for m in result.mentions]
    assert names == ["Tess Hart", "Zeke Marsh", "Sasha Kowalczyk", "Priya Raman", "Mo Haddad"]
    tess = result.mentions[0]
    assert tess.id == "facebook:122189950421773019_1042233445566771"
    assert tess.url == (
        "https://www.facebook.com/112233445566778/posts/122189950421773019"
        "?comment_id=1042233445566771"
    )
    assert tess.author.handle == "7012233445566778"
    assert tess.raw["post_id"] == POST
    (feed_request,) = server.seen(FEED)
    assert feed_request.query["limit"] == "10"
    (comments_request,) = server.seen(COMMENTS)  # the nine-day-old post was not read
    assert comments_request.query["order"] == "reverse_chronological"
    assert comments_request.query["filter"] == "stream"
    assert comments_request.headers["Authorization"] == "Bearer page-token-1"


async def test_a_post_deleted_while_reading_comments_is_skipped(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    gone = post(f"{PAGE}_999", 30)
    server.add(FEED, page_of([gone, post(POST, 90)]))
    server.add(
        f"/v22.0/{PAGE}_999/comments",
        graph_error(
            100, "Unsupported get request. Object with ID '112233445566778_999' does not exist", 33
        ),
    )
    server.add(COMMENTS, fixture_reply("facebook", "post_comments.json"))
    source = make_source("facebook", env=ENV, page_id=PAGE, tagged=False)
    result = await source.poll(http, None)
    assert len(result.mentions) == 5


async def test_throttling_mid_walk_keeps_what_was_found_and_resumes_next_time(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page1.json"))
    buc = json.dumps(
        {
            PAGE: [
                {
                    "type": "pages",
                    "call_count": 100,
                    "total_cputime": 20,
                    "total_time": 30,
                    "estimated_time_to_regain_access": 7,
                }
            ]
        }
    )
    server.add(
        TAGGED,
        graph_error(
            32, "(#32) Page request limit reached", headers={"x-business-use-case-usage": buc}
        ),
        times=1,
        after=AFTER1,
    )
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"), after=AFTER1)
    source = tagged_only(make_source, page_size=5)
    first = await source.poll(http, None)
    assert len(first.mentions) == 5  # page 1 is kept: a pause, not a failed poll
    assert first.retry_after == 7 * 60  # estimated_time_to_regain_access is in minutes
    assert first.pause_reason == "rate limited by the Graph API (code 32)"
    clock.now = POLL1 + timedelta(minutes=10)
    second = await source.poll(http, first.cursor)
    assert [m.id.split("_")[-1] for m in second.mentions] == [
        "1165544332211009",
        "1000112233445566",
        "1154433221100998",
    ]  # page 2 reached although page 1's posts are newer than its own
    assert second.retry_after is None
    assert second.pause_reason is None


@pytest.mark.parametrize("code", [4, 17, 613])
async def test_every_throttling_code_is_a_pause(
    code: int, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, graph_error(code, f"(#{code}) request limit reached"))
    result = await tagged_only(make_source).poll(http, None)
    assert list(result.mentions) == []
    assert result.retry_after == 300.0  # no estimate given: five minutes


async def test_usage_near_the_limit_slows_down_before_it(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    usage = json.dumps({"call_count": 95, "total_cputime": 10, "total_time": 12})
    server.add(
        TAGGED,
        fixture_reply(
            "facebook",
            "page_tagged_page1.json",
            headers={"x-app-usage": usage, "content-type": "application/json"},
        ),
    )
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"), after=AFTER1)
    result = await tagged_only(make_source, page_size=5).poll(http, None)
    assert len(result.mentions) == 5
    assert len(server.seen(TAGGED)) == 1  # no second page at 95 %
    assert result.retry_after == pytest.approx(900 * 0.8)
    assert result.pause_reason == "Graph API usage at 95 % of its hourly budget"


def test_usage_headers_are_read_defensively() -> None:
    def usage(**headers: str) -> Usage:
        return read_usage(httpx.Headers(headers))

    assert usage() == Usage(0.0, None)
    assert usage(**{"x-app-usage": "not json"}) == Usage(0.0, None)
    assert usage(**{"x-app-usage": '{"call_count": "99", "total_time": true}'}) == Usage(0.0, None)
    assert usage(**{"x-page-usage": '{"call_count": 12, "total_time": 80}'}).percent == 80
    buc = '{"1": [{"call_count": 5, "estimated_time_to_regain_access": 0}], "2": "junk"}'
    assert usage(**{"x-business-use-case-usage": buc}) == Usage(5.0, None)
    assert Usage(74.0).pause() is None
    assert Usage(76.0).pause() == 60.0  # at least a minute once slowing down
    assert Usage(100.0).pause() == 900.0
    assert Usage(10.0, 120.0).pause() == 120.0
    assert Usage(10.0, 120.0).reason() == "Graph API budget spent; it asks to wait 2 min"


async def test_429_with_retry_after(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, json_reply({"error": {"code": 4}}, 429, {"retry-after": "42"}))
    with pytest.raises(SourceError) as caught:
        await tagged_only(make_source).poll(http, None)
    assert caught.value.retry_after == 42.0


async def test_an_expired_token_says_which_variable_to_renew(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(
        TAGGED,
        graph_error(190, "Error validating access token: Session has expired on Friday", 463),
    )
    with pytest.raises(SourceError) as caught:
        await tagged_only(make_source).poll(http, None)
    message = str(caught.value)
    assert "access token rejected (Graph API code 190: the token expired)" in message
    assert "set FACEBOOK_PAGE_TOKEN" in message
    assert caught.value.retry_after is None


async def test_a_missing_permission_is_named(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(
        TAGGED,
        graph_error(10, "(#10) This endpoint requires the 'pages_read_engagement' permission"),
    )
    with pytest.raises(SourceError, match=r"permission missing .*pages_read_engagement"):
        await tagged_only(make_source).poll(http, None)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(b"<html>upstream error</html>", 200, {"content-type": "text/html"}),
        json_reply({"data": {"id": "1"}}),
        json_reply(["data"]),
    ],
)
async def test_malformed_bodies_fail_the_poll_and_say_so(
    reply: Reply, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, reply)
    with pytest.raises(SourceError, match=r"malformed JSON|unexpected answer"):
        await tagged_only(make_source).poll(http, None)


async def test_hostile_text_out_of_order_items_and_bad_dates(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    items = [
        post(
            "1_1",
            10,
            "Northwind <!channel> <@U123> <https://evil.example|click>",
            permalink_url="javascript:alert(1)",
        ),
        post("1_2", 60 * 24 * 5, "Northwind: an old post out of place"),  # behind the backfill
        post("1_3", 20, "Northwind newer than it should be here"),
        post("1_4", 5, None),  # a photo without words
        {**post("1_5", 0, "Northwind with a garbage date"), "created_time": "yesterday-ish"},
        {**post("1_6", 0, "Northwind from the future"), "created_time": "2031-01-01T00:00:00+0000"},
        {"message": "Northwind without an id"},
        "not an object",
    ]
    server.add(TAGGED, json_reply({"data": items, "paging": {"cursors": {"after": "x"}}}))
    source = tagged_only(make_source)
    result = await source.poll(http, None)
    by_id = {m.id.removeprefix("facebook:"): m for m in result.mentions}
    assert sorted(by_id) == ["1_1", "1_3", "1_5", "1_6"]
    hostile = by_id["1_1"]
    assert hostile.text == "Northwind <!channel> <@U123> <https://evil.example|click>"
    assert hostile.url == "https://www.facebook.com/1_1"  # never a javascript: link
    assert by_id["1_5"].created_at == POLL1  # unreadable: the fetch time
    assert by_id["1_6"].created_at == POLL1  # the future is clamped
    mark = json.loads(result.cursor or "{}")["tagged"]
    assert mark["newest"] == (POLL1 - timedelta(minutes=5)).timestamp()  # not moved by bad dates
    assert set(mark["seen"]) >= {"1_5", "1_6"}
    again = await source.poll(http, result.cursor)  # the same page again: nothing new
    assert list(again.mentions) == []


async def test_the_later_edit_of_a_post_wins(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    items = [
        post("1_1", 10, "Northwind first words", updated_time="2025-03-14T15:51:00+0000"),
        post("1_2", 12, "Northwind edited again", updated_time="2025-03-14T15:58:00+0000"),
        post("1_1", 10, "Northwind edited words", updated_time="2025-03-14T15:55:00+0000"),
        post("1_2", 12, "Northwind older copy", updated_time="2025-03-14T15:49:00+0000"),
    ]
    server.add(TAGGED, page_of(items))
    result = await tagged_only(make_source).poll(http, None)
    texts = {m.id: m.text for m in result.mentions}
    assert texts == {
        "facebook:1_1": "Northwind edited words",
        "facebook:1_2": "Northwind edited again",
    }


def test_credentials_and_options(make_source: MakeSource) -> None:
    with pytest.raises(MissingCredentials) as caught:
        make_source("facebook", page_id=PAGE)
    assert caught.value.variables == ["FACEBOOK_PAGE_TOKEN"]
    with pytest.raises(MissingCredentials) as named:
        make_source("facebook", page_id=PAGE, access_token_env="NW_FB_TOKEN")
    assert named.value.variables == ["NW_FB_TOKEN"]
    with pytest.raises(ConfigError, match=r"page_id: Field required"):
        make_source("facebook", env=ENV)
    with pytest.raises(ConfigError, match=r"page_id: must be text"):
        make_source("facebook", env=ENV, page_id=int(PAGE))
    with pytest.raises(ConfigError, match=r"pageid: unknown key .*did you mean 'page_id'"):
        make_source("facebook", env=ENV, page_id=PAGE, pageid=PAGE)
    with pytest.raises(ConfigError, match=r"api_version"):
        make_source("facebook", env=ENV, page_id=PAGE, api_version="22")
    with pytest.raises(ConfigError, match=r"cannot both be false"):
        make_source("facebook", env=ENV, page_id=PAGE, tagged=False, comments=False)
    with pytest.raises(ConfigError, match=r"page_size: must be at most 100"):
        make_source("facebook", env=ENV, page_id=PAGE, page_size=500)


async def test_appsecret_proof_when_the_app_secret_is_set(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, page_of([]))
    env = {**ENV, "FACEBOOK_APP_SECRET": "s3cret"}
    await make_source("facebook", env=env, page_id=PAGE, comments=False).poll(http, None)
    proof = server.seen(TAGGED)[0].query["appsecret_proof"]
    assert proof == hmac.new(b"s3cret", b"page-token-1", hashlib.sha256).hexdigest()


def config_with(folder: Path, blocks: str) -> Path:
    """The example configuration with these ``[[sources]]`` blocks instead of its own."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    head, tail = text.split("[[sources]]", 1)[0], text.split("[escalation]", 1)[1]
    path = folder / "triagebot.toml"
    path.write_text(f"{head}{blocks}\n[escalation]{tail}", encoding="utf-8")
    return path


async def test_triagebot_sources_shows_an_expired_token_and_missing_credentials(
    server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.add(TAGGED, graph_error(190, "Error validating access token: Session has expired", 463))
    config = config_with(
        tmp_path,
        f"""
[[sources]]
name = "fb"
type = "facebook"
base_url = "{server.url}"
page_id = "{PAGE}"
comments = false

[[sources]]
name = "fb-other"
type = "facebook"
page_id = "42"
access_token_env = "OTHER_PAGE_TOKEN"
""",
    )
    environ = {"TRIAGEBOT_CONFIG": str(config), "TRIAGEBOT_DB": str(tmp_path / "db.json")}
    monkeypatch.setenv("COLUMNS", "250")  # the table is not wrapped
    environ["FACEBOOK_PAGE_TOKEN"] = "expired-token"
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    runtime = Runtime.build(load_settings(config, environ))
    poller = build_poller(runtime)
    try:
        outcome = await poller.run("fb")
    finally:
        await poller.aclose()
        runtime.close()
    assert outcome.error is not None and "code 190" in outcome.error
    assert cmd_sources(argparse.Namespace(json=True)) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["fb"]["last_error"] == (
        "fb: access token rejected (Graph API code 190: the token expired); "
        "create a new token and set FACEBOOK_PAGE_TOKEN"
    )
    assert rows["fb-other"]["missing"] == ["OTHER_PAGE_TOKEN"]
    assert cmd_sources(argparse.Namespace(json=False)) == 0
    table = capsys.readouterr().out
    assert "code 190" in table
    assert "set OTHER_PAGE_TOKEN" in table


async def test_a_failing_comments_part_keeps_the_tagged_posts(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"))
    server.add(FEED, graph_error(10, "(#10) This endpoint requires pages_read_user_content"))
    source = make_source("facebook", env=ENV, page_id=PAGE)
    result = await source.poll(http, None)
    assert len(result.mentions) == 4
    (error,) = result.errors
    assert error.startswith("comments: facebook: permission missing (Graph API code 10)")
    cursor = json.loads(result.cursor or "{}")
    assert "tagged" in cursor and "comments" not in cursor  # the failed part starts again


async def test_when_every_part_fails_the_poll_fails(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    expired = graph_error(190, "Error validating access token", 463)
    server.add(TAGGED, expired)
    server.add(FEED, expired)
    with pytest.raises(SourceError, match=r"code 190: the token expired"):
        await make_source("facebook", env=ENV, page_id=PAGE).poll(http, None)


async def test_tagged_posts_through_the_poller_into_the_store_once(
    server: FakeServer, tmp_path: Path
) -> None:
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page1.json"))
    server.add(TAGGED, fixture_reply("facebook", "page_tagged_page2.json"), after=AFTER1)
    config = config_with(
        tmp_path,
        f"""
[[sources]]
name = "fb"
type = "facebook"
base_url = "{server.url}"
page_id = "{PAGE}"
comments = false
page_size = 5
backfill = "30000d"
""",
    )
    environ = {"TRIAGEBOT_DB": str(tmp_path / "db.json"), **ENV}
    runtime = Runtime.build(load_settings(config, environ))
    poller = build_poller(runtime)
    try:
        first = await poller.run("fb")
        again = await poller.run("fb")
        cases = runtime.store.list_cases()
    finally:
        await poller.aclose()
        runtime.close()
    assert first.error is None and first.fetched == 8
    assert len(first.result.new) == 8  # every post names the brand
    # The FREE90 offer posted by "Gear Deals Daily" (the spam rules) and the local news link
    # about a store opening (the model: news links are no department's, docs/routing.md).
    spam = {c.mention.text[:30] for c in cases if c.state is CaseState.SPAM}
    assert spam == {"🔥 Northwind Outfitters jackets", "Northwind Outfitters is openin"}
    assert {c.mention.id for c in cases} >= {"fb:100054411928377_1176655443322110"}
    assert again.fetched == 0 and not again.result.new  # the cursor remembers
    assert len({c.mention.id for c in cases}) == len(cases)
