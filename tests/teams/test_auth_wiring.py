"""The real Teams bot behind the real wiring, with authentication on: signed or refused.

``build_teams`` + ``mount`` (what ``triagebot serve`` uses) with an adapter from
``create_adapter`` pointed at the fake Microsoft of ``tests/fakes/microsoft.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from integrations.teams.app import build_teams, mount
from integrations.teams.auth import AuthEndpoints, create_adapter
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.microsoft import APP_ID, TENANT, FakeMicrosoft
from tests.teams.test_auth import activity
from triagebot.config.settings import load_settings
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime


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
        "MICROSOFT_APP_PASSWORD": "s3cret",
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


def personal(microsoft: FakeMicrosoft, text: str) -> dict[str, Any]:
    return activity(
        microsoft.service_url,
        text=text,
        conversation={"id": "a:personal-1", "conversationType": "personal", "tenantId": TENANT},
        channelData={"tenant": {"id": TENANT}},
    )


async def test_signed_sla_help_is_answered_with_a_token(
    client: TestClient[Any, Any], microsoft: FakeMicrosoft
) -> None:
    headers = {"Authorization": f"Bearer {microsoft.sign()}"}
    async with client.post(
        "/api/messages", json=personal(microsoft, "sla help"), headers=headers
    ) as response:
        assert response.status == 201

    assert microsoft.connector_requests, "the bot did not answer"
    assert {r["authorization"] for r in microsoft.connector_requests} == {"Bearer token-1"}
    assert len(microsoft.token_requests) == 1


@pytest.mark.parametrize("token", [None, "expired", "other-app"])
async def test_unsigned_or_badly_signed_requests_never_reach_the_bot(
    client: TestClient[Any, Any], microsoft: FakeMicrosoft, token: str | None
) -> None:
    headers = {}
    if token == "expired":
        headers["Authorization"] = f"Bearer {microsoft.sign(expires_in=-3600)}"
    elif token == "other-app":
        headers["Authorization"] = f"Bearer {microsoft.sign(audience='another-app')}"
    async with client.post(
        "/api/messages", json=personal(microsoft, "sla help"), headers=headers
    ) as response:
        assert response.status == 401
    assert microsoft.connector_requests == []
    assert microsoft.token_requests == []


async def test_health_checks_without_content_type_get_415(client: TestClient[Any, Any]) -> None:
    async with client.post("/api/messages", skip_auto_headers={"Content-Type"}) as response:
        assert response.status == 415
