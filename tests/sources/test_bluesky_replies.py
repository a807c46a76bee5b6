"""Bluesky replies and thread reads against a loopback PDS/AppView that checks what they
check: the brand account's session (not the searching one), an expired token renewed with the
refresh token, the record's reply refs, 300 graphemes, 429 with ``RateLimit-Reset``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations.sources._base import BaseSource
from integrations.sources._lengths import graphemes
from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.actions.public import ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention

ENV = {
    "BLUESKY_HANDLE": "listener.bsky.social",
    "BLUESKY_APP_PASSWORD": "read-pass",
    "NW_BSKY_HANDLE": "northwind.example",
    "NW_BSKY_PASSWORD": "brand-pass",
}
OPTIONS = {"reply_handle_env": "NW_BSKY_HANDLE", "reply_app_password_env": "NW_BSKY_PASSWORD"}
SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
CREATE = "/xrpc/com.atproto.repo.createRecord"
THREAD = "/xrpc/app.bsky.feed.getPostThread"
BRAND_DID = "did:plc:northwindbrand0000000000"
WES = json.loads((FIXTURES / "bluesky" / "searchPosts_page1.json").read_text())["posts"][0]


class Pds:
    """Sessions and ``createRecord`` as a PDS checks them. ``expire_first``: the first access
    token of the brand account is already expired when used."""

    def __init__(self, expire_first: bool = False) -> None:
        self.valid = {"brand-access-1"} if not expire_first else set()
        self.records: list[dict[str, Any]] = []

    def session(self, request: Seen) -> Reply:
        login = json.loads(request.body)
        if login == {"identifier": "listener.bsky.social", "password": "read-pass"}:
            return json_reply({"accessJwt": "read-jwt", "refreshJwt": "r", "did": "did:plc:l"})
        if login == {"identifier": "northwind.example", "password": "brand-pass"}:
            answer = {
                "accessJwt": "brand-access-1",
                "refreshJwt": "brand-refresh-1",
                "did": BRAND_DID,
                "handle": "northwind.example",
            }
            return json_reply(answer)
        return json_reply(
            {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401
        )

    def refresh(self, request: Seen) -> Reply:
        if request.headers.get("Authorization") != "Bearer brand-refresh-1":
            return json_reply({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        self.valid.add("brand-access-2")
        answer = {"accessJwt": "brand-access-2", "refreshJwt": "brand-refresh-2", "did": BRAND_DID}
        return json_reply(answer | {"handle": "northwind.example"})

    def create(self, request: Seen) -> Reply:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token == "brand-access-1" and token not in self.valid:
            return json_reply({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        if token not in self.valid:
            return json_reply({"error": "AuthenticationRequired", "message": "Invalid token"}, 401)
        body = json.loads(request.body)
        record = body.get("record", {})
        reply = record.get("reply", {})
        refs = [reply.get("root", {}), reply.get("parent", {})]
        if body.get("repo") != BRAND_DID or body.get("collection") != "app.bsky.feed.post":
            return json_reply({"error": "InvalidRequest", "message": "Input/repo is invalid"}, 400)
        if not all(r.get("uri", "").startswith("at://") and r.get("cid") for r in refs):
            return json_reply({"error": "InvalidRequest", "message": "Invalid reply ref"}, 400)
        if graphemes(record.get("text", "")) > 300:
            message = "Invalid app.bsky.feed.post record: Record/text must not be longer than "
            message += "300 graphemes"
            return json_reply({"error": "InvalidRequest", "message": message}, 400)
        self.records.append(record)
        rkey = f"3lke{len(self.records):09d}"
        return json_reply(
            {"uri": f"at://{BRAND_DID}/app.bsky.feed.post/{rkey}", "cid": "bafyreinew"}
        )


def sky(
    server: FakeServer, make_source: MakeSource, pds: Pds | None = None, **options: Any
) -> BaseSource:
    pds = pds or Pds()
    server.add(SESSION, pds.session)
    server.add(REFRESH, pds.refresh)
    server.add(CREATE, pds.create)
    return make_source("bluesky", env=ENV, **(OPTIONS | options))


def post_of(source: BaseSource, raw: dict[str, Any]) -> Mention:
    return source.mention(
        raw["uri"],
        url="https://bsky.app/profile/wildcamp-wes.bsky.social/post/3lkdxbnudicxm",
        fallback_url="https://bsky.app",
        handle=raw["author"]["handle"],
        text=raw["record"]["text"],
        created_at=datetime(2025, 3, 14, 15, 44, 10, tzinfo=UTC),
        raw=raw,
    )


async def test_reply_writes_a_post_with_root_and_parent_as_the_brand(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    pds = Pds()
    source = sky(server, make_source, pds)
    public = reply_capable(source)
    assert public is not None and public.can_reply and public.can_read_threads
    text = "Sorry Wes! Replacement details: https://northwind.example/care/cirrus 🏕️"
    sent = await public.reply(http, post_of(source, WES), text, "k-1")
    (record,) = pds.records
    assert record["text"] == text  # as typed
    assert record["reply"]["parent"] == {"uri": WES["uri"], "cid": WES["cid"]}
    assert record["reply"]["root"] == record["reply"]["parent"]  # a top-level post
    (facet,) = record["facets"]
    start = len(text[: text.index("https://")].encode())
    assert facet["index"] == {
        "byteStart": start,
        "byteEnd": start + len(b"https://northwind.example/care/cirrus"),
    }
    assert sent.external_id == f"at://{BRAND_DID}/app.bsky.feed.post/3lke000000001"
    assert sent.url == "https://bsky.app/profile/northwind.example/post/3lke000000001"
    assert json.loads(server.seen(SESSION)[0].body)["identifier"] == "northwind.example"


async def test_a_reply_to_a_reply_keeps_the_thread_root(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    pds = Pds()
    source = sky(server, make_source, pds)
    root = {"uri": "at://did:plc:op/app.bsky.feed.post/3lkaaaaaaaaaa", "cid": "bafyreiroot"}
    raw = WES | {"record": WES["record"] | {"reply": {"root": root, "parent": root}}}
    await source.reply(http, post_of(source, raw), "Thanks for the details", "k")  # type: ignore[attr-defined]
    assert pds.records[0]["reply"]["root"] == root
    assert pds.records[0]["reply"]["parent"]["uri"] == WES["uri"]


async def test_an_expired_token_is_refreshed_and_the_post_written_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    pds = Pds(expire_first=True)
    source = sky(server, make_source, pds)
    await source.reply(http, post_of(source, WES), "Hello Wes", "k")  # type: ignore[attr-defined]
    assert len(pds.records) == 1
    assert [s.headers["Authorization"] for s in server.seen(CREATE)] == [
        "Bearer brand-access-1",
        "Bearer brand-access-2",
    ]
    assert server.seen(REFRESH)[0].headers["Authorization"] == "Bearer brand-refresh-1"


def test_length_in_graphemes_and_bytes(server: FakeServer, make_source: MakeSource) -> None:
    public = reply_capable(sky(server, make_source))
    assert public is not None
    assert public.reply_problem("👨‍👩‍👧‍👦" * 120) is None  # one grapheme each, 25 bytes each
    assert public.reply_problem("é" * 301) == "301 of 300 characters: shorten by 1"
    assert public.reply_problem("👨‍👩‍👧‍👦" * 121) == "3,025 of 3,000 bytes: shorten by 25"
    assert public.reply_problem("🏳️‍🌈" * 220) == "3,080 of 3,000 bytes: shorten by 80"


async def test_a_wrong_app_password_is_said_in_words(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = sky(server, make_source)
    source.env = {**ENV, "NW_BSKY_PASSWORD": "wrong"}
    source._init_public()  # type: ignore[attr-defined]
    with pytest.raises(ReplyFailed, match=r"login.*NW_BSKY_HANDLE and NW_BSKY_PASSWORD"):
        await source.reply(http, post_of(source, WES), "Hello", "k")  # type: ignore[attr-defined]
    assert server.seen(CREATE) == []


async def test_429_carries_the_reset_and_a_5xx_is_uncertain(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    reset = str(int((POLL1 + timedelta(seconds=200)).timestamp()))
    limited = json_reply(
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        429,
        {"ratelimit-reset": reset},
    )
    server.add(CREATE, limited, times=1)
    server.add(CREATE, json_reply({"error": "InternalServerError"}, 502), times=1)
    source = sky(server, make_source)
    server.routes.sort(key=lambda r: r.times is None)  # the scripted answers first
    with pytest.raises(ReplyFailed) as failed:
        await source.reply(http, post_of(source, WES), "Hello", "k")  # type: ignore[attr-defined]
    assert failed.value.retry_after == pytest.approx(200)
    with pytest.raises(ReplyUnknown):
        await source.reply(http, post_of(source, WES), "Hello", "k")  # type: ignore[attr-defined]
    assert len(server.seen(CREATE)) == 2  # one each: never sent again


def test_without_the_brand_account_it_only_reads(
    server: FakeServer, make_source: MakeSource
) -> None:
    source = make_source("bluesky", env={k: v for k, v in ENV.items() if k.startswith("BLUESKY")})
    public = reply_capable(source)
    assert public is not None and not public.can_reply and public.can_read_threads
    assert source.reply_missing == ("BLUESKY_REPLY_HANDLE", "BLUESKY_REPLY_APP_PASSWORD")  # type: ignore[attr-defined]


async def test_thread_walks_the_replies_and_keeps_hostile_text_inert(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Any
) -> None:
    clock.now = POLL1 + timedelta(hours=1)
    server.add(THREAD, fixture_reply("bluesky", "getPostThread_wes.json"))
    source = sky(server, make_source)
    mention = post_of(source, WES)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    (seen,) = server.seen(THREAD)
    assert seen.query["uri"] == WES["uri"]
    assert seen.headers["Authorization"] == "Bearer read-jwt"  # the searching account reads
    read = reads[mention.id]
    assert read.gone is None
    by_author = {p.author: p for p in read.posts}
    assert set(by_author) == {
        "northwind.example",
        "hikerfan.bsky.social",
        "wildcamp-wes.bsky.social",
    }
    brand = by_author["northwind.example"]
    assert brand.in_reply_to == WES["uri"]
    assert brand.url == "https://bsky.app/profile/northwind.example/post/3lkdz7q2ab22k"
    follow_up = by_author["wildcamp-wes.bsky.social"]
    assert follow_up.in_reply_to == brand.id
    assert follow_up.text.startswith(
        "<script>alert(1)</script> <!channel>"
    )  # text, escaped by surfaces
    assert follow_up.created_at == datetime(2025, 3, 14, 15, 55, 2, tzinfo=UTC)


async def test_a_deleted_post_is_gone(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    message = {"error": "NotFound", "message": f"Post not found: {WES['uri']}"}
    server.add(THREAD, json_reply(message, 400))
    source = sky(server, make_source)
    mention = post_of(source, WES)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert reads[mention.id].gone is not None


async def test_a_login_that_fails_posts_nothing(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(SESSION, json_reply({"error": "InternalServerError"}, 503))
    source = make_source("bluesky", env=ENV, **OPTIONS)
    with pytest.raises(ReplyFailed, match="login"):
        await source.reply(http, post_of(source, WES), "Hello", "k")  # type: ignore[attr-defined]
    assert server.seen(CREATE) == []
