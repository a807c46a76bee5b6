"""A loopback HTTP server that answers source requests with recorded responses.

Routes match on the path and a subset of the query (parameters compared as a set, the host
ignored), the most specific route first; a route can answer a limited number of times, so a
test can script "429, then 200". A route's answer can also be a function of the request (to
check a signature or a header as the real API does). Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


Responder = Callable[[Seen], Reply]


@dataclass
class _Route:
    path: str
    query: dict[str, str]
    reply: Reply | Responder
    times: int | None


def fixture_reply(folder: str, name: str, **override: object) -> Reply:
    """A recorded body with its sidecar status and headers (content-encoding dropped)."""
    path = FIXTURES / folder / name
    sidecar = path.with_name(path.stem + ".headers.json")
    status, headers = 200, {"content-type": "application/json; charset=utf-8"}
    if sidecar.exists():
        data = json.loads(sidecar.read_text())
        status = data.get("status", 200)
        headers = {k: v for k, v in data["headers"].items() if k != "content-encoding"}
    reply = Reply(path.read_bytes(), status, headers)
    for key, value in override.items():
        setattr(reply, key, value)
    return reply


def json_reply(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        json.dumps(data).encode(), status, {"content-type": "application/json", **(headers or {})}
    )


class FakeServer:
    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def add(
        self, path: str, reply: Reply | Responder, times: int | None = None, **query: object
    ) -> None:
        self.routes.append(_Route(path, {k: str(v) for k, v in query.items()}, reply, times))

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        seen = Seen(
            request.method, request.path, query, dict(request.headers), await request.read()
        )
        self.requests.append(seen)
        candidates = [
            r
            for r in self.routes
            if r.path == request.path
            and all(query.get(k) == v for k, v in r.query.items())
            and (r.times is None or r.times > 0)
        ]
        if not candidates:
            return web.Response(status=404, text=f"no route for {request.path_qs}")
        route = max(candidates, key=lambda r: len(r.query))
        if route.times is not None:
            route.times -= 1
        reply = route.reply if isinstance(route.reply, Reply) else route.reply(seen)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = dict(reply.headers)
        content_type = headers.pop("content-type", "application/octet-stream")
        response = web.Response(body=reply.body, status=reply.status, headers=headers)
        response.headers["Content-Type"] = content_type
        return response

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
