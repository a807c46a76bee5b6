"""Google service-account access tokens, exchanged and renewed by google-auth.

The JSON key (as downloaded from the Google Cloud console) is read from the environment once.
google-auth signs the JWT assertion and exchanges it at the key's ``token_uri``; the token is
kept until shortly before it expires (google-auth's own margin) and then renewed. The
exchange runs in a worker thread (google-auth's transports block), one at a time per key.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import Request
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


class _Request(Request):
    """google-auth's requests transport with a bounded timeout."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = EXCHANGE_TIMEOUT,
        **kwargs: Any,
    ) -> Any:
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout or EXCHANGE_TIMEOUT, **kwargs
        )


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

    async def bearer(self, source: str) -> str:
        """A valid access token, renewed first if it is missing or about to expire."""
        async with self._lock:
            if not self.credentials.valid:
                await asyncio.to_thread(self._refresh, source)
            token = self.credentials.token
        if not isinstance(token, str) or not token:
            raise SourceError(f"{source}: the token endpoint answered without an access token")
        return token

    def forget(self) -> None:
        """Drop the cached token (the API refused it): the next call exchanges a new one."""
        self.credentials.token = None

    def _refresh(self, source: str) -> None:
        with requests.Session() as session:
            try:
                self.credentials.refresh(_Request(session))
            except RefreshError as exc:
                raise SourceError(
                    f"{source}: token exchange refused for {self.account}: {_reason(exc)}"
                ) from exc
            except TransportError as exc:
                raise SourceError(f"{source}: cannot reach the token endpoint") from exc
            except (GoogleAuthError, ValueError) as exc:
                raise SourceError(f"{source}: token exchange failed: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The first line of google-auth's message, short (it may quote the endpoint's body)."""
    text = str(exc.args[0] if exc.args else exc)
    return " ".join(text.split())[:200] or type(exc).__name__
