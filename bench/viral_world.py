"""The world around ``triagebot serve`` in the viral-day benchmark (``bench.bench_viral``).

* ``Firehose``: Mastodon hashtag timelines on 127.0.0.1 (``/api/v1/timelines/tag/<tag>``, the
  API's ``limit`` capped at 40, ``min_id``/``max_id``/``since_id`` paging, ids as strings),
  where the mentions of the day appear at a steady rate from ``start()`` on;
* ``SlackWatch``: what the fake Slack answered, recorded as it happens (posts per channel and
  second, the cards and their buttons, every update of a card);
* ``Staff``: people who claim the newest card of their channels with a signed Slack click,
  then resolve it, each click timed until its effect reaches Slack (the card redrawn);
* ``probe``: a separate process asking ``/healthz`` at a steady pace, so its timings do not
  share an interpreter lock with the rest of the benchmark; beside serve it asks an idle
  control server (``control_server``, a process of its own) to show what the machine's load
  alone costs an answer.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.slack import Call
from tests.fakes.slack_requests import block_action, signed

PAGE_LIMIT = 40  # Mastodon's largest page of statuses
FIRST_ID = 10**15  # status ids as strings of one length (Mastodon orders them by length, then text)

#: Each department: (id, a phrase its rule matches, the channel's name).
DEPARTMENTS = [
    ("returns", "return label", "C0RETURNS"),
    ("billing", "invoice", "C0BILLING"),
    ("shipping", "tracking number", "C0SHIPPING"),
    ("accounts", "password reset", "C0ACCOUNTS"),
    ("sales", "bulk discount", "C0SALES"),
    ("press", "journalist", "C0PRESS"),
    ("product", "feature request", "C0PRODUCT"),
    ("stores", "opening hours", "C0STORES"),
]
COMPLAINTS = [
    "the recall notice says my jacket is affected and nobody answers the phone",
    "is the zipper recall real? my kid has this coat",
    "three days waiting for an answer about the recall",
    "your site is down again and I need help",
    "what is going on with the recall, seriously",
]


def iso_z(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Firehose:
    """``count`` posts about the brand appearing evenly over ``seconds`` on ``tags`` timelines."""

    def __init__(self, count: int, seconds: float, tags: list[str], channels: int) -> None:
        self.count, self.seconds, self.tags = count, seconds, tags
        rng = random.Random(21)
        self.department = [rng.randrange(channels) for _ in range(count)]
        #: Per tag, the post numbers it carries, ascending (post n is on tag n % len(tags)).
        self.numbers = {tag: list(range(t, count, len(tags))) for t, tag in enumerate(tags)}
        self.started: float | None = None  # wall-clock time of post 0
        self.requests = 0
        self.refused = 0

    def start(self) -> None:
        self.started = time.time()

    def arrived(self, at: float | None = None) -> int:
        """How many posts have appeared by wall-clock time ``at`` (now by default)."""
        if self.started is None:
            return 0
        elapsed = (time.time() if at is None else at) - self.started
        return max(0, min(self.count, int(elapsed / self.seconds * self.count) + 1))

    def arrival(self, n: int) -> float:
        assert self.started is not None
        return self.started + n * self.seconds / self.count

    def status(self, n: int, tag: str) -> dict[str, Any]:
        """Post ``n`` as Mastodon answers a status."""
        _, phrase, _ = DEPARTMENTS[self.department[n]]
        complaint = COMPLAINTS[n % len(COMPLAINTS)]
        text = f"@northwind {complaint}. Also my {phrase} question, order {n} #{tag}"
        uri = f"https://social.example/users/fan{n}/statuses/{FIRST_ID + n}"
        return {
            "id": str(FIRST_ID + n),
            "uri": uri,
            "url": f"https://social.example/@fan{n}/{FIRST_ID + n}",
            "created_at": iso_z(self.arrival(n)),
            "edited_at": None,
            "language": "en",
            "spoiler_text": "",
            "content": f"<p>{text}</p>",
            "reblog": None,
            "account": {
                "id": str(n),
                "username": f"fan{n}",
                "acct": f"fan{n}",
                "display_name": f"Fan {n}",
                "followers_count": n % 5000,
            },
        }

    async def timeline(self, request: web.Request) -> web.Response:
        """``GET /api/v1/timelines/tag/{tag}``: newest first, at most ``limit`` (≤ 40)."""
        self.requests += 1
        tag = request.match_info["tag"]
        query = request.query
        try:
            limit = min(PAGE_LIMIT, max(1, int(query.get("limit", "20"))))
            bounds = {
                k: int(query[k]) - FIRST_ID for k in ("min_id", "max_id", "since_id") if k in query
            }
        except ValueError:
            self.refused += 1
            return web.json_response({"error": "invalid id or limit"}, status=422)
        numbers = self.numbers.get(tag.lower())
        if numbers is None:
            return web.json_response([])
        upto = bisect.bisect_left(numbers, self.arrived())  # posts of this tag that appeared
        if "max_id" in bounds:
            upto = min(upto, bisect.bisect_left(numbers, bounds["max_id"]))
        if "min_id" in bounds:  # the page just after min_id (Mastodon's forward paging)
            first = bisect.bisect_right(numbers, bounds["min_id"])
            page = numbers[first : min(upto, first + limit)]
        else:
            floor = bisect.bisect_right(numbers, bounds["since_id"]) if "since_id" in bounds else 0
            page = numbers[max(floor, upto - limit) : upto]
        return web.json_response([self.status(n, tag) for n in reversed(page)])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/timelines/tag/{tag}", self.timeline)
        return app


@dataclass
class Card:
    """A case's message in a channel and the buttons it showed last."""

    channel: str
    ts: str
    case_id: str
    posted_at: float
    buttons: dict[str, str]
    taken: bool = False


def buttons_of(blocks: Any) -> dict[str, str]:
    """action_id -> value of every button of a message's blocks."""
    found: dict[str, str] = {}
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("value") is not None:
                    found[str(element.get("action_id"))] = str(element["value"])
    return found


@dataclass
class SlackWatch:
    """What the fake Slack answered, recorded on its thread, read by the benchmark's loop."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: list[tuple[float, str, bool]] = field(default_factory=list)  # (at, channel, top-level)
    cards: dict[str, list[Card]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[tuple[float, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    posted_cases: list[str] = field(default_factory=list)
    ephemeral: int = 0
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def observe(self, call: Call) -> None:
        ok = bool(call.response.get("ok"))
        if not ok:
            self.failed[f"{call.method}: {call.response.get('error')}"] += 1
            return
        args = call.args
        with self.lock:
            if call.method == "chat.postMessage":
                channel = str(args.get("channel"))
                top = not args.get("thread_ts")
                self.posts.append((call.at, channel, top))
                meta = (args.get("metadata") or {}).get("event_payload") or {}
                if top and "case_id" in meta:
                    case_id = str(meta["case_id"])
                    self.posted_cases.append(case_id)
                    ts = str(call.response["ts"])
                    card = Card(channel, ts, case_id, call.at, buttons_of(args.get("blocks")))
                    self.cards[channel].append(card)
            elif call.method == "chat.update":
                self.updates[str(args.get("ts"))].append((call.at, buttons_of(args.get("blocks"))))
            elif call.method == "chat.postEphemeral":
                self.ephemeral += 1

    def newest_open(self, channels: list[str], after: float) -> Card | None:
        """The newest card of ``channels`` posted after ``after`` that nobody took yet."""
        with self.lock:
            best: Card | None = None
            for channel in channels:
                for card in reversed(self.cards.get(channel, [])[-20:]):
                    if not card.taken and card.posted_at >= after and "case-claim" in card.buttons:
                        if best is None or card.posted_at > best.posted_at:
                            best = card
                        break
            if best is not None:
                best.taken = True
            return best

    def redrawn(self, ts: str, since: float, button: str) -> tuple[float, dict[str, str]] | None:
        """The first update of card ``ts`` after ``since`` that shows ``button``."""
        with self.lock:
            for at, buttons in self.updates.get(ts, []):
                if at >= since and button in buttons:
                    return at, buttons
        return None


@dataclass
class Timings:
    """Click timings (seconds), in the order measured."""

    claim_ack: list[float] = field(default_factory=list)
    claim_effect: list[float] = field(default_factory=list)
    resolve_effect: list[float] = field(default_factory=list)
    claim_at: list[float] = field(default_factory=list)  # monotonic time of each claim
    lost: int = 0  # clicks whose effect never reached Slack within the wait


class Staff:
    """``people`` staff members sharing the channels, each claiming and resolving in turn."""

    def __init__(
        self, watch: SlackWatch, url: str, channels: list[str], people: int, think: float
    ) -> None:
        self.watch, self.url, self.think = watch, url, think
        self.shares = [channels[p::people] or channels for p in range(people)]
        self.timings = Timings()
        self.stopping = False

    async def run(self) -> None:
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(
                *(self._person(session, n, share, started) for n, share in enumerate(self.shares))
            )

    async def _person(
        self, session: aiohttp.ClientSession, n: int, channels: list[str], started: float
    ) -> None:
        user = f"U0STAFF{n + 1}"
        await asyncio.sleep(self.think * n / max(1, len(self.shares)))  # not all at once
        while not self.stopping:
            card = self.watch.newest_open(channels, started)
            if card is None:
                await asyncio.sleep(0.5)
                continue
            claimed = await self._click(session, user, card, "case-claim", "case-resolve")
            if claimed is None:
                continue
            await asyncio.sleep(self.think)
            card.buttons = claimed
            if not self.stopping:
                await self._click(session, user, card, "case-resolve", "case-reopen")
            await asyncio.sleep(self.think / 2)

    async def _click(
        self, session: aiohttp.ClientSession, user: str, card: Card, action: str, shows: str
    ) -> dict[str, str] | None:
        """Press ``action`` on ``card``; the buttons of the card once it shows ``shows``."""
        body = block_action(
            action,
            card.buttons[action],
            user=user,
            channel=card.channel,
            message_ts=card.ts,
            response_url="http://127.0.0.1:9/unused",
        )
        sent = time.monotonic()
        try:
            async with session.post(self.url, data=body, headers=signed(body)) as response:
                await response.read()
                acked = time.monotonic() - sent
                if response.status != 200:
                    self.timings.lost += 1
                    return None
        except (aiohttp.ClientError, TimeoutError):
            self.timings.lost += 1
            return None
        deadline = sent + 60
        while time.monotonic() < deadline:
            seen = self.watch.redrawn(card.ts, sent, shows)
            if seen is not None:
                if action == "case-claim":
                    self.timings.claim_ack.append(acked)
                    self.timings.claim_effect.append(seen[0] - sent)
                    self.timings.claim_at.append(sent)
                else:
                    self.timings.resolve_effect.append(seen[0] - sent)
                return seen[1]
            await asyncio.sleep(0.01)
        self.timings.lost += 1
        return None


# --- the /healthz probe, a process of its own ------------------------------------------------
def control_server(port: int) -> None:
    """An aiohttp server answering ``/healthz`` from memory and doing nothing else: what the
    machine's load alone does to an answer (the probe asks it beside serve)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _ask(url: str) -> tuple[float, dict[str, Any] | None, str | None]:
    """Milliseconds to the whole answer, the answer, the error's name."""
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = json.loads(answer.read())
        return (time.monotonic() - sent) * 1000, body, None
    except (OSError, ValueError) as exc:
        return (time.monotonic() - sent) * 1000, None, type(exc).__name__


def probe(url: str, every: float, out: Path, control: str | None = None) -> None:
    """Ask ``url`` (and ``control``, right after) every ``every`` seconds until stdin closes;
    one JSON line per round."""
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    with out.open("w") as sink:
        next_at = time.monotonic()
        while not stop.is_set():
            row: dict[str, Any] = {"at": time.time()}
            row["ms"], body, error = _ask(url)
            if error is not None:
                row["error"] = error
            elif body is not None:
                row["active"] = body.get("active_cases")
                row["pending"] = body.get("pending_outbox")
                row["new"] = sum(int(s.get("total_new") or 0) for s in body.get("sources") or [])
            if control is not None:
                row["control_ms"], _, control_error = _ask(control)
                if control_error is not None:
                    row["control_error"] = control_error
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            next_at = max(next_at + every, time.monotonic())
            stop.wait(next_at - time.monotonic())
