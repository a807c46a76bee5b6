"""What the sources that answer in public share (``triagebot.actions.public``).

``send`` makes one write request and sorts its failures the way the core needs them: a
request that never reached the platform (no connection, no free connection) is
``ReplyFailed`` (nothing was posted, it may be sent again); a timeout after the request left,
a dropped connection or a 5xx is ``ReplyUnknown`` (it may have been posted: the core reads the
thread instead of sending again). ``thread_post`` builds a ``ThreadPost`` under the same caps
as a mention: text cut and links capped, the author one short line, the link http(s) only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from integrations.sources._http import USER_AGENT, retry_after_header
from triagebot.actions.public import ReplyFailed, ReplyUnknown, SentReply, ThreadRead, ThreadReads
from triagebot.cases.answers import ThreadPost
from triagebot.cases.caps import MAX_HANDLE, MAX_TEXT, MAX_URL, cap_field, cap_text
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Mention
from triagebot.errors import SourceError


async def send(
    http: httpx.AsyncClient,
    source: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> httpx.Response:
    """One write request (with the client's timeouts); a 5xx answer is ``ReplyUnknown``, any
    other answer is returned."""
    where = httpx.URL(url).path
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        response = await http.request(
            method,
            url,
            headers=sent,
            json=json,
            data=data,
            params=params,
        )
    except (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
    ) as exc:  # the request never reached the platform
        raise ReplyFailed(
            f"{source}: cannot reach {where} ({type(exc).__name__}); nothing was posted"
        ) from exc
    except httpx.TimeoutException as exc:
        raise ReplyUnknown(
            f"{source}: no answer from {where} in time ({type(exc).__name__}); "
            "the reply may have been posted"
        ) from exc
    except httpx.HTTPError as exc:
        raise ReplyUnknown(
            f"{source}: connection lost on {where} ({type(exc).__name__}); "
            "the reply may have been posted"
        ) from exc
    if response.status_code >= 500:
        raise ReplyUnknown(
            f"{source}: HTTP {response.status_code} on {where}; the reply may have been posted"
        )
    return response


class CannotReply:
    """The reply half of ``PublicThreads`` for a platform no API can post to (Hacker News,
    feeds): ``reply_unsupported`` tells staff where to answer instead, and ``triagebot
    sources`` shows it."""

    reply_unsupported: ClassVar[str]
    can_reply: ClassVar[bool] = False
    reply_missing: ClassVar[tuple[str, ...]] = ()

    def reply_problem(self, text: str) -> str | None:
        return self.reply_unsupported

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        raise ReplyFailed(self.reply_unsupported)


def retry_after(response: httpx.Response, now: datetime) -> float | None:
    """``Retry-After`` of the answer, in seconds (None when absent)."""
    return retry_after_header(response.headers.get("retry-after"), now)


def reply_body(response: httpx.Response) -> dict[str, Any]:
    """A write answer's JSON object; empty when the body is not one (an HTML error page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def too_long(count: int, limit: int, unit: str = "characters") -> str | None:
    """The length rule in words (``412 of 350 characters: shorten by 62``), or None."""
    if count <= limit:
        return None
    return f"{count:,} of {limit:,} {unit}: shorten by {count - limit:,}"


def empty(text: str) -> str | None:
    return "the reply is empty" if not text.strip() else None


def external_id(source: str, mention: Mention) -> str:
    """The platform's id of the mention (its id without the ``<source>:`` prefix)."""
    return mention.id.removeprefix(f"{source}:")


async def read_each(
    mentions: Sequence[Mention], read: Callable[[Mention], Awaitable[ThreadRead | None]]
) -> dict[str, ThreadRead]:
    """Each mention's thread by mention id, read one after the other (``read`` gives None for
    a mention it cannot read). A ``SourceError`` ends the round with the threads read so far,
    as ``ThreadReads`` carrying the wait the platform asked for (throttled or down: the rest
    waits); on the first read it is raised."""
    found: dict[str, ThreadRead] = {}
    for mention in mentions:
        try:
            thread = await read(mention)
        except SourceError as error:
            if found:
                return ThreadReads(found, error.retry_after)
            raise
        if thread is not None:
            found[mention.id] = thread
    return found


def thread_post(
    post_id: str,
    *,
    author: str | None,
    text: str,
    created_at: datetime,
    url: object = None,
    in_reply_to: str | None = None,
    by_brand: bool = False,
    max_text: int = MAX_TEXT,
) -> ThreadPost:
    """A post of a customer's thread, capped like a mention: text, author, an http(s) link."""
    link = safe_http_url(url)
    at = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
    return ThreadPost(
        id=post_id,
        author=cap_field(author, MAX_HANDLE) or "unknown",
        text=cap_text(text, max_text),
        created_at=at.astimezone(UTC),
        url=link if link is not None and len(link) <= MAX_URL else None,
        in_reply_to=in_reply_to,
        by_brand=by_brand,
    )
