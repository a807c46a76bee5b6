"""Who may talk to the Teams bot: the CloudAdapter with SingleTenant auth, or local mode.

``create_adapter(env)`` builds botbuilder's ``CloudAdapter`` from the environment:

- ``MICROSOFT_APP_ID``, ``MICROSOFT_APP_PASSWORD`` and ``MICROSOFT_APP_TENANT_ID`` all set: a
  SingleTenant bot. Only requests signed by the Bot Framework for this app id pass (others get
  401), and outbound calls carry a token fetched without blocking the loop (``tokens``).
- none set: *local mode* for Microsoft 365 Agents Playground. Authentication is off, so
  unsigned requests pass; refused on Heroku (``DYNO`` set).

``guard_messages(handler)`` wraps the ``POST /api/messages`` handler so that a request with a
missing or non-JSON Content-Type gets 415 and a body that is not a JSON object gets 400, where
the adapter itself answers 500 (a ``KeyError`` on the missing header, a ``JSONDecodeError``).

``AuthEndpoints`` points token checks and token fetches at local servers; it exists for tests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botframework.connector.auth import AuthenticationConstants, ChannelValidation

from integrations.teams.tokens import TokenCredentialFactory, install_metadata
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BOT_FRAMEWORK = "https://api.botframework.com"
LOCAL_MODE_ON_HEROKU = (
    "environment: MICROSOFT_APP_ID: must be set on Heroku (DYNO is set); "
    "local Teams mode accepts unsigned requests"
)
#: What Bot Framework signs with; anything else (``none``, HS256 with a guessed secret) is a 401.
SIGNING_ALGORITHMS = frozenset(AuthenticationConstants.ALLOWED_SIGNING_ALGORITHMS)
_SINGLE_TENANT_VARS = ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID")


@dataclass(frozen=True)
class AuthEndpoints:
    """Test-only stand-ins for Microsoft's endpoints (never read from the environment).

    ``openid_metadata_url`` serves the keys inbound tokens are checked against;
    ``login_url`` + ``/oauth2/v2.0/token`` hands out outbound tokens.
    """

    openid_metadata_url: str
    login_url: str
    token_issuer: str = BOT_FRAMEWORK
    oauth_scope: str = BOT_FRAMEWORK
    oauth_url: str = BOT_FRAMEWORK


class BotConfig:
    """The attribute bag botbuilder's configuration classes read with ``getattr``."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


@dataclass(frozen=True)
class TeamsAuth:
    """What ``create_adapter`` decided: the app id to pass as ``bot_app_id``, and the mode."""

    app_id: str
    local_mode: bool


def auth_settings(env: Environment) -> TeamsAuth:
    """Check the three variables: all set (SingleTenant), none set (local mode), or ConfigError."""
    app_id = (env.microsoft_app_id or "").strip()
    password = _password(env)
    tenant = (env.microsoft_app_tenant_id or "").strip()
    if not app_id:
        if env.dyno:
            raise ConfigError(LOCAL_MODE_ON_HEROKU)
        return TeamsAuth(app_id="", local_mode=True)
    missing = [n for n, v in zip(_SINGLE_TENANT_VARS[1:], (password, tenant), strict=True) if not v]
    if missing:
        raise ConfigError(
            [
                f"environment: {name}: must be set when MICROSOFT_APP_ID is "
                "(the Teams bot is SingleTenant)"
                for name in missing
            ]
        )
    return TeamsAuth(app_id=app_id, local_mode=False)


def _password(env: Environment) -> str:
    secret = env.microsoft_app_password
    return secret.get_secret_value().strip() if secret else ""


def create_adapter(env: Environment, *, endpoints: AuthEndpoints | None = None) -> CloudAdapter:
    """The CloudAdapter for ``POST /api/messages``; raises ConfigError on incomplete settings."""
    auth = auth_settings(env)
    if endpoints is not None and env.dyno:
        raise ConfigError("environment: DYNO: test endpoints for Teams auth are not for Heroku")
    if auth.local_mode:
        log.warning(
            "Teams local mode: MICROSOFT_APP_ID is not set, so /api/messages accepts unsigned "
            "requests and replies carry no token (for Microsoft 365 Agents Playground only)"
        )
        factory = TokenCredentialFactory()
        config = BotConfig(APP_ID="", APP_PASSWORD="")
    else:
        password = (
            env.microsoft_app_password.get_secret_value() if env.microsoft_app_password else ""
        )
        tenant = (env.microsoft_app_tenant_id or "").strip()
        factory = TokenCredentialFactory(auth.app_id, password, tenant)
        config = BotConfig(
            APP_TYPE="SingleTenant", APP_ID=auth.app_id, APP_PASSWORD=password, APP_TENANTID=tenant
        )
        log.info("Teams auth: SingleTenant app %s in tenant %s", auth.app_id, tenant)
    metadata_urls = [
        # What botbuilder's public-cloud path reads (channel_validation.py, emulator_validation.py).
        ChannelValidation.open_id_metadata_endpoint
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    ]
    if endpoints is not None:
        config.__dict__.update(
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=endpoints.openid_metadata_url,
            TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=endpoints.openid_metadata_url,
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=endpoints.token_issuer,
            TO_CHANNEL_FROM_BOT_LOGIN_URL=endpoints.login_url,
            TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=endpoints.oauth_scope,
            OAUTH_URL=endpoints.oauth_url,
        )
        metadata_urls = [endpoints.openid_metadata_url]
    install_metadata(metadata_urls)
    return CloudAdapter(_Authentication(config, credentials_factory=factory))


def _bearer(auth_header: str | None) -> str | None:
    """``None`` for no header (``CloudAdapter`` passes ``""``); only an RS* ``Bearer`` JWT else."""
    header = (auth_header or "").strip()
    if not header:
        return None
    parts = header.split(" ")
    if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
        raise PermissionError("Authorization is not a Bearer token")
    try:
        algorithm = jwt.get_unverified_header(parts[1]).get("alg")
    except jwt.PyJWTError as exc:
        raise PermissionError(f"invalid token: {exc}") from exc
    if not isinstance(algorithm, str) or algorithm not in SIGNING_ALGORITHMS:
        raise PermissionError(f"invalid token: signing algorithm {str(algorithm)[:20]!r}")
    return header


@contextmanager
def _refusals() -> Iterator[None]:
    """Token problems as ``PermissionError`` (401), whatever botbuilder raised them as.

    PyJWT's errors (expired, bad signature, not a JWT) escape botbuilder unchanged, and
    botbuilder refuses a token whose key is not endorsed for the channel with a bare
    ``Exception``; other errors (bugs, a lost network) stay what they are.
    """
    try:
        yield
    except jwt.PyJWTError as exc:
        raise PermissionError(f"invalid token: {exc}") from exc
    except Exception as exc:
        if type(exc) is Exception:
            raise PermissionError(f"invalid token: {exc}") from exc
        raise


class _Authentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """Every refusal is a ``PermissionError``, which ``CloudAdapter.process`` answers with 401.

    botbuilder 4.17.1 lets PyJWT's errors escape as a 500, raises a bare ``Exception`` (a 500)
    for a token signed with ``none`` or HS256 or with a key not endorsed for the channel, and
    its configurable path checks ``auth_header is None`` where ``CloudAdapter`` passes ``""``
    for a missing header, which ends in an ``AttributeError`` (500) as well.
    """

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        with _refusals():
            return await super().authenticate_request(activity, _bearer(auth_header))

    async def authenticate_streaming_request(self, auth_header: str, channel_id: str) -> Any:
        with _refusals():
            return await super().authenticate_streaming_request(_bearer(auth_header), channel_id)

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        with _refusals():
            return await super().authenticate_channel_request(_bearer(auth_header))


def guard_messages(handler: Handler) -> Handler:
    """Answer 415/400 for requests the adapter would turn into a 500, then call ``handler``."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            if request.content_type != "application/json":
                raise web.HTTPUnsupportedMediaType(text="Content-Type must be application/json")
            try:
                body = json.loads(await request.read())
            except (ValueError, UnicodeDecodeError):
                raise web.HTTPBadRequest(text="the body is not JSON") from None
            if not isinstance(body, dict):
                raise web.HTTPBadRequest(text="the body is not a JSON object")
        return await handler(request)

    return guarded
