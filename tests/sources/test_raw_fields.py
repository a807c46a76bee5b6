"""A stored mention keeps of the source's payload only what its adapter declares (``RAW_FIELDS``).

Each source is polled from its recorded fixtures over a loopback server; every mention's
``raw`` is the declared fields of the item it came from, nothing else, and the later readers
(replies, thread reads, the App Store review match) still find what they need in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

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
from integrations.sources._base import kept
from integrations.sources.appstore_public import match_review
from integrations.sources.discourse_public import _place
from integrations.sources.instagram import _top_level
from integrations.sources.mastodon_public import _acct, _local_id
from integrations.sources.x_public import _conversation
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FIXTURES, FakeServer, fixture_reply, json_reply
from tests.sources.test_discourse import FakeForum, forum
from tests.sources.test_googleplay import FakePlay, make_play, play
from triagebot.cases.records import Mention

__all__ = ["forum", "play"]  # the fixtures the Discourse and Google Play polls need


def recorded(folder: str, *names: str) -> list[Any]:
    return [json.loads((FIXTURES / folder / name).read_text()) for name in names]


def leaves(raw: Mapping[str, Any], declared: Sequence[str], prefix: str = "") -> set[str]:
    """The paths ``raw`` holds: a declared path as one, other objects opened up."""
    found: set[str] = set()
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if path not in declared and isinstance(value, dict) and value:
            found |= leaves(value, declared, f"{path}.")
        else:
            found.add(path)
    return found


def check_trimmed(
    mentions: Sequence[Mention],
    items: Iterable[dict[str, Any]],
    fields: Sequence[str],
    key: str,
    *,
    always: Sequence[str],
) -> None:
    """Every mention's raw is ``kept(item, fields)`` of its item (found by ``key``), holds no
    undeclared path, and has the ``always`` fields."""
    by_key = {str(_at(item, key)): item for item in items}
    assert mentions
    for mention in mentions:
        item = by_key[str(_at(mention.raw, key))]
        assert mention.raw == kept(item, fields)
        assert leaves(mention.raw, fields) <= set(fields)
        for path in always:
            assert _at(mention.raw, path) is not None, (mention.id, path)


def _at(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def test_kept_takes_keys_and_paths_and_leaves_out_the_rest() -> None:
    status = {
        "id": "1",
        "content": "<p>long</p>",
        "account": {"acct": "lena", "avatar": "https://a.example/x.png"},
        "reblog": None,
        "media_attachments": [{"url": "https://m.example/1"}],
    }
    fields = ("id", "uri", "account.acct", "reblog.id", "reblog.account.acct")
    assert kept(status, fields) == {"id": "1", "account": {"acct": "lena"}}
    boost = status | {"reblog": {"id": "2", "account": {"acct": "zeke"}, "content": "x"}}
    assert kept(boost, fields) == {
        "id": "1",
        "account": {"acct": "lena"},
        "reblog": {"id": "2", "account": {"acct": "zeke"}},
    }
    assert kept({}, fields) == {}


async def test_mastodon(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    tag = "/api/v1/timelines/tag/northwind"
    server.add(tag, fixture_reply("mastodon", "tag_northwind_page1.json"))
    server.add(
        tag, fixture_reply("mastodon", "tag_northwind_page2.json"), max_id="114161151872869063"
    )
    server.add(tag, json_reply([]), max_id="114156919304387639")
    source = make_source("mastodon", hashtags=["northwind"], page_size=5)
    mentions = (await source.poll(http, None)).mentions
    statuses = [
        s
        for page in recorded("mastodon", "tag_northwind_page1.json", "tag_northwind_page2.json")
        for s in page
    ]
    check_trimmed(mentions, statuses, mastodon.RAW_FIELDS, "id", always=("id", "uri", "url"))
    for mention in mentions:  # what a reply and a thread read take from it
        original = mention.raw.get("reblog") or mention.raw
        assert _local_id(mention.raw) == original["id"]
        assert _acct(mention, "social.trails.example", "").startswith(original["account"]["acct"])


async def test_bluesky(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    search = "/xrpc/app.bsky.feed.searchPosts"
    server.add("/xrpc/com.atproto.server.createSession", json_reply({"accessJwt": "j", "did": "d"}))
    server.add(search, fixture_reply("bluesky", "searchPosts_page1.json"))
    pages = recorded("bluesky", "searchPosts_page1.json", "searchPosts_page2.json")
    root = {k: pages[0]["posts"][0][k] for k in ("uri", "cid")}
    pages[1]["posts"][0]["record"]["reply"] = {"root": root, "parent": root}  # one is a reply
    server.add(search, json_reply(pages[1]), cursor="6")
    env = {"BLUESKY_HANDLE": "brand.example", "BLUESKY_APP_PASSWORD": "app-pass"}
    source = make_source("bluesky", env=env, query="northwind outfitters", page_size=6)
    mentions = (await source.poll(http, None)).mentions
    posts = [p for page in pages for p in page["posts"]]
    check_trimmed(mentions, posts, bluesky.RAW_FIELDS, "uri", always=("uri", "cid"))
    for mention in mentions:  # a reply names the post by its uri and cid
        assert source.post_refusal(mention) is None  # type: ignore[attr-defined]
    (reply,) = [m for m in mentions if "record" in m.raw]  # it keeps its root and parent
    assert reply.raw["record"] == {"reply": {"root": root, "parent": root}}


async def test_x(server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource) -> None:
    recent = "/2/tweets/search/recent"
    token = "b26v89c19zqg8o3frr3hpmh0kz6aau5m0ytnf5x3kbgal"
    server.add(recent, fixture_reply("x", "recent_page1.json"))
    server.add(recent, fixture_reply("x", "recent_page2.json"), next_token=token)
    source = make_source("x", env={"X_BEARER_TOKEN": "t"})
    mentions = (await source.poll(http, None)).mentions
    tweets = [
        t for page in recorded("x", "recent_page1.json", "recent_page2.json") for t in page["data"]
    ]
    always = ("id", "edit_history_tweet_ids")
    check_trimmed(mentions, tweets, x.RAW_FIELDS, "id", always=always)
    for mention in mentions:
        raw = mention.raw  # the conversation a thread read searches
        assert _conversation(mention) == raw.get("conversation_id", raw["id"])


async def test_reddit(server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource) -> None:
    server.add("/search.json", fixture_reply("reddit", "search_page1.json"))
    server.add("/search.json", fixture_reply("reddit", "search_page2.json"), after="t3_1japv51")
    source = make_source("reddit", query="northwind outfitters", page_size=6, backfill="3d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("reddit", "search_page1.json", "search_page2.json")
    things = [c["data"] for page in pages for c in page["data"]["children"]]
    check_trimmed(mentions, things, reddit.RAW_FIELDS, "name", always=("name", "id", "permalink"))
    for mention in mentions:  # the thing a reply answers and a thread read opens
        assert f"{source.name}:{mention.raw['name']}" == mention.id


async def test_hackernews(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    hn = "/api/v1/search_by_date"
    server.add(hn, fixture_reply("hackernews", "search_by_date_page0.json"), page=0)
    server.add(hn, fixture_reply("hackernews", "search_by_date_page1.json"), page=1)
    source = make_source("hackernews", query="northwind outfitters", page_size=6)
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("hackernews", "search_by_date_page0.json", "search_by_date_page1.json")
    hits = [h for page in pages for h in page["hits"]]
    check_trimmed(mentions, hits, hackernews.RAW_FIELDS, "objectID", always=("objectID",))


async def test_stackexchange(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    se = "/2.3/search/advanced"
    server.add(se, fixture_reply("stackexchange", "search_advanced_page1.json"), page=1)
    server.add(se, fixture_reply("stackexchange", "search_advanced_page2.json"), page=2)
    source = make_source("stackexchange", site="outdoors", page_size=5, backfill="7d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("stackexchange", "search_advanced_page1.json", "search_advanced_page2.json")
    items = [i for page in pages for i in page["items"]]
    always = ("question_id", "link")
    check_trimmed(mentions, items, stackexchange.RAW_FIELDS, "question_id", always=always)


async def test_appstore(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    app = "/us/rss/customerreviews/page={}/id=1498765432/sortBy=mostRecent/json"
    server.add(app.format(1), fixture_reply("app_store", "customerreviews_page1.json"))
    server.add(app.format(2), fixture_reply("app_store", "customerreviews_page2.json"))
    server.add(app.format(3), fixture_reply("app_store", "customerreviews_empty.json"))
    source = make_source("appstore", app_id="1498765432", backfill="5d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("app_store", "customerreviews_page1.json", "customerreviews_page2.json")
    entries = [e for page in pages for e in page["feed"]["entry"] if "im:rating" in e]
    always = ("id.label", "author.name.label", "title.label", "im:rating.label", "content.label")
    check_trimmed(mentions, entries, appstore.RAW_FIELDS, "id.label", always=always)
    for mention in mentions:  # a reply finds the App Store Connect review by what raw keeps
        raw = mention.raw
        review = {
            "id": "connect-1",
            "attributes": {
                "reviewerNickname": raw["author"]["name"]["label"],
                "title": raw["title"]["label"],
                "rating": int(raw["im:rating"]["label"]),
                "body": raw["content"]["label"],
            },
        }
        other = {"id": "connect-2", "attributes": {"reviewerNickname": "someone else"}}
        assert match_review(mention, "not-the-feed-id", [other, review]) is review


async def test_discourse(
    forum: FakeForum, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    mentions = (await make_source("discourse", query="northwind").poll(http, None)).mentions
    pages = recorded("discourse", "search_page1.json", "search_page2.json")
    posts = [p for page in pages for p in page["posts"]]
    always = ("id", "topic_id", "post_number")
    check_trimmed(mentions, posts, discourse.RAW_FIELDS, "id", always=always)
    for mention in mentions:  # the topic and post a reply and a thread read name
        topic_id, number = _place(mention.raw)
        assert topic_id is not None and number is not None


async def test_googleplay(play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource) -> None:
    mentions = (await make_play(make_source, play).poll(http, None)).mentions
    pages = recorded("google_play", "reviews_page1.json", "reviews_page2.json")
    reviews = [r for page in pages for r in page["reviews"]]
    check_trimmed(mentions, reviews, googleplay.RAW_FIELDS, "reviewId", always=("reviewId",))


async def test_facebook(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page_id = "112233445566778"
    post_id = f"{page_id}_122189950421773019"
    tagged = f"/v22.0/{page_id}/tagged"
    after = (
        "QVFIUmxUOG5NeDFPRjlpZAzdNVjF5ZAkhWb1ZAjeGVYbDZA4VG1x"
        "VkRTNkdCc3RfMHRhQ3R0a3FmYnZAHdVl3bmFPbUlxSnBR"
    )
    server.add(tagged, fixture_reply("facebook", "page_tagged_page1.json"))
    server.add(tagged, fixture_reply("facebook", "page_tagged_page2.json"), after=after)
    feed_post = {
        "id": post_id,
        "created_time": "2025-03-14T14:30:00+0000",
        "updated_time": "2025-03-14T16:40:12+0000",
        "permalink_url": "https://www.facebook.com/112233445566778/posts/122189950421773019",
    }
    server.add(f"/v22.0/{page_id}/feed", json_reply({"data": [feed_post], "paging": {}}))
    server.add(f"/v22.0/{post_id}/comments", fixture_reply("facebook", "post_comments.json"))
    env = {"FACEBOOK_PAGE_TOKEN": "page-token-1"}
    source = make_source("facebook", env=env, page_id=page_id, page_size=5)
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("facebook", "page_tagged_page1.json", "page_tagged_page2.json")
    (comments,) = recorded("facebook", "post_comments.json")
    on_post = [c | {"post_id": post_id} for c in comments["data"]]
    items = [p for page in pages for p in page["data"]] + on_post
    check_trimmed(mentions, items, facebook.RAW_FIELDS, "id", always=("id",))
    posts = [m for m in mentions if "post_id" not in m.raw]
    on_comments = [m for m in mentions if "post_id" in m.raw]
    assert posts and on_comments
    assert all("permalink_url" in m.raw for m in posts)
    for mention in on_comments:  # a reply's link says it answers a comment
        assert "reply_comment_id=9" in (source.reply_url(mention, "x_9") or "")  # type: ignore[attr-defined]
    for mention in posts:
        link = source.reply_url(mention, "x_9") or ""  # type: ignore[attr-defined]
        assert "comment_id=9" in link and "reply_comment_id" not in link


async def test_instagram(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    account = "17841405822304914"
    tags = f"/v22.0/{account}/tags"
    server.add(tags, fixture_reply("instagram", "tags_page1.json"))
    server.add(tags, fixture_reply("instagram", "tags_page2.json"), after="QVFIUjZAXTGs2")
    server.add(f"/v22.0/{account}/media", fixture_reply("instagram", "media.json"))
    server.add(
        "/v22.0/18066554433221100/comments", fixture_reply("instagram", "media_comments.json")
    )
    clock.now = POLL1 + timedelta(hours=4)
    env = {"INSTAGRAM_ACCESS_TOKEN": "ig-token-1"}
    source = make_source("instagram", env=env, account_id=account, page_size=3, backfill="3d")
    mentions = (await source.poll(http, None)).mentions
    pages = recorded("instagram", "tags_page1.json", "tags_page2.json")
    (comments,) = recorded("instagram", "media_comments.json")
    replies = [r for c in comments["data"] for r in c.get("replies", {}).get("data", [])]
    media_id = "18066554433221100"
    on_media = [c | {"media_id": media_id} for c in comments["data"] + replies]
    items = [m for page in pages for m in page["data"]] + on_media
    check_trimmed(mentions, items, instagram.RAW_FIELDS, "id", always=("id",))
    tagged = [m for m in mentions if "media_id" not in m.raw]
    on_comments = [m for m in mentions if "media_id" in m.raw]
    assert tagged and on_comments
    assert all("permalink" in m.raw for m in tagged)
    for mention in tagged:  # tagged media takes no comment from the account
        assert source.post_refusal(mention) is not None  # type: ignore[attr-defined]
    for mention in on_comments:  # a comment is answered under its top-level comment
        assert source.post_refusal(mention) is None  # type: ignore[attr-defined]
        target = mention.id.removeprefix("instagram:")
        parent = mention.raw.get("parent_id")
        assert _top_level(mention, target) == (parent if parent else target)


async def test_rss(server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource) -> None:
    alerts = "/alerts"
    atom = {"content-type": "application/atom+xml"}
    server.add(alerts, fixture_reply("google_alerts", "feed_poll1.xml", headers=atom))
    source = make_source("rss", name="alerts", base_url=server.url + alerts)
    mentions = (await source.poll(http, None)).mentions
    assert mentions
    for mention in mentions:
        assert set(mention.raw) == set(rss.RAW_FIELDS)
        assert all(isinstance(v, str) and v for v in mention.raw.values())
