"""Bot Framework tokens without blocking the event loop that Slack acks and Teams turns share.

botbuilder 4.17.1 fetches both kinds of token with synchronous ``requests`` on the calling
thread: the outbound token (``MicrosoftAppCredentials.get_access_token`` through MSAL, called
from ``signed_session`` inside msrest's async pipeline) and the OpenID metadata and signing
keys that inbound tokens are checked against (``_OpenIdMetadata._refresh``). Here both are
fetched with aiohttp instead:

- :class:`TokenCredentialFactory` hands botbuilder credentials whose token is fetched ahead of
  use in the async ``create_credentials`` (the client-credentials grant,
  ``POST {login}/oauth2/v2.0/token``), cached until shortly before it expires and refreshed in
  the background; the synchronous ``get_access_token`` only reads that cache.
- :class:`AsyncOpenIdMetadata` replaces botbuilder's metadata cache entries, and answers an
  unknown signing key with ``PermissionError`` (a 401) where botbuilder raises ``IndexError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from botframework.connector.auth import (
    AuthenticationConstants,
    GovernmentConstants,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdMetadata

log = logging.getLogger(__name__)

#: Refresh in the background when the cached token has less than this left (seconds).
REFRESH_AHEAD = 300.0
#: A token with less than this left is not used; the next call waits for a new one.
MIN_VALID = 60.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
_CLOUD_LOGIN_PREFIXES = (
    AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
    GovernmentConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
)


class TokenError(PermissionError):
    """No usable Bot Framework token: the login endpoint refused or could not be reached."""


def token_url(login_endpoint: str | None, tenant_id: str) -> str:
    """The token endpoint for a SingleTenant bot.

    Microsoft's clouds get the bot's own tenant in place of ``botframework.com`` (as
    ``MicrosoftAppCredentials`` does); any other login URL (tests) is used as it is.
    """
    endpoint = (login_endpoint or AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL).rstrip("/")
    for prefix in _CLOUD_LOGIN_PREFIXES:
        if endpoint.lower().startswith(prefix):
            endpoint = prefix + tenant_id
            break
    return endpoint + "/oauth2/v2.0/token"


class CachedTokenCredentials(MicrosoftAppCredentials):  # type: ignore[misc]
    """App credentials whose token is fetched with aiohttp and read from a cache.

    msrest calls ``signed_session`` → ``get_access_token`` synchronously on the event loop for
    every outbound request; here that only reads the cache that :meth:`prepare` fills.
    """

    def __init__(
        self,
        app_id: str,
        password: str,
        *,
        url: str,
        scope: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(app_id, password, oauth_scope=scope)
        self.token_url = url
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._fetched_at = 0.0
        self._last_error = "no token fetched yet"
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    @property
    def scopes(self) -> list[str]:
        scope: str = self.oauth_scope
        return [scope if scope.endswith("/.default") else scope + "/.default"]

    def get_access_token(self, force_refresh: bool = False) -> str:
        """The cached token; never any I/O (msrest calls this on the event loop)."""
        if self._token is None or self._remaining() < 0:
            raise TokenError(f"no Bot Framework token: {self._last_error}")
        return self._token

    async def prepare(self) -> None:
        """Make sure a token is cached: wait for one if there is none, else refresh early."""
        remaining = self._remaining() if self._token else -1.0
        if remaining >= REFRESH_AHEAD:
            return
        if remaining >= MIN_VALID:
            if self._background is None or self._background.done():
                self._background = asyncio.create_task(self._refresh_quietly())
            return
        await self._refresh_quietly()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except TokenError as exc:
            self._last_error = str(exc)
            log.warning("Bot Framework token not refreshed: %s", exc)

    async def refresh(self) -> None:
        """Fetch a new token (one fetch at a time; a caller that waited reuses its result)."""
        started = self._clock()
        async with self._lock:
            if self._token and self._fetched_at >= started and self._remaining() >= MIN_VALID:
                return
            token, lifetime = await self._fetch()
            self._token, self._fetched_at = token, self._clock()
            self._expires_at = self._fetched_at + lifetime
            log.info("Bot Framework token fetched, valid for %d s", lifetime)

    async def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.microsoft_app_id,
            "client_secret": self.microsoft_app_password,
            "scope": " ".join(self.scopes),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
                session.post(self.token_url, data=form) as response,
            ):
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenError(f"{self.token_url}: {type(exc).__name__}: {exc}") from exc
        return _parse_token_response(self.token_url, status, text)

    def _remaining(self) -> float:
        return self._expires_at - self._clock()


def _parse_token_response(url: str, status: int, text: str) -> tuple[str, float]:
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    token = body.get("access_token")
    if status != 200 or not isinstance(token, str) or not token:
        error = body.get("error_description") or body.get("error") or text[:200]
        raise TokenError(f"{url}: HTTP {status}: {error}")
    try:
        lifetime = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    return token, lifetime


class TokenCredentialFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """botbuilder's credential factory seam: one cached credential per scope and endpoint.

    ``CloudAdapterBase`` asks for credentials (``create_credentials``, async) for every turn
    and every proactive call; the token is fetched there, not later on the loop. An empty
    ``app_id`` disables authentication, exactly like ``PasswordServiceClientCredentialFactory``.
    """

    def __init__(self, app_id: str = "", password: str = "", tenant_id: str = "") -> None:
        self.app_id = app_id
        self._password = password
        self._tenant_id = tenant_id
        self._credentials: dict[tuple[str, str], CachedTokenCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self.app_id) and app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app_id:
            raise PermissionError("Invalid app_id")
        scope = oauth_scope or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        url = token_url(login_endpoint, self._tenant_id)
        credentials = self._credentials.get((scope, url))
        if credentials is None:
            credentials = CachedTokenCredentials(app_id, self._password, url=url, scope=scope)
            self._credentials[(scope, url)] = credentials
        await credentials.prepare()
        return credentials


class AsyncOpenIdMetadata(_OpenIdMetadata):  # type: ignore[misc]
    """OpenID metadata and signing keys fetched with aiohttp; an unknown key is a 401."""

    async def get(self, key_id: str | None) -> Any:
        key = await super().get(key_id)
        if key is None:
            raise PermissionError(f"no signing key {key_id!r} in {self.url}")
        return key

    async def _refresh(self) -> None:
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
                async with session.get(self.url) as response:
                    response.raise_for_status()
                    metadata = await response.json(content_type=None)
                async with session.get(metadata["jwks_uri"]) as response:
                    response.raise_for_status()
                    keys = (await response.json(content_type=None))["keys"]
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("OpenID metadata %s not refreshed: %s", self.url, exc)
            if not self.keys:
                raise PermissionError(f"no signing keys from {self.url}") from exc
            # Keep the keys we have and try again in an hour, not on every request.
            self.last_updated = datetime.now() - timedelta(hours=23)
            return
        self.keys: list[Any] = keys
        self.last_updated = datetime.now()

    def _find(self, key_id: str | None) -> Any:
        if not any(isinstance(k, dict) and k.get("kid") == key_id for k in self.keys or ()):
            return None
        return super()._find(key_id)


def install_metadata(urls: Iterable[str]) -> None:
    """Make botbuilder's token extractor use :class:`AsyncOpenIdMetadata` for these URLs.

    ``JwtTokenExtractor`` keeps one metadata object per URL in a class-level cache and only
    creates one when the URL is missing, so an entry put there first is the one it uses.
    """
    cache: dict[str, Any] = JwtTokenExtractor.metadataCache
    for url in urls:
        if not isinstance(cache.get(url), AsyncOpenIdMetadata):
            cache[url] = AsyncOpenIdMetadata(url)
