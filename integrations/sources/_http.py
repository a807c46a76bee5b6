"""HTTP for the source adapters: one GET with errors translated, JSON decoded, limits read.

Every failure becomes a ``SourceError`` naming the source and never the query string (keys
travel there). 429 and 5xx carry ``retry_after`` from ``Retry-After`` or from the source's own
rate-limit reset header, whose meaning differs by source: X and Bluesky send an epoch, Reddit
seconds to wait, Mastodon an ISO 8601 time (``ResetStyle``).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

import httpx

from triagebot.errors import SourceError

USER_AGENT = "triagebot/0.1 (brand mention monitor; +https://github.com/triagebot)"


class ResetStyle(Enum):
    EPOCH = "epoch"  # Unix seconds at which the window resets (X, Bluesky)
    SECONDS = "seconds"  # seconds until the window resets (Reddit)
    ISO = "iso"  # ISO 8601 time of the reset (Mastodon)


@dataclass(frozen=True)
class RateLimit:
    """Where a source reports its remaining quota and the reset."""

    remaining: str
    reset: str
    style: ResetStyle


def retry_after_header(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def reset_seconds(value: str | None, style: ResetStyle, now: datetime) -> float | None:
    """Seconds until a rate-limit window resets, from the source's reset header."""
    if not value:
        return None
    text = value.strip()
    try:
        if style is ResetStyle.SECONDS:
            return max(0.0, float(text))
        if style is ResetStyle.EPOCH:
            return max(0.0, float(text) - now.timestamp())
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def pause_for(
    response: httpx.Response,
    limit: RateLimit | None,
    now: datetime,
    every: float | None = None,
) -> float | None:
    """How long to wait after ``response``: Retry-After, or the reset when quota is spent.

    With ``every`` (the source's interval in seconds), a nearly spent window slows down
    before it runs out: the requests left are spread evenly until the reset, so with 2 left
    and a reset in 300 s the source waits 150 s, where its interval would have spent them
    at once. A spread no longer than the interval changes nothing."""
    wait = retry_after_header(response.headers.get("retry-after"), now)
    if wait is not None or limit is None:
        return wait
    remaining = _number(response.headers.get(limit.remaining) or "")
    reset = reset_seconds(response.headers.get(limit.reset), limit.style, now)
    if response.status_code == 429 or remaining == 0:
        return reset
    if every is None or remaining is None or reset is None or remaining < 0:
        return None
    spread = reset / remaining
    return spread if spread > every else None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


async def get(
    http: httpx.AsyncClient,
    source: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    limit: RateLimit | None = None,
    now: datetime,
    ok: tuple[int, ...] = (200,),
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """GET ``url`` (POST when ``body`` is given); statuses in ``ok`` (and 304) come back, the
    rest raise ``SourceError``."""
    where = httpx.URL(url).path
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        if body is None:
            response = await http.get(url, params=params, headers=sent)
        else:
            response = await http.post(url, params=params, headers=sent, json=body)
    except httpx.TimeoutException as exc:
        raise SourceError(f"{source}: timed out ({type(exc).__name__}) on {where}") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{source}: cannot reach {where}: {type(exc).__name__}") from exc
    status = response.status_code
    if status in ok or status == 304:
        return response
    wait = pause_for(response, limit, now)
    if status == 429 or status >= 500:
        raise SourceError(f"{source}: HTTP {status} on {where}", retry_after=wait)
    raise SourceError(f"{source}: HTTP {status} on {where}: {snippet(response)}", retry_after=wait)


def snippet(response: httpx.Response, size: int = 160) -> str:
    """The start of a response body, on one line, for error messages."""
    text = " ".join(body_text(response).split())
    return text[:size] or "(empty body)"


def body_text(response: httpx.Response) -> str:
    raw = response.content
    if raw[:2] == b"\x1f\x8b":  # gzip left in place by a proxy that dropped Content-Encoding
        with contextlib.suppress(OSError, EOFError, zlib.error):
            raw = gzip.decompress(raw)
    return raw.decode(response.encoding or "utf-8", errors="replace")


def json_body(response: httpx.Response, source: str) -> Any:
    """The decoded JSON body; malformed JSON is a ``SourceError``."""
    text = body_text(response)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SourceError(f"{source}: malformed JSON ({exc})") from exc
    except RecursionError:  # a hostile or broken API answer nested thousands of levels deep
        raise SourceError(f"{source}: malformed JSON (nested too deeply)") from None


def next_link(response: httpx.Response, rel: str) -> str | None:
    """The URL of the ``Link`` header entry with this ``rel``."""
    for part in response.headers.get_list("link", split_commas=True):
        match = re.match(r"\s*<([^>]+)>\s*;(.*)", part)
        if match and re.search(rf'rel="?{re.escape(rel)}"?', match.group(2)):
            return match.group(1)
    return None
