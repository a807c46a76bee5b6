"""App Store: the developer's public response to a review, through the App Store Connect API.

Reviews are read from the public RSS feed, whose review ids (``id.label``, numeric) are not
documented to be App Store Connect's ``customerReviews`` ids (opaque strings). So a review is
found in App Store Connect by what both show: ``GET /v1/apps/{app_id}/customerReviews``
(newest first, 200 a page, its responses included) and the review whose reviewer nickname,
title and rating equal the feed's (the body decides between several; an id equal to the
feed's is taken first). A reply is ``POST /v1/customerReviewResponses`` for that review. A
review has at most one response and posting again overwrites it ("Create or update a
response", developer.apple.com/documentation/appstoreconnectapi/post-v1-customerreviewresponses),
so a reply whose fate is unknown (a 5xx, a timeout) is sent once more, as for Google Play.

Every request carries an ES256 JWT signed with the API key (``.p8``) in
``connect_private_key_env``, with the key id (``kid``) and issuer id from
``connect_key_id_env`` and ``connect_issuer_id_env`` (default ``APP_STORE_CONNECT_PRIVATE_KEY``,
``APP_STORE_CONNECT_KEY_ID``, ``APP_STORE_CONNECT_ISSUER_ID``; any not set, the source neither
replies nor reads responses and polls the feed as before), ``aud: appstoreconnect-v1`` and a
lifetime of 20 minutes (Apple's maximum); the key needs the Customer Support role. Responses
are at most 5,970 characters (App Store Connect Help, "Respond to customer reviews").

The thread is the included ``customerReviewResponses`` of the matched review: the
developer's response (``by_brand``). The API allows about 3,600 requests an hour per key
(``X-Rate-Limit: user-hour-lim:3600``; developer.apple.com/documentation/appstoreconnectapi/
identifying-rate-limits) and answers 429 ``RATE_LIMIT_EXCEEDED`` beyond it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import get, json_body
from integrations.sources._options import SourceOptions, Text
from integrations.sources._replies import (
    empty,
    external_id,
    reply_body,
    retry_after,
    send,
    thread_post,
    too_long,
)
from integrations.sources._text import parse_time, tidy
from triagebot.actions.public import (
    ReplyFailed,
    ReplyUnknown,
    SentReply,
    ThreadBudget,
    ThreadRead,
)
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

CONNECT_URL = "https://api.appstoreconnect.apple.com"
ISSUER_VARIABLE = "APP_STORE_CONNECT_ISSUER_ID"
KEY_ID_VARIABLE = "APP_STORE_CONNECT_KEY_ID"
PRIVATE_KEY_VARIABLE = "APP_STORE_CONNECT_PRIVATE_KEY"
MAX_RESPONSE = 5_970
TOKEN_LIFETIME = 20 * 60  # seconds: the longest App Store Connect accepts
LIST_PAGES = 3  # pages of 200 reviews searched for a feed review (the newest 600)
#: About 3,600 requests an hour per key; a round lists up to ``LIST_PAGES`` pages.
THREAD_BUDGET = ThreadBudget(3_600 // LIST_PAGES, 3600.0, 50)
_FIELDS = {
    "sort": "-createdDate",
    "limit": 200,
    "include": "response",
    "fields[customerReviews]": "rating,title,body,reviewerNickname,createdDate,response",
    "fields[customerReviewResponses]": "responseBody,lastModifiedDate,state",
}


class AppStorePublicOptions(SourceOptions):
    """The App Store Connect API key an App Store source replies and reads responses with."""

    connect_issuer_id_env: Text | None = None
    connect_key_id_env: Text | None = None
    connect_private_key_env: Text | None = None  # the .p8 file's text
    connect_base_url: Text = CONNECT_URL


@dataclass(frozen=True)
class ConnectKey:
    """An App Store Connect API key: issuer, key id and the P-256 private key."""

    issuer: str
    key_id: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def read(cls, issuer: str, key_id: str, pem: str) -> ConnectKey:
        """ValueError (without the key's text) when ``pem`` is not a P-256 private key."""
        try:
            key = load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("not a PEM private key (the .p8 file's text)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("not an App Store Connect key (ES256 needs a P-256 EC key)")
        return cls(issuer, key_id, key)

    def token(self, now: float) -> str:
        claims = {
            "iss": self.issuer,
            "iat": int(now),
            "exp": int(now) + TOKEN_LIFETIME,
            "aud": "appstoreconnect-v1",
        }
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": self.key_id, "typ": "JWT"}
        )


class AppStorePublic:
    """``PublicThreads`` for ``AppStoreSource`` (which sets ``connect_key``)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    app_id: str
    options: Any
    clock: Callable[[], datetime]
    connect_key: ConnectKey | None
    reply_missing: tuple[str, ...] = ()  # write variables to set (``triagebot sources``)
    matched: dict[str, str]  # mention id -> App Store Connect review id, once found
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET
    _bearer: tuple[str, float] | None = None  # the signed token and when it is renewed

    @property
    def can_reply(self) -> bool:
        return self.connect_key is not None

    @property
    def can_read_threads(self) -> bool:
        return self.connect_key is not None

    def reply_problem(self, text: str) -> str | None:
        return empty(text) or too_long(len(text), MAX_RESPONSE)

    def _auth(self) -> dict[str, str]:
        assert self.connect_key is not None
        now = time.time()  # Apple checks the token against the real time
        if self._bearer is None or self._bearer[1] <= now:
            self._bearer = (self.connect_key.token(now), now + TOKEN_LIFETIME - 120)
        return {"Authorization": f"Bearer {self._bearer[0]}"}

    @property
    def _connect(self) -> str:
        return str(self.options.connect_base_url).rstrip("/")

    # --- replies ------------------------------------------------------------------------
    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if self.connect_key is None:
            missing = " and ".join(self.reply_missing)
            raise ReplyFailed(f"{self.name}: replies are not set up: set {missing}")
        review_id = self.matched.get(mention.id) or await self._find(http, mention)
        body = {
            "data": {
                "type": "customerReviewResponses",
                "attributes": {"responseBody": text},
                "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}},
            }
        }
        uncertain: ReplyUnknown | None = None
        for _ in range(2):
            try:
                response = await send(
                    http,
                    self.name,
                    "POST",
                    f"{self._connect}/v1/customerReviewResponses",
                    headers=self._auth(),
                    json=body,
                )
                return self._sent(response, mention)
            except ReplyUnknown as exc:
                if uncertain is not None:
                    raise
                uncertain = exc  # a response overwrites the last: once more is safe
            except ReplyFailed:
                if uncertain is not None:
                    raise uncertain from None
                raise
        raise AssertionError("unreachable")

    async def _find(self, http: httpx.AsyncClient, mention: Mention) -> str:
        """The App Store Connect id of the feed's review (ReplyFailed when not found)."""
        try:
            listing = await self._reviews(http)
        except SourceError as exc:
            raise ReplyFailed(str(exc), retry_after=exc.retry_after) from exc
        review = match_review(mention, external_id(self.name, mention), listing.reviews)
        if review is None:
            raise ReplyFailed(
                f"{self.name}: this review is not among the newest in App Store Connect; "
                "answer it there"
            )
        self.matched[mention.id] = review["id"]
        return str(review["id"])

    def _sent(self, response: httpx.Response, mention: Mention) -> SentReply:
        status = response.status_code
        body = reply_body(response)
        if status in (200, 201):
            data = as_dict(body.get("data"))
            if not isinstance(data.get("id"), str):
                raise ReplyFailed(f"{self.name}: App Store Connect answered without an id")
            return SentReply(data["id"], mention.url)
        said = _errors(status, body)
        if status == 429:
            wait = retry_after(response, self.clock()) or 60.0
            raise ReplyFailed(f"{self.name}: {said}", retry_after=wait)
        if status in (401, 403):
            raise ReplyFailed(
                f"{self.name}: {said} (the API key needs the Customer Support role; check "
                f"{self.options.connect_key_id_env} and {self.options.connect_issuer_id_env})"
            )
        raise ReplyFailed(f"{self.name}: {said}")

    # --- threads ------------------------------------------------------------------------
    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        if self.connect_key is None:
            return {}
        listing = await self._reviews(http)
        found: dict[str, ThreadRead] = {}
        for mention in mentions:
            review = match_review(mention, external_id(self.name, mention), listing.reviews)
            if review is None:
                found[mention.id] = ThreadRead()  # older than the pages searched: none seen
                continue
            self.matched[mention.id] = review["id"]  # a reply needs no listing then
            answer = listing.responses.get(response_id(review) or "")
            found[mention.id] = ThreadRead(
                posts=[self._response(answer, mention)] if answer else []
            )
        return found

    def _response(self, answer: dict[str, Any], mention: Mention) -> ThreadPost:
        attributes = as_dict(answer.get("attributes"))
        return thread_post(
            str(answer.get("id")),
            author="developer",
            text=tidy(str(attributes.get("responseBody") or "")),
            created_at=parse_time(attributes.get("lastModifiedDate"), self.clock()),
            url=mention.url,
            in_reply_to=external_id(self.name, mention),
            by_brand=True,
            max_text=self.options.max_text,
        )

    async def _reviews(self, http: httpx.AsyncClient) -> Listing:
        """The newest reviews in App Store Connect (``LIST_PAGES`` pages) and their responses."""
        listing = Listing([], {})
        url: str | None = f"{self._connect}/v1/apps/{self.app_id}/customerReviews"
        params: dict[str, Any] | None = dict(_FIELDS)
        origin = urlsplit(self._connect).netloc
        for _ in range(LIST_PAGES):
            if url is None:
                break
            body = await self._connect_page(http, url, params)
            listing.add(body)
            following = as_dict(body.get("links")).get("next")
            url, params = None, None  # the next page's link carries the query and cursor
            if isinstance(following, str) and urlsplit(following).netloc == origin:
                url = following
        return listing

    async def _connect_page(
        self, http: httpx.AsyncClient, url: str, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        now = self.clock()
        ok = (200, 401, 403, 404, 429)
        response = await get(
            http, self.name, url, params=params, headers=self._auth(), now=now, ok=ok
        )
        body = as_dict(json_body(response, self.name))
        status = response.status_code
        if status != 200:
            wait = (retry_after(response, now) or 60.0) if status == 429 else None
            raise SourceError(f"{self.name}: {_errors(status, body)}", retry_after=wait)
        return body


@dataclass
class Listing:
    """Reviews as App Store Connect lists them, and the responses it included, by id."""

    reviews: list[dict[str, Any]]
    responses: dict[str, dict[str, Any]]

    def add(self, body: dict[str, Any]) -> None:
        for review in map(as_dict, as_list(body.get("data"))):
            if isinstance(review.get("id"), str):
                self.reviews.append(review)
        for item in map(as_dict, as_list(body.get("included"))):
            if item.get("type") == "customerReviewResponses" and isinstance(item.get("id"), str):
                self.responses[item["id"]] = item


def response_id(review: dict[str, Any]) -> str | None:
    """The id of the review's response (``relationships.response.data.id``), if it has one."""
    related = as_dict(as_dict(review.get("relationships")).get("response"))
    value = as_dict(related.get("data")).get("id")
    return value if isinstance(value, str) else None


def _label(value: object) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    text = as_dict(value).get("label")
    return tidy(text) if isinstance(text, str) else ""


def match_review(
    mention: Mention, feed_id: str, reviews: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The App Store Connect review that is the feed's review: the same id if Apple gives
    one, else the one review with the same nickname, title and rating (the body decides
    between several); None when there is none or it stays ambiguous."""
    for review in reviews:
        if review.get("id") == feed_id:
            return review
    raw = mention.raw
    nickname = _label(as_dict(raw.get("author")).get("name")).casefold()
    title = _label(raw.get("title")).casefold()
    rating = _label(raw.get("im:rating"))
    if not nickname:
        return None
    same = [
        r
        for r in reviews
        if _attribute(r, "reviewerNickname").casefold() == nickname
        and _attribute(r, "title").casefold() == title
        and _attribute(r, "rating") == rating
    ]
    if len(same) > 1:
        content = _label(raw.get("content"))
        same = [r for r in same if _attribute(r, "body") == content]
    return same[0] if len(same) == 1 else None


def _attribute(review: dict[str, Any], name: str) -> str:
    value = as_dict(review.get("attributes")).get(name)
    return tidy(str(value)) if value is not None else ""


def _errors(status: int, body: dict[str, Any]) -> str:
    """App Store Connect's ``errors`` in one line: ``HTTP 409 ENTITY_ERROR...: detail``."""
    first = as_dict(next(iter(as_list(body.get("errors"))), None))
    code = str(first.get("code") or "")[:60]
    detail = " ".join(str(first.get("detail") or first.get("title") or "").split())[:200]
    return " ".join(p for p in (f"HTTP {status}", code) if p) + (f": {detail}" if detail else "")
