"""RSS/Atom adapter against recorded feeds served on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FakeServer, Reply, fixture_reply
from triagebot.errors import SourceError

ALERTS = "/alerts/feeds/04512983716492835102/9137465521098342217"
ATOM = {"content-type": "application/atom+xml; charset=utf-8"}
RSS = {"content-type": "application/rss+xml; charset=utf-8"}
HTML = {"content-type": "text/html; charset=utf-8"}


def feed(folder: str, name: str, headers: dict[str, str], **extra: str) -> Reply:
    return fixture_reply(folder, name, headers={**headers, **extra})


async def test_google_alerts_keep_the_real_url_and_decode_html_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ALERTS, feed("google_alerts", "feed_poll1.xml", ATOM))
    source = make_source("rss", name="alerts", base_url=server.url + ALERTS)
    result = await source.poll(http, None)
    assert [m.id for m in result.mentions][:2] == [
        "alerts:5839201748362910473",
        "alerts:17460298833190476512",
    ]
    first = result.mentions[0]
    assert first.url == (
        "https://www.trailgazette.example/2025/03/14/northwind-cirrus-down-complaints/"
    )
    assert first.author.handle == "trailgazette.example"
    assert first.text.startswith("Down-bag complaints pile up for Northwind Outfitters as")
    assert "<b>" not in first.text
    assert "&nbsp;" not in first.text
    assert "&amp;" not in first.text
    assert first.created_at == POLL1.replace(hour=15, minute=41, second=9)


async def test_a_later_poll_reports_only_new_entries(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_source("rss", name="alerts", base_url=server.url + ALERTS)
    server.add(ALERTS, feed("google_alerts", "feed_poll1.xml", ATOM), times=1)
    first = await source.poll(http, None)
    server.add(ALERTS, feed("google_alerts", "feed_poll2.xml", ATOM), times=1)
    second = await source.poll(http, first.cursor)
    assert len(first.mentions) == 6
    assert len(second.mentions) == 4  # GA1 repeats and is not reported again
    assert "alerts:5839201748362910473" not in {m.id for m in second.mentions}
    server.add(ALERTS, feed("google_alerts", "feed_empty.xml", ATOM), times=1)
    third = await source.poll(http, second.cursor)
    assert third.mentions == []


async def test_conditional_get_with_etag(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ALERTS, feed("google_alerts", "feed_poll1.xml", ATOM, etag='"v1"'), times=1)
    server.add(ALERTS, Reply(b"", 304))
    source = make_source("rss", name="alerts", base_url=server.url + ALERTS)
    first = await source.poll(http, None)
    assert json.loads(first.cursor or "{}")["etag"] == '"v1"'
    second = await source.poll(http, first.cursor)
    assert list(second.mentions) == []
    assert second.cursor == first.cursor
    assert server.seen(ALERTS)[-1].headers["If-None-Match"] == '"v1"'


async def test_forum_rss_splits_creator_and_review_rss_reads_the_author_name(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/posts.rss", feed("forum_rss", "posts_poll2.rss", RSS))
    server.add("/reviews.rss", feed("review_rss", "reviews_poll1.rss", RSS))
    forum = await make_source("rss", name="forum", base_url=server.url + "/posts.rss").poll(
        http, None
    )
    support = next(m for m in forum.mentions if m.id.endswith("91859"))
    assert (support.author.handle, support.author.name) == (
        "northwind_support",
        "Northwind Outfitters Support",
    )
    reviews = await make_source("rss", name="gj", base_url=server.url + "/reviews.rss").poll(
        http, None
    )
    first = reviews.mentions[0]
    assert first.author.handle == "Chris Albright"
    assert first.lang == "en-us"
    assert "Rating: 2/5 · Product" in first.text  # &amp;middot; decoded once
    assert first.created_at.isoformat() == "2025-03-14T13:15:00+00:00"


async def test_hard_alerts_feed(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/hard.xml", fixture_reply("hard", "alerts_hard.xml", headers=ATOM))
    result = await make_source("rss", name="alerts", base_url=server.url + "/hard.xml").poll(
        http, None
    )
    evil, encoded, japanese = result.mentions
    assert not evil.url.startswith("javascript")  # the redirect to javascript: is not followed
    assert evil.url.startswith("https://www.google.com/")
    assert "alert(1)" not in evil.text
    assert "Free Northwind jackets" in evil.text
    assert encoded.url == "https://blog.example/northwind-review?utm_source=alerts&id=7"
    assert encoded.created_at == POLL1  # unreadable date: the fetch time
    assert "Northwind &lt;3 fans & friends" in encoded.text  # decoded exactly once
    assert "&amp; stays one" in encoded.text
    assert encoded.text.startswith("<!channel>")  # inert text here; surfaces escape it
    assert japanese.url == "https://news.example.jp/articles/123?ref=top&page=2"
    assert japanese.text.startswith("ノースウィンドの寝袋が一度の洗濯でダメに 😡")
    assert "'lost loft'" in japanese.text
    assert japanese.author.handle == "news.example.jp"


async def test_hard_forum_feed(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/hard.rss", fixture_reply("hard", "forum_hard.rss", headers=RSS))
    result = await make_source("rss", name="forum", base_url=server.url + "/hard.rss").poll(
        http, None
    )
    by_id = {m.id.removeprefix("forum:"): m for m in result.mentions}
    assert sorted(by_id) == [
        "trailtalk-post-1",
        "trailtalk-post-2",
        "trailtalk-post-3",
        "trailtalk-post-4",
    ]
    assert by_id["trailtalk-post-1"].created_at.isoformat() == "2025-03-13T15:00:00+00:00"  # PDT
    assert by_id["trailtalk-post-2"].url == server.url + "/t/new/2/1"  # made absolute
    # the same guid twice: the edited copy (the later date) wins over the first
    assert (
        by_id["trailtalk-post-2"].text
        == "Newest post, ISO date (edited)\n\nSame guid after an edit."
    )
    assert by_id["trailtalk-post-3"].created_at == POLL1  # day 32
    assert by_id["trailtalk-post-3"].url.startswith("https://community.trailtalk.example")
    assert by_id["trailtalk-post-4"].author.handle == "unknown"
    assert "Northwind gear from 2019 & still going." in by_id["trailtalk-post-1"].text


async def test_not_a_feed_is_a_source_error(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add("/bad.xml", fixture_reply("hard", "not_a_feed.xml", headers=ATOM))
    with pytest.raises(SourceError, match="not a well-formed feed"):
        await make_source("rss", name="bad", base_url=server.url + "/bad.xml").poll(http, None)


@pytest.mark.parametrize(
    ("name", "headers"),
    [("alerts_truncated.xml", ATOM), ("forum_unescaped.rss", RSS), ("forum_unescaped.rss", HTML)],
)
async def test_a_broken_feed_is_a_failed_poll_even_when_entries_could_be_salvaged(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    name: str,
    headers: dict[str, str],
) -> None:
    server.add("/broken", fixture_reply("hard", name, headers=headers))
    source = make_source("rss", name="feed", base_url=server.url + "/broken")
    with pytest.raises(
        SourceError, match=r"feed: not a well-formed feed \(SAXParseException at line \d+\)"
    ):
        await source.poll(http, None)


async def test_an_unreadable_cursor_starts_afresh(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ALERTS, feed("google_alerts", "feed_poll1.xml", ATOM))
    source = make_source("rss", name="alerts", base_url=server.url + ALERTS)
    result = await source.poll(http, "{not json")
    assert len(result.mentions) == 6
