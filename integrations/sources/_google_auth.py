"""Google service-account access tokens, exchanged and renewed by google-auth.

The JSON key (as downloaded from the Google Cloud console) is read from the environment once.
google-auth signs the JWT assertion and exchanges it at the key's ``token_uri``; the token is
kept until shortly before it expires (google-auth's own margin) and then renewed. google-auth
calls its transport synchronously, so the exchange runs in a worker thread, one at a time per
key, and its HTTP requests are sent by the poll's own httpx client on the event loop (the same
timeouts, proxies and test transports as every other request of the sources).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from google.auth import transport
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2.service_account import Credentials

from triagebot.errors import SourceError

#: Seconds for the token exchange as a whole (google-auth's default is two minutes).
EXCHANGE_TIMEOUT = 20.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def read_key(text: str) -> dict[str, Any]:
    """The service-account key as a dict; ValueError (without the key's text) if it is not one."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError('not a service-account key (no "type": "service_account")')
    token_uri = info.get("token_uri")
    if isinstance(token_uri, str):
        parts = urlsplit(token_uri)
        if parts.scheme != "https" and parts.hostname not in _LOOPBACK:
            raise ValueError("token_uri must be an https URL")
    return info


class _Response(transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class _LoopRequest(transport.Request):
    """google-auth's transport, called from a worker thread, sending through ``http`` on
    ``loop``."""

    def __init__(self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.http = http
        self.loop = loop

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> transport.Response:
        sent = self.http.request(
            method, url, content=body, headers=headers, timeout=timeout or EXCHANGE_TIMEOUT
        )
        future = asyncio.run_coroutine_threadsafe(sent, self.loop)
        try:
            response = future.result(timeout=EXCHANGE_TIMEOUT + 5)
        except (httpx.HTTPError, TimeoutError) as exc:
            future.cancel()
            raise TransportError(type(exc).__name__) from exc  # type: ignore[no-untyped-call]
        return _Response(response)


class ServiceAccountToken:
    """A bearer token for one service account and scope, cached until it expires."""

    def __init__(self, info: dict[str, Any], scope: str) -> None:
        try:
            self.credentials = Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[scope]
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(str(exc) or type(exc).__name__) from None
        self.account = str(info.get("client_email") or "")
        self._lock = asyncio.Lock()

    async def bearer(self, http: httpx.AsyncClient, source: str) -> str:
        """A valid access token, renewed first if it is missing or about to expire."""
        async with self._lock:
            if not self.credentials.valid:
                request = _LoopRequest(http, asyncio.get_running_loop())
                await asyncio.to_thread(self._refresh, request, source)
            token = self.credentials.token
        if not isinstance(token, str) or not token:
            raise SourceError(f"{source}: the token endpoint answered without an access token")
        return token

    def forget(self) -> None:
        """Drop the cached token (the API refused it): the next call exchanges a new one."""
        self.credentials.token = None

    def _refresh(self, request: transport.Request, source: str) -> None:
        try:
            self.credentials.refresh(request)
        except RefreshError as exc:
            raise SourceError(
                f"{source}: token exchange refused for {self.account}: {_reason(exc)}"
            ) from exc
        except TransportError as exc:
            raise SourceError(f"{source}: cannot reach the token endpoint ({exc})") from exc
        except (GoogleAuthError, ValueError) as exc:
            raise SourceError(f"{source}: token exchange failed: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The first line of google-auth's message, short (it may quote the endpoint's body)."""
    text = str(exc.args[0] if exc.args else exc)
    return " ".join(text.split())[:200] or type(exc).__name__
