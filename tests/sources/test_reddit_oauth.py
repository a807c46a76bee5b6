"""Reddit with OAuth over a loopback token endpoint and API.

The token endpoint checks what Reddit's does: HTTP basic auth with the app's client id and
secret, a form body with the grant (``password`` or ``refresh_token``), a User-Agent; a wrong
password is an ``invalid_grant`` in an HTTP 200 answer, a wrong secret a 401. The API answers
only a bearer token the endpoint issued and still considers valid, and a descriptive
User-Agent.
"""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.sources import build_specs
from integrations.sources.reddit import RedditSource
from tests.conftest import EXAMPLE_CONFIG
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.config.settings import load_settings
from triagebot.errors import ConfigError, MissingCredentials, SourceError

TOKEN_PATH = "/api/v1/access_token"
SEARCH = "/search.json"
APP = ("nw-client-id", "nw-client-secret")
SCRIPT_ENV = {
    "REDDIT_CLIENT_ID": APP[0],
    "REDDIT_CLIENT_SECRET": APP[1],
    "REDDIT_USERNAME": "nw_bot",
    "REDDIT_PASSWORD": "hunter2&more",
}
REFRESH_ENV = {
    "REDDIT_CLIENT_ID": APP[0],
    "REDDIT_CLIENT_SECRET": APP[1],
    "REDDIT_REFRESH_TOKEN": "rt-123",
}


@dataclass
class TokenEndpoint:
    """Issues numbered tokens for the right app and grant; remembers which are valid."""

    lifetime: int = 3600
    valid: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __call__(self, seen: Seen) -> Reply:
        expected = base64.b64encode(f"{APP[0]}:{APP[1]}".encode()).decode()
        if seen.method != "POST" or seen.headers.get("Authorization") != f"Basic {expected}":
            return json_reply({"message": "Unauthorized", "error": 401}, 401)
        if not seen.headers.get("User-Agent"):
            return json_reply({"message": "Too Many Requests", "error": 429}, 429)
        if not seen.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return json_reply({"error": "unsupported_grant_type"})
        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        password_ok = form.get("username") == "nw_bot" and form.get("password") == "hunter2&more"
        refresh_ok = form.get("refresh_token") == "rt-123"
        grant_ok = (form.get("grant_type") == "password" and password_ok) or (
            form.get("grant_type") == "refresh_token" and refresh_ok
        )
        if not grant_ok:
            return json_reply({"error": "invalid_grant"})  # Reddit: HTTP 200
        token = f"tok-{next(self.counter)}"
        self.valid.add(token)
        body = {"access_token": token, "token_type": "bearer", "expires_in": self.lifetime}
        return json_reply({**body, "scope": "*"})


def api(endpoint: TokenEndpoint, reply: Reply) -> Any:
    """An API route that answers ``reply`` only to a valid bearer token and a real User-Agent."""

    def answer(seen: Seen) -> Reply:
        auth = seen.headers.get("Authorization", "")
        if not auth.startswith("bearer ") or auth.removeprefix("bearer ") not in endpoint.valid:
            return json_reply({"message": "Unauthorized", "error": 401}, 401)
        agent = seen.headers.get("User-Agent", "")
        if not agent.startswith("python:triagebot:"):
            return json_reply({"message": "Forbidden", "error": 403}, 403)
        return reply

    return answer


def oauth_source(
    make_source: MakeSource, server: FakeServer, env: dict[str, str], **options: Any
) -> Any:
    options.setdefault("token_url", server.url + TOKEN_PATH)
    return make_source("reddit", env=env, **options)


async def test_script_app_walks_the_search_with_one_token(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    server.add(SEARCH, api(endpoint, fixture_reply("reddit", "search_page1.json")))
    page2 = fixture_reply("reddit", "search_page2.json")
    server.add(SEARCH, api(endpoint, page2), after="t3_1japv51")
    source = oauth_source(make_source, server, SCRIPT_ENV, page_size=6, backfill="3d")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 10  # t3_1japv51 is on both pages
    assert result.mentions[0].url.startswith("https://www.reddit.com/r/CampingGear/")
    (token_request,) = server.seen(TOKEN_PATH)
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["password"],
        "username": ["nw_bot"],
        "password": ["hunter2&more"],
    }
    assert "client_id" not in token_request.body.decode()  # it travels in basic auth only
    first, second = server.seen(SEARCH)
    assert first.headers["Authorization"] == second.headers["Authorization"] == "bearer tok-1"
    assert first.headers["User-Agent"] == "python:triagebot:0.1.0 (by /u/nw_bot)"
    assert first.query["q"] and first.query["sort"] == "new" and first.query["raw_json"] == "1"
    clock.now = POLL1 + timedelta(minutes=30)
    await source.poll(http, result.cursor)
    assert len(server.seen(TOKEN_PATH)) == 1  # the token is kept while it is valid
    clock.now = POLL1 + timedelta(minutes=59, seconds=30)
    await source.poll(http, result.cursor)
    assert len(server.seen(TOKEN_PATH)) == 2  # renewed a minute before it expires
    assert server.seen(SEARCH)[-1].headers["Authorization"] == "bearer tok-2"


async def test_refresh_token_grant_and_a_custom_user_agent(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    server.add(SEARCH, api(endpoint, fixture_reply("reddit", "search_empty.json")))
    agent = "python:triagebot:0.1.0 (by /u/northwind_social)"
    source = oauth_source(make_source, server, REFRESH_ENV, user_agent=agent)
    result = await source.poll(http, None)
    assert list(result.mentions) == []
    (token_request,) = server.seen(TOKEN_PATH)
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-123"],
    }
    assert server.seen(SEARCH)[0].headers["User-Agent"] == agent


async def test_a_revoked_token_is_renewed_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    server.add(SEARCH, api(endpoint, fixture_reply("reddit", "search_empty.json")))
    source = oauth_source(make_source, server, SCRIPT_ENV)
    await source.poll(http, None)
    endpoint.valid.clear()  # revoked on Reddit's side before it expired
    await source.poll(http, None)
    assert [r.headers["Authorization"] for r in server.seen(SEARCH)] == [
        "bearer tok-1",
        "bearer tok-1",
        "bearer tok-2",
    ]


async def test_an_api_that_keeps_refusing_fails_the_poll(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    server.add(SEARCH, json_reply({"message": "Unauthorized", "error": 401}, 401))
    with pytest.raises(SourceError, match=r"HTTP 401 on /search\.json"):
        await oauth_source(make_source, server, SCRIPT_ENV).poll(http, None)
    assert len(server.seen(SEARCH)) == 2  # tried once more with a new token, not forever


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {**SCRIPT_ENV, "REDDIT_PASSWORD": "wrong"},
            "reddit: Reddit refused the username or password "
            "(check REDDIT_USERNAME and REDDIT_PASSWORD)",
        ),
        (
            {**REFRESH_ENV, "REDDIT_REFRESH_TOKEN": "expired"},
            "reddit: Reddit refused the refresh token (check REDDIT_REFRESH_TOKEN)",
        ),
        (
            {**SCRIPT_ENV, "REDDIT_CLIENT_SECRET": "wrong"},
            "reddit: Reddit refused the client id or secret "
            "(check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET)",
        ),
    ],
)
async def test_refused_credentials_say_what_to_check(
    env: dict[str, str],
    message: str,
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
) -> None:
    server.add(TOKEN_PATH, TokenEndpoint())
    with pytest.raises(SourceError) as caught:
        await oauth_source(make_source, server, env).poll(http, None)
    assert str(caught.value) == message
    assert "hunter2" not in message and "wrong" not in message  # never a secret
    assert server.seen(SEARCH) == []


async def test_token_endpoint_rate_limit_and_malformed_answers(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(TOKEN_PATH, Reply(b"", 429, {"retry-after": "17"}), times=1)
    server.add(TOKEN_PATH, Reply(b"<html>oops</html>", 200, {"content-type": "text/html"}))
    source = oauth_source(make_source, server, SCRIPT_ENV)
    with pytest.raises(SourceError) as limited:
        await source.poll(http, None)
    assert limited.value.retry_after == 17.0
    with pytest.raises(SourceError, match=r"OAuth token refused \(missing_token, HTTP 200\)"):
        await source.poll(http, None)


async def test_api_429_with_reset_seconds_under_oauth(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    limited = json_reply(
        {"message": "Too Many Requests", "error": 429},
        429,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "245"},
    )
    server.add(SEARCH, api(endpoint, limited))
    with pytest.raises(SourceError) as caught:
        await oauth_source(make_source, server, SCRIPT_ENV).poll(http, None)
    assert caught.value.retry_after == 245.0


async def test_deleted_and_hostile_posts_under_oauth(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    endpoint = TokenEndpoint()
    server.add(TOKEN_PATH, endpoint)
    at = POLL1.timestamp() - 60
    posts = [
        {
            "name": "t3_a",
            "author": "pat",
            "title": "Northwind <!channel> <@U1>",
            "selftext": "",
            "permalink": "javascript:alert(1)",
            "created_utc": at,
        },
        {
            "name": "t3_b",
            "author": "[deleted]",
            "title": "[deleted]",
            "selftext": "[removed]",
            "permalink": "/r/x/comments/b/t/",
            "created_utc": at,
        },
    ]
    listing = {
        "kind": "Listing",
        "data": {"after": None, "children": [{"kind": "t3", "data": p} for p in posts]},
    }
    server.add(SEARCH, api(endpoint, json_reply(listing)))
    result = await oauth_source(make_source, server, SCRIPT_ENV).poll(http, None)
    by_id = {m.id: m for m in result.mentions}
    hostile = by_id["reddit:t3_a"]
    assert hostile.text == "Northwind <!channel> <@U1>"  # plain text; escaped where shown
    assert hostile.url == "https://www.reddit.com/comments/a"  # never a javascript: link
    deleted = by_id.get("reddit:t3_b")
    assert deleted is None or deleted.author.handle == "unknown"


def test_modes_base_urls_and_missing_credentials(make_source: MakeSource) -> None:
    anonymous = make_source("reddit", base_url="https://www.reddit.com")
    assert anonymous.base_url == "https://www.reddit.com"
    automatic = make_source("reddit", env=SCRIPT_ENV, base_url="https://www.reddit.com")
    assert automatic.base_url == "https://oauth.reddit.com"  # www does not take bearer tokens
    unset = make_source("reddit", env=REFRESH_ENV, base_url=None)
    assert unset.base_url == "https://oauth.reddit.com"
    forced = make_source("reddit", env=SCRIPT_ENV, auth="anonymous", base_url=None)
    assert forced.base_url == "https://www.reddit.com"
    with pytest.raises(MissingCredentials) as nothing:
        make_source("reddit", auth="oauth")
    assert nothing.value.variables == [
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "REDDIT_USERNAME",
        "REDDIT_PASSWORD",
    ]
    with pytest.raises(MissingCredentials) as half:
        make_source("reddit", env={"REDDIT_CLIENT_ID": "x", "REDDIT_USERNAME": "u"})
    assert half.value.variables == ["REDDIT_CLIENT_SECRET", "REDDIT_PASSWORD"]
    assert str(half.value) == (
        "source 'reddit' needs credentials: set REDDIT_CLIENT_SECRET and REDDIT_PASSWORD "
        "(or REDDIT_REFRESH_TOKEN instead of the username and password)"
    )
    named = {"NW_ID": "a", "NW_SECRET": "b", "NW_REFRESH": "c"}
    make_source(
        "reddit",
        env=named,
        client_id_env="NW_ID",
        client_secret_env="NW_SECRET",
        refresh_token_env="NW_REFRESH",
    )
    with pytest.raises(ConfigError, match=r"auth: "):
        make_source("reddit", auth="basic")
    with pytest.raises(ConfigError, match=r"token_url: "):
        make_source("reddit", env=SCRIPT_ENV, token_url="file:///etc/passwd")
    with pytest.raises(ConfigError, match=r"client_id: unknown key .*client_id_env"):
        make_source("reddit", client_id="abc")


def test_the_example_oauth_lines_are_valid_and_credentials_come_from_the_environment(
    tmp_path: Path,
) -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert '# auth = "oauth"' in text
    uncommented = re.sub(r"^# (auth|user_agent) = ", r"\1 = ", text, flags=re.MULTILINE)
    config = tmp_path / "triagebot.toml"
    config.write_text(uncommented, encoding="utf-8")
    db = {"TRIAGEBOT_DB": str(tmp_path / "db.json")}
    partial = {**db, "REDDIT_CLIENT_ID": "id", "REDDIT_REFRESH_TOKEN": "rt", "UNRELATED": "x"}
    specs = {s.name: s for s in build_specs(load_settings(config, partial))}
    assert specs["reddit"].missing == ("REDDIT_CLIENT_SECRET",)
    assert specs["reddit"].problem == "source 'reddit' needs credentials: set REDDIT_CLIENT_SECRET"
    full = {**db, **SCRIPT_ENV}
    reddit = {s.name: s for s in build_specs(load_settings(config, full))}["reddit"].source
    assert isinstance(reddit, RedditSource)
    assert reddit.base_url == "https://oauth.reddit.com"
    assert reddit.access.user_agent == "python:triagebot:0.1.0 (by /u/northwind_social)"
