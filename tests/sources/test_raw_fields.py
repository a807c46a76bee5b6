"""A stored mention keeps of the source's payload only what its adapter declares (``RAW_FIELDS``).

Each source is polled from its recorded fixtures over a loopback server
(``tests.sources.recorded_polls``); every mention's ``raw`` is the declared fields of the item
it came from, nothing else, and the later readers (replies, thread reads, the App Store review
match) still find what they need in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

from integrations.sources._base import kept
from integrations.sources.appstore_public import match_review
from integrations.sources.discourse_public import _place
from integrations.sources.instagram import _top_level
from integrations.sources.mastodon_public import _acct, _local_id
from integrations.sources.x_public import _conversation
from tests.sources.conftest import Clock, MakeSource
from tests.sources.recorded_polls import BSKY_ROOT, POLLS, X_CONVERSATION, Polled
from tests.sources.server import FakeServer

#: The fields every recorded item of a source has, so every mention keeps them.
ALWAYS = {
    "mastodon": ("id", "uri", "url", "account.acct"),
    "bluesky": ("uri", "cid"),
    "x": ("id", "edit_history_tweet_ids", "author_id"),
    "reddit": ("name", "id", "permalink"),
    "hackernews": ("objectID",),
    "stackexchange": ("question_id", "link"),
    "appstore": ("id.label", "author.name.label", "title.label", "im:rating.label", "content"),
    "googleplay": ("reviewId",),
    "discourse": ("id", "topic_id", "post_number"),
    "facebook": ("id",),
    "instagram": ("id",),
    "rss": ("id", "link"),
}


def at(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


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


async def polled(
    kind: str, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> Polled:
    """The source's poll, checked: each mention's raw is ``kept(item, fields)`` of its item,
    holds no undeclared path, and has the fields every item has."""
    result = await POLLS[kind](server, http, make_source, clock)
    by_key = {str(at(item, result.key)): item for item in result.items}
    assert result.mentions
    for mention in result.mentions:
        item = by_key[str(at(mention.raw, result.key))]
        assert mention.raw == kept(item, result.fields)
        assert leaves(mention.raw, result.fields) <= set(result.fields)
        assert len(mention.raw) < len(item) or kind == "rss"
        for path in ALWAYS[kind]:
            assert at(mention.raw, path) is not None, (mention.id, path)
    return result


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


@pytest.mark.parametrize("kind", ["hackernews", "stackexchange", "googleplay", "rss"])
async def test_sources_that_reply_by_the_mentions_id_or_url_keep_ids_and_links(
    kind: str,
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    clock: Clock,
) -> None:
    await polled(kind, server, http, make_source, clock)


async def test_mastodon(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    mentions = (await polled("mastodon", server, http, make_source, clock)).mentions
    for mention in mentions:  # the status a reply answers and a thread read opens, its author
        original = mention.raw.get("reblog") or mention.raw
        assert _local_id(mention.raw) == original["id"]
        assert _acct(mention, "social.trails.example", "").startswith(original["account"]["acct"])


async def test_bluesky(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    result = await polled("bluesky", server, http, make_source, clock)
    for mention in result.mentions:  # a reply names the post by its uri and cid
        assert result.source.post_refusal(mention) is None  # type: ignore[attr-defined]
    (reply,) = [m for m in result.mentions if "record" in m.raw]  # and the thread's root
    assert reply.raw["record"] == {"reply": {"root": BSKY_ROOT, "parent": BSKY_ROOT}}


async def test_x(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    mentions = (await polled("x", server, http, make_source, clock)).mentions
    for mention in mentions:  # the conversation a thread read searches
        raw = mention.raw
        assert _conversation(mention) == raw.get("conversation_id", raw["id"])
    assert any(m.raw.get("conversation_id") == X_CONVERSATION for m in mentions)


async def test_reddit(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    result = await polled("reddit", server, http, make_source, clock)
    for mention in result.mentions:  # the thing a reply answers and a thread read opens
        assert f"{result.source.name}:{mention.raw['name']}" == mention.id


async def test_appstore(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    mentions = (await polled("appstore", server, http, make_source, clock)).mentions
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
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    mentions = (await polled("discourse", server, http, make_source, clock)).mentions
    for mention in mentions:  # the topic and post a reply and a thread read name
        topic_id, number = _place(mention.raw)
        assert topic_id is not None and number is not None


async def test_facebook(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    result = await polled("facebook", server, http, make_source, clock)
    source: Any = result.source
    posts = [m for m in result.mentions if "post_id" not in m.raw]
    on_comments = [m for m in result.mentions if "post_id" in m.raw]
    assert posts and on_comments
    assert all("permalink_url" in m.raw for m in posts)
    for mention in on_comments:  # the reply's link says it answers a comment
        assert "reply_comment_id=9" in (source.reply_url(mention, "x_9") or "")
    for mention in posts:
        link = source.reply_url(mention, "x_9") or ""
        assert "comment_id=9" in link and "reply_comment_id" not in link


async def test_instagram(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    result = await polled("instagram", server, http, make_source, clock)
    source: Any = result.source
    tagged = [m for m in result.mentions if "media_id" not in m.raw]
    on_comments = [m for m in result.mentions if "media_id" in m.raw]
    assert tagged and on_comments
    assert all("permalink" in m.raw for m in tagged)
    for mention in tagged:  # tagged media takes no comment from the account
        assert source.post_refusal(mention) is not None
        assert source.thread_edge(mention, "x") is None
    for mention in on_comments:  # a comment is answered under its top-level comment
        assert source.post_refusal(mention) is None
        target = mention.id.removeprefix("instagram:")
        parent = mention.raw.get("parent_id")
        assert _top_level(mention, target) == (parent or target)
    assert any("parent_id" in m.raw for m in on_comments)
