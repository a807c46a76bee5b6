"""Google Play reviews over a loopback Android Publisher and OAuth token endpoint.

The token endpoint checks what Google's does: the JWT-bearer grant, an RS256 assertion signed
with the service account's key, its issuer, audience, scope and lifetime. The reviews endpoint
answers only a bearer token that the token endpoint issued.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrations.sources import build_specs
from integrations.sources.googleplay import SCOPE
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, json_reply
from triagebot.config.settings import Settings, load_settings
from triagebot.errors import ConfigError, MissingCredentials, SourceError
from triagebot.ingest.polling import Poller
from triagebot.ingest.sources import SourceSpec
from triagebot.runtime.wiring import Runtime

REVIEWS = "/androidpublisher/v3/applications/com.northwind.outfitters/reviews"
PAGE2_TOKEN = (
    "CkEKPwo9CgtnMTIzNDU2Nzg5MBIuZ3A6QU9xcFRPR3Q4bVowY1YzclhXNXVZcTFMYjduS2UyalBzOWhEZjRhUmk2"
)
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # the audience Google expects
ACCOUNT = "triagebot@northwind-play.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EXAMPLE = Path(__file__).resolve().parents[2] / "triagebot.example.toml"


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def fixture_body(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "google_play" / name).read_text())
    return data


def review(review_id: str, text: str, seconds: object, **comment: Any) -> dict[str, Any]:
    user = {"text": text, "lastModified": {"seconds": seconds, "nanos": 0}, "starRating": 2}
    return {
        "reviewId": review_id,
        "authorName": "Pat",
        "comments": [{"userComment": user | comment}],
    }


AT = int(POLL1.timestamp())


@dataclass
class FakePlay:
    """Google's token endpoint and the reviews API, as far as the adapter meets them."""

    server: FakeServer
    expires_in: int = 3600
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    pages: dict[str | None, Reply] = field(default_factory=dict)

    def install(self) -> None:
        self.server.add("/token", self.token)
        self.server.add(REVIEWS, self.reviews)

    @property
    def token_uri(self) -> str:
        return f"{self.server.url}/token"

    def key(self, **override: Any) -> str:
        pem = KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "northwind-play",
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": ACCOUNT,
            "client_id": "1098765432",
            "token_uri": self.token_uri,
        }
        return json.dumps(info | override)

    def token(self, request: Seen) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return json_reply({"error": "unsupported_grant_type"}, 400)
        problem = self._check_assertion(form.get("assertion", ""))
        if problem:
            return json_reply({"error": "invalid_grant", "error_description": problem}, 400)
        token = f"ya29.token-{len(self.issued) + 1}"
        self.issued.append(token)
        return json_reply(
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    def _check_assertion(self, assertion: str) -> str | None:
        try:
            head, payload, signature = assertion.split(".")
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(payload))
            KEY.public_key().verify(
                _unb64(signature),
                f"{head}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception as exc:
            return f"Invalid JWT Signature ({type(exc).__name__})."
        now = time.time()
        if header.get("alg") != "RS256" or claims.get("iss") != ACCOUNT:
            return "Invalid JWT: wrong algorithm or issuer."
        if claims.get("aud") != GOOGLE_TOKEN_URI or claims.get("scope") != SCOPE:
            return "Invalid JWT: wrong audience or scope."
        if not claims["iat"] - 300 <= now <= claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            return "Invalid JWT: Token must be a short-lived token."
        return None

    def reviews(self, request: Seen) -> Reply:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            error = {"code": 401, "message": "Request had invalid authentication credentials."}
            return json_reply({"error": error | {"status": "UNAUTHENTICATED"}}, 401)
        if "maxResults" not in request.query:
            return json_reply({"error": {"code": 400, "message": "maxResults missing"}}, 400)
        page = self.pages.get(request.query.get("token"))
        if page is None:
            error = {
                "code": 400,
                "message": "Invalid pagination token",
                "status": "INVALID_ARGUMENT",
            }
            return json_reply({"error": error}, 400)
        return page


@pytest.fixture
def play(server: FakeServer) -> FakePlay:
    fake = FakePlay(server)
    fake.install()
    fake.pages = {
        None: json_reply(fixture_body("reviews_page1.json")),
        PAGE2_TOKEN: json_reply(fixture_body("reviews_page2.json")),
    }
    return fake


def make_play(make_source: MakeSource, play: FakePlay, **options: Any) -> Any:
    options.setdefault("package_name", "com.northwind.outfitters")
    options.setdefault("backfill", "5d")
    env = {"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key()}
    return make_source("googleplay", env=env, **options)


async def test_reviews_across_pages_with_a_service_account_token(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(make_source, play, page_size=4)
    result = await source.poll(http, None)
    ids = [m.id.removeprefix("googleplay:") for m in result.mentions]
    manifest = json.loads((FIXTURES / "google_play" / "manifest.json").read_text())
    assert ids == [i for f in manifest["files"] for i in f["ids"]]  # newest first
    first = result.mentions[0]
    assert first.text == (
        "1★ Freezes at checkout\n"
        "App freezes on the payment screen since 4.12.0. Had to order on the website instead."
    )
    assert first.author.handle == first.author.name == "Dana Kim"
    assert first.created_at.timestamp() == pytest.approx(1741961001.512)
    assert first.lang == "en"
    assert first.url == (
        "https://play.google.com/store/apps/details?id=com.northwind.outfitters"
        "&reviewId=gp%3AAOqpTOHr3vWqS1kX0m9q8fYgC2JtPz5Lh7uN0dVbXk4eR6wA1sQ"
    )
    spanish = result.mentions[1]
    assert spanish.lang == "es"
    assert spanish.text.startswith("3★\n¿Envían a México?")  # no tab: no title
    reply = next(m for m in result.mentions if m.author.name == "Jordan Price")
    assert "Thanks Jordan" not in reply.text  # the developer's reply is not the review
    assert play.issued == ["ya29.token-1"]  # one exchange for both pages
    calls = server.seen(REVIEWS)
    assert [c.query.get("token") for c in calls] == [None, PAGE2_TOKEN]
    assert all(c.headers["Authorization"] == "Bearer ya29.token-1" for c in calls)
    assert calls[0].query["maxResults"] == "4"

    later = await source.poll(http, result.cursor)  # nothing new: page 1 reaches known ones
    assert list(later.mentions) == []
    assert len(server.seen(REVIEWS)) == 3
    assert play.issued == ["ya29.token-1"]  # the token is reused until it expires


async def test_a_token_close_to_expiry_is_renewed(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    play.expires_in = 60  # inside google-auth's renewal margin: stale at once
    play.pages = {None: json_reply(fixture_body("reviews_page2.json"))}  # one page per poll
    source = make_play(make_source, play)
    await source.poll(http, None)
    await source.poll(http, None)
    assert play.issued == ["ya29.token-1", "ya29.token-2"]
    used = [c.headers["Authorization"] for c in server.seen(REVIEWS)]
    assert used == ["Bearer ya29.token-1", "Bearer ya29.token-2"]


async def test_a_revoked_token_is_exchanged_again_once(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_play(make_source, play)
    await source.poll(http, None)
    play.revoked.add("ya29.token-1")
    play.pages[None] = json_reply({})  # no reviews this week
    result = await source.poll(http, None)
    assert list(result.mentions) == []
    assert play.issued == ["ya29.token-1", "ya29.token-2"]
    assert server.seen(REVIEWS)[-1].headers["Authorization"] == "Bearer ya29.token-2"

    play.revoked.add("ya29.token-2")
    play.revoked.add("ya29.token-3")
    with pytest.raises(SourceError, match=r"HTTP 401 UNAUTHENTICATED.*Play Console"):
        await source.poll(http, None)


async def test_a_refused_exchange_names_the_account_not_the_key(
    play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    source = make_source(
        "googleplay",
        env={"PLAY_KEY": play.key(private_key=pem)},
        package_name="com.northwind.outfitters",
        service_account_json_env="PLAY_KEY",
    )
    with pytest.raises(SourceError) as caught:
        await source.poll(http, None)
    message = str(caught.value)
    assert "invalid_grant" in message
    assert ACCOUNT in message
    assert "PRIVATE KEY" not in message
    assert play.issued == []


def test_keys_and_options_are_checked_when_the_source_is_built(
    play: FakePlay, make_source: MakeSource
) -> None:
    with pytest.raises(MissingCredentials) as missing:
        make_source("googleplay", package_name="com.northwind.outfitters")
    assert missing.value.variables == ["GOOGLE_PLAY_SERVICE_ACCOUNT_JSON"]
    bad_keys = {
        "{not json": "not JSON",
        json.dumps({"type": "authorized_user"}): "not a service-account key",
        play.key(private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"): "",
        play.key(token_uri="http://oauth2.example/token"): "token_uri must be an https URL",
        json.dumps({"type": "service_account", "private_key": "x"}): "client_email",
    }
    for text, why in bad_keys.items():
        env = {"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": text}
        with pytest.raises(ConfigError) as caught:
            make_source("googleplay", env=env, package_name="com.northwind.outfitters")
        (line,) = caught.value.problems
        assert line.startswith("sources (googleplay).service_account_json_env: ")
        assert "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON does not hold" in line
        assert why in line
        assert "AAAA" not in line
    env = {"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key()}
    for package in (None, "northwind", "com.northwind/../x"):
        options = {} if package is None else {"package_name": package}
        with pytest.raises(ConfigError, match=r"\(googleplay\)\.package_name: .*required"):
            make_source("googleplay", env=env, **options)
    with pytest.raises(ConfigError, match="package_nmae"):
        make_source("googleplay", env=env, package_nmae="com.northwind.outfitters")


async def test_edited_reviews_keep_the_latest_copy_and_empty_ones_are_dropped(
    play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page1 = [
        review("gp:edited", "Late\tStill waiting for my order", AT - 100),
        review("gp:stale-first", "Old\tfirst copy", AT - 900),
        {"reviewId": "gp:rating-only", "authorName": "Lee", "comments": []},
        review("gp:blank", " \t  ", AT - 150),
        review("", "no id", AT - 160),
        {"authorName": "no id either", "comments": [{"userComment": {"text": "x"}}]},
        {"reviewId": "gp:reply-only", "comments": [{"developerComment": {"text": "Thanks!"}}]},
        "not an object",
    ]
    page2 = [
        review("gp:edited", "Late\tfirst copy", AT - 3000),
        review("gp:stale-first", "Old\tedited: refund arrived", AT - 200),
        review("gp:other", "Fine\tworks", AT - 3100),
    ]
    play.pages = {
        None: json_reply({"reviews": page1, "tokenPagination": {"nextPageToken": "p2"}}),
        "p2": json_reply({"reviews": page2}),
    }
    result = await make_play(make_source, play).poll(http, None)
    texts = {m.id.removeprefix("googleplay:"): m.text for m in result.mentions}
    assert texts == {
        "gp:edited": "2★ Late\nStill waiting for my order",
        "gp:stale-first": "2★ Old\nedited: refund arrived",
        "gp:other": "2★ Fine\nworks",
    }


async def test_bad_dates_out_of_order_items_and_the_watermark(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page1 = [
        review("gp:b", "b", AT - 500),
        review("gp:a", "a", AT - 60),  # newer than the one before it
        review("gp:garbage", "g", "soon"),
        review("gp:future", "f", "99999999999999"),
        review("gp:nodate", "n", None),
    ]
    play.pages = {None: json_reply({"reviews": page1})}
    source = make_play(make_source, play)
    result = await source.poll(http, None)
    by_id = {m.id.removeprefix("googleplay:"): m for m in result.mentions}
    assert set(by_id) == {"gp:a", "gp:b", "gp:garbage", "gp:future", "gp:nodate"}
    for name in ("gp:garbage", "gp:future", "gp:nodate"):
        assert by_id[name].created_at == POLL1  # the fetch time
    assert by_id["gp:a"].created_at.timestamp() == AT - 60

    # The next poll: an old review is behind the watermark and ends the walk, though a new
    # one follows it on the same page; the page with the token is not asked for.
    page1 = [
        review("gp:new", "new", AT + 30),
        review("gp:b", "b", AT - 500),
        review("gp:old", "o", AT - 4000),
        review("gp:new2", "new 2", AT + 10),
        review("gp:garbage", "g", "soon"),
    ]
    play.pages = {
        None: json_reply({"reviews": page1, "tokenPagination": {"nextPageToken": "p2"}}),
        "p2": json_reply({"reviews": [review("gp:older", "x", AT - 5000)]}),
    }
    later = await source.poll(http, result.cursor)
    assert sorted(m.id.removeprefix("googleplay:") for m in later.mentions) == ["gp:new", "gp:new2"]
    assert [c.query.get("token") for c in server.seen(REVIEWS)] == [None, None]


async def test_hostile_text_stays_text_and_the_link_stays_on_google_play(
    play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    hostile = "<!channel> <script>alert(1)</script>\t[click](javascript:alert(1)) &amp; <@U123>"
    evil = review("javascript:alert(1)//\n<x>", hostile, AT - 10, reviewerLanguage="en_US")
    evil["authorName"] = "<@U999>\u0000 Robert'); DROP TABLE"
    play.pages = {None: json_reply({"reviews": [evil]})}
    (mention,) = (await make_play(make_source, play).poll(http, None)).mentions
    assert mention.url.startswith(
        "https://play.google.com/store/apps/details?id=com.northwind.outfitters&reviewId="
    )
    assert "javascript:" not in mention.url.split("reviewId=")[0]
    assert "\n" not in mention.url and "<" not in mention.url
    # Plain text as the reviewer typed it: escaping is each surface's job, nothing is decoded.
    assert mention.text == (
        "2★ <!channel> <script>alert(1)</script>\n[click](javascript:alert(1)) &amp; <@U123>"
    )
    assert mention.author.handle == "<@U999> Robert'); DROP TABLE"
    assert mention.lang == "en_us"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(
                b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}',
                429,
                {"content-type": "application/json", "retry-after": "42"},
            ),
            "HTTP 429",
        ),
        (Reply(b"<html>502 Bad Gateway</html>", 502, {"content-type": "text/html"}), "HTTP 502"),
        (Reply(b'{"reviews": [', 200, {"content-type": "application/json"}), "malformed JSON"),
        (json_reply(["a", "list"]), "unexpected answer"),
        (
            json_reply(
                {
                    "error": {
                        "code": 403,
                        "status": "PERMISSION_DENIED",
                        "message": "The caller does not have permission",
                    }
                },
                403,
            ),
            "HTTP 403 PERMISSION_DENIED: The caller does not have permission (is the service",
        ),
        (
            json_reply({"error": {"code": 404, "message": "Package not found: com.x."}}, 404),
            "HTTP 404: Package not found",
        ),
    ],
)
async def test_throttled_broken_and_refused_answers(
    play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource, reply: Reply, expected: str
) -> None:
    play.pages = {None: reply}
    source = make_play(make_source, play)
    with pytest.raises(SourceError, match=re.escape(expected)) as caught:
        await source.poll(http, None)
    assert caught.value.retry_after == (42.0 if reply.status == 429 else None)


async def test_translation_is_asked_for_when_configured(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    await make_play(make_source, play, translation_language="en").poll(http, None)
    assert server.seen(REVIEWS)[0].query["translationLanguage"] == "en"


def test_sources_report_the_missing_key(tmp_path: Path) -> None:
    head = EXAMPLE.read_text(encoding="utf-8").split("[[sources]]")[0]
    block = '[[sources]]\nname = "play"\ntype = "googleplay"\npackage_name = "com.example.app"\n'
    config = tmp_path / "triagebot.toml"
    config.write_text(head + block, encoding="utf-8")
    (spec,) = build_specs(load_settings(config, {}))
    assert spec.source is None
    assert spec.missing == ("GOOGLE_PLAY_SERVICE_ACCOUNT_JSON",)
    assert spec.problem == "source 'play' needs credentials: set GOOGLE_PLAY_SERVICE_ACCOUNT_JSON"
    key = FakePlay(FakeServer()).key(token_uri=GOOGLE_TOKEN_URI)
    (spec,) = build_specs(load_settings(config, {"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": key}))
    assert spec.source is not None


async def test_a_walk_cut_short_goes_on_with_its_page_token(
    play: FakePlay, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page2 = play.pages[PAGE2_TOKEN]
    limited = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota"}}
    play.pages[PAGE2_TOKEN] = json_reply(limited, 429, {"retry-after": "60"})
    source = make_play(make_source, play)
    first = await source.poll(http, None)
    assert len(first.mentions) == 4
    assert first.retry_after == 60.0
    assert first.pause_reason == f"stopped at a later page: HTTP 429 on {REVIEWS}"
    assert first.errors == [first.pause_reason]  # shown as a partial poll

    play.pages[PAGE2_TOKEN] = page2
    second = await source.poll(http, first.cursor)
    assert [m.author.name for m in second.mentions] == [
        "Ken Watanabe",
        "Aiyana Brooks",
        "Chris Albright",
    ]
    assert server.seen(REVIEWS)[-1].query["token"] == PAGE2_TOKEN

    # An interrupted walk whose token has expired starts afresh instead of failing forever.
    play.pages[PAGE2_TOKEN] = json_reply(limited, 429, {"retry-after": "60"})
    third = await source.poll(http, None)
    del play.pages[PAGE2_TOKEN]  # the fake answers 400 "Invalid pagination token"
    fourth = await source.poll(http, third.cursor)
    assert list(fourth.mentions) == []  # page 1 again: all known
    assert [c.query.get("token") for c in server.seen(REVIEWS)[-2:]] == [PAGE2_TOKEN, None]
    assert "resume" not in json.loads(fourth.cursor or "{}")


async def test_an_unreachable_token_endpoint_is_a_failed_poll(
    play: FakePlay, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    closed = FakeServer()
    await closed.start()
    await closed.close()  # nothing listens on its port any more
    env = {"GOOGLE_PLAY_SERVICE_ACCOUNT_JSON": play.key(token_uri=f"{closed.url}/token")}
    source = make_source("googleplay", env=env, package_name="com.northwind.outfitters")
    with pytest.raises(SourceError, match=r"cannot reach the token endpoint \(ConnectError\)"):
        await source.poll(http, None)


async def test_through_the_poller_reviews_become_cases_once(
    play: FakePlay,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    settings: Settings,
    clock: Clock,
) -> None:
    runtime = Runtime.build(settings, clock=clock)
    try:
        source = make_play(make_source, play, name="play", page_size=4)
        polls = Poller([SourceSpec(source.config, source)], runtime.store,
                       runtime.pipeline.ingest, http, clock=clock)  # fmt: skip
        first = await polls.run("play")
        assert first.error is None
        assert len(first.result.new) == 7
        stored = {c.mention.id: c.mention for c in runtime.store.list_cases()}
        assert stored["play:gp:AOqpTOF9cLx2uQe7HkzW0yR4pN8mVj3bTg6sD1aZf5oYhC0iEwM"].lang == "es"
        clock.now += timedelta(minutes=15)
        again = await polls.run("play")
        assert again.error is None
        assert again.result.new == []
        assert len(runtime.store.list_cases()) == 7
        assert play.issued == ["ya29.token-1"]
    finally:
        runtime.close()
