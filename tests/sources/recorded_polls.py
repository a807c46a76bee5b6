"""Each source polled once from its recorded fixtures over the loopback server.

``POLLS[kind](server, http, make_source, clock)`` installs the fixture routes, polls the
adapter and returns its mentions with the recorded items they came from (the source's whole
payload, keyed by ``key``) and the fields the adapter declares it keeps. Used by
``test_raw_fields`` and by ``bench.bench_raw_size``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import feedparser
import httpx

from integrations.sources import (
    appstore,
    bluesky,
    discourse,
    facebook,
    googleplay,
    hackernews,
    instagram,
    mastodon,
    reddit,
    rss,
    stackexchange,
    x,
)
from integrations.sources._base import BaseSource
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FIXTURES, FakeServer, fixture_reply, json_reply
from tests.sources.test_discourse import FakeForum
from tests.sources.test_googleplay import PAGE2_TOKEN, FakePlay, make_play
from triagebot.cases.records import Mention

FB_PAGE = "112233445566778"
FB_POST = f"{FB_PAGE}_122189950421773019"
IG_ACCOUNT = "17841405822304914"
IG_MEDIA = "18066554433221100"
X_CONVERSATION = "1900567275634680154"
#: The thread root given to one Bluesky post of page 2 (the fixtures hold no reply): the
#: first post of page 1.
BSKY_ROOT = {
    "uri": "at://did:plc:ryqixervewnhys77i2jcmg5d/app.bsky.feed.post/3lkdxbnudicxm",
    "cid": "bafyreigwhx7habtnxs7nmjokasmx6blmixlv7hkujyzzkd5xwob4o5b4pb",
}


@dataclass(frozen=True)
class Polled:
    source: BaseSource
    mentions: Sequence[Mention]
    items: Sequence[dict[str, Any]]  # the recorded payloads, as the API gave them
    fields: Sequence[str]  # the adapter's RAW_FIELDS
    key: str  # the path that names an item, in the item and in a mention's raw


Poll = Callable[[FakeServer, httpx.AsyncClient, MakeSource, Clock], Awaitable[Polled]]


def recorded(folder: str, *names: str) -> list[Any]:
    return [json.loads((FIXTURES / folder / name).read_text()) for name in names]


async def poll_mastodon(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    tag = "/api/v1/timelines/tag/northwind"
    server.add(tag, fixture_reply("mastodon", "tag_northwind_page1.json"))
    server.add(
        tag, fixture_reply("mastodon", "tag_northwind_page2.json"), max_id="114161151872869063"
    )
    server.add(tag, json_reply([]), max_id="114156919304387639")
    source = make_source("mastodon", hashtags=["northwind"], page_size=5)
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("mastodon", "tag_northwind_page1.json", "tag_northwind_page2.json")
    items = [s for page in pages for s in page]
    return Polled(source, mentions, items, mastodon.RAW_FIELDS, "id")


async def poll_bluesky(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    search = "/xrpc/app.bsky.feed.searchPosts"
    server.add("/xrpc/com.atproto.server.createSession", json_reply({"accessJwt": "j", "did": "d"}))
    pages = recorded("bluesky", "searchPosts_page1.json", "searchPosts_page2.json")
    pages[1]["posts"][0]["record"]["reply"] = {"root": BSKY_ROOT, "parent": BSKY_ROOT}
    server.add(search, json_reply(pages[0]))
    server.add(search, json_reply(pages[1]), cursor="6")
    env = {"BLUESKY_HANDLE": "brand.example", "BLUESKY_APP_PASSWORD": "app-pass"}
    source = make_source("bluesky", env=env, query="northwind outfitters", page_size=6)
    mentions = (await source.poll(http, None)).mentions
    items = [p for page in pages for p in page["posts"]]
    return Polled(source, mentions, items, bluesky.RAW_FIELDS, "uri")


async def poll_x(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    recent = "/2/tweets/search/recent"
    token = "b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal"
    pages = recorded("x", "recent_page1.json", "recent_page2.json")
    reply = pages[1]["data"][0]  # a reply in a conversation (the fixtures name none)
    reply["conversation_id"] = X_CONVERSATION
    server.add(recent, fixture_reply("x", "recent_page1.json"))
    server.add(recent, json_reply(pages[1]), next_token=token)
    source = make_source("x", env={"X_BEARER_TOKEN": "t"})
    mentions = (await source.poll(http, None)).mentions
    items = [t for page in pages for t in page["data"]]
    return Polled(source, mentions, items, x.RAW_FIELDS, "id")


async def poll_reddit(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    server.add("/search.json", fixture_reply("reddit", "search_page1.json"))
    server.add("/search.json", fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    source = make_source("reddit", query="northwind outfitters", page_size=6, backfill="3d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("reddit", "search_page1.json", "search_page2.json")
    items = [c["data"] for page in pages for c in page["data"]["children"]]
    return Polled(source, mentions, items, reddit.RAW_FIELDS, "name")


async def poll_hackernews(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    hn = "/api/v1/search_by_date"
    server.add(hn, fixture_reply("hackernews", "search_by_date_page0.json"), page=0)
    server.add(hn, fixture_reply("hackernews", "search_by_date_page1.json"), page=1)
    source = make_source("hackernews", query="northwind outfitters", page_size=6)
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("hackernews", "search_by_date_page0.json", "search_by_date_page1.json")
    items = [h for page in pages for h in page["hits"]]
    return Polled(source, mentions, items, hackernews.RAW_FIELDS, "objectID")


async def poll_stackexchange(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    se = "/2.3/search/advanced"
    server.add(se, fixture_reply("stackexchange", "search_advanced_page1.json"), page=1)
    server.add(se, fixture_reply("stackexchange", "search_advanced_page2.json"), page=2)
    source = make_source("stackexchange", site="outdoors", page_size=5, backfill="7d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("stackexchange", "search_advanced_page1.json", "search_advanced_page2.json")
    items = [i for page in pages for i in page["items"]]
    return Polled(source, mentions, items, stackexchange.RAW_FIELDS, "question_id")


async def poll_appstore(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    app = "/us/rss/customerreviews/page={}/id=1498765432/sortBy=mostRecent/json"
    server.add(app.format(1), fixture_reply("app_store", "customerreviews_page1.json"))
    server.add(app.format(2), fixture_reply("app_store", "customerreviews_page2.json"))
    server.add(app.format(3), fixture_reply("app_store", "customerreviews_empty.json"))
    source = make_source("appstore", app_id="1498765432", backfill="5d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("app_store", "customerreviews_page1.json", "customerreviews_page2.json")
    items = [e for page in pages for e in page["feed"]["entry"] if "im:rating" in e]
    return Polled(source, mentions, items, appstore.RAW_FIELDS, "id.label")


async def poll_discourse(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    pages = recorded("discourse", "search_page1.json", "search_page2.json")
    forum = FakeForum(server)
    forum.install()
    forum.pages = {1: json_reply(pages[0]), 2: json_reply(pages[1])}
    source = make_source("discourse", query="northwind")
    mentions = (await source.poll(http, None)).mentions
    items = [p for page in pages for p in page["posts"]]
    return Polled(source, mentions, items, discourse.RAW_FIELDS, "id")


async def poll_googleplay(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    pages = recorded("google_play", "reviews_page1.json", "reviews_page2.json")
    play = FakePlay(server)
    play.install()
    play.pages = {None: json_reply(pages[0]), PAGE2_TOKEN: json_reply(pages[1])}
    source = make_play(make_source, play)
    mentions = (await source.poll(http, None)).mentions
    items = [r for page in pages for r in page["reviews"]]
    return Polled(source, mentions, items, googleplay.RAW_FIELDS, "reviewId")


async def poll_facebook(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    """Posts the Page is tagged in, and the comments on one of its own posts."""
    tagged = f"/v22.0/{FB_PAGE}/tagged"
    after = (
        "QVFIUmxUOG5NeDFPRjlpZAzdNVjF5ZAkhWb1ZAjeGVYbDZA4VG1x"
        "VkRTNkdCc3RfMHRhQ3R0a3FmYnZAHdVl3bmFPbUlxSnBR"
    )
    server.add(tagged, fixture_reply("facebook", "page_tagged_page1.json"))
    server.add(tagged, fixture_reply("facebook", "page_tagged_page2.json"), after=after)
    own_post = {
        "id": FB_POST,
        "created_time": "2025-03-14T14:30:00+0000",
        "updated_time": "2025-03-14T16:40:12+0000",
        "permalink_url": "https://www.facebook.com/112233445566778/posts/122189950421773019",
    }
    server.add(f"/v22.0/{FB_PAGE}/feed", json_reply({"data": [own_post], "paging": {}}))
    server.add(f"/v22.0/{FB_POST}/comments", fixture_reply("facebook", "post_comments.json"))
    env = {"FACEBOOK_PAGE_TOKEN": "page-token-1"}
    source = make_source("facebook", env=env, page_id=FB_PAGE, page_size=5)
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("facebook", "page_tagged_page1.json", "page_tagged_page2.json")
    (comments,) = recorded("facebook", "post_comments.json")
    on_post = [c | {"post_id": FB_POST} for c in comments["data"]]  # as the adapter adds it
    items = [p for page in pages for p in page["data"]] + on_post
    return Polled(source, mentions, items, facebook.RAW_FIELDS, "id")


async def poll_instagram(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    """Media the account is tagged in, and the comments (with replies) on its own media."""
    tags = f"/v22.0/{IG_ACCOUNT}/tags"
    server.add(tags, fixture_reply("instagram", "tags_page1.json"))
    server.add(tags, fixture_reply("instagram", "tags_page2.json"), after="QVFIUjZAXTGs2")
    server.add(f"/v22.0/{IG_ACCOUNT}/media", fixture_reply("instagram", "media.json"))
    server.add(f"/v22.0/{IG_MEDIA}/comments", fixture_reply("instagram", "media_comments.json"))
    clock.now = POLL1 + timedelta(hours=4)
    env = {"INSTAGRAM_ACCESS_TOKEN": "ig-token-1"}
    source = make_source("instagram", env=env, account_id=IG_ACCOUNT, page_size=3, backfill="3d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("instagram", "tags_page1.json", "tags_page2.json")
    (comments,) = recorded("instagram", "media_comments.json")
    replies = [r for c in comments["data"] for r in c.get("replies", {}).get("data", [])]
    on_media = [c | {"media_id": IG_MEDIA} for c in comments["data"] + replies]
    items = [m for page in pages for m in page["data"]] + on_media
    return Polled(source, mentions, items, instagram.RAW_FIELDS, "id")


async def poll_rss(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    """A Google Alerts feed (the entries are feedparser's, as the adapter reads them)."""
    alerts = "/alerts"
    reply = fixture_reply("google_alerts", "feed_poll1.xml")
    reply.headers = {"content-type": "application/atom+xml"}
    server.add(alerts, reply)
    source = make_source("rss", name="alerts", base_url=server.url + alerts)
    mentions = (await source.poll(http, None)).mentions
    items = list(feedparser.parse(reply.body).entries)
    return Polled(source, mentions, items, rss.RAW_FIELDS, "id")


POLLS: dict[str, Poll] = {
    "mastodon": poll_mastodon,
    "bluesky": poll_bluesky,
    "x": poll_x,
    "reddit": poll_reddit,
    "hackernews": poll_hackernews,
    "stackexchange": poll_stackexchange,
    "appstore": poll_appstore,
    "googleplay": poll_googleplay,
    "discourse": poll_discourse,
    "facebook": poll_facebook,
    "instagram": poll_instagram,
    "rss": poll_rss,
}
