"""Facebook Page replies and comment threads against a loopback Graph API that checks what
Graph checks: the publishing token (not the read token), its appsecret_proof, ``message``
present and within 8,000 characters; throttling as HTTP 400 with code 32 and the Business Use
Case header, a dead token (190), a missing permission (200), a 5xx."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.sources._base import BaseSource
from tests.sources.conftest import Clock, MakeSource
from tests.sources.server import FakeServer, Reply, Seen, fixture_reply, json_reply
from tests.sources.test_facebook import graph_error
from triagebot.actions.public import PublicThreads, ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import ConfigError

PAGE = "112233445566778"
POST = f"{PAGE}_122189950421773019"
COMMENT = "122189950421773019_1042233445566772"
READ, WRITE, SECRET = "page-read-token", "page-publish-token", "app-secret-9"
ENV = {"FACEBOOK_PAGE_TOKEN": READ, "NW_FB_PUBLISH": WRITE, "FACEBOOK_APP_SECRET": SECRET}
POLL2 = datetime(2025, 3, 14, 20, 0, tzinfo=UTC)
TEXT = "Hi Zeke, yes: zippers are covered for life."


def source_of(make_source: MakeSource, **options: Any) -> BaseSource:
    options.setdefault("reply_token_env", "NW_FB_PUBLISH")
    return make_source("facebook", env=ENV, page_id=PAGE, **options)


def public_of(source: BaseSource) -> PublicThreads:
    public = reply_capable(source)
    assert public is not None
    return public


def zeke(source: BaseSource) -> Mention:
    """Zeke's comment on the Page's post, as the comments part of the poll builds it."""
    return source.mention(
        COMMENT,
        url=f"https://www.facebook.com/{PAGE}/posts/122189950421773019?comment_id=1042233445566772",
        fallback_url="https://www.facebook.com/",
        handle="7013344556677889",
        name="Zeke Marsh",
        text="Does the lifetime repair program cover my Ridgeline zipper?",
        created_at=datetime(2025, 3, 14, 16, 22, 47, tzinfo=UTC),
        raw={"id": COMMENT, "post_id": POST},
    )


def publish(request: Seen) -> Reply:
    """``POST /{object-id}/comments`` as Graph checks it."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token != WRITE:
        return graph_error(200, "(#200) The user hasn't authorized the application")
    proof = hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    if request.query.get("appsecret_proof") != proof:
        return graph_error(100, "Invalid appsecret_proof provided in the API argument")
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    message = form.get("message", "")
    if not message:
        return graph_error(100, "(#100) Missing message or attachment")
    if len(message) > 8000:
        return graph_error(100, "(#100) Comment is too long")
    return json_reply({"id": "122189950421773019_1042233445566799"})


REPLY_PATH = f"/v22.0/{COMMENT}/comments"


async def test_reply_to_a_comment_with_the_publishing_token(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(REPLY_PATH, publish)
    source = source_of(make_source, app_secret_env="FACEBOOK_APP_SECRET")
    public = public_of(source)
    assert public.can_reply
    sent = await public.reply(http, zeke(source), TEXT, "r-1")
    assert sent.external_id == "122189950421773019_1042233445566799"
    assert sent.url == (
        f"https://www.facebook.com/{PAGE}/posts/122189950421773019"
        "?comment_id=1042233445566772&reply_comment_id=1042233445566799"
    )
    (seen,) = server.seen(REPLY_PATH)
    assert seen.method == "POST"
    assert parse_qs(seen.body.decode()) == {"message": [TEXT]}
    assert WRITE not in str(seen.query) and READ not in seen.headers["Authorization"]


async def test_the_read_token_is_never_used_to_publish(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(REPLY_PATH, publish)
    source = source_of(make_source, reply_token_env="FACEBOOK_PAGE_TOKEN")  # a read-only token
    with pytest.raises(ReplyFailed, match="permission missing"):
        await public_of(source).reply(http, zeke(source), TEXT, "r-2")


def test_length_in_words(make_source: MakeSource) -> None:
    public = public_of(source_of(make_source))
    assert public.reply_problem("x" * 8_412) == "8,412 of 8,000 characters: shorten by 412"
    assert public.reply_problem(TEXT) is None


async def test_throttled_reply_waits_for_graph_estimate(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    usage = {PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    headers = {"x-business-use-case-usage": json.dumps(usage)}
    server.add(REPLY_PATH, graph_error(32, "(#32) Page request limit reached", headers=headers))
    source = source_of(make_source)
    with pytest.raises(ReplyFailed, match="rate limited") as raised:
        await public_of(source).reply(http, zeke(source), TEXT, "r-3")
    assert raised.value.retry_after == 7 * 60


async def test_an_expired_publishing_token_names_its_variable(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(REPLY_PATH, graph_error(190, "Error validating access token", subcode=463))
    source = source_of(make_source)
    with pytest.raises(ReplyFailed, match=r"token expired.*set NW_FB_PUBLISH"):
        await public_of(source).reply(http, zeke(source), TEXT, "r-4")


async def test_a_5xx_is_uncertain_and_sent_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    body = {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}}
    server.add(REPLY_PATH, json_reply(body, 500))
    source = source_of(make_source)
    with pytest.raises(ReplyUnknown):
        await public_of(source).reply(http, zeke(source), TEXT, "r-5")
    assert len(server.seen(REPLY_PATH)) == 1


def test_publishing_token_is_an_option_of_its_own(make_source: MakeSource) -> None:
    reading = make_source("facebook", env=ENV, page_id=PAGE)
    assert not public_of(reading).can_reply
    assert reading.reply_missing == ("FACEBOOK_REPLY_TOKEN",)  # type: ignore[attr-defined]
    unset = source_of(make_source, reply_token_env="NW_UNSET")  # polling goes on without it
    assert unset.reply_missing == ("NW_UNSET",)  # type: ignore[attr-defined]
    by_default = make_source("facebook", env=ENV | {"FACEBOOK_REPLY_TOKEN": WRITE}, page_id=PAGE)
    assert public_of(by_default).can_reply
    with pytest.raises(ConfigError, match="write_token_env"):
        make_source("facebook", env=ENV, page_id=PAGE, write_token_env="NW_FB_PUBLISH")


async def test_thread_marks_the_pages_comment_and_keeps_hostile_text_inert(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL2
    thread = f"/v22.0/{COMMENT}/comments"
    server.add(thread, fixture_reply("facebook", "post_thread_stream.json"), filter="stream")
    source = source_of(make_source)
    mention = zeke(source)
    read = (await public_of(source).threads(http, [mention]))[mention.id]
    assert read.gone is None
    ids = [p.id for p in read.posts]
    assert ids == [  # the reply without words (a sticker) is left out
        "122189950421773019_1042233445566790",
        "122189950421773019_1042233445566791",
    ]
    answer = next(p for p in read.posts if p.by_brand)
    assert answer.author == PAGE and answer.in_reply_to == COMMENT
    assert answer.created_at == datetime(2025, 3, 14, 16, 31, 5, tzinfo=UTC)
    hostile = read.posts[-1]
    assert hostile.url is None  # javascript: links are dropped
    assert not hostile.by_brand and hostile.author == "7013344556677889"
    (seen,) = server.seen(thread)
    assert seen.headers["Authorization"] == f"Bearer {READ}"
    assert seen.query["fields"] == "id,from,message,created_time,parent{id},permalink_url"


async def test_a_deleted_comment_is_gone(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    message = "Unsupported get request. Object with ID does not exist"
    server.add(f"/v22.0/{COMMENT}/comments", graph_error(100, message, subcode=33))
    source = source_of(make_source)
    mention = zeke(source)
    assert (await public_of(source).threads(http, [mention]))[mention.id].gone == "deleted"


async def test_a_nearly_spent_budget_ends_the_round(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    usage = {"x-app-usage": json.dumps({"call_count": 92, "total_cputime": 10, "total_time": 9})}
    server.add(f"/v22.0/{COMMENT}/comments", json_reply({"data": []}, headers=usage))
    source = source_of(make_source)
    first = zeke(source)
    second = replace(first, id="facebook:122189950421773019_1042233445566773")
    reads = await public_of(source).threads(http, [first, second])
    assert list(reads) == [first.id]  # the second waits for the next round
    assert [r.path for r in server.requests] == [f"/v22.0/{COMMENT}/comments"]


async def test_a_reply_to_a_post_is_a_comment_on_it(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(f"/v22.0/{POST}/comments", publish)
    source = source_of(make_source)
    tagged = source.mention(
        POST,
        url=f"https://www.facebook.com/{PAGE}/posts/122189950421773019",
        fallback_url="https://www.facebook.com/",
        handle="7012233445566778",
        text="@Northwind where is my order?",
        created_at=datetime(2025, 3, 14, 15, 0, tzinfo=UTC),
        raw={"id": POST},
    )
    sent = await public_of(source).reply(http, tagged, TEXT, "r-6")
    assert sent.url == (
        f"https://www.facebook.com/{PAGE}/posts/122189950421773019?comment_id=1042233445566799"
    )
