"""How the reddit source reaches Reddit: anonymously (``www.reddit.com/….json``, for trials) or
with OAuth (``oauth.reddit.com``, what production use needs).

OAuth uses a *script* app's client id and secret with either the account's username and
password (the ``password`` grant) or a refresh token (the ``refresh_token`` grant). The token
comes from ``token_url`` (``https://www.reddit.com/api/v1/access_token``) with HTTP basic auth,
and every API call carries ``Authorization: bearer …`` and a descriptive User-Agent
(``python:triagebot:0.1.0 (by /u/name)``), as Reddit requires. The grant's request body and the
reading of its answer (errors such as ``invalid_grant``, which Reddit sends with HTTP 200) are
oauthlib's, a sans-I/O library, so the request itself goes through the sources' shared httpx
client with its timeouts. The token is kept until a minute before it expires; a 401 from the
API fetches a new one once. ``auth`` chooses the mode; unset, OAuth is used when the client id
variable is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from oauthlib.oauth2 import LegacyApplicationClient, WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, OAuth2Error
from pydantic import Field, StrictStr

from integrations.sources._http import USER_AGENT, RateLimit, get, pause_for
from integrations.sources._options import SourceOptions, Text
from triagebot import __version__
from triagebot.errors import MissingCredentials, SourceError

OAUTH_API = "https://oauth.reddit.com"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
WEB_HOSTS = {"reddit.com", "www.reddit.com", "old.reddit.com"}  # no bearer tokens there
_EARLY = timedelta(seconds=60)  # a token is renewed this long before it expires


class RedditAccessOptions(SourceOptions):
    """The keys of a reddit block that choose and configure the way in."""

    auth: Literal["anonymous", "oauth"] | None = None  # unset: oauth when the client id is set
    client_id_env: Text | None = None
    client_secret_env: Text | None = None
    username_env: Text | None = None
    password_env: Text | None = None
    refresh_token_env: Text | None = None
    token_url: Annotated[StrictStr, Field(pattern=r"^https?://[^/\s]+")] = TOKEN_URL
    user_agent: Text | None = None  # default: python:triagebot:<version> (by /u/<username>)


@dataclass
class Grant:
    """A script app's credentials and the grant that turns them into tokens."""

    client_id: str
    client_secret: str
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None

    def body(self) -> str:
        if self.refresh_token:
            return WebApplicationClient(self.client_id).prepare_refresh_body(
                refresh_token=self.refresh_token
            )
        return LegacyApplicationClient(self.client_id).prepare_request_body(
            username=self.username or "", password=self.password or ""
        )


@dataclass
class RedditAccess:
    """Requests to Reddit for one source: anonymous when ``grant`` is None."""

    source: str
    user_agent: str | None  # None: the sources' default
    grant: Grant | None = None
    token_url: str = TOKEN_URL
    client_vars: tuple[str, ...] = ()  # the variables to check when Reddit refuses
    grant_vars: tuple[str, ...] = ()
    _token: str | None = field(default=None, repr=False)
    _expires: datetime | None = None

    async def get(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        params: Mapping[str, Any],
        limit: RateLimit,
        now: datetime,
    ) -> httpx.Response:
        """GET ``url``; with OAuth, a 401 renews the token and tries once more."""
        headers = {"User-Agent": self.user_agent} if self.user_agent else {}
        query = dict(params)
        if self.grant is None:
            return await get(
                http, self.source, url, params=query, headers=headers, limit=limit, now=now
            )
        headers["Authorization"] = f"bearer {await self.token(http, now)}"
        response = await get(
            http,
            self.source,
            url,
            params=query,
            headers=headers,
            limit=limit,
            now=now,
            ok=(200, 401),
        )
        if response.status_code != 401:
            return response
        self._token = None  # revoked or expired early: one new token, one more try
        headers["Authorization"] = f"bearer {await self.token(http, now)}"
        return await get(
            http, self.source, url, params=query, headers=headers, limit=limit, now=now
        )

    async def token(self, http: httpx.AsyncClient, now: datetime) -> str:
        """The access token, fetched when there is none or it is about to expire."""
        if self._token is None or self._expires is None or now >= self._expires:
            self._token, self._expires = await self._fetch(http, now)
        return self._token

    async def _fetch(self, http: httpx.AsyncClient, now: datetime) -> tuple[str, datetime]:
        assert self.grant is not None
        grant = self.grant
        try:
            response = await http.post(
                self.token_url,
                content=grant.body(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": self.user_agent or USER_AGENT,
                },
                auth=httpx.BasicAuth(grant.client_id, grant.client_secret),
            )
        except httpx.HTTPError as exc:
            why = type(exc).__name__
            raise SourceError(
                f"{self.source}: cannot reach the OAuth token endpoint: {why}"
            ) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            wait = pause_for(response, None, now)
            raise SourceError(f"{self.source}: OAuth token endpoint answered HTTP {status}", wait)
        if status == 401:
            raise self._refused("the client id or secret", self.client_vars)
        try:
            token = WebApplicationClient(grant.client_id).parse_request_body_response(response.text)
        except InvalidClientError:
            raise self._refused("the client id or secret", self.client_vars) from None
        except InvalidGrantError:
            what = "the refresh token" if grant.refresh_token else "the username or password"
            raise self._refused(what, self.grant_vars) from None
        except OAuth2Error as exc:
            raise SourceError(
                f"{self.source}: OAuth token refused ({exc.error}, HTTP {status})"
            ) from None
        except Warning as exc:  # oauthlib warns when the granted scope differs
            raise SourceError(f"{self.source}: OAuth token answer not usable: {exc}") from None
        lifetime = token.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
        return str(token["access_token"]), now + timedelta(seconds=seconds) - _EARLY

    def _refused(self, what: str, variables: tuple[str, ...]) -> SourceError:
        names = " and ".join(variables)
        return SourceError(f"{self.source}: Reddit refused {what} (check {names})")


def reddit_access(
    name: str, options: RedditAccessOptions, env: Mapping[str, str], base_url: str | None
) -> tuple[RedditAccess, str | None]:
    """The way in for a reddit block, and the API base URL it implies (None: keep the
    configured one). Raises MissingCredentials when OAuth lacks a variable."""
    client_var = options.client_id_env or "REDDIT_CLIENT_ID"
    secret_var = options.client_secret_env or "REDDIT_CLIENT_SECRET"
    user_var = options.username_env or "REDDIT_USERNAME"
    password_var = options.password_env or "REDDIT_PASSWORD"
    refresh_var = options.refresh_token_env or "REDDIT_REFRESH_TOKEN"
    names = (client_var, secret_var, user_var, password_var, refresh_var)
    value = {v: env.get(v, "").strip() for v in names}
    mode = options.auth or ("oauth" if value[client_var] else "anonymous")
    username = value[user_var] or None
    if mode == "anonymous":
        return RedditAccess(name, options.user_agent), None
    missing = [v for v in (client_var, secret_var) if not value[v]]
    if not value[refresh_var]:
        missing += [v for v in (user_var, password_var) if not value[v]]
    if missing:
        error = MissingCredentials(name, missing)
        if user_var in missing or password_var in missing:  # say there is another way
            error.args = (f"{error} (or {refresh_var} instead of the username and password)",)
        raise error
    grant = Grant(
        value[client_var],
        value[secret_var],
        username,
        value[password_var] or None,
        value[refresh_var] or None,
    )
    grant_vars = (refresh_var,) if grant.refresh_token else (user_var, password_var)
    host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
    api = OAUTH_API if not base_url or host in WEB_HOSTS else None
    agent = options.user_agent or user_agent(username)
    access = RedditAccess(
        name, agent, grant, options.token_url, (client_var, secret_var), grant_vars
    )
    return access, api


def user_agent(username: str | None) -> str:
    """Reddit's format: ``<platform>:<app id>:<version> (by /u/<username>)``."""
    by = f"by /u/{username}" if username else "brand mention monitor"
    return f"python:triagebot:{__version__} ({by})"
