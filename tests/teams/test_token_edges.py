"""Forged Bot Framework tokens against the real ``/api/messages`` over HTTP: 401, never 500.

``build_teams`` + ``mount`` on the one aiohttp application (what ``triagebot serve`` runs),
with the adapter's keys served by the fake Microsoft of ``tests/fakes/microsoft.py``. The
forgeries name the fake's real key id, so botbuilder gets as far as its algorithm and
endorsement checks, which raise a bare ``Exception`` of their own.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from integrations.teams.app import build_teams, mount
from integrations.teams.auth import AuthEndpoints, create_adapter
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.microsoft import APP_ID, ISSUER, KEY_ID, TENANT, FakeMicrosoft
from tests.teams.test_auth import activity
from triagebot.config.settings import load_settings
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime

PASSWORD = "Zq8~app-password-of-forty-characters-x1"


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    fake = FakeMicrosoft().start()
    yield fake
    fake.stop()


@pytest.fixture
async def client(tmp_path: Path, microsoft: FakeMicrosoft) -> AsyncIterator[TestClient[Any, Any]]:
    env = {
        "TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json"),
        "TRIAGEBOT_RULES": str(ROOT / "rules"),
        "TRIAGEBOT_RUN_JOBS": "0",
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": PASSWORD,
        "MICROSOFT_APP_TENANT_ID": TENANT,
    }
    runtime = Runtime.build(load_settings(EXAMPLE_CONFIG, env))
    endpoints = AuthEndpoints(
        openid_metadata_url=microsoft.metadata_url, login_url=microsoft.login_url
    )
    teams = build_teams(runtime, create_adapter(runtime.settings.env, endpoints=endpoints))
    app = create_app(runtime)
    mount(app, teams)
    test_client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()
        runtime.close()


def claims(microsoft: FakeMicrosoft) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": APP_ID, "serviceurl": microsoft.service_url,
            "nbf": now - 60, "iat": now - 60, "exp": now + 600}  # fmt: skip


def segment(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], body: dict[str, Any], signature: str = "") -> str:
    return f"{segment(header)}.{segment(body)}.{signature}"


def forged(kind: str, microsoft: FakeMicrosoft) -> str:
    body = claims(microsoft)
    if kind == "alg none":
        return raw_token({"alg": "none", "typ": "JWT", "kid": KEY_ID}, body)
    if kind == "alg None":
        return raw_token({"alg": "None", "kid": KEY_ID}, body)
    if kind == "HS256 with the app password":
        return jwt.encode(body, PASSWORD, algorithm="HS256", headers={"kid": KEY_ID})
    if kind == "HS256 without a key id":
        return jwt.encode(body, PASSWORD, algorithm="HS256")
    if kind == "alg a list":
        return raw_token({"alg": ["RS256"], "kid": KEY_ID}, body, "AAAA")
    if kind == "alg missing":
        return raw_token({"kid": KEY_ID}, body, "AAAA")
    if kind == "header not an object":
        return f"{segment([1, 2])}.{segment(body)}.AAAA"
    raise AssertionError(kind)


async def post(client: TestClient[Any, Any], body: Any, token: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.post("/api/messages", json=body, headers=headers) as response:
        return response.status, await response.text()


@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "alg None",
        "HS256 with the app password",
        "HS256 without a key id",
        "alg a list",
        "alg missing",
        "header not an object",
    ],
)
async def test_a_forged_token_is_a_401(
    client: TestClient[Any, Any],
    microsoft: FakeMicrosoft,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        status, text = await post(client, activity(microsoft.service_url), forged(kind, microsoft))
    assert status == 401, text
    assert microsoft.connector_requests == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_key_not_endorsed_for_the_channel_is_a_401(
    client: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    # The fake's key is endorsed for "msteams" only; a well-signed token for another channel.
    body = activity(microsoft.service_url, channelId="webchat")
    status, text = await post(client, body, microsoft.sign())
    assert status == 401, text
    assert microsoft.connector_requests == []


async def test_a_well_signed_token_still_passes(
    client: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    body = activity(microsoft.service_url, text="sla help")
    status, _ = await post(client, body, microsoft.sign())
    assert status in (200, 201)
