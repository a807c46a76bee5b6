"""App Store responses over a loopback App Store Connect API that checks what Apple checks:
an ES256 JWT verified with the key's public half (``kid``, issuer, ``aud``, a lifetime of at
most 20 minutes), the JSON:API body and the 5,970-character limit, 429 RATE_LIMIT_EXCEEDED.

Reviews come from the public RSS feed, whose ids are not App Store Connect's: the tests poll
the recorded feed and find each review in App Store Connect by nickname, title and rating.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from integrations.sources._base import BaseSource
from tests.sources.conftest import MakeSource
from tests.sources.server import FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.actions.public import PublicThreads, ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import ConfigError

APP_ID = "1498765432"
FEED = "/us/rss/customerreviews/page={}/id=1498765432/sortBy=mostRecent/json"
LIST = f"/v1/apps/{APP_ID}/customerReviews"
RESPOND = "/v1/customerReviewResponses"
ISSUER, KEY_ID = "57246542-96fe-1a63-e053-0824d011072a", "2X9R4HXF34"
KEY = ec.generate_private_key(ec.SECP256R1())
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
ENV = {"ASC_ISSUER": ISSUER, "ASC_KEY_ID": KEY_ID, "ASC_KEY_P8": PEM}
CONNECT = {
    "connect_issuer_id_env": "ASC_ISSUER",
    "connect_key_id_env": "ASC_KEY_ID",
    "connect_private_key_env": "ASC_KEY_P8",
}
TEXT = "Hi Tess, we're sorry! We've refunded the second charge on NW-105317."


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_problem(authorization: str) -> str | None:
    """Apple's checks of the bearer token, with the public key (not the signing library)."""
    try:
        head, payload, signature = authorization.removeprefix("Bearer ").split(".")
        raw = _unb64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        KEY.public_key().verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        header, claims = json.loads(_unb64(head)), json.loads(_unb64(payload))
    except Exception as exc:
        return f"signature ({type(exc).__name__})"
    if header != {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}:
        return f"header {header}"
    if claims.get("iss") != ISSUER or claims.get("aud") != "appstoreconnect-v1":
        return "issuer or audience"
    now = time.time()
    if not claims["iat"] - 60 <= now < claims["exp"] or claims["exp"] - claims["iat"] > 1200:
        return "lifetime"
    return None


def unauthorized(problem: str) -> Reply:
    error = {"status": "401", "code": "NOT_AUTHORIZED", "detail": problem}
    return json_reply({"errors": [error]}, 401)


def connect_review(review_id: str, nickname: str, title: str, rating: int, **more: Any) -> Any:
    attributes = {
        "rating": rating,
        "title": title,
        "body": "...",
        "reviewerNickname": nickname,
        "createdDate": "2025-03-14T07:02:55-07:00",
        "territory": "USA",
    }
    response = more.pop("response", None)
    return {
        "type": "customerReviews",
        "id": review_id,
        "attributes": attributes | more,
        "relationships": {"response": {"data": response}},
    }


TESS_ID = "00000033-7c1b-4c5f-8f39-2a9c3d0e4b11"
GABE_ID = "00000033-7c1b-4c5f-8f39-2a9c3d0e4b10"


@dataclass
class FakeConnect:
    server: FakeServer
    posts: list[Reply] = field(default_factory=list)  # scripted answers before success
    bodies: list[Any] = field(default_factory=list)

    def install(self) -> None:
        self.server.add(FEED.format(1), fixture_reply("app_store", "customerreviews_page1.json"))
        self.server.add(FEED.format(2), fixture_reply("app_store", "customerreviews_empty.json"))
        self.server.add(LIST, self.list_reviews)
        self.server.add(RESPOND, self.respond)

    def list_reviews(self, request: Seen) -> Reply:
        if problem := jwt_problem(request.headers.get("Authorization", "")):
            return unauthorized(problem)
        if request.query.get("cursor") == "Mg":
            link = {"type": "customerReviewResponses", "id": "resp-gabe"}
            title = "Crashes when I open the cart"
            gabe = connect_review(GABE_ID, "gearhead_gabe", title, 1, response=link)
            answer = {
                "type": "customerReviewResponses",
                "id": "resp-gabe",
                "attributes": {
                    "responseBody": "Thanks Gabe, 4.12.1 fixes the cart crash.",
                    "lastModifiedDate": "2025-03-14T08:10:00-07:00",
                    "state": "PUBLISHED",
                },
            }
            return json_reply({"data": [gabe], "included": [answer], "links": {"self": "x"}})
        query = request.query
        if query.get("include") != "response" or query.get("sort") != "-createdDate":
            return json_reply({"errors": [{"status": "400", "code": "PARAMETER_ERROR"}]}, 400)
        page = [
            connect_review(TESS_ID, "trailmix_tess", "Charged twice, no help", 1),
            connect_review("00000033-aaaa", "trailmix_tess", "Charged twice, no help", 2),
            connect_review("00000033-bbbb", "someone_else", "Charged twice, no help", 1),
        ]
        following = f"{self.server.url}{LIST}?cursor=Mg&limit=200&include=response"
        return json_reply({"data": page, "links": {"self": "x", "next": following}})

    def respond(self, request: Seen) -> Reply:
        if problem := jwt_problem(request.headers.get("Authorization", "")):
            return unauthorized(problem)
        body = json.loads(request.body)
        self.bodies.append(body)
        data = body.get("data", {})
        text = data.get("attributes", {}).get("responseBody")
        review = data.get("relationships", {}).get("review", {}).get("data", {})
        kinds = (data.get("type"), review.get("type"))
        if kinds != ("customerReviewResponses", "customerReviews"):
            return json_reply({"errors": [{"status": "409", "code": "ENTITY_ERROR.TYPE"}]}, 409)
        if review.get("id") not in (TESS_ID, GABE_ID):
            return json_reply({"errors": [{"status": "404", "code": "NOT_FOUND"}]}, 404)
        if not isinstance(text, str) or not text or len(text) > 5970:
            error = {
                "status": "409",
                "code": "ENTITY_ERROR.ATTRIBUTE.INVALID",
                "detail": "responseBody is too long",
                "source": {"pointer": "/data/attributes/responseBody"},
            }
            return json_reply({"errors": [error]}, 409)
        if self.posts:
            return self.posts.pop(0)
        created = {"responseBody": text, "state": "PENDING_PUBLISH"}
        data = {"type": "customerReviewResponses", "id": "resp-tess", "attributes": created}
        return json_reply({"data": data}, 201)


@pytest.fixture
def connect(server: FakeServer) -> FakeConnect:
    fake = FakeConnect(server)
    fake.install()
    return fake


def store(make_source: MakeSource, server: FakeServer, **options: Any) -> BaseSource:
    options = {**CONNECT, "connect_base_url": server.url, **options}
    return make_source("appstore", env=ENV, app_id=APP_ID, backfill="5d", **options)


def public_of(source: BaseSource) -> PublicThreads:
    public = reply_capable(source)
    assert public is not None
    return public


async def feed_review(source: BaseSource, http: httpx.AsyncClient, nickname: str) -> Mention:
    result = await source.poll(http, None)
    return next(m for m in result.mentions if m.author.handle == nickname)


async def test_a_feed_review_is_answered_in_app_store_connect(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = store(make_source, server)
    public = public_of(source)
    assert public.can_reply and public.can_read_threads
    tess = await feed_review(source, http, "trailmix_tess")
    assert tess.id == "appstore:12238377046"  # the feed's numeric id
    sent = await public.reply(http, tess, TEXT, "r-1")
    assert sent.external_id == "resp-tess" and sent.url == tess.url
    (body,) = connect.bodies
    assert body == {
        "data": {
            "type": "customerReviewResponses",
            "attributes": {"responseBody": TEXT},
            "relationships": {"review": {"data": {"type": "customerReviews", "id": TESS_ID}}},
        }
    }
    assert len(server.seen(LIST)) == 2  # both pages searched, signed each time


async def test_a_wrong_key_is_refused_by_the_signature_check(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    source = make_source(
        "appstore",
        env=ENV | {"ASC_KEY_P8": other.decode()},
        app_id=APP_ID,
        backfill="5d",
        connect_base_url=server.url,
        **CONNECT,
    )
    tess = await feed_review(source, http, "trailmix_tess")
    with pytest.raises(ReplyFailed, match="NOT_AUTHORIZED"):
        await public_of(source).reply(http, tess, TEXT, "r-2")
    assert server.seen(RESPOND) == []  # the listing was refused: nothing was sent


async def test_length_limit_and_api_refusals(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = store(make_source, server)
    public = public_of(source)
    assert public.reply_problem("x" * 6_000) == "6,000 of 5,970 characters: shorten by 30"
    tess = await feed_review(source, http, "trailmix_tess")
    with pytest.raises(ReplyFailed, match=r"ENTITY_ERROR\.ATTRIBUTE\.INVALID"):
        await public.reply(http, tess, "x" * 6_000, "r-3")
    limited = {"errors": [{"status": "429", "code": "RATE_LIMIT_EXCEEDED"}]}
    headers = {"X-Rate-Limit": "user-hour-lim:3600;user-hour-rem:0;", "Retry-After": "900"}
    connect.posts = [json_reply(limited, 429, headers)]
    with pytest.raises(ReplyFailed, match="RATE_LIMIT_EXCEEDED") as raised:
        await public.reply(http, tess, TEXT, "r-4")
    assert raised.value.retry_after == 900.0


async def test_a_5xx_is_sent_once_more_because_a_response_overwrites_the_last(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = store(make_source, server)
    tess = await feed_review(source, http, "trailmix_tess")
    connect.posts = [Reply(b"", 502)]
    assert (await public_of(source).reply(http, tess, TEXT, "r-5")).external_id == "resp-tess"
    assert len(server.seen(RESPOND)) == 2
    connect.posts = [Reply(b"", 500), Reply(b"", 503)]
    with pytest.raises(ReplyUnknown):
        await public_of(source).reply(http, tess, TEXT, "r-6")
    assert len(server.seen(RESPOND)) == 4


async def test_a_review_not_found_in_app_store_connect_is_not_guessed(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = store(make_source, server)
    mo = await feed_review(source, http, "hikes_with_mo")  # not among the listed reviews
    with pytest.raises(ReplyFailed, match="answer it there"):
        await public_of(source).reply(http, mo, TEXT, "r-7")
    assert server.seen(RESPOND) == []


async def test_thread_is_the_developer_response(
    connect: FakeConnect, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = store(make_source, server)
    result = await source.poll(http, None)
    by_handle = {m.author.handle: m for m in result.mentions}
    gabe, tess = by_handle["gearhead_gabe"], by_handle["trailmix_tess"]
    reads = await public_of(source).threads(http, [gabe, tess])
    listed = len(server.seen(LIST))
    await public_of(source).reply(http, tess, TEXT, "r-8")  # matched by the read: no listing
    assert len(server.seen(LIST)) == listed and len(server.seen(RESPOND)) == 1
    (answer,) = reads[gabe.id].posts
    assert answer.by_brand and answer.id == "resp-gabe"
    assert answer.text == "Thanks Gabe, 4.12.1 fixes the cart crash."
    assert answer.created_at.isoformat() == "2025-03-14T15:10:00+00:00"
    assert reads[tess.id].posts == []  # matched, not answered yet


def test_connect_key_options(make_source: MakeSource) -> None:
    plain = make_source("appstore", app_id=APP_ID)
    public = public_of(plain)
    assert not public.can_reply and not public.can_read_threads
    assert plain.reply_missing == (  # type: ignore[attr-defined]
        "APP_STORE_CONNECT_ISSUER_ID",
        "APP_STORE_CONNECT_KEY_ID",
        "APP_STORE_CONNECT_PRIVATE_KEY",
    )
    half = make_source("appstore", env={"ASC_KEY_P8": PEM}, app_id=APP_ID, **CONNECT)
    assert half.reply_missing == ("ASC_ISSUER", "ASC_KEY_ID")  # type: ignore[attr-defined]
    defaults = {
        "APP_STORE_CONNECT_ISSUER_ID": ISSUER,
        "APP_STORE_CONNECT_KEY_ID": KEY_ID,
        "APP_STORE_CONNECT_PRIVATE_KEY": PEM,
    }
    assert public_of(make_source("appstore", env=defaults, app_id=APP_ID)).can_reply
    with pytest.raises(ConfigError, match=r"ASC_KEY_P8: not a PEM private key"):
        make_source("appstore", env=ENV | {"ASC_KEY_P8": "not a key"}, app_id=APP_ID, **CONNECT)
