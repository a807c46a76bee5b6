"""Discourse replies and thread reads against a loopback forum that checks what Discourse
checks: the write key and user, the required fields, the post length, 429 with Retry-After."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from integrations.sources._base import BaseSource
from tests.sources.conftest import MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, json_reply
from triagebot.actions.public import ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import ConfigError

READ_KEY, WRITE_KEY = "read-key-111", "write-key-222"
ENV = {"DISCOURSE_API_KEY": READ_KEY, "NW_FORUM_WRITE": WRITE_KEY}
REPLY_OPTIONS = {"reply_api_key_env": "NW_FORUM_WRITE", "reply_username": "northwind_support"}
NOT_FOUND = {"errors": ["The requested URL or resource could not be found."]}
WITHDRAWN = {
    "id": 31877,
    "post_number": 3,
    "username": "zipper_zeke",
    "cooked": "<p>(post deleted by author)</p>",
    "user_deleted": True,
}
DENIED = {"errors": ["You are not permitted to view the requested resource."]}
TEXT = "Hi Zoe, sorry about the zipper: it is covered for life."


def forum_source(make_source: MakeSource, **options: Any) -> BaseSource:
    return make_source("discourse", env=ENV, **(REPLY_OPTIONS | options))


def customer_post(source: BaseSource) -> Mention:
    return source.mention(
        "31877",
        url=f"{source.base_url}/t/ridgeline-zipper-split/5190/3",
        fallback_url=source.base_url,
        handle="zipper_zeke",
        text="The zipper on my Ridgeline split",
        created_at=datetime(2025, 3, 14, 11, 5, tzinfo=UTC),
        raw={"id": 31877, "topic_id": 5190, "post_number": 3},
    )


def created(request: Seen) -> Reply:
    """``POST /posts.json`` as Discourse checks it: the key, the user, the fields, lengths."""
    if request.headers.get("Api-Key") != WRITE_KEY:
        return json_reply(DENIED | {"error_type": "invalid_access"}, 403)
    if request.headers.get("Api-Username") != "northwind_support":
        return json_reply(DENIED | {"error_type": "invalid_access"}, 403)
    body = json.loads(request.body)
    if not isinstance(body.get("topic_id"), int) or "raw" not in body:
        return json_reply({"errors": ["param is missing or the value is empty: raw"]}, 400)
    if len(body["raw"]) < 20:
        return json_reply({"errors": ["Body is too short (minimum is 20 characters)"]}, 422)
    if len(body["raw"]) > 32_000:
        return json_reply({"errors": ["Body is limited to 32000 characters."]}, 422)
    return json_reply(
        {
            "id": 31901,
            "username": "northwind_support",
            "created_at": "2025-03-14T16:00:01.000Z",
            "cooked": f"<p>{body['raw']}</p>",
            "post_number": 8,
            "post_type": 1,
            "reply_to_post_number": body.get("reply_to_post_number"),
            "topic_id": body["topic_id"],
            "topic_slug": "ridgeline-zipper-split",
        }
    )


async def test_reply_posts_with_the_write_key_as_the_brand_user(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/posts.json", created)
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None and public.can_reply
    sent = await public.reply(http, customer_post(source), TEXT, "r-1")
    assert sent.external_id == "31901"
    assert sent.url == f"{server.url}/t/ridgeline-zipper-split/5190/8"
    (seen,) = server.seen("/posts.json")
    assert seen.method == "POST"
    assert seen.headers["Api-Key"] == WRITE_KEY  # never the read key
    assert json.loads(seen.body) == {"topic_id": 5190, "raw": TEXT, "reply_to_post_number": 3}


async def test_length_rules_in_words_and_refusals(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/posts.json", created)
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None
    assert public.reply_problem("x" * 32_001) == "32,001 of 32,000 characters: shorten by 1"
    assert public.reply_problem("thanks!") == ("7 characters: this forum needs at least 20; add 13")
    assert public.reply_problem(TEXT) is None
    with pytest.raises(ReplyFailed, match="too short"):  # the forum's own rule still holds
        await public.reply(http, customer_post(source), "thanks!", "r-2")


async def test_a_wrong_key_is_refused_in_words(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/posts.json", created)
    source = make_source("discourse", env=ENV | {"NW_FORUM_WRITE": "stale"}, **REPLY_OPTIONS)
    public = reply_capable(source)
    assert public is not None
    with pytest.raises(ReplyFailed, match="refused the key or user northwind_support"):
        await public.reply(http, customer_post(source), TEXT, "r-3")


@pytest.mark.parametrize(
    "case",
    [({"Retry-After": "42"}, {"wait_seconds": 40}, 42.0), ({}, {"wait_seconds": 17}, 17.0)],
)
async def test_rate_limited_reply_says_when_to_try_again(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    case: tuple[dict[str, str], dict[str, Any], float],
) -> None:
    headers, extras, wait = case
    body = {
        "errors": ["You've performed this action too many times. Please wait 42 seconds."],
        "error_type": "rate_limit",
        "extras": extras,
    }
    code = {"Discourse-Rate-Limit-Error-Code": "create_post"}
    server.add("/posts.json", json_reply(body, 429, headers | code))
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None
    with pytest.raises(ReplyFailed) as raised:
        await public.reply(http, customer_post(source), TEXT, "r-4")
    assert raised.value.retry_after == wait


async def test_a_5xx_is_uncertain_and_sent_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/posts.json", Reply(b"<html>502 Bad Gateway</html>", 502))
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None
    with pytest.raises(ReplyUnknown, match="may have been posted"):
        await public.reply(http, customer_post(source), TEXT, "r-5")
    assert len(server.seen("/posts.json")) == 1


async def test_a_timeout_after_sending_is_uncertain(
    server: FakeServer, make_source: MakeSource
) -> None:
    server.add("/posts.json", Reply(b"{}", 200, {}, delay=1.0))
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as short:
        with pytest.raises(ReplyUnknown):
            await public.reply(short, customer_post(source), TEXT, "r-6")
    assert len(server.seen("/posts.json")) == 1


async def test_a_forum_that_cannot_be_reached_is_a_clean_failure(
    http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = forum_source(make_source, base_url="http://127.0.0.1:9")  # nothing listens
    public = reply_capable(source)
    assert public is not None
    with pytest.raises(ReplyFailed, match="nothing was posted"):
        await public.reply(http, customer_post(source), TEXT, "r-7")


def test_write_credentials_are_their_own_options(make_source: MakeSource) -> None:
    reading = make_source("discourse", env=ENV)
    public = reply_capable(reading)
    assert public is not None and not public.can_reply  # no write key: no replies
    assert reading.reply_missing == ("DISCOURSE_REPLY_API_KEY",)  # type: ignore[attr-defined]
    unset = make_source("discourse", env={}, **REPLY_OPTIONS)  # polling goes on without it
    assert unset.reply_missing == ("NW_FORUM_WRITE",)  # type: ignore[attr-defined]
    by_default = make_source(
        "discourse", env={"DISCOURSE_REPLY_API_KEY": WRITE_KEY}, reply_username="nw"
    )
    assert reply_capable(by_default) is not None and by_default.can_reply  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="reply_username"):
        make_source("discourse", env=ENV, reply_api_key_env="NW_FORUM_WRITE")
    with pytest.raises(ConfigError, match="reply_key_env"):
        make_source("discourse", env=ENV, reply_key_env="NW_FORUM_WRITE")


def topic_posts(request: Seen) -> Reply:
    if request.query.get("asc") != "true" or request.query.get("post_number") != "2":
        return json_reply({"errors": ["unexpected"]}, 400)
    body = (FIXTURES / "discourse" / "topic_posts_after.json").read_bytes()
    return Reply(body, 200, {"content-type": "application/json"})


async def test_thread_reads_the_posts_after_the_customer(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/t/5190/posts.json", topic_posts)
    source = forum_source(make_source, brand_usernames=["nw_eng"])
    public = reply_capable(source)
    assert public is not None and public.can_read_threads
    mention = customer_post(source)
    read = (await public.threads(http, [mention]))[mention.id]
    assert read.gone is None
    assert [p.id for p in read.posts] == ["31880", "31889"]  # no small action, no deleted post
    brand, follow_up = read.posts
    assert brand.by_brand and brand.author == "northwind_support"
    assert brand.in_reply_to == "31877"
    assert brand.created_at == datetime(2025, 3, 14, 13, 41, 57, 902000, tzinfo=UTC)
    assert brand.url == f"{server.url}/t/ridgeline-zipper-split/5190/4"
    assert not follow_up.by_brand and follow_up.in_reply_to == "31880"
    assert "alert(1)" not in follow_up.text and "javascript" not in follow_up.text
    assert follow_up.text.startswith("Sent it! <!channel>")  # plain text; surfaces escape it
    assert server.seen("/t/5190/posts.json")[0].headers.get("Api-Key") == READ_KEY


@pytest.mark.parametrize(
    ("reply", "gone"),
    [
        (json_reply(NOT_FOUND, 404), "deleted (its topic is gone)"),
        (json_reply({"post_stream": {"posts": []}, "id": 5190}), "deleted"),
        (json_reply({"post_stream": {"posts": [WITHDRAWN]}}), "deleted by its author"),
    ],
)
async def test_a_deleted_post_is_gone(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    reply: Reply,
    gone: str,
) -> None:
    server.add("/t/5190/posts.json", reply)
    source = forum_source(make_source)
    public = reply_capable(source)
    assert public is not None
    mention = customer_post(source)
    assert (await public.threads(http, [mention]))[mention.id].gone == gone
