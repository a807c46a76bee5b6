"""Mastodon replies and thread reads against a loopback instance that checks what Mastodon
checks: the write token, the fields, the instance's length limit, ``Idempotency-Key`` (the
same key answers the status already posted), 429 with an ISO 8601 ``X-RateLimit-Reset``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from integrations.sources._base import BaseSource
from integrations.sources._lengths import mastodon_length
from integrations.sources.mastodon_public import _acct
from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.actions.public import ReplyFailed, ReplyUnknown, ThreadReads, reply_capable
from triagebot.cases.answers import same_reply
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

READ_TOKEN, WRITE_TOKEN = "read-333", "write-444"
ENV = {"MASTODON_ACCESS_TOKEN": READ_TOKEN, "NW_MASTODON_WRITE": WRITE_TOKEN}
STATUSES, INSTANCE = "/api/v1/statuses", "/api/v2/instance"
LENA = "114161579662965381"
CONTEXT = f"/api/v1/statuses/{LENA}/context"


def masto(make_source: MakeSource, **options: Any) -> BaseSource:
    return make_source(
        "mastodon", env=ENV, hashtags=["northwind"], reply_token_env="NW_MASTODON_WRITE", **options
    )


def lena(source: BaseSource) -> Mention:
    raw = json.loads((FIXTURES / "mastodon" / "tag_northwind_page1.json").read_text())[0]
    assert raw["id"] == LENA
    mention = source._mention(raw)  # type: ignore[attr-defined]
    assert isinstance(mention, Mention)
    return mention


class Instance:
    """``POST /api/v1/statuses`` as Mastodon checks it; a key already used answers the
    status posted under it. ``lose`` answers the first N posts with 503 after posting."""

    def __init__(self, max_characters: int = 500, lose: int = 0, target: str = LENA) -> None:
        self.max_characters = max_characters
        self.lose = lose
        self.target = target  # the customer's status id on this instance
        self.posted: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Seen) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {WRITE_TOKEN}":
            return json_reply({"error": "The access token is invalid"}, 401)
        key = request.headers.get("Idempotency-Key", "")
        if key in self.posted:
            return json_reply(self.posted[key])
        body = json.loads(request.body)
        if not body.get("status"):
            return json_reply({"error": "Validation failed: Text can't be blank"}, 422)
        if mastodon_length(body["status"]) > self.max_characters:
            limit = self.max_characters
            return json_reply(
                {"error": f"Validation failed: Text character limit of {limit} exceeded"}, 422
            )
        if body.get("in_reply_to_id") != self.target:
            return json_reply({"error": "Record not found"}, 404)
        number = str(114161800000000000 + len(self.posted))
        status = {
            "id": number,
            "uri": f"https://social.northwind.example/users/northwind/statuses/{number}",
            "url": f"https://social.northwind.example/@northwind/{number}",
            "content": body["status"],
            "in_reply_to_id": body["in_reply_to_id"],
        }
        self.posted[key] = status
        if self.lose:
            self.lose -= 1
            return json_reply({"error": "upstream timed out"}, 503)
        return json_reply(status)


def with_limit(max_characters: int) -> Reply:
    return json_reply({"configuration": {"statuses": {"max_characters": max_characters}}})


async def test_reply_prefixes_the_customer_and_sends_the_key(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    instance = Instance()
    server.add(STATUSES, instance)
    server.add(INSTANCE, with_limit(500))
    source = masto(make_source)
    public = reply_capable(source)
    assert public is not None and public.can_reply and public.can_read_threads
    sent = await public.reply(http, lena(source), "So sorry, Lena: refund today.", "reply-7")
    (seen,) = server.seen(STATUSES)
    assert seen.headers["Idempotency-Key"] == "reply-7"
    assert json.loads(seen.body) == {
        "status": "@lena_outdoors So sorry, Lena: refund today.",
        "in_reply_to_id": LENA,
    }
    assert sent.external_id.startswith("https://social.northwind.example/users/northwind/")
    assert sent.url is not None and sent.url.startswith("https://social.northwind.example/@")


async def test_a_text_that_mentions_the_customer_is_sent_as_typed(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(STATUSES, Instance())
    server.add(INSTANCE, with_limit(500))
    source = masto(make_source)
    await source.reply(http, lena(source), "Hi @lena_outdoors, refund today.", "k")  # type: ignore[attr-defined]
    assert json.loads(server.seen(STATUSES)[0].body)["status"] == "Hi @lena_outdoors, refund today."


async def test_the_instance_limit_is_checked_before_sending(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(STATUSES, Instance(max_characters=100))
    server.add(INSTANCE, with_limit(100))
    source = masto(make_source)
    public = reply_capable(source)
    assert public is not None
    assert public.reply_problem("x" * 501) == "501 of 500 characters: shorten by 1"  # not read yet
    with pytest.raises(ReplyFailed, match="of 100 characters: shorten by"):
        await public.reply(http, lena(source), "y" * 95, "k")  # with "@lena_outdoors " prefix
    assert server.seen(STATUSES) == []
    link = "https://northwind.example/" + "r" * 200
    assert public.reply_problem(f"Refund status: {link}") is None  # a link counts 23


async def test_a_lost_answer_is_sent_once_more_with_the_same_key(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    instance = Instance(lose=1)
    server.add(STATUSES, instance)
    server.add(INSTANCE, with_limit(500))
    source = masto(make_source)
    sent = await source.reply(http, lena(source), "Refund today.", "reply-9")  # type: ignore[attr-defined]
    keys = [s.headers["Idempotency-Key"] for s in server.seen(STATUSES)]
    assert keys == ["reply-9", "reply-9"]
    assert len(instance.posted) == 1  # one public status
    assert sent.external_id == instance.posted["reply-9"]["uri"]


async def test_two_5xx_leave_it_uncertain_after_one_retry(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(STATUSES, json_reply({"error": "Bad gateway"}, 502))
    server.add(INSTANCE, with_limit(500))
    source = masto(make_source)
    with pytest.raises(ReplyUnknown):
        await source.reply(http, lena(source), "Refund today.", "k")  # type: ignore[attr-defined]
    assert len(server.seen(STATUSES)) == 2


async def test_refusals_in_words(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(STATUSES, Instance())
    server.add(INSTANCE, with_limit(500))
    source = make_source(
        "mastodon", env={"NW_MASTODON_WRITE": "revoked"}, reply_token_env="NW_MASTODON_WRITE"
    )
    with pytest.raises(ReplyFailed, match=r"Mastodon refused the token \(401\).*invalid"):
        await source.reply(http, lena(source), "Refund today.", "k")  # type: ignore[attr-defined]


async def test_429_carries_the_iso_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    reset = (POLL1 + timedelta(seconds=90)).isoformat().replace("+00:00", ".000000Z")
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    server.add(STATUSES, json_reply({"error": "Too many requests"}, 429, headers))
    server.add(INSTANCE, with_limit(500))
    source = masto(make_source)
    with pytest.raises(ReplyFailed, match="429") as failed:
        await source.reply(http, lena(source), "Refund today.", "k")  # type: ignore[attr-defined]
    assert failed.value.retry_after == pytest.approx(90)
    assert len(server.seen(STATUSES)) == 1


def test_without_the_write_token_it_reads_but_cannot_reply(make_source: MakeSource) -> None:
    source = make_source("mastodon", env={}, hashtags=["northwind"])
    public = reply_capable(source)
    assert public is not None
    assert not public.can_reply and public.can_read_threads
    assert source.reply_missing == ("MASTODON_REPLY_TOKEN",)  # type: ignore[attr-defined]


async def test_thread_reads_descendants_and_keeps_hostile_text_inert(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(CONTEXT, fixture_reply("mastodon", "context_lena.json"))
    source = masto(make_source)
    mention = lena(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert server.seen(CONTEXT)[0].headers["Authorization"] == f"Bearer {READ_TOKEN}"
    read = reads[mention.id]
    assert read.gone is None
    brand, follow_up, spam = read.posts
    assert brand.author == "northwind@social.northwind.example"
    assert brand.text.startswith("@lena_outdoors Sorry Lena")
    typed = "Sorry Lena, that is far too long. We have found your return and the refund goes out "
    assert same_reply(typed + "today: https://northwind.com/help/refunds/lena-return", brand.text)
    assert brand.in_reply_to == mention.id.removeprefix("mastodon:")  # the customer's uri
    assert follow_up.author.startswith("lena_outdoors@")  # a local account, named in full
    assert follow_up.in_reply_to == brand.id
    assert "<script>alert(1)</script>" in follow_up.text and "<!channel>" in follow_up.text
    assert "javascript:" not in follow_up.text  # the link's target is not text
    assert spam.url is None  # a javascript: address is never a link
    assert all(p.created_at.tzinfo is not None for p in read.posts)


async def test_a_deleted_status_is_gone(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(CONTEXT, json_reply({"error": "Record not found"}, 404))
    source = masto(make_source)
    mention = lena(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert reads[mention.id].gone is not None
    assert reads[mention.id].posts == ()


async def test_a_throttled_thread_read_ends_the_round_and_carries_the_iso_reset(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page = json.loads((FIXTURES / "mastodon" / "tag_northwind_page1.json").read_text())
    source = masto(make_source)
    first, throttled, later = (source._mention(page[i]) for i in (0, 2, 4))  # type: ignore[attr-defined]
    reset = (POLL1 + timedelta(seconds=90)).isoformat().replace("+00:00", ".000000Z")
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    server.add(CONTEXT, fixture_reply("mastodon", "context_lena.json"))
    server.add(
        f"/api/v1/statuses/{page[2]['id']}/context",
        json_reply({"error": "Too many requests"}, 429, headers),
    )
    reads = await source.threads(http, [first, throttled, later])  # type: ignore[attr-defined]
    assert list(reads) == [first.id]
    assert isinstance(reads, ThreadReads) and reads.wait == pytest.approx(90)  # cut short
    assert server.seen(f"/api/v1/statuses/{page[4]['id']}/context") == []  # the next round
    with pytest.raises(SourceError, match="HTTP 429") as failed:  # nothing read: the round fails
        await source.threads(http, [throttled, first])  # type: ignore[attr-defined]
    assert failed.value.retry_after == pytest.approx(90)
    assert len(server.seen(CONTEXT)) == 1


async def test_the_brand_on_its_own_instance_finds_the_status_there_first(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    home = Instance(target="109999000000000042")
    server.add("/brand/api/v1/statuses", home)
    server.add("/brand/api/v2/instance", with_limit(500))
    uri = "https://social.trails.example/users/lena_outdoors/statuses/114161579662965381"

    def search(request: Seen) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {WRITE_TOKEN}":
            return json_reply({"error": "The access token is invalid"}, 401)
        if request.query.get("q") != uri or request.query.get("resolve") != "true":
            return json_reply({"accounts": [], "statuses": [], "hashtags": []})
        found = {"id": "109999000000000042", "uri": uri}
        return json_reply({"accounts": [], "statuses": [found], "hashtags": []})

    server.add("/brand/api/v2/search", search)
    source = masto(make_source, reply_instance_url=f"{server.url}/brand")
    mention = lena(source)
    await source.reply(http, mention, "Refund today.", "k")  # type: ignore[attr-defined]
    (posted,) = home.posted.values()
    assert posted["in_reply_to_id"] == "109999000000000042"
    assert posted["content"] == "@lena_outdoors Refund today."  # both instances on 127.0.0.1
    named = _acct(mention, "social.trails.example", "social.northwind.example")
    assert named == "lena_outdoors@social.trails.example"  # a stranger to the brand's instance
    assert _acct(mention, "social.trails.example", "social.trails.example") == "lena_outdoors"
    assert server.seen(STATUSES) == []  # nothing posted on the polled instance
