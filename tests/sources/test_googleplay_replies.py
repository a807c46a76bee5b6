"""Google Play replies and review reads over a loopback Android Publisher that checks what
Google's checks: a bearer token its token endpoint issued to the reply account (not the read
one), ``replyText`` present and at most 350 characters, quota errors with Retry-After."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from integrations.sources._base import BaseSource
from integrations.sources.googleplay import SCOPE
from tests.sources.conftest import MakeSource
from tests.sources.server import FakeServer, Reply, Seen, json_reply
from tests.sources.test_googleplay import (
    ACCOUNT,
    GOOGLE_TOKEN_URI,
    KEY,
    FakePlay,
    _unb64,
    fixture_body,
)
from triagebot.actions.public import PublicThreads, ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention
from triagebot.errors import ConfigError

REPLY_ACCOUNT = "replies@northwind-play.iam.gserviceaccount.com"
REVIEWS = "/androidpublisher/v3/applications/com.northwind.outfitters/reviews"
REVIEW_ID = "gp:AOqpTOEe1qJ7nW4yT0sVbXa2Kd9uLm6hRz3cP8gFi5oN1wYtSjU"  # GP3, Jordan Price
REPLY_PATH = f"{REVIEWS}/{REVIEW_ID}:reply"
DENIED = {
    "code": 403,
    "status": "PERMISSION_DENIED",
    "message": "The caller does not have permission",
}
NOT_FOUND = {"code": 404, "message": "Review not found", "status": "NOT_FOUND"}
TEXT = "Thanks Jordan! Glad pickup worked. - Northwind"


def _claims(assertion: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_unb64(assertion.split(".")[1]))
    return data


@dataclass
class FakePlayWrites(FakePlay):
    """``FakePlay`` with two accounts, ``reviews.get`` and ``reviews.reply``."""

    owner: dict[str, str] = field(default_factory=dict)  # token -> account it was issued to
    replies: list[Reply] = field(default_factory=list)  # scripted answers, then success
    review: dict[str, Any] = field(default_factory=dict)

    def install(self) -> None:
        super().install()
        self.server.add(REPLY_PATH, self.reply)
        self.server.add(f"{REVIEWS}/{REVIEW_ID}", self.get)

    def _check_assertion(self, assertion: str) -> str | None:
        """Google's checks of the assertion, for either account (both signed with KEY)."""
        try:
            head, payload, signature = assertion.split(".")
            KEY.public_key().verify(
                _unb64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            header, claims = json.loads(_unb64(head)), _claims(assertion)
        except Exception as exc:
            return f"Invalid JWT Signature ({type(exc).__name__})."
        if header.get("alg") != "RS256" or claims.get("iss") not in (ACCOUNT, REPLY_ACCOUNT):
            return "Invalid JWT: wrong algorithm or issuer."
        if claims.get("aud") != GOOGLE_TOKEN_URI or claims.get("scope") != SCOPE:
            return "Invalid JWT: wrong audience or scope."
        if not claims["iat"] - 300 <= time.time() <= claims["exp"]:
            return "Invalid JWT: Token must be a short-lived token."
        return None

    def token(self, request: Seen) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        answer = super().token(request)
        if answer.status == 200:
            self.owner[self.issued[-1]] = _claims(form["assertion"])["iss"]
        return answer

    def _account(self, request: Seen) -> str | None:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return self.owner.get(bearer)

    def reply(self, request: Seen) -> Reply:
        if request.method != "POST":
            return json_reply({"error": {"code": 405, "message": "POST only"}}, 405)
        if self._account(request) != REPLY_ACCOUNT:
            return json_reply({"error": DENIED}, 403)
        body = json.loads(request.body or b"{}")
        text = body.get("replyText")
        if not isinstance(text, str) or not text:
            error = {"code": 400, "status": "INVALID_ARGUMENT", "message": "replyText missing"}
            return json_reply({"error": error}, 400)
        if len(text) > 350:
            error = {"code": 400, "status": "INVALID_ARGUMENT", "message": "Reply too long"}
            return json_reply({"error": error}, 400)
        if self.replies:
            return self.replies.pop(0)
        stamp = {"seconds": "1741968000", "nanos": 0}
        return json_reply({"result": {"replyText": text, "lastEdited": stamp}})

    def get(self, request: Seen) -> Reply:
        if self._account(request) != ACCOUNT:
            return json_reply({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, 401)
        if not self.review:
            return json_reply({"error": NOT_FOUND}, 404)
        return json_reply(self.review)


@pytest.fixture
def play(server: FakeServer) -> FakePlayWrites:
    fake = FakePlayWrites(server)
    fake.install()
    fake.pages = {None: json_reply({"reviews": [], "tokenPagination": {}})}  # nothing recent
    return fake


def make_play(make_source: MakeSource, play: FakePlayWrites, **options: Any) -> BaseSource:
    env = {
        "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key(),
        "PLAY_REPLY_KEY": play.key(client_email=REPLY_ACCOUNT),
    }
    options.setdefault("reply_service_account_json_env", "PLAY_REPLY_KEY")
    return make_source("googleplay", env=env, package_name="com.northwind.outfitters", **options)


def public_of(source: BaseSource) -> PublicThreads:
    public = reply_capable(source)
    assert public is not None
    return public


def jordan(source: BaseSource) -> Mention:
    review = fixture_body("reviews_page1.json")["reviews"][2]
    mention = source._mention(REVIEW_ID, review, source.clock())  # type: ignore[attr-defined]
    assert isinstance(mention, Mention)
    return mention


async def test_reply_is_sent_with_the_reply_account(
    play: FakePlayWrites, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(make_source, play)
    public = public_of(source)
    assert public.can_reply and public.reply_problem(TEXT) is None
    mention = jordan(source)
    sent = await public.reply(http, mention, TEXT, "r-1")
    assert sent.external_id == f"{REVIEW_ID}:developer"
    assert sent.url == mention.url
    (seen,) = server.seen(REPLY_PATH)
    assert json.loads(seen.body) == {"replyText": TEXT}
    assert play.owner[seen.headers["Authorization"].removeprefix("Bearer ")] == REPLY_ACCOUNT


async def test_length_is_checked_in_words_before_sending(
    play: FakePlayWrites, make_source: MakeSource
) -> None:
    public = public_of(make_play(make_source, play))
    assert public.reply_problem("x" * 412) == "412 of 350 characters: shorten by 62"
    assert public.reply_problem("   ") == "the reply is empty"


async def test_the_read_account_cannot_reply(
    play: FakePlayWrites, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(
        make_source, play, reply_service_account_json_env="GOOGLE_PLAY_SERVICE_ACCOUNT_JSON"
    )
    with pytest.raises(ReplyFailed, match=r"PERMISSION_DENIED.*Reply to reviews"):
        await public_of(source).reply(http, jordan(source), TEXT, "r-2")


async def test_quota_spent_says_when(
    play: FakePlayWrites, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded"}
    play.replies = [json_reply({"error": error}, 429, {"Retry-After": "3600"})]
    source = make_play(make_source, play)
    with pytest.raises(ReplyFailed, match="quota") as raised:
        await public_of(source).reply(http, jordan(source), TEXT, "r-3")
    assert raised.value.retry_after == 3600.0


async def test_a_5xx_is_sent_once_more_because_a_reply_replaces_the_last(
    play: FakePlayWrites, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    play.replies = [json_reply({"error": {"code": 503, "status": "UNAVAILABLE"}}, 503)]
    source = make_play(make_source, play)
    sent = await public_of(source).reply(http, jordan(source), TEXT, "r-4")
    assert sent.external_id == f"{REVIEW_ID}:developer"
    assert len(server.seen(REPLY_PATH)) == 2


async def test_two_5xx_leave_the_reply_uncertain(
    play: FakePlayWrites, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    unavailable = json_reply({"error": {"code": 500, "status": "INTERNAL"}}, 500)
    play.replies = [unavailable, copy.copy(unavailable)]
    source = make_play(make_source, play)
    with pytest.raises(ReplyUnknown):
        await public_of(source).reply(http, jordan(source), TEXT, "r-5")
    assert len(server.seen(REPLY_PATH)) == 2


async def test_uncertain_then_refused_is_still_uncertain(
    play: FakePlayWrites, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    play.replies = [
        json_reply({"error": {"code": 502}}, 502),
        json_reply({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, 429),
    ]
    source = make_play(make_source, play)
    with pytest.raises(ReplyUnknown):  # the first one may have been posted
        await public_of(source).reply(http, jordan(source), TEXT, "r-6")


def test_reply_credentials_are_separate_and_checked(
    play: FakePlayWrites, make_source: MakeSource
) -> None:
    reading = make_source(
        "googleplay",
        env={"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key()},
        package_name="com.northwind.outfitters",
    )
    assert not public_of(reading).can_reply
    assert reading.reply_missing == ("GOOGLE_PLAY_REPLY_SERVICE_ACCOUNT_JSON",)  # type: ignore[attr-defined]
    unset = make_play(make_source, play, reply_service_account_json_env="UNSET_VARIABLE")
    assert not public_of(unset).can_reply  # polling goes on without it
    assert unset.reply_missing == ("UNSET_VARIABLE",)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="reply_service_account_json_env"):
        make_source(
            "googleplay",
            env={"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key(), "BAD": "{not json"},
            package_name="com.northwind.outfitters",
            reply_service_account_json_env="BAD",
        )


async def test_thread_shows_the_developer_answer_and_a_later_edit(
    play: FakePlayWrites, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(make_source, play)
    public = public_of(source)
    mention = jordan(source)
    play.review = fixture_body("reviews_page1.json")["reviews"][2]
    read = (await public.threads(http, [mention]))[mention.id]
    assert read.gone is None
    (answer,) = read.posts
    assert answer.by_brand and answer.id == f"{REVIEW_ID}:developer"
    assert answer.text.startswith("Thanks Jordan! Glad pickup worked well.")
    assert answer.created_at.timestamp() == 1741965000
    # The reviewer edits the review after the answer: that is the customer's follow-up.
    edited = copy.deepcopy(play.review)
    user = edited["comments"][0]["userComment"]
    user["text"] = "Update\tStill great <!channel> <script>x</script>"
    user["lastModified"] = {"seconds": "1741966000", "nanos": 0}
    play.review = edited
    read = (await public.threads(http, [mention]))[mention.id]
    answer, follow_up = read.posts
    assert not follow_up.by_brand and follow_up.author == "Jordan Price"
    assert follow_up.text == "Update\nStill great <!channel> <script>x</script>"  # plain text
    assert follow_up.in_reply_to == answer.id


async def test_an_unanswered_or_deleted_review(
    play: FakePlayWrites, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(make_source, play)
    public = public_of(source)
    mention = jordan(source)
    review = copy.deepcopy(fixture_body("reviews_page1.json")["reviews"][2])
    review["comments"] = review["comments"][:1]
    play.review = review
    assert (await public.threads(http, [mention]))[mention.id].posts == []
    play.review = {}
    assert (await public.threads(http, [mention]))[mention.id].gone == "deleted"


async def test_recent_reviews_are_read_from_one_list_call(
    play: FakePlayWrites, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    play.pages = {None: json_reply(fixture_body("reviews_page1.json"))}
    source = make_play(make_source, play)
    public = public_of(source)
    mentions = [jordan(source)]
    for review in fixture_body("reviews_page1.json")["reviews"][:2]:
        review_id = review["reviewId"]
        mentions.append(source._mention(review_id, review, source.clock()))  # type: ignore[attr-defined]
    old = [replace(mentions[0], id=f"googleplay:gp:old-{i}") for i in range(5)]
    reads = await public.threads(http, [*mentions, *old])
    assert [len(reads[m.id].posts) for m in mentions] == [1, 0, 0]  # Jordan's is answered
    assert len(server.seen(REVIEWS)) == 1  # one list call for all three
    assert [r.path for r in server.requests if "/reviews/gp:old" in r.path] == [
        f"{REVIEWS}/gp:old-{i}" for i in range(3)
    ]  # older reviews: at most three reviews.get a round
    assert all(reads[m.id].gone == "deleted" for m in old[:3])
    assert not any(m.id in reads for m in old[3:])
    assert public.thread_budget.requests * 4 <= 200 and public.thread_budget.batch == 100
