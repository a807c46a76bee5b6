"""Google Play: the developer's public reply to a review, and what the review shows since.

A reply is ``POST .../applications/{package}/reviews/{reviewId}:reply`` with ``replyText``
(at most 350 characters, plain text), sent with a service account of its own
(``reply_service_account_json_env``, default ``GOOGLE_PLAY_REPLY_SERVICE_ACCOUNT_JSON``: the
key of an account given "Reply to reviews" in the Play Console; it may name the same
variable as the read key; not set, the source cannot reply and polls as before). A review
has one developer reply and a new one replaces it, so a reply whose fate is unknown (a 5xx, a
timeout) is sent once more: the second cannot make a second public post. Quotas (per app):
2,000 replies a day, 200 GET requests an hour for ``reviews.list`` and ``reviews.get``
together (support.google.com/googleplay/android-developer/contact/review_apiqr).

The thread is the review as ``reviews.list`` (one call: the 100 reviews changed last, within
the last week) or, for an older one, ``reviews.get`` shows it: its ``developerComment`` is the
brand's answer (``by_brand``); a ``userComment`` changed after the developer's answer is the
customer's follow-up (Play has no replies to replies: the reviewer edits the review). A
review that is not found (404) or has lost its text is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import httpx

from integrations.sources._base import as_dict, as_list
from integrations.sources._google_auth import ServiceAccountToken
from integrations.sources._http import get, json_body
from integrations.sources._options import SourceOptions, Text
from integrations.sources._replies import (
    empty,
    external_id,
    reply_body,
    retry_after,
    send,
    thread_post,
    too_long,
)
from integrations.sources._text import tidy
from triagebot.actions.public import (
    ReplyFailed,
    ReplyUnknown,
    SentReply,
    ThreadBudget,
    ThreadRead,
)
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

#: ``replyText``: "The reply text. The maximum length is 350 characters" (reviews.reply).
MAX_REPLY = 350
#: Reviews read one by one (``reviews.get``) in a round, after the one ``reviews.list`` call.
GETS_PER_ROUND = 3
#: 200 GET requests an hour per app for reviews.list and reviews.get together (see above); a
#: round is one list call (100 reviews) and at most ``GETS_PER_ROUND`` get calls.
THREAD_BUDGET = ThreadBudget(200 // (1 + GETS_PER_ROUND), 3600.0, 100)
_READ_OK = (200, 400, 401, 403, 404, 429)


class GooglePlayPublicOptions(SourceOptions):
    """The key a Google Play source reads to reply."""

    reply_service_account_json_env: Text | None = None  # GOOGLE_PLAY_REPLY_SERVICE_ACCOUNT_JSON


class GooglePlayPublic:
    """``PublicThreads`` for ``GooglePlaySource`` (which sets ``reply_token``)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    package: str
    options: Any
    clock: Callable[[], datetime]
    token: ServiceAccountToken  # the read key's token
    reply_token: ServiceAccountToken | None
    reply_missing: tuple[str, ...] = ()  # write variables to set (``triagebot sources``)
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET

    @property
    def can_reply(self) -> bool:
        return self.reply_token is not None

    def reply_problem(self, text: str) -> str | None:
        return empty(text) or too_long(len(text), MAX_REPLY)

    def _review_url(self, review_id: str) -> str:
        package = quote(self.package, safe="")
        return (
            f"{self.base_url}/androidpublisher/v3/applications/{package}/reviews/"
            f"{quote(review_id, safe='')}"
        )

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if self.reply_token is None:
            missing = " and ".join(self.reply_missing)
            raise ReplyFailed(f"{self.name}: replies are not set up: set {missing}")
        review_id = external_id(self.name, mention)
        uncertain: ReplyUnknown | None = None  # an earlier attempt that may have posted
        renewed = False
        for _ in range(3):
            try:
                response = await self._send_reply(http, review_id, text)
                if response.status_code == 401 and not renewed:
                    renewed = True
                    self.reply_token.forget()  # expired early: exchange a new token once
                    continue
                return self._sent(response, review_id, mention)
            except ReplyUnknown as exc:
                if uncertain is not None:
                    raise
                uncertain = exc  # a reply replaces the previous one: once more is safe
            except ReplyFailed:
                if uncertain is not None:
                    raise uncertain from None  # the first attempt may still have posted
                raise
        raise uncertain or ReplyFailed(f"{self.name}: the reply key was refused (HTTP 401)")

    async def _send_reply(
        self, http: httpx.AsyncClient, review_id: str, text: str
    ) -> httpx.Response:
        assert self.reply_token is not None
        try:
            bearer = await self.reply_token.bearer(http, self.name)
        except SourceError as exc:  # the token exchange failed: nothing was sent to Play
            raise ReplyFailed(str(exc)) from exc
        return await send(
            http,
            self.name,
            "POST",
            f"{self._review_url(review_id)}:reply",
            headers={"Authorization": f"Bearer {bearer}"},
            json={"replyText": text},
        )

    def _sent(self, response: httpx.Response, review_id: str, mention: Mention) -> SentReply:
        status = response.status_code
        if status == 200:
            return SentReply(f"{review_id}:developer", mention.url)
        body = reply_body(response)
        said = _said(status, body)
        if status == 429:
            wait = retry_after(response, self.clock())
            raise ReplyFailed(f"{self.name}: reply quota spent ({said})", retry_after=wait)
        if status in (401, 403):
            raise ReplyFailed(
                f"{self.name}: {said} (does the reply service account have "
                "'Reply to reviews' in the Play Console?)"
            )
        if status == 404:
            raise ReplyFailed(f"{self.name}: the review is gone ({said})")
        raise ReplyFailed(f"{self.name}: Google Play refused the reply ({said})")

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        """One ``reviews.list`` call reads every review changed in the last week (with its
        developer reply); up to ``GETS_PER_ROUND`` older ones are read with ``reviews.get``,
        the rest in later rounds."""
        recent = await self._recent(http)
        found: dict[str, ThreadRead] = {}
        gets = 0
        for mention in mentions:
            review_id = external_id(self.name, mention)
            if review_id in recent:
                found[mention.id] = self._read(review_id, recent[review_id], mention, self.clock())
                continue
            if gets >= GETS_PER_ROUND:
                continue  # not read this round
            gets += 1
            try:
                found[mention.id] = await self._thread(http, mention)
            except SourceError:
                if not found:
                    raise
                break  # the quota or the service: the rest waits for the next round
        return found

    async def _recent(self, http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        """The reviews of the first ``reviews.list`` page (the 100 changed last), by id."""
        url = self._review_url("").rstrip("/")
        response, now = await self._read_get(http, url, {"maxResults": 100})
        body = as_dict(json_body(response, self.name))
        if response.status_code != 200:
            wait = retry_after(response, now) if response.status_code == 429 else None
            raise SourceError(f"{self.name}: {_said(response.status_code, body)}", retry_after=wait)
        reviews = map(as_dict, as_list(body.get("reviews")))
        return {r["reviewId"]: r for r in reviews if isinstance(r.get("reviewId"), str)}

    async def _read_get(
        self, http: httpx.AsyncClient, url: str, params: dict[str, Any] | None = None
    ) -> tuple[httpx.Response, datetime]:
        """A GET with the read token (renewed once when refused with 401)."""
        for attempt in (1, 2):
            bearer = await self.token.bearer(http, self.name)
            now = self.clock()
            headers = {"Authorization": f"Bearer {bearer}"}
            response = await get(
                http, self.name, url, params=params, headers=headers, now=now, ok=_READ_OK
            )
            if response.status_code != 401 or attempt == 2:
                return response, now
            self.token.forget()
        raise AssertionError("unreachable")

    async def _thread(self, http: httpx.AsyncClient, mention: Mention) -> ThreadRead:
        review_id = external_id(self.name, mention)
        response, now = await self._read_get(http, self._review_url(review_id))
        status = response.status_code
        if status == 404:
            return ThreadRead(gone="deleted")
        body = as_dict(json_body(response, self.name))
        if status != 200:
            wait = retry_after(response, now) if status == 429 else None
            raise SourceError(f"{self.name}: {_said(status, body)}", retry_after=wait)
        return self._read(review_id, body, mention, now)

    def _read(
        self, review_id: str, review: dict[str, Any], mention: Mention, now: datetime
    ) -> ThreadRead:
        user: dict[str, Any] = {}
        developer: dict[str, Any] = {}
        for comment in map(as_dict, as_list(review.get("comments"))):
            user = as_dict(comment.get("userComment")) or user
            developer = as_dict(comment.get("developerComment")) or developer
        text = user.get("text")
        if not isinstance(text, str) or not tidy(text):
            return ThreadRead(gone="removed (the review has no text any more)")
        posts: list[ThreadPost] = []
        answered = _stamp(developer.get("lastModified"))
        if answered is not None and isinstance(developer.get("text"), str):
            posts.append(
                thread_post(
                    f"{review_id}:developer",
                    author="developer",
                    text=tidy(developer["text"]),
                    created_at=answered,
                    url=mention.url,
                    in_reply_to=review_id,
                    by_brand=True,
                    max_text=self.options.max_text,
                )
            )
        edited = _stamp(user.get("lastModified"))
        if answered is not None and edited is not None and edited > answered:
            title, _, words = text.partition("\t") if "\t" in text else ("", "", text)
            posts.append(
                thread_post(
                    f"{review_id}:{int(edited.timestamp())}",
                    author=mention.author.handle,  # the reviewer, as the case knows them
                    text="\n".join(p for p in (tidy(title), tidy(words)) if p),
                    created_at=min(edited, now),
                    url=mention.url,
                    in_reply_to=f"{review_id}:developer",
                    max_text=self.options.max_text,
                )
            )
        return ThreadRead(posts=posts)


def _stamp(value: object) -> datetime | None:
    """A protobuf Timestamp (``{"seconds": "1710430000", "nanos": 0}``) as UTC, or None."""
    seconds = as_dict(value).get("seconds")
    try:
        number = float(seconds) if isinstance(seconds, str | int) else None
    except ValueError:
        return None
    if number is None or not 0 < number < 32503680000:
        return None
    nanos = as_dict(value).get("nanos")
    extra = nanos / 1e9 if isinstance(nanos, int) and 0 <= nanos < 10**9 else 0.0
    return datetime.fromtimestamp(number + extra, UTC)


def _said(status: int, body: dict[str, Any]) -> str:
    """Google's error answer in one line: ``HTTP 403 PERMISSION_DENIED: <message>``."""
    error = as_dict(body.get("error"))
    label = " ".join(p for p in (f"HTTP {status}", str(error.get("status") or "")[:40]) if p)
    message = " ".join(str(error.get("message") or "").split())[:200] or "no message"
    return f"{label}: {message}"
