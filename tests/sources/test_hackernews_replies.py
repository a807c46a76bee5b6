"""Hacker News cannot reply (no write API) but reads the thread under a post, against a
loopback Algolia ``items`` API and Firebase item API (deleted and dead items)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from integrations.sources._base import BaseSource
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, fixture_reply, json_reply
from triagebot.actions.public import ReplyFailed, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

IAN = "43371288"
ITEMS, FIREBASE = f"/api/v1/items/{IAN}", f"/v0/item/{IAN}.json"


def hn(server: FakeServer, make_source: MakeSource) -> BaseSource:
    return make_source("hackernews", firebase_url=f"{server.url}/v0")


def ian(source: BaseSource) -> Mention:
    return source.mention(
        IAN,
        url=f"https://news.ycombinator.com/item?id={IAN}",
        fallback_url="https://news.ycombinator.com",
        handle="idempotency_ian",
        text="Same here. Northwind's checkout charged my card twice",
        created_at=datetime(2025, 3, 14, 15, 28, 2, tzinfo=UTC),
    )


def item(source: BaseSource, item_id: str) -> Mention:
    return source.mention(
        item_id,
        url=f"https://news.ycombinator.com/item?id={item_id}",
        fallback_url="https://news.ycombinator.com",
        handle="another_reader",
        text="Northwind charged me twice too",
        created_at=datetime(2025, 3, 14, 16, 0, tzinfo=UTC),
    )


async def test_no_reply_the_reason_in_words(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = hn(server, make_source)
    public = reply_capable(source)
    assert public is not None
    assert not public.can_reply and public.can_read_threads
    problem = public.reply_problem("Hi!")
    assert (
        problem is not None and "no API to post" in problem and "mark the case answered" in problem
    )
    with pytest.raises(ReplyFailed, match="no API to post"):
        await public.reply(http, ian(source), "Hi!", "k")
    assert server.requests == []


async def test_thread_walks_the_children_and_keeps_hostile_text_inert(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = POLL1 + timedelta(hours=1)
    server.add(ITEMS, fixture_reply("hackernews", "items_43371288.json"))
    source = hn(server, make_source)
    mention = ian(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    read = reads[mention.id]
    assert read.gone is None
    by_author = {p.author: p for p in read.posts}
    assert set(by_author) == {"skeptic_sam", "northwind_support", "idempotency_ian"}  # not deleted
    brand = by_author["northwind_support"]
    assert brand.in_reply_to == IAN
    assert brand.url == "https://news.ycombinator.com/item?id=43371420"
    assert brand.created_at == datetime(2025, 3, 14, 15, 48, 2, tzinfo=UTC)
    follow_up = by_author["idempotency_ian"]
    assert follow_up.in_reply_to == brand.id
    assert "<script>alert(1)</script> <!channel>" in follow_up.text  # text, decoded once
    assert "javascript" not in follow_up.text
    assert server.seen(FIREBASE) == []  # Algolia had it: no second request


@pytest.mark.parametrize(
    ("firebase", "gone"),
    [
        (
            {"by": "idempotency_ian", "id": 43371288, "deleted": True, "time": 1741966082},
            "deleted by its author",
        ),
        ({"by": "idempotency_ian", "id": 43371288, "dead": True, "text": "x"}, "killed"),
        (None, "deleted"),
    ],
)
async def test_an_item_algolia_dropped_is_gone_when_firebase_says_so(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    firebase: object,
    gone: str,
) -> None:
    server.add(ITEMS, json_reply({"status": 404, "error": "Not Found"}, 404))
    server.add(FIREBASE, json_reply(firebase))
    source = hn(server, make_source)
    mention = ian(source)
    reads = await source.threads(http, [mention])  # type: ignore[attr-defined]
    assert (reads[mention.id].gone or "").startswith(gone)


async def test_an_item_not_indexed_yet_is_read_again_later(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ITEMS, json_reply({"status": 404, "error": "Not Found"}, 404))
    server.add(FIREBASE, json_reply({"by": "idempotency_ian", "id": 43371288, "text": "hi"}))
    source = hn(server, make_source)
    assert await source.threads(http, [ian(source)]) == {}  # type: ignore[attr-defined]


async def test_a_throttled_read_ends_the_round_with_the_threads_read_before_it(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ITEMS, fixture_reply("hackernews", "items_43371288.json"))
    server.add("/api/v1/items/43371300", json_reply({"error": "slow down"}, 429))
    source = hn(server, make_source)
    first, throttled, later = ian(source), item(source, "43371300"), item(source, "43371400")
    reads = await source.threads(http, [first, throttled, later])  # type: ignore[attr-defined]
    assert list(reads) == [first.id]
    assert server.seen("/api/v1/items/43371400") == []  # waits for the next round
    with pytest.raises(SourceError, match="HTTP 429"):  # nothing read yet: the round fails
        await source.threads(http, [throttled, first])  # type: ignore[attr-defined]
