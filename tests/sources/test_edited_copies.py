"""Two copies of one post in one answer (an edited post): the latest version is kept."""

from __future__ import annotations

import httpx

from tests.sources.conftest import POLL1, MakeSource
from tests.sources.server import FakeServer, json_reply

T = POLL1.timestamp()


def reddit_post(text: str, edited: float | bool) -> dict[str, object]:
    return {
        "kind": "t3",
        "data": {
            "name": "t3_edit1",
            "author": "tess",
            "title": "Northwind double charge",
            "selftext": text,
            "permalink": "/r/x/comments/edit1/t/",
            "created_utc": T - 600,
            "edited": edited,
        },
    }


async def test_reddit_keeps_the_edited_copy_wherever_it_comes(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    children = [reddit_post("refunded now, thanks", T - 60), reddit_post("charged twice!", False)]
    listing = {"kind": "Listing", "data": {"after": None, "children": children}}
    server.add("/search.json", json_reply(listing))
    (mention,) = (await make_source("reddit").poll(http, None)).mentions
    assert mention.text.endswith("refunded now, thanks")


async def test_reddit_without_edit_times_keeps_the_later_copy(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    children = [reddit_post("first", False), reddit_post("second", False)]
    listing = {"kind": "Listing", "data": {"after": None, "children": children}}
    server.add("/search.json", json_reply(listing))
    (mention,) = (await make_source("reddit").poll(http, None)).mentions
    assert mention.text.endswith("second")


async def test_x_keeps_the_last_version_of_an_edited_post(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    first, edit = "1900000000000000001", "1900000000000000009"
    body = {
        "data": [
            {
                "id": first,
                "text": "Northwind sizing: M?",
                "created_at": "2025-03-14T15:00:00.000Z",
                "edit_history_tweet_ids": [first, edit],
            },
            {
                "id": edit,
                "text": "Northwind sizing: M or L?",
                "created_at": "2025-03-14T15:05:00.000Z",
                "edit_history_tweet_ids": [first, edit],
            },
        ],
        "meta": {"newest_id": edit, "result_count": 2},
    }
    server.add("/2/tweets/search/recent", json_reply(body))
    result = await make_source("x", env={"X_BEARER_TOKEN": "t"}).poll(http, None)
    (mention,) = result.mentions
    assert mention.id == f"x:{first}"
    assert mention.text == "Northwind sizing: M or L?"
    assert mention.url.endswith(f"/status/{edit}")


async def test_stackexchange_keeps_the_copy_with_the_newer_edit(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    def question(body: str, edited: int) -> dict[str, object]:
        return {
            "question_id": 42,
            "title": "Northwind zipper",
            "body": f"<p>{body}</p>",
            "link": "https://outdoors.stackexchange.com/q/42",
            "creation_date": int(T) - 900,
            "last_edit_date": edited,
            "owner": {"display_name": "Zeke"},
        }

    items = [question("edited text", int(T) - 60), question("original text", int(T) - 900)]
    server.add("/2.3/search/advanced", json_reply({"items": items, "has_more": False}))
    (mention,) = (await make_source("stackexchange", site="outdoors").poll(http, None)).mentions
    assert mention.text.endswith("edited text")


async def test_mastodon_keeps_the_edited_status(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    def status(text: str, edited: str | None) -> dict[str, object]:
        return {
            "id": "113000000000000001",
            "uri": "https://social.example/users/zoe/statuses/1",
            "url": "https://social.example/@zoe/1",
            "created_at": "2025-03-14T15:00:00.000Z",
            "edited_at": edited,
            "content": f"<p>{text}</p>",
            "account": {"acct": "zoe@social.example"},
        }

    page = [status("Northwind zipper split, edited", "2025-03-14T15:10:00.000Z"), status("x", None)]
    server.add("/api/v1/timelines/tag/northwind", json_reply(page), times=1)
    server.add("/api/v1/timelines/tag/northwind", json_reply([]))
    source = make_source("mastodon", hashtags=["northwind"])
    (mention,) = (await source.poll(http, None)).mentions
    assert mention.text == "Northwind zipper split, edited"
