"""Synthetic answers of the eight source APIs for the polling benchmark.

Every cycle yields ``count`` new posts per source (new ids, newer times), in each API's own
shape: an Atom feed with escaped HTML, a Reddit listing, Algolia hits, Mastodon statuses,
Bluesky post views, an X page with user expansions, App Store entries, Stack Exchange
questions, Google Play reviews (after a service-account token exchange) and Discourse search
results. ``handler(cycle)`` answers the adapters' requests like the real services would.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CYCLE = timedelta(minutes=10)
_TOPICS = [
    "charged my card twice for order NW-{n} and support does not answer",
    "parcel for order NW-{n} stuck on label created for a week",
    "refund for my return NW-{n} still missing after three weeks",
    "love the new Basecamp pack, the hip belt is great",
    "zipper on my Ridgeline jacket split, is it covered by warranty? order NW-{n}",
    "is the Denver store hiring retail associates this spring?",
    "app crashes at checkout since the last update",
    "journalist here, looking for comment on the Cirrus down bag",
]


def at(cycle: int, i: int) -> datetime:
    """Newest first: item 0 is the newest of its cycle."""
    return START + CYCLE * cycle - timedelta(seconds=i * 5)


_WORDS = (  # noqa: SIM905
    "tent stove boots ridge trail pack hip belt lid zip rain shell fleece sleeping bag loft "
    "wash dryer cold night camp lake summit week month store clerk manager email phone chat"
).split(" ")


def escaped(value: str) -> str:
    """Text as HTML: ``&`` and ``<`` escaped."""
    return value.replace("&", "&amp;").replace("<", "&lt;")


def text(rng: random.Random, n: int) -> str:
    topic = rng.choice(_TOPICS).format(n=n)
    words = " ".join(rng.choice(_WORDS) for _ in range(14))
    return f"Northwind {topic}. {words.capitalize()} 🏕️ — cheers & thanks <3"


def atom(cycle: int, count: int) -> bytes:
    rng = random.Random(cycle)
    entries = []
    for i in range(count):
        n = cycle * 1000 + i
        body = "&lt;b&gt;Northwind&lt;/b&gt; " + escaped(escaped(text(rng, n)))  # HTML in XML
        entries.append(
            f"<entry><id>tag:google.com,2013:googlealerts/feed:{n}</id>"
            f'<title type="html">Post {n} about &lt;b&gt;Northwind&lt;/b&gt;</title>'
            '<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;'
            f'url=https://blog{i % 7}.example/p/{n}&amp;ct=ga"/>'
            f"<published>{at(cycle, i).isoformat()}</published>"
            f'<content type="html">{body}&amp;nbsp;...</content>'
            "<author><name></name></author></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Google Alert - Northwind</title>" + "".join(entries) + "</feed>"
    ).encode()


def reddit(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 1)
    children = [
        {
            "kind": "t3",
            "data": {
                "name": f"t3_b{cycle}x{i}",
                "author": f"redditor_{cycle}_{i}",
                "title": f"Northwind question {cycle}-{i}",
                "selftext": text(rng, cycle * 1000 + i),
                "permalink": f"/r/CampingGear/comments/b{cycle}x{i}/post/",
                "created_utc": at(cycle, i).timestamp(),
            },
        }
        for i in range(count)
    ]
    return {"kind": "Listing", "data": {"after": None, "children": children}}


def hackernews(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 2)
    hits = [
        {
            "objectID": str(40_000_000 + cycle * 1000 + i),
            "comment_text": f"<p>{escaped(text(rng, i))}</p><p>Second &#x27;para&#x27;</p>",
            "author": f"hn_{cycle}_{i}",
            "created_at_i": int(at(cycle, i).timestamp()),
            "_tags": ["comment"],
        }
        for i in range(count)
    ]
    return {"hits": hits, "nbPages": 1, "page": 0}


def mastodon(cycle: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(cycle + 3)
    return [
        {
            "id": str(110_000_000_000_000_000 + cycle * 1000 + (count - i)),
            "uri": f"https://fedi{i % 5}.example/users/u{i}/statuses/{cycle}{i}",
            "url": f"https://fedi{i % 5}.example/@u{i}/{cycle}{i}",
            "created_at": at(cycle, i).isoformat().replace("+00:00", "Z"),
            "content": f"<p>{escaped(text(rng, i))} "
            '<a href="https://x.example/tags/northwind" class="mention hashtag">'
            "#<span>northwind</span></a></p>",
            "spoiler_text": "",
            "language": "en",
            "account": {"acct": f"toot_{cycle}_{i}", "display_name": "T", "followers_count": 10},
        }
        for i in range(count)
    ]


def bluesky(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 4)
    posts = []
    for i in range(count):
        when = at(cycle, i).isoformat().replace("+00:00", "Z")
        posts.append(
            {
                "uri": f"at://did:plc:u{i}/app.bsky.feed.post/{cycle}k{i}",
                "author": {"did": f"did:plc:u{i}", "handle": f"sky{cycle}-{i}.bsky.social"},
                "record": {"text": text(rng, i), "createdAt": when, "langs": ["en"]},
                "indexedAt": when,
            }
        )
    return {"posts": posts}


def x(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 5)
    tweets, users = [], []
    for i in range(count):
        tweet_id = str(1_900_000_000_000_000_000 + cycle * 1000 + (count - i))
        users.append(
            {
                "id": f"u{i}",
                "username": f"tw_{cycle}_{i}",
                "name": "N",
                "public_metrics": {"followers_count": rng.randrange(100000)},
            }
        )
        tweets.append(
            {
                "id": tweet_id,
                "edit_history_tweet_ids": [tweet_id],
                "author_id": f"u{i}",
                "text": escaped(text(rng, i)),  # X escapes & and <
                "created_at": at(cycle, i).isoformat().replace("+00:00", "Z"),
                "lang": "en",
            }
        )
    meta = {"newest_id": tweets[0]["id"], "result_count": count}
    return {"data": tweets, "includes": {"users": users}, "meta": meta}


def appstore(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 6)
    entries = [
        {
            "author": {"name": {"label": f"reviewer{cycle}_{i}"}},
            "updated": {"label": at(cycle, i).astimezone().isoformat()},
            "im:rating": {"label": str(rng.randint(1, 5))},
            "id": {"label": str(12_000_000_000 + cycle * 1000 + i)},
            "title": {"label": "Northwind app review"},
            "content": {"label": text(rng, i)},
        }
        for i in range(count)
    ]
    return {"feed": {"entry": entries}}


def stackexchange(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 7)
    items = [
        {
            "question_id": 100_000 + cycle * 1000 + i,
            "title": "Northwind gear &amp; the &#39;trail&#39;",
            "body": f"<p>{escaped(text(rng, i))}&#160;ok</p>",
            "owner": {"display_name": f"Asker {cycle} {i}", "user_id": i},
            "creation_date": int(at(cycle, i).timestamp()),
            "link": f"https://outdoors.stackexchange.com/questions/{100_000 + cycle * 1000 + i}/q",
        }
        for i in range(count)
    ]
    return {"items": items, "has_more": False, "quota_max": 10000, "quota_remaining": 9000}


PLAY_REVIEWS = "/androidpublisher/v3/applications/com.northwind.outfitters/reviews"


def googleplay(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 8)
    reviews = []
    for i in range(count):
        n = cycle * 1000 + i
        title, _, body = text(rng, n).partition(". ")
        comment = {
            "text": f"{title}\t{body}",
            "lastModified": {"seconds": str(int(at(cycle, i).timestamp())), "nanos": 0},
            "starRating": 1 + n % 5,
            "reviewerLanguage": "en",
            "appVersionName": "4.12.0",
        }
        reviews.append(
            {
                "reviewId": f"gp:AOqpT{n:012d}",
                "authorName": f"Reviewer {n}",
                "comments": [{"userComment": comment}],
            }
        )
    return {"reviews": reviews, "pageInfo": {"totalResults": count, "resultPerPage": count}}


def discourse(cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 9)
    posts, topics = [], []
    for i in range(count):
        n = cycle * 1000 + i + 1
        posts.append(
            {
                "id": n,
                "name": f"Hiker {n}",
                "username": f"hiker_{n}",
                "created_at": at(cycle, i).isoformat(timespec="milliseconds")[:-6] + "Z",
                "blurb": escaped(text(rng, n))[:200] + "...",
                "post_number": 1 + i % 9,
                "topic_title_headline": '<span class="search-highlight">Northwind</span> gear',
                "topic_id": 500_000 + n,
            }
        )
        topics.append({"id": 500_000 + n, "title": "Northwind gear", "slug": "northwind-gear"})
    result = {"more_full_page_results": None, "error": None, "post_ids": [p["id"] for p in posts]}
    return {"posts": posts, "topics": topics, "grouped_search_result": result}


@functools.cache
def service_account_key(token_uri: str) -> str:
    """A service-account JSON key (a fresh RSA key) whose tokens come from ``token_uri``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return json.dumps(
        {
            "type": "service_account",
            "private_key": pem.decode(),
            "client_email": "bench@northwind.iam.gserviceaccount.com",
            "token_uri": token_uri,
        }
    )


def handler(cycle: Callable[[], int], count: int) -> Callable[[httpx.Request], httpx.Response]:
    """Answers every adapter's request for the current cycle (an empty page after page 1)."""

    def answer(request: httpx.Request) -> httpx.Response:
        c, path = cycle(), request.url.path
        later_page = (
            request.url.params.get("page") not in (None, "0", "1") or "max_id" in request.url.params
        )
        if path.endswith("/alerts"):
            return httpx.Response(
                200, content=atom(c, count), headers={"content-type": "application/atom+xml"}
            )
        if "createSession" in path:
            return httpx.Response(200, json={"accessJwt": "bench"})
        if path == "/token":
            return httpx.Response(200, json={"access_token": "bench", "expires_in": 3600})
        if (
            "min_id" in request.url.params
            and request.url.params["min_id"] >= mastodon(c, 1)[0]["id"]
        ):
            return httpx.Response(200, json=[])
        bodies: dict[str, Callable[[int, int], Any]] = {
            "/search.json": reddit,
            "/api/v1/search_by_date": hackernews,
            "/api/v1/timelines/tag/northwind": mastodon,
            "/xrpc/app.bsky.feed.searchPosts": bluesky,
            "/2/tweets/search/recent": x,
            "/2.3/search/advanced": stackexchange,
            PLAY_REVIEWS: googleplay,
            "/forum/search.json": discourse,
        }
        if "customerreviews" in path:
            return httpx.Response(
                200, json={"feed": {}} if "page=1/" not in path else appstore(c, count)
            )
        make = bodies[path]
        if later_page:
            return httpx.Response(200, json=make(c, 0) if make is not mastodon else [])
        return httpx.Response(200, json=make(c, count))

    return answer


#: What each ``[[sources]]`` block of ``sources_toml`` stands for, in the same order.
LABELS = [
    "Google Alerts Atom",
    "Reddit",
    "Hacker News",
    "Mastodon",
    "Bluesky",
    "X",
    "App Store",
    "Stack Exchange",
    "Google Play",
    "Discourse",
]


def sources_toml(base: str) -> str:
    """``[[sources]]`` blocks for the adapters, all at ``base``."""
    blocks = [
        ("alerts", "rss", f'base_url = "{base}/alerts"'),
        ("reddit", "reddit", f'base_url = "{base}"'),
        ("hn", "hackernews", f'base_url = "{base}"'),
        ("mastodon", "mastodon", f'base_url = "{base}"\nhashtags = ["northwind"]'),
        ("bluesky", "bluesky", f'base_url = "{base}"'),
        ("x", "x", f'base_url = "{base}"'),
        ("appstore", "appstore", f'base_url = "{base}"\napp_id = "1498765432"'),
        ("se", "stackexchange", f'base_url = "{base}"\nsite = "outdoors"'),
        ("play", "googleplay", f'base_url = "{base}"\npackage_name = "com.northwind.outfitters"'),
        ("forum", "discourse", f'base_url = "{base}/forum"'),
    ]
    return "\n".join(
        f'[[sources]]\nname = "{n}"\ntype = "{t}"\n{extra}\npage_size = 100\nbackfill = "30d"\n'
        for n, t, extra in blocks
    )


def dumps(data: Any) -> str:
    return json.dumps(data)
