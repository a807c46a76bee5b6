"""Mastodon: the brand's public reply to a status, and the statuses under it.

A reply is ``POST /api/v1/statuses`` with ``status`` and ``in_reply_to_id`` on the brand
account's instance (``reply_instance_url``, default the polled one; on another instance the
customer's status is first found there by its uri, ``/api/v2/search`` with ``resolve``), with
a token of that account (scope ``write:statuses``, in the variable named by
``reply_token_env``) and the reply's key as ``Idempotency-Key``: Mastodon keeps the status
posted under a key for an hour and answers the same one to a second request with that key,
so after a 5xx or a lost answer the reply is sent once more with the same key, never with a
new one. As Mastodon clients do, the reply
starts with the customer's ``@acct`` unless the text already mentions them (else they are not
notified and a followers-only or direct post cannot be answered). The length limit is the
instance's (``/api/v2/instance``: ``configuration.statuses.max_characters``, default 500,
links counted as ``characters_reserved_per_url``), read once and kept; ``reply_problem_for``
checks the text as it will be posted (with the ``@acct``) against it before anything is
recorded.

The thread is ``GET /api/v1/statuses/:id/context`` (``descendants``); 404 means the status is
gone (deleted, or no longer visible to us).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

import httpx
import lxml.etree
import lxml.html
from pydantic import Field, StrictStr

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import RateLimit, ResetStyle, get, json_body
from integrations.sources._lengths import X_LINK, mastodon_length
from integrations.sources._options import SourceOptions, Text
from integrations.sources._refusals import refusal, write_credentials
from integrations.sources._replies import empty, read_each, reply_body, send, thread_post, too_long
from integrations.sources._text import html_to_text, join, parse_time, tidy
from triagebot.actions.public import (
    ReplyFailed,
    ReplyUnknown,
    SentReply,
    ThreadBudget,
    ThreadRead,
)
from triagebot.cases.answers import ThreadPost
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

LIMIT = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.ISO)
REPLY_VARIABLE = "MASTODON_REPLY_TOKEN"
DEFAULT_MAX_CHARACTERS = 500
#: Mastodon's default limits (docs.joinmastodon.org/api/rate-limits): 300 requests per
#: 5 minutes per account or per IP address; ``/api/v1/statuses/:id/context`` is one request
#: per status.
THREAD_BUDGET = ThreadBudget(300, 300.0, 1)


class MastodonPublicOptions(SourceOptions):
    """The keys a Mastodon source reads to reply as the brand."""

    reply_token_env: Text | None = None  # write:statuses token; default MASTODON_REPLY_TOKEN
    #: The brand account's own instance when it is not the polled one (default: base_url).
    reply_instance_url: Annotated[StrictStr, Field(pattern=r"^https?://[^/\s]+")] | None = None


class MastodonPublic:
    """``PublicThreads`` for ``MastodonSource`` (which calls ``_init_public`` in its init)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    instance: str
    token: str | None  # the read token, when set
    env: Mapping[str, str]
    options: Any
    clock: Callable[[], datetime]
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET
    reply_unsupported: ClassVar[str | None] = None
    reply_token: str | None = None
    reply_missing: tuple[str, ...] = ()
    max_characters: int = DEFAULT_MAX_CHARACTERS
    link_length: int = X_LINK
    _limits_read: bool = False

    def _init_public(self) -> None:
        self.reply_base = (self.options.reply_instance_url or self.base_url).rstrip("/")
        self.reply_host = urlsplit(self.reply_base).hostname or ""
        variable = self.options.reply_token_env or REPLY_VARIABLE
        values, self.reply_missing = write_credentials(self.env, [variable])
        self.reply_token = values.get(variable)
        self._reply_variable = variable

    @property
    def can_reply(self) -> bool:
        return self.reply_token is not None

    def reply_problem(self, text: str) -> str | None:
        """The instance's limit (500 until ``/api/v2/instance`` was read) on the text as sent:
        with the ``@acct`` prefix when it is added."""
        if problem := empty(text):
            return problem
        return too_long(mastodon_length(text, self.link_length), self.max_characters)

    async def reply_problem_for(
        self, http: httpx.AsyncClient, mention: Mention, text: str
    ) -> str | None:
        """``reply_problem`` under the instance's own limit (read now if not yet) on the text
        as posted, with the customer's ``@acct`` when it is put before it."""
        await self._read_limits(http)
        status = self.status_text(mention, text)
        problem = self.reply_problem(status)
        if problem and status != text:
            prefix = status[: len(status) - len(text)].strip()
            return f"{problem} (counting “{prefix}”, put before the reply to notify them)"
        return problem

    def status_text(self, mention: Mention, text: str) -> str:
        """``text`` as posted: prefixed with the customer's ``@acct`` unless it mentions them."""
        acct = _acct(mention, self.instance, self.reply_host)
        if not acct:
            return text
        user = acct.split("@", 1)[0]
        words = {w.rstrip(".,:;!?").casefold() for w in text.split()}
        if f"@{acct}".casefold() in words or f"@{user}".casefold() in words:
            return text
        return f"@{acct} {text}"

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if self.reply_token is None:
            raise ReplyFailed(f"Mastodon replies are not set up: set {self._reply_variable}")
        status_id = await self._target(http, mention)
        await self._read_limits(http)
        status = self.status_text(mention, text)
        if problem := self.reply_problem(status):
            raise ReplyFailed(f"Mastodon: {problem}")
        headers = {"Authorization": f"Bearer {self.reply_token}", "Idempotency-Key": key}
        body = {"status": status, "in_reply_to_id": status_id}
        url = f"{self.reply_base}/api/v1/statuses"
        try:
            response = await send(http, self.name, "POST", url, headers=headers, json=body)
        except ReplyUnknown as doubt:  # the same key again: Mastodon answers the status posted
            response = await self._again(http, url, headers, body, doubt)
        if response.status_code != 200:
            hint = f"reconnect the brand account (a new token in {self._reply_variable})"
            raise refusal(response, "Mastodon", now=self.clock(), limit=LIMIT, token_hint=hint)
        posted = reply_body(response)
        new_id = posted.get("id")
        if not isinstance(new_id, str) or not new_id:
            raise ReplyFailed("Mastodon answered without the new status's id; see the thread")
        link = safe_http_url(posted.get("url")) or safe_http_url(posted.get("uri"))
        return SentReply(str(posted.get("uri") or new_id), link)

    async def _target(self, http: httpx.AsyncClient, mention: Mention) -> str:
        """The customer's status id on the brand's instance: the polled one's own id, or the
        status found there by its uri (``/api/v2/search`` with ``resolve``)."""
        if self.reply_base == self.base_url:
            status_id = _local_id(mention.raw)
            if status_id is None:
                raise ReplyFailed("Mastodon: the status's id is unknown; reply on Mastodon")
            return status_id
        uri = mention.id.removeprefix(f"{self.name}:")
        params = {"q": uri, "type": "statuses", "resolve": "true", "limit": 1}
        headers = {"Authorization": f"Bearer {self.reply_token}"}
        url = f"{self.reply_base}/api/v2/search"
        try:
            response = await get(
                http, self.name, url, params=params, headers=headers, limit=LIMIT, now=self.clock()
            )
            statuses = as_list(as_dict(json_body(response, self.name)).get("statuses"))
        except SourceError as exc:
            raise ReplyFailed(
                f"Mastodon: cannot look the post up on {self.reply_host}: {exc}"
            ) from None
        found = as_dict(statuses[0]).get("id") if statuses else None
        if not isinstance(found, str) or not found:
            raise ReplyFailed(f"Mastodon: {self.reply_host} cannot find the post; reply there")
        return found

    async def _again(
        self,
        http: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any],
        doubt: ReplyUnknown,
    ) -> httpx.Response:
        """The one retry under the same key: only a 200 settles it, anything else leaves the
        first attempt in doubt (it may have posted)."""
        try:
            response = await send(http, self.name, "POST", url, headers=headers, json=body)
        except (ReplyFailed, ReplyUnknown):
            raise doubt from None
        if response.status_code != 200:
            raise doubt
        return response

    async def _read_limits(self, http: httpx.AsyncClient) -> None:
        """The instance's status length and link weight, read once (a failure keeps 500,
        Mastodon's own default: stricter than a larger limit, never looser)."""
        if self._limits_read:
            return
        self._limits_read = True
        try:
            response = await get(
                http, self.name, f"{self.reply_base}/api/v2/instance", now=self.clock()
            )
            body = as_dict(json_body(response, self.name))
        except SourceError:
            return
        statuses = as_dict(as_dict(body.get("configuration")).get("statuses"))
        most = statuses.get("max_characters")
        if isinstance(most, int) and not isinstance(most, bool) and most > 0:
            self.max_characters = most
        per_url = statuses.get("characters_reserved_per_url")
        if isinstance(per_url, int) and not isinstance(per_url, bool) and per_url > 0:
            self.link_length = per_url

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        if self.can_reply:  # the instance's length limit, for reply_problem, read once
            await self._read_limits(http)

        async def read(mention: Mention) -> ThreadRead | None:
            status_id = _local_id(mention.raw)
            if status_id is None:
                return None
            return await self._thread(http, status_id, mention.id.removeprefix(f"{self.name}:"))

        return await read_each(mentions, read)

    async def _thread(self, http: httpx.AsyncClient, status_id: str, own: str) -> ThreadRead:
        """The statuses under ``status_id`` (whose uri, the mention's id, is ``own``)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        now = self.clock()
        response = await get(
            http,
            self.name,
            f"{self.base_url}/api/v1/statuses/{status_id}/context",
            headers=headers,
            limit=LIMIT,
            now=now,
            ok=(200, 404),
        )
        if response.status_code == 404:
            return ThreadRead(gone="deleted (Mastodon no longer shows it)")
        context = as_dict(json_body(response, self.name))
        statuses = [
            s
            for s in map(
                as_dict, as_list(context.get("ancestors")) + as_list(context.get("descendants"))
            )
            if isinstance(s.get("id"), str)
        ]
        uris = {str(s["id"]): str(s.get("uri") or s.get("url") or s["id"]) for s in statuses}
        uris[status_id] = own
        descendants = [s for s in map(as_dict, as_list(context.get("descendants"))) if s.get("id")]
        return ThreadRead(posts=[self._post(s, uris, now) for s in descendants])

    def _post(self, status: dict[str, Any], uris: Mapping[str, str], now: datetime) -> ThreadPost:
        account = as_dict(status.get("account"))
        acct = str(account.get("acct") or account.get("username") or "")
        if acct and "@" not in acct and self.instance:
            acct = f"{acct}@{self.instance}"
        parent = status.get("in_reply_to_id")
        content = links_spelled_out(str(status.get("content") or ""))
        text = join(tidy(str(status.get("spoiler_text") or "")), html_to_text(content))
        return thread_post(
            str(status.get("uri") or status["id"]),
            author=acct or None,
            text=text,
            created_at=parse_time(status.get("created_at"), now),
            url=status.get("url") or status.get("uri"),
            in_reply_to=uris.get(str(parent)) if isinstance(parent, str) else None,
            max_text=self.options.max_text,
        )


def links_spelled_out(markup: str) -> str:
    """Status HTML with each link's text replaced by its address: Mastodon shows a link cut
    short (``northwind.com/help/ref…``, the rest in hidden spans), and a post must read as it
    was typed to be recognised as the reply sent. Mentions, hashtags and links that are not
    http(s) keep their text."""
    if "<a" not in markup:
        return markup
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return markup
    for anchor in root.iter("a"):
        classes = str(anchor.get("class") or "").split()
        href = safe_http_url(anchor.get("href"))
        if href is None or "mention" in classes or "hashtag" in classes:
            continue
        for child in list(anchor):
            anchor.remove(child)
        anchor.text = href
    return str(lxml.html.tostring(root, encoding="unicode"))


def _local_id(raw: Mapping[str, Any]) -> str | None:
    """The status's id on the configured instance (a boost stands for its original)."""
    original = as_dict(raw.get("reblog")) or raw
    value = original.get("id")
    return value if isinstance(value, str) and value.isdigit() else None


def _acct(mention: Mention, polled: str, home: str) -> str:
    """The customer's account as the brand's instance (``home``) names it: ``user`` for its
    own accounts, ``user@domain`` for the others (``polled`` names its own ``user``)."""
    original = as_dict(mention.raw.get("reblog")) or mention.raw
    acct = as_dict(original.get("account")).get("acct")
    if not isinstance(acct, str) or not acct.strip():
        acct = mention.author.handle if mention.author.handle != "unknown" else ""
    acct = acct.strip().lstrip("@")
    if acct and "@" not in acct and polled:
        acct = f"{acct}@{polled}"
    if home and acct.casefold().endswith(f"@{home}".casefold()):
        acct = acct[: -len(home) - 1]
    return acct if acct and " " not in acct else ""
