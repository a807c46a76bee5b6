"""Teams auth over real wires: signed and unsigned requests to /api/messages, outbound tokens.

A fake Microsoft (tests/fakes/microsoft.py) serves OpenID metadata with a test RSA key, a
token endpoint and a Bot Connector on 127.0.0.1; the real CloudAdapter from ``create_adapter``
runs behind ``guard_messages`` in an aiohttp app with a bot that answers every message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import ActivityHandler, TurnContext

from integrations.teams.auth import AuthEndpoints, create_adapter, guard_messages
from tests.fakes.microsoft import APP_ID, TENANT, FakeMicrosoft, new_key
from triagebot.config.secret import SecretStr
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError


class PongBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity("pong")


def signed_env(**overrides: Any) -> Environment:
    values: dict[str, Any] = {
        "microsoft_app_id": APP_ID,
        "microsoft_app_password": SecretStr("s3cret"),
        "microsoft_app_tenant_id": TENANT,
    }
    values.update(overrides)
    return Environment(**values)


def activity(service_url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message",
        "id": "msg-1",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "user-1", "name": "Alex"},
        "recipient": {"id": f"28:{APP_ID}", "name": "triagebot"},
        "conversation": {"id": "conv-1"},
        "text": "ping",
    }
    body.update(overrides)
    return body


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    fake = FakeMicrosoft().start()
    yield fake
    fake.stop()


def endpoints(fake: FakeMicrosoft) -> AuthEndpoints:
    return AuthEndpoints(openid_metadata_url=fake.metadata_url, login_url=fake.login_url)


async def serve(env: Environment, fake: FakeMicrosoft) -> TestClient[Any, Any]:
    adapter = create_adapter(env, endpoints=endpoints(fake))
    bot = PongBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    app = web.Application()
    app.router.add_post("/api/messages", guard_messages(messages))
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def bot(microsoft: FakeMicrosoft) -> AsyncIterator[TestClient[Any, Any]]:
    client = await serve(signed_env(), microsoft)
    yield client
    await client.close()


async def post(client: TestClient[Any, Any], body: Any, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.post("/api/messages", json=body, headers=headers) as response:
        return response.status


async def test_signed_request_passes_and_reply_carries_the_fetched_token(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    assert await post(bot, activity(microsoft.service_url), microsoft.sign()) == 201
    assert await post(bot, activity(microsoft.service_url), microsoft.sign()) == 201

    assert [r["body"]["text"] for r in microsoft.connector_requests] == ["pong", "pong"]
    assert {r["authorization"] for r in microsoft.connector_requests} == {"Bearer token-1"}
    assert len(microsoft.token_requests) == 1  # cached for the second turn
    assert microsoft.token_requests[0] == {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": "s3cret",
        "scope": "https://api.botframework.com/.default",
    }


async def test_unsigned_request_is_refused(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    assert await post(bot, activity(microsoft.service_url)) == 401
    assert microsoft.connector_requests == []


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"audience": "some-other-app"}, id="wrong audience"),
        pytest.param({"expires_in": -3600}, id="expired"),
        pytest.param({"issuer": "https://sts.example.com/"}, id="wrong issuer"),
        pytest.param({"service_url": "https://evil.example.com/"}, id="other serviceUrl"),
        pytest.param({"kid": "unknown-key"}, id="unknown signing key"),
    ],
)
async def test_badly_signed_requests_are_refused(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft, claims: dict[str, Any]
) -> None:
    token = microsoft.sign(**claims)
    assert await post(bot, activity(microsoft.service_url), token) == 401
    assert microsoft.connector_requests == []


async def test_token_signed_with_another_key_is_refused(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    token = microsoft.sign(key=new_key())
    assert await post(bot, activity(microsoft.service_url), token) == 401
    assert await post(bot, activity(microsoft.service_url), "not-a-jwt") == 401


async def test_missing_content_type_and_bad_bodies_are_not_server_errors(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    token = microsoft.sign()
    async with bot.post("/api/messages", data=b"", skip_auto_headers={"Content-Type"}) as r:
        assert r.status == 415
    async with bot.post("/api/messages", data="x", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    bad = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    async with bot.post("/api/messages", data="{not json", headers=bad) as r:
        assert r.status == 400
    async with bot.post("/api/messages", data="[1, 2]", headers=bad) as r:
        assert r.status == 400


async def test_local_mode_accepts_unsigned_requests(microsoft: FakeMicrosoft) -> None:
    client = await serve(Environment(), microsoft)
    try:
        assert await post(client, activity(microsoft.service_url)) == 201
    finally:
        await client.close()
    assert [r["authorization"] for r in microsoft.connector_requests] == [None]
    assert microsoft.token_requests == []


async def test_token_fetch_leaves_the_event_loop_free(
    bot: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    microsoft.token_delay = 1.0
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    status = await post(bot, activity(microsoft.service_url), microsoft.sign())
    during = ticks - before
    done.set()
    await task

    assert status == 201
    assert len(microsoft.token_requests) == 1
    # A fetch on the loop's thread would allow no tick in that second; 100 fit in it.
    assert during >= 10


def test_heroku_without_app_id_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        create_adapter(Environment(dyno="web.1"))
    assert str(caught.value) == (
        "environment: MICROSOFT_APP_ID: must be set on Heroku (DYNO is set); "
        "local Teams mode accepts unsigned requests"
    )


def test_single_tenant_needs_password_and_tenant() -> None:
    with pytest.raises(ConfigError) as caught:
        create_adapter(Environment(microsoft_app_id=APP_ID))
    assert [p.split(":")[1].strip() for p in caught.value.problems] == [
        "MICROSOFT_APP_PASSWORD",
        "MICROSOFT_APP_TENANT_ID",
    ]
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TENANT_ID"):
        create_adapter(signed_env(microsoft_app_tenant_id=None))


def test_test_endpoints_are_refused_on_heroku(microsoft: FakeMicrosoft) -> None:
    with pytest.raises(ConfigError, match="DYNO"):
        create_adapter(signed_env(dyno="web.1"), endpoints=endpoints(microsoft))
