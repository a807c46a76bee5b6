"""Outbound Bot Framework tokens: cached, refreshed ahead of expiry, failures reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.teams.tokens import CachedTokenCredentials, TokenError, token_url
from tests.fakes.microsoft import APP_ID, TENANT, FakeMicrosoft


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    fake = FakeMicrosoft().start()
    yield fake
    fake.stop()


def credentials(fake: FakeMicrosoft, clock: Clock) -> CachedTokenCredentials:
    url = token_url(fake.login_url, TENANT)
    return CachedTokenCredentials(
        APP_ID, "s3cret", url=url, scope="https://api.botframework.com", clock=clock
    )


async def test_token_is_refreshed_in_the_background_before_it_expires(
    microsoft: FakeMicrosoft,
) -> None:
    clock = Clock()
    creds = credentials(microsoft, clock)
    await creds.prepare()
    assert creds.get_access_token() == "token-1"

    clock.now += 3600 - 200  # inside the refresh window, still valid
    await creds.prepare()
    assert creds.get_access_token() == "token-1"  # served at once, no waiting
    assert creds._background is not None
    await creds._background
    assert creds.get_access_token() == "token-2"
    assert len(microsoft.token_requests) == 2


async def test_expired_token_is_never_used(microsoft: FakeMicrosoft) -> None:
    clock = Clock()
    creds = credentials(microsoft, clock)
    await creds.prepare()
    clock.now += 3600 + 1
    with pytest.raises(TokenError):
        creds.get_access_token()
    await creds.prepare()  # waits for a new one
    assert creds.get_access_token() == "token-2"


async def test_refused_login_is_reported_when_the_token_is_used(
    microsoft: FakeMicrosoft,
) -> None:
    microsoft.token_status = 401
    creds = credentials(microsoft, Clock())
    await creds.prepare()  # does not raise: a turn that sends nothing still works
    with pytest.raises(TokenError, match="HTTP 401: AADSTS7000215"):
        creds.get_access_token()


def test_token_url_uses_the_bot_tenant_on_microsoft_clouds() -> None:
    assert token_url("https://login.microsoftonline.com/botframework.com", "t-1") == (
        "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    )
    assert token_url(None, "t-1") == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    assert token_url("https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us", "t") == (
        "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    )
    assert token_url("http://127.0.0.1:9/x", "t") == "http://127.0.0.1:9/x/oauth2/v2.0/token"
