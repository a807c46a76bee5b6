"""A fake Slack Web API served over HTTP on 127.0.0.1, reached through SLACK_API_URL.

It checks the bearer token, the required arguments, block structure and Slack's limits,
records every call, keeps the messages of each channel (with metadata, for
``conversations.history``), can rate-limit ``chat.postMessage`` per channel with 429 and
Retry-After, and serves ``response_url`` endpoints. It runs on the test's event loop
(``await fake.start()``) or on a thread of its own (``start_in_thread()``, for benchmarks).
A benchmark that runs for long passes ``keep_calls=False`` and an ``observer``: each call is
handed to it (on the fake's thread) instead of being kept.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

TOKEN = "xoxb-test-token"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
LIMITS = {"blocks": 50, "section_text": 3000, "action_id": 255, "block_id": 255,
          "button_value": 2000, "button_text": 75, "actions_elements": 25,
          "context_elements": 10, "header": 150, "text": 40_000}  # fmt: skip
_REQUIRED = {
    "chat.postMessage": ("channel",),
    "chat.update": ("channel", "ts"),
    "chat.postEphemeral": ("channel", "user"),
    "conversations.history": ("channel",),
}


@dataclass
class Call:
    """One request the fake received."""

    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


@dataclass
class FakeSlack:
    """The fake workspace: channels, messages, calls, limits and injected failures."""

    channels: set[str] = field(default_factory=set)
    not_in: set[str] = field(default_factory=set)  # channels that answer not_in_channel
    token: str = TOKEN
    rate_interval: float | None = None  # seconds between posts per channel; None: no limit
    rate_tolerance: float = 0.01
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)  # response_url POSTs
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # block validation failures
    rejected: int = 0  # answers with 429
    keep_calls: bool = True  # False: ``calls`` stays empty (a long benchmark)
    #: Methods whose next calls are carried out, then the connection is closed unanswered
    #: (a network failure after the request reached Slack): method -> how many more times.
    hang_ups: dict[str, int] = field(default_factory=dict)
    observer: Callable[[Call], None] | None = None  # sees every call, on the fake's thread
    #: The client address and port of every connection an API call came on.
    connections: set[Any] = field(default_factory=set)
    url: str = ""
    _last_post: dict[str, float] = field(default_factory=dict)
    _last_ts: int = 0
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response_url)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start_in_thread(self) -> str:
        """Serve from a thread with its own loop (the caller's loop stays free)."""
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True, name="fake-slack")
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

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, rid: str = "r1") -> str:
        return f"{self.url}/response/{rid}"

    # --- test helpers -------------------------------------------------------------------------
    def fail(self, method: str, error: str, status: int = 200, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``error``."""
        body = {"ok": False, "error": error}
        self.failures.setdefault(method, []).extend([(status, body)] * times)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.response.get("ok")]

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """Messages that start a conversation: no ``thread_ts`` (or null), or their own."""
        found = self.messages.get(channel, [])
        return [m for m in found if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        found = self.messages.get(channel, [])
        return [m for m in found if m.get("thread_ts") == ts and m["ts"] != ts]

    def find(self, channel: str, ts: str) -> dict[str, Any]:
        return next(m for m in self.messages.get(channel, []) if m["ts"] == ts)

    # --- handlers ----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))
        args = await _read_args(request)
        status, body = self._answer(method, args, request.headers.get("Authorization", ""))
        call = Call(method, args, status, body, time.monotonic())
        if self.keep_calls:
            self.calls.append(call)
        if self.observer is not None:
            self.observer(call)
        if self.hang_ups.get(method, 0) > 0:
            self.hang_ups[method] -= 1
            if request.transport is not None:
                request.transport.close()  # done, but the client never hears of it
            raise web.HTTPInternalServerError  # not sent: the connection is gone
        headers = {}
        if status == 429:
            headers["Retry-After"] = str(body.pop("retry_after"))
        return web.json_response(body, status=status, headers=headers)

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_rid"] = request.match_info["rid"]
        self.responses.append(body)
        return web.Response(text="ok")

    def _answer(self, method: str, args: dict[str, Any], auth: str) -> tuple[int, dict[str, Any]]:
        if not auth.startswith("Bearer "):
            return 200, {"ok": False, "error": "not_authed"}
        if auth.removeprefix("Bearer ") != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}
        queued = self.failures.get(method)
        if queued:
            status, body = queued.pop(0)
            return status, dict(body)
        missing = [name for name in _REQUIRED.get(method, ()) if not args.get(name)]
        if missing:
            return 200, {"ok": False, "error": f"missing_argument: {missing[0]}"}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}
        result: tuple[int, dict[str, Any]] = handler(args)
        return result

    def _auth_test(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": "T0TEST",
                     "team": "Test", "url": "https://test.slack.com/"}  # fmt: skip

    def _channel_error(self, channel: str) -> dict[str, Any] | None:
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.not_in:
            return {"ok": False, "error": "not_in_channel"}
        return None

    def _content_error(self, args: dict[str, Any]) -> dict[str, Any] | None:
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if len(str(args.get("text") or "")) > LIMITS["text"]:
            return {"ok": False, "error": "msg_too_long"}
        problems = check_blocks(args.get("blocks"))
        if problems:
            self.problems.extend(problems)
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        return None

    def _chat_postMessage(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = str(args["channel"])
        error = self._channel_error(channel) or self._content_error(args)
        if error:
            return 200, error
        now = time.monotonic()
        if self.rate_interval is not None and channel in self._last_post:
            wait = self._last_post[channel] + self.rate_interval - now
            if wait > self.rate_tolerance:
                self.rejected += 1
                return 429, {"ok": False, "error": "ratelimited", "retry_after": math.ceil(wait)}
        self._last_post[channel] = now
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "user": BOT_USER, "bot_id": BOT_ID,
                   "text": args.get("text") or "", "blocks": args.get("blocks") or []}  # fmt: skip
        for key in ("metadata", "thread_ts", "unfurl_links", "unfurl_media", "link_names"):
            if key in args:
                message[key] = args[key]
        self.messages.setdefault(channel, []).append(message)
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _next_ts(self) -> str:
        """A message ts like Slack's: wall-clock seconds with six digits, always increasing."""
        micros = max(int(time.time() * 1e6), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _chat_update(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel, ts = str(args["channel"]), str(args["ts"])
        error = self._channel_error(channel) or self._content_error(args)
        if error:
            return 200, error
        found = [m for m in self.messages.get(channel, []) if m["ts"] == ts]
        if not found:
            return 200, {"ok": False, "error": "message_not_found"}
        message = found[0]
        message["text"] = args.get("text") or ""
        if "blocks" in args:
            message["blocks"] = args["blocks"] or []
        if "metadata" in args:
            message["metadata"] = args["metadata"]
        message["edited"] = message.get("edited", 0) + 1
        return 200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        error = self._channel_error(str(args["channel"])) or self._content_error(args)
        if error:
            return 200, error
        return 200, {"ok": True, "message_ts": f"{time.time():.6f}"}

    def _conversations_history(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = str(args["channel"])
        error = self._channel_error(channel)
        if error:
            return 200, error
        oldest = float(args.get("oldest") or 0)
        limit = int(args.get("limit") or 100)
        start = int(args.get("cursor") or 0)
        with_meta = str(args.get("include_all_metadata")).lower() in ("1", "true")
        newest_first = [m for m in reversed(self.top_level(channel)) if float(m["ts"]) > oldest]
        page = newest_first[start : start + limit]
        out = [m if with_meta else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(newest_first)
        meta = {"next_cursor": str(start + limit) if more else ""}
        return 200, {"ok": True, "messages": out, "has_more": more, "response_metadata": meta}


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    raw = await request.text()
    if raw:
        if request.content_type == "application/json":
            args.update(json.loads(raw))
        else:
            args.update(dict(parse_qsl(raw, keep_blank_values=True)))
    for key in ("blocks", "metadata"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


def _text_len(obj: Any) -> int:
    return len(obj.get("text") or "") if isinstance(obj, dict) else 0


def check_blocks(blocks: Any) -> list[str]:
    """Block Kit structure and limit problems, one line each (empty: the blocks are fine)."""
    if blocks is None or blocks == []:
        return []
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    problems = []
    if len(blocks) > LIMITS["blocks"]:
        problems.append(f"{len(blocks)} blocks (limit 50)")
    for n, block in enumerate(blocks):
        problems += [f"blocks[{n}]: {p}" for p in _check_block(block)]
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        problems.append("block_id values must be unique within a message")
    return problems


def _check_block(block: Any) -> list[str]:
    if not isinstance(block, dict) or "type" not in block:
        return ["not a block"]
    problems = []
    if len(block.get("block_id") or "") > LIMITS["block_id"]:
        problems.append("block_id too long")
    kind = block["type"]
    if kind == "section":
        if _text_len(block.get("text")) > LIMITS["section_text"]:
            problems.append("section text over 3000 characters")
        if not block.get("text") and not block.get("fields"):
            problems.append("section without text or fields")
    elif kind == "context":
        if len(block.get("elements") or []) > LIMITS["context_elements"]:
            problems.append("context with more than 10 elements")
    elif kind == "header":
        if _text_len(block.get("text")) > LIMITS["header"]:
            problems.append("header over 150 characters")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= LIMITS["actions_elements"]:
            problems.append("actions needs 1 to 25 elements")
        for element in elements:
            problems += _check_element(element)
        ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(ids) != len(set(ids)):
            problems.append("action_id values must be unique within an actions block")
    elif kind not in ("divider", "image", "rich_text", "markdown"):
        problems.append(f"unknown block type {kind!r}")
    for obj in _text_objects(block):
        if obj.get("type") not in ("mrkdwn", "plain_text"):
            problems.append("text object without a valid type")
    return problems


def _check_element(element: dict[str, Any]) -> list[str]:
    problems = []
    if len(element.get("action_id") or "") > LIMITS["action_id"]:
        problems.append("action_id over 255 characters")
    if element.get("type") == "button":
        if len(element.get("value") or "") > LIMITS["button_value"]:
            problems.append("button value over 2000 characters")
        if _text_len(element.get("text")) > LIMITS["button_text"]:
            problems.append("button text over 75 characters")
        if (element.get("text") or {}).get("type") != "plain_text":
            problems.append("button text must be plain_text")
    if element.get("type") == "static_select":
        for option in element.get("options") or []:
            if len(option.get("value") or "") > 150:
                problems.append("option value over 150 characters")
    return problems


def _text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [block["text"]] if isinstance(block.get("text"), dict) else []
    found += [e for e in block.get("elements") or [] if e.get("type") in ("mrkdwn", "plain_text")]
    return found
