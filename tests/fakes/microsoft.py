"""A stand-in for Microsoft's side of Bot Framework auth, on 127.0.0.1 in its own thread.

It serves OpenID metadata and a JWKS with a test RSA key (what inbound tokens are checked
against), a token endpoint in place of login.microsoftonline.com (what outbound calls get
their token from) and a minimal Bot Connector that records what the bot sends. It runs its
own event loop in a thread, so a client that blocked the test's loop could still be answered
and the blocking would show in the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TENANT = "11111111-2222-3333-4444-555555555555"
APP_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ISSUER = "https://api.botframework.com"
KEY_ID = "test-key"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeMicrosoft:
    """Start with ``start()``, stop with ``stop()``; ``base`` is ``http://127.0.0.1:PORT``."""

    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    token_delay: float = 0.0
    token_status: int = 200
    token_lifetime: int = 3600
    token_requests: list[dict[str, str]] = field(default_factory=list)
    connector_requests: list[dict[str, Any]] = field(default_factory=list)
    metadata_requests: int = 0
    base: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    # -- what tests use ------------------------------------------------------------------

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/openid/metadata"

    @property
    def login_url(self) -> str:
        return f"{self.base}/{TENANT}"

    @property
    def service_url(self) -> str:
        return f"{self.base}/connector/"

    def sign(
        self,
        *,
        audience: str = APP_ID,
        issuer: str = ISSUER,
        service_url: str | None = None,
        expires_in: int = 600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str = KEY_ID,
    ) -> str:
        """A Bot Framework channel token, as the Bot Connector would send it."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url if service_url is not None else self.service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + expires_in,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    # -- server ----------------------------------------------------------------------------

    def start(self) -> FakeMicrosoft:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-microsoft", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Microsoft server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        runner = self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/openid/metadata", self._metadata)
        app.router.add_get("/openid/keys", self._keys)
        app.router.add_post(f"/{TENANT}/oauth2/v2.0/token", self._token)
        app.router.add_post("/connector/v3/conversations/{conv}/activities", self._activity)
        app.router.add_post("/connector/v3/conversations/{conv}/activities/{aid}", self._activity)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base}/openid/keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=KEY_ID, use="sig", alg="RS256", endorsements=["msteams"])
        return web.json_response({"keys": [jwk]})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if self.token_status != 200:
            error = {"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}
            return web.json_response(error, status=self.token_status)
        number = len(self.token_requests)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "access_token": f"token-{number}",
        }
        return web.json_response(body)

    async def _activity(self, request: web.Request) -> web.Response:
        self.connector_requests.append(
            {
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "body": await request.json(),
            }
        )
        return web.json_response({"id": f"sent-{len(self.connector_requests)}"})
