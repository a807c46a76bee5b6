"""Reddit replies and comment-tree reads against a loopback OAuth API that checks what Reddit
checks: a bearer token of the brand account's own grant (a read token lacks ``submit``), the
form fields, 10,000 characters, refusals sent with HTTP 200 in ``json.errors``, 429 with
``X-Ratelimit-Reset`` in seconds."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.sources._base import BaseSource
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.actions.public import ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

TOKEN, COMMENT = "/api/v1/access_token", "/api/comment"
THREAD = "/comments/1jb3k8x.json"
APP = ("nw-client-id", "nw-client-secret")
ENV = {
    "REDDIT_CLIENT_ID": APP[0],
    "REDDIT_CLIENT_SECRET": APP[1],
    "REDDIT_USERNAME": "nw_listener",
    "REDDIT_PASSWORD": "read-pass",
    "NW_REDDIT_REFRESH": "brand-refresh-token",
}
TESS = "t3_1jb3k8x"


class Reddit:
    """The token endpoint and ``/api/comment``: read tokens for the listener's password grant,
    write tokens (``submit``) for the brand account's refresh token."""

    def __init__(self) -> None:
        self.count = itertools.count(1)
        self.read: set[str] = set()
        self.write: set[str] = set()
        self.comments: list[dict[str, str]] = []

    def token(self, seen: Seen) -> Reply:
        expected = base64.b64encode(f"{APP[0]}:{APP[1]}".encode()).decode()
        if seen.headers.get("Authorization") != f"Basic {expected}":
            return json_reply({"message": "Unauthorized", "error": 401}, 401)
        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        if form.get("grant_type") == "password" and form.get("password") == "read-pass":
            token, scope, kept = f"read-{next(self.count)}", "read", self.read
        elif form.get("refresh_token") == "brand-refresh-token":
            token, scope, kept = f"write-{next(self.count)}", "identity submit read", self.write
        else:
            return json_reply({"error": "invalid_grant"})
        kept.add(token)
        return json_reply(
            {"access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": scope}
        )

    def comment(self, seen: Seen) -> Reply:
        token = seen.headers.get("Authorization", "").removeprefix("bearer ")
        if token in self.read:
            return json_reply({"message": "Forbidden", "error": 403}, 403)  # no submit scope
        if token not in self.write:
            return json_reply({"message": "Unauthorized", "error": 401}, 401)
        if not seen.headers.get("User-Agent", "").startswith("python:triagebot:"):
            return json_reply({"message": "Too Many Requests", "error": 429}, 429)
        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        if form.get("api_type") != "json" or not form.get("thing_id") or not form.get("text"):
            return json_reply({"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}})
        if len(form["text"]) > 10_000:
            error = ["TOO_LONG", "this is too long (max: 10000)", "text"]
            return json_reply({"json": {"errors": [error]}})
        self.comments.append(form)
        data = {
            "id": "mhn2k7q",
            "name": "t1_mhn2k7q",
            "body": form["text"],
            "link_id": TESS,
            "parent_id": form["thing_id"],
            "permalink": "/r/CampingGear/comments/1jb3k8x/"
            "northwind_charged_my_card_twice_for_one_order/mhn2k7q/",
        }
        return json_reply(
            {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}
        )


def reddit_source(
    server: FakeServer, make_source: MakeSource, fake: Reddit, **options: Any
) -> BaseSource:
    server.add(TOKEN, fake.token)
    server.add(COMMENT, fake.comment)
    return make_source(
        "reddit",
        env=ENV,
        token_url=server.url + TOKEN,
        reply_refresh_token_env="NW_REDDIT_REFRESH",
        **options,
    )


def tess(source: BaseSource, name: str = TESS, **raw: Any) -> Mention:
    return source.mention(
        name,
        url="https://www.reddit.com/r/CampingGear/comments/1jb3k8x/",
        fallback_url="https://www.reddit.com",
        handle="trailmix_tess",
        text="Northwind charged my card twice for one order",
        created_at=POLL1 - timedelta(minutes=28),
        raw={"name": name, **raw},
    )


async def test_reply_comments_with_the_brand_accounts_token(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    fake = Reddit()
    source = reddit_source(server, make_source, fake)
    public = reply_capable(source)
    assert public is not None and public.can_reply and public.can_read_threads
    sent = await public.reply(http, tess(source), "Hi Tess, we reversed the duplicate charge.", "k")
    assert fake.comments == [
        {"api_type": "json", "thing_id": TESS, "text": "Hi Tess, we reversed the duplicate charge."}
    ]
    (comment,) = server.seen(COMMENT)
    assert comment.headers["Authorization"].startswith("bearer write-")
    assert sent.external_id == "t1_mhn2k7q"
    assert sent.url == (
        "https://www.reddit.com/r/CampingGear/comments/1jb3k8x/"
        "northwind_charged_my_card_twice_for_one_order/mhn2k7q/"
    )


async def test_the_read_grant_alone_cannot_reply(
    server: FakeServer, make_source: MakeSource
) -> None:
    env = {k: v for k, v in ENV.items() if k != "NW_REDDIT_REFRESH"}
    source = make_source("reddit", env=env, reply_refresh_token_env="NW_REDDIT_REFRESH")
    public = reply_capable(source)
    assert public is not None and not public.can_reply and public.can_read_threads
    assert source.reply_missing == ("NW_REDDIT_REFRESH",)  # type: ignore[attr-defined]
    anonymous = make_source("reddit", name="anon", env={})
    assert not anonymous.can_reply  # type: ignore[attr-defined]
    assert anonymous.reply_missing == (  # type: ignore[attr-defined]
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "REDDIT_REPLY_REFRESH_TOKEN",
    )
    assert anonymous.thread_budget.requests < public.thread_budget.requests  # type: ignore[attr-defined]


async def test_a_rate_limit_in_a_200_answer_is_a_failure_with_the_wait(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    fake = Reddit()
    error = ["RATELIMIT", "you are doing that too much. try again in 5 minutes.", "ratelimit"]
    limited = {"json": {"errors": [error]}}
    source = reddit_source(server, make_source, fake)
    server.routes = [r for r in server.routes if r.path != COMMENT]
    server.add(COMMENT, json_reply(limited))
    with pytest.raises(ReplyFailed, match="try again in 5 minutes") as failed:
        await source.reply(http, tess(source), "Hello", "k")  # type: ignore[attr-defined]
    assert failed.value.retry_after == 300
    assert len(server.seen(COMMENT)) == 1


async def test_other_refusals_in_json_errors_and_statuses(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    fake = Reddit()
    source = reddit_source(server, make_source, fake)
    public = reply_capable(source)
    assert public is not None
    assert public.reply_problem("x" * 10_001) == "10,001 of 10,000 characters: shorten by 1"
    server.routes = [r for r in server.routes if r.path != COMMENT]
    locked = ["THREAD_LOCKED", "Comments are locked.", "parent"]
    server.add(COMMENT, json_reply({"json": {"errors": [locked]}}), times=1)
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "42"}
    server.add(
        COMMENT, json_reply({"message": "Too Many Requests", "error": 429}, 429, reset), times=1
    )
    server.add(COMMENT, json_reply({"message": "Internal Server Error"}, 500), times=1)
    with pytest.raises(ReplyFailed, match=r"\(THREAD_LOCKED\): Comments are locked"):
        await public.reply(http, tess(source), "Hello", "k")
    with pytest.raises(ReplyFailed, match="429") as limited:
        await public.reply(http, tess(source), "Hello", "k")
    assert limited.value.retry_after == 42
    with pytest.raises(ReplyUnknown):
        await public.reply(http, tess(source), "Hello", "k")
    assert len(server.seen(COMMENT)) == 3  # one each, never sent again


async def test_a_revoked_write_token_is_renewed_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    fake = Reddit()
    source = reddit_source(server, make_source, fake)
    await source.reply(http, tess(source), "One", "k1")  # type: ignore[attr-defined]
    fake.write.clear()  # Reddit revoked it early
    await source.reply(http, tess(source), "Two", "k2")  # type: ignore[attr-defined]
    assert [c["text"] for c in fake.comments] == ["One", "Two"]
    statuses = [s.headers["Authorization"] for s in server.seen(COMMENT)]
    assert len(statuses) == 3 and statuses[1] != statuses[2]


async def test_thread_reads_the_comment_tree_and_keeps_hostile_text_inert(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=1)
    fake = Reddit()
    source = reddit_source(server, make_source, fake)
    server.add(THREAD, fixture_reply("reddit", "comments_1jb3k8x.json"))
    mention = tess(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    (seen,) = server.seen(THREAD)
    assert seen.query["raw_json"] == "1" and "comment" not in seen.query
    assert seen.query["sort"] == "new"
    assert seen.headers["Authorization"].startswith("bearer read-")  # reading uses the read grant
    read = reads[mention.id]
    assert read.gone is None
    by_author = {p.author: p for p in read.posts}
    assert set(by_author) == {"northwind_support", "sam_on_trail", "trailmix_tess"}  # not [deleted]
    assert by_author["northwind_support"].in_reply_to == TESS
    follow_up = by_author["trailmix_tess"]
    assert follow_up.in_reply_to == by_author["northwind_support"].id
    assert "<script>alert(1)</script> <!channel>" in follow_up.text
    assert follow_up.url is not None and follow_up.url.startswith("https://www.reddit.com/r/")


async def test_a_comment_mention_reads_its_subtree(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=1)
    source = reddit_source(server, make_source, Reddit())
    server.add(THREAD, fixture_reply("reddit", "comments_1jb3k8x.json"), comment="mhlz9qa")
    mention = tess(source, "t1_mhlz9qa", link_id=TESS)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert server.seen(THREAD)[0].query["comment"] == "mhlz9qa"
    assert [p.author for p in reads[mention.id].posts] == ["trailmix_tess"]


async def test_a_deleted_post_is_gone(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = reddit_source(server, make_source, Reddit())
    post = {"kind": "t3", "data": {"name": TESS, "author": "[deleted]", "selftext": "[deleted]"}}
    listing = {"kind": "Listing", "data": {"children": [post]}}
    empty = {"kind": "Listing", "data": {"children": []}}
    server.add(THREAD, json_reply([listing, empty]))
    mention = tess(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert reads[mention.id].gone == "deleted by its author"


async def test_a_throttled_thread_read_ends_the_round_and_carries_the_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=1)
    source = reddit_source(server, make_source, Reddit())
    server.add(THREAD, fixture_reply("reddit", "comments_1jb3k8x.json"))
    headers = {"X-Ratelimit-Used": "100", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "42"}
    server.add("/comments/1jb5thr.json", json_reply({"message": "Too Many Requests"}, 429, headers))
    first, throttled, later = tess(source), tess(source, "t3_1jb5thr"), tess(source, "t3_1jb6lat")
    reads = await source.threads(http, [first, throttled, later])  # type: ignore[attr-defined]
    assert list(reads) == [first.id]
    assert server.seen("/comments/1jb6lat.json") == []  # waits for the next round
    with pytest.raises(SourceError, match="HTTP 429") as failed:  # nothing read: the round fails
        await source.threads(http, [throttled, first])  # type: ignore[attr-defined]
    assert failed.value.retry_after == pytest.approx(42)
    assert len(server.seen(THREAD)) == 1
