"""A loopback forum that takes public replies and shows threads, and the source that talks to it.

The demo's stand-in for a platform's write and thread APIs (``triagebot demo`` runs with no
accounts), and the tests' loopback peer. ``DemoForum`` is an aiohttp server on 127.0.0.1
checking what a real write API checks: the bearer token (401), the required fields (400), the
length limit (422), an idempotency key (a repeated key returns the first reply, never posts
again), and failures queued on purpose (``fail(429, retry_after=30)``, ``fail(500)``,
``fail(403)``, ``hang()``: a request that is never answered). It records every POST
(``requests``) and every reply it published (``posts``). ``GET /api/threads/{post id}`` shows
the replies under a post (404 for a post its author deleted, ``delete``); ``say`` adds
someone else's reply (a brand account on the platform, or the customer's follow-up).

``ForumSource`` implements ``triagebot.actions.public.PublicThreads`` over it with httpx,
sorting failures as the contract says (4xx: ``ReplyFailed``; 5xx, timeouts:
``ReplyUnknown``). Run the forum on the caller's loop (``await forum.start()``) or on a thread
of its own (``start_in_thread()``).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web

from triagebot.actions.public import ReplyFailed, ReplyUnknown, SentReply, ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention

TOKEN = "forum-write-token"
LIMIT = 280
BRAND = "northwind"


@dataclass
class Published:
    """One post in the forum's threads."""

    id: str
    parent: str  # the customer's post it answers
    author: str
    text: str
    created_at: datetime
    key: str | None = None

    @property
    def url(self) -> str:
        return f"https://forum.example/p/{self.id}"


@dataclass
class DemoForum:
    """The forum's write and thread API; see the module's docstring."""

    token: str = TOKEN
    limit: int = LIMIT
    brand: str = BRAND
    requests: list[dict[str, Any]] = field(default_factory=list)  # every POST, answered or not
    posts: list[Published] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    url: str = ""
    _failures: list[tuple[int, float | None]] = field(default_factory=list)
    _hang: int = 0
    _release: asyncio.Event | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9001))
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/replies", self._reply)
        app.router.add_get("/api/threads/{post}", self._thread_of)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    def _released(self) -> asyncio.Event:
        if self._release is None:
            self._release = asyncio.Event()
        return self._release

    async def stop(self) -> None:
        self._released().set()
        if self._runner is not None:
            await self._runner.cleanup()

    def start_in_thread(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True, name="fake-forum")
        self._thread.start()
        ready.wait(10)
        return self.url

    def stop_thread(self) -> None:
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            loop.close()

    # --- what happens on the platform -------------------------------------------------------
    def fail(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next ``times`` replies are answered with ``status`` (nothing is published,
        except for a 5xx after which the reply *is* published: the worst case)."""
        self._failures.extend([(status, retry_after)] * times)

    def hang(self, times: int = 1) -> None:
        """The next ``times`` replies are published but never answered (a timeout)."""
        self._hang += times

    def say(self, parent: str, author: str, text: str) -> Published:
        """Someone else's post under ``parent`` (a brand account, or the customer)."""
        post = Published(str(next(self._ids)), parent, author, text, datetime.now(UTC))
        self.posts.append(post)
        return post

    def delete(self, parent: str) -> None:
        self.deleted.add(parent)

    def replies_to(self, parent: str) -> list[Published]:
        return [p for p in self.posts if p.parent == parent]

    # --- handlers ----------------------------------------------------------------------------
    async def _reply(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.requests.append({"headers": dict(request.headers), "body": body})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if not isinstance(body, dict):
            return web.json_response({"error": "a JSON object is required"}, status=400)
        parent, text = body.get("in_reply_to"), body.get("text")
        if not isinstance(parent, str) or not parent or not isinstance(text, str) or not text:
            return web.json_response({"error": "in_reply_to and text are required"}, status=400)
        if len(text) > self.limit:
            return web.json_response({"error": f"text over {self.limit} characters"}, status=422)
        if parent in self.deleted:
            return web.json_response({"error": "the post was deleted"}, status=404)
        key = request.headers.get("Idempotency-Key")
        earlier = next((p for p in self.posts if key and p.key == key), None)
        if earlier is not None:
            return web.json_response({"id": earlier.id, "url": earlier.url})
        if self._failures:
            status, retry = self._failures.pop(0)
            if status >= 500:
                self._publish(parent, text, key)
            headers = {"Retry-After": str(int(retry))} if retry is not None else {}
            return web.json_response({"error": f"HTTP {status}"}, status=status, headers=headers)
        post = self._publish(parent, text, key)
        if self._hang:
            self._hang -= 1
            await self._released().wait()  # until the forum stops
        return web.json_response({"id": post.id, "url": post.url}, status=201)

    def _publish(self, parent: str, text: str, key: str | None) -> Published:
        post = Published(str(next(self._ids)), parent, self.brand, text, datetime.now(UTC), key)
        self.posts.append(post)
        return post

    async def _thread_of(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        parent = request.match_info["post"]
        if parent in self.deleted:
            return web.json_response({"error": "deleted by its author"}, status=404)
        posts = [
            {"id": p.id, "author": p.author, "text": p.text, "url": p.url,
             "created_at": p.created_at.isoformat(), "in_reply_to": p.parent}
            for p in self.replies_to(parent)
        ]  # fmt: skip
        return web.json_response({"posts": posts})


@dataclass
class ForumSource:
    """``PublicThreads`` over a ``DemoForum``; a mention's external id is its post id."""

    base_url: str
    name: str = "x"
    token: str | None = TOKEN
    limit: int = LIMIT
    can_read_threads: bool = True
    thread_budget: ThreadBudget = field(default_factory=lambda: ThreadBudget(60, 60.0, 1))

    @property
    def can_reply(self) -> bool:
        return self.token is not None

    def reply_problem(self, text: str) -> str | None:
        if len(text) > self.limit:
            over = len(text) - self.limit
            return f"{len(text):,} of {self.limit:,} characters: shorten by {over:,}"
        return None

    @staticmethod
    def post_id(mention: Mention) -> str:
        return mention.id.split(":", 1)[1]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        body = {"in_reply_to": self.post_id(mention), "text": text}
        headers = {**self._auth(), "Idempotency-Key": key}
        try:
            response = await http.post(f"{self.base_url}/api/replies", json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            why = f"{self.name}: cannot reach the forum ({type(exc).__name__})"
            raise ReplyFailed(why) from exc
        except httpx.HTTPError as exc:
            raise ReplyUnknown(f"{self.name}: no answer in time ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise ReplyUnknown(f"{self.name}: HTTP {response.status_code}")
        if response.status_code == 429:
            retry = float(response.headers.get("Retry-After", "60"))
            raise ReplyFailed(f"{self.name}: rate limited (HTTP 429)", retry_after=retry)
        if response.status_code >= 400:
            error = str(response.json().get("error", ""))[:200]
            raise ReplyFailed(f"{self.name}: HTTP {response.status_code}: {error}")
        data = response.json()
        return SentReply(str(data["id"]), data.get("url"))

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        found: dict[str, ThreadRead] = {}
        for mention in mentions:
            url = f"{self.base_url}/api/threads/{self.post_id(mention)}"
            response = await http.get(url, headers=self._auth())
            if response.status_code == 404:
                found[mention.id] = ThreadRead(gone="deleted by its author")
                continue
            if response.status_code != 200:
                continue
            posts = [
                ThreadPost(
                    p["id"],
                    p["author"],
                    p["text"],
                    datetime.fromisoformat(p["created_at"]),
                    p["url"],
                    p["in_reply_to"],
                )
                for p in response.json()["posts"]
            ]
            found[mention.id] = ThreadRead(posts)
        return found
