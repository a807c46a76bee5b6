"""Reddit: the brand's public reply to a post or comment, and the comment tree under it.

A reply is ``POST /api/comment`` (``api_type=json``, ``thing_id`` the post's or comment's
fullname ``t3_…``/``t1_…``, ``text``) on ``oauth.reddit.com`` with a token of the brand's
account (scope ``submit``): a script app's client id and secret (by default the read app's)
with the account's refresh token (``reply_refresh_token_env``) or its username and password
(``reply_username_env``, ``reply_password_env``). Reddit refuses many replies with HTTP 200
and ``json.errors`` (``RATELIMIT`` "you are doing that too much. try again in 5 minutes",
``TOO_OLD``, ``THREAD_LOCKED``, ``DELETED_COMMENT``…): read there, not from the status. A
comment is at most 10,000 characters. Reddit has no idempotency key: a reply is sent once.

The thread is ``/comments/<article>`` (with ``comment=<id>`` for a comment mention: the
subtree under it), walked to a bounded depth and count; a post or comment shown
``[deleted]``/``[removed]`` is gone. Anonymous sources read threads too (at Reddit's lower
anonymous limit) but cannot reply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import RateLimit, ResetStyle, json_body
from integrations.sources._options import Text
from integrations.sources._refusals import DEFAULT_PAUSE, platform_message, refusal
from integrations.sources._replies import empty, read_each, reply_body, send, thread_post, too_long
from integrations.sources._text import parse_time, tidy
from integrations.sources.reddit_oauth import (
    OAUTH_API,
    WEB_HOSTS,
    Grant,
    RedditAccess,
    RedditAccessOptions,
    user_agent,
)
from triagebot.actions.public import ReplyFailed, SentReply, ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

LIMIT = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.SECONDS)
MAX_COMMENT = 10_000
#: Reddit's Data API terms: 100 queries per minute per OAuth client id, 10 without OAuth
#: (support.reddithelp.com, "Data API Wiki"); ``/comments/<article>`` is one request a thread.
OAUTH_BUDGET = ThreadBudget(100, 60.0, 1)
ANONYMOUS_BUDGET = ThreadBudget(10, 60.0, 1)
#: How much of a comment tree is read: levels (Reddit's ``depth``) and comments in all.
THREAD_DEPTH, THREAD_COMMENTS = 6, 500
_GONE = {"[deleted]", "[removed]"}


class RedditPublicOptions(RedditAccessOptions):
    """The keys a reddit block reads to reply as the brand (its own grant, apart from the
    read one; the client id and secret default to the read app's)."""

    reply_client_id_env: Text | None = None
    reply_client_secret_env: Text | None = None
    reply_refresh_token_env: Text | None = None  # default REDDIT_REPLY_REFRESH_TOKEN
    reply_username_env: Text | None = None  # default REDDIT_REPLY_USERNAME
    reply_password_env: Text | None = None  # default REDDIT_REPLY_PASSWORD


def reddit_writer(
    name: str, options: RedditPublicOptions, env: Mapping[str, str], agent: str | None
) -> tuple[RedditAccess | None, tuple[str, ...]]:
    """The brand account's way to post, or None and the variables still to set."""
    client = options.reply_client_id_env or options.client_id_env or "REDDIT_CLIENT_ID"
    secret = options.reply_client_secret_env or options.client_secret_env or "REDDIT_CLIENT_SECRET"
    refresh = options.reply_refresh_token_env or "REDDIT_REPLY_REFRESH_TOKEN"
    user = options.reply_username_env or "REDDIT_REPLY_USERNAME"
    password = options.reply_password_env or "REDDIT_REPLY_PASSWORD"
    value = {v: env.get(v, "").strip() for v in (client, secret, refresh, user, password)}
    missing = [v for v in (client, secret) if not value[v]]
    if not value[refresh] and not (value[user] and value[password]):
        missing.append(refresh)  # or the username and password
    if missing:
        return None, tuple(missing)
    grant = Grant(
        value[client],
        value[secret],
        value[user] or None,
        value[password] or None,
        value[refresh] or None,
    )
    grant_vars = (refresh,) if grant.refresh_token else (user, password)
    agent = agent or user_agent(grant.username)
    writer = RedditAccess(name, agent, grant, options.token_url, (client, secret), grant_vars)
    return writer, ()


class RedditPublic:
    """``PublicThreads`` for ``RedditSource`` (which calls ``_init_public`` in its init)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    site: str
    env: Mapping[str, str]
    options: Any
    clock: Callable[[], datetime]
    access: RedditAccess
    can_read_threads: ClassVar[bool] = True
    reply_unsupported: ClassVar[str | None] = None
    reply_missing: tuple[str, ...] = ()
    writer: RedditAccess | None = None
    write_url: str = OAUTH_API

    def _init_public(self) -> None:
        agent = self.options.user_agent
        self.writer, self.reply_missing = reddit_writer(self.name, self.options, self.env, agent)
        host = (urlsplit(self.base_url).hostname or "").lower()
        if host not in WEB_HOSTS:  # the OAuth API, or a server standing in for it
            self.write_url = self.base_url

    @property
    def can_reply(self) -> bool:
        return self.writer is not None

    @property
    def thread_budget(self) -> ThreadBudget:
        return OAUTH_BUDGET if self.access.grant is not None else ANONYMOUS_BUDGET

    def reply_problem(self, text: str) -> str | None:
        return empty(text) or too_long(len(text), MAX_COMMENT)

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if self.writer is None:
            raise ReplyFailed(
                f"Reddit replies are not set up: set {' and '.join(self.reply_missing)}"
            )
        if problem := self.reply_problem(text):
            raise ReplyFailed(f"Reddit: {problem}")
        thing = str(mention.raw.get("name") or mention.id.removeprefix(f"{self.name}:"))
        if not thing.startswith(("t3_", "t1_")):
            raise ReplyFailed("Reddit: the post's fullname is unknown; reply on Reddit")
        form = {"api_type": "json", "thing_id": thing, "text": text}
        response = await self._post(http, f"{self.write_url}/api/comment", form)
        now = self.clock()
        if response.status_code != 200:
            hint = f"check {' and '.join(self.writer.grant_vars)} (the brand account's grant)"
            raise refusal(response, "Reddit", now=now, limit=LIMIT, token_hint=hint)
        answer = as_dict(reply_body(response).get("json"))
        errors = [as_list(e) for e in as_list(answer.get("errors"))]
        if errors:
            raise _refused(errors[0], answer, response)
        things = as_list(as_dict(answer.get("data")).get("things"))
        data = as_dict(as_dict(things[0]).get("data")) if things else {}
        name = str(data.get("name") or "")
        if not name.startswith("t1_"):
            raise ReplyFailed("Reddit answered without the new comment; see the thread")
        permalink = str(data.get("permalink") or "")
        return SentReply(name, f"{self.site}{permalink}" if permalink.startswith("/") else None)

    async def _post(
        self, http: httpx.AsyncClient, url: str, form: Mapping[str, str]
    ) -> httpx.Response:
        """The write with the brand account's token; a 401 (nothing posted) renews it once."""
        assert self.writer is not None
        for attempt in (1, 2):
            try:
                token = await self.writer.token(http, self.clock())
            except SourceError as exc:  # the token endpoint refused or failed: nothing posted
                raise ReplyFailed(f"Reddit: {exc}") from None
            headers = {"Authorization": f"bearer {token}"}
            if self.writer.user_agent:
                headers["User-Agent"] = self.writer.user_agent
            response = await send(http, self.name, "POST", url, headers=headers, data=form)
            if response.status_code != 401 or attempt == 2:
                return response
            self.writer._token = None
        raise AssertionError("unreachable")

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        async def read(mention: Mention) -> ThreadRead | None:
            name = str(mention.raw.get("name") or mention.id.removeprefix(f"{self.name}:"))
            article = name if name.startswith("t3_") else str(mention.raw.get("link_id") or "")
            if not article.startswith("t3_") or not name.startswith(("t1_", "t3_")):
                return None
            return await self._thread(http, name, article.removeprefix("t3_"))

        return await read_each(mentions, read)

    async def _thread(self, http: httpx.AsyncClient, name: str, article: str) -> ThreadRead | None:
        # newest first: a recent answer is among the comments sent, not behind a "more" stub
        params: dict[str, Any] = {
            "raw_json": 1,
            "limit": 100,
            "depth": THREAD_DEPTH,
            "sort": "new",
        }
        if name.startswith("t1_"):
            params["comment"] = name.removeprefix("t1_")
        now = self.clock()
        url = f"{self.base_url}/comments/{article}.json"
        response = await self.access.get(http, url, params=params, limit=LIMIT, now=now)
        body = json_body(response, self.name)
        if not isinstance(body, list) or len(body) < 2:
            raise SourceError(f"{self.name}: unexpected answer from /comments/{article}")
        post = as_dict(as_dict(_children(body[0])[0] if _children(body[0]) else {}).get("data"))
        comments = _children(body[1])
        if name.startswith("t3_"):
            focal, below = post, comments
        else:
            top = [
                as_dict(c) for c in comments if as_dict(as_dict(c).get("data")).get("name") == name
            ]
            if not top:
                return None  # not in the answer: tried again later
            focal = as_dict(top[0].get("data"))
            below = _children(focal.get("replies"))
        if why := _gone(focal):
            return ThreadRead(gone=why)
        posts: list[ThreadPost] = []
        level = below
        for _ in range(THREAD_DEPTH):
            deeper: list[Any] = []
            for child in map(as_dict, level):
                data = as_dict(child.get("data"))
                if child.get("kind") != "t1" or len(posts) >= THREAD_COMMENTS:
                    continue  # "more" stubs are not followed
                deeper += _children(data.get("replies"))
                if _gone(data) is None and str(data.get("name", "")).startswith("t1_"):
                    posts.append(self._post_of(data, now))
            level = deeper
        return ThreadRead(posts=posts)

    def _post_of(self, data: dict[str, Any], now: datetime) -> ThreadPost:
        author = str(data.get("author") or "")
        permalink = str(data.get("permalink") or "")
        parent = data.get("parent_id")
        return thread_post(
            str(data["name"]),
            author=None if author in _GONE else author,
            text=tidy(str(data.get("body") or "")),
            created_at=parse_time(data.get("created_utc"), now),
            url=f"{self.site}{permalink}" if permalink.startswith("/") else None,
            in_reply_to=parent if isinstance(parent, str) else None,
            max_text=self.options.max_text,
        )


def _children(listing: object) -> list[Any]:
    return as_list(as_dict(as_dict(listing).get("data")).get("children"))


def _gone(item: Mapping[str, Any]) -> str | None:
    """How a post or comment is gone: removed by moderators, deleted by its author, or None."""
    if item.get("removed_by_category"):
        return f"removed ({str(item['removed_by_category'])[:40]})"
    name = str(item.get("name", ""))
    text = item.get("body") if name.startswith("t1_") else item.get("selftext")
    shown = text.strip() if isinstance(text, str) else ""
    if shown == "[removed]":
        return "removed by moderators"
    if shown == "[deleted]" or item.get("author") == "[deleted]":
        return "deleted by its author"
    return None


def _refused(error: list[Any], answer: Mapping[str, Any], response: httpx.Response) -> ReplyFailed:
    """A refusal Reddit sent with HTTP 200 in ``json.errors`` (``[code, message, field]``)."""
    code = str(error[0]) if error else "ERROR"
    message = " ".join(str(error[1]).split())[:200] if len(error) > 1 else ""
    if code == "RATELIMIT":
        told = answer.get("ratelimit")
        wait = float(told) if isinstance(told, int | float) else _wait_in_words(message)
        return ReplyFailed(
            f"Reddit asks to wait before commenting again: {message}",
            retry_after=wait if wait is not None else DEFAULT_PAUSE,
        )
    said = message or platform_message(response)
    return ReplyFailed(f"Reddit refused the reply ({code}){': ' + said if said else ''}")


def _wait_in_words(message: str) -> float | None:
    """Seconds from "try again in 5 minutes" / "in 30 seconds" (plain string scan)."""
    words = message.lower().replace(".", " ").split()
    for number, unit in pairwise(words):
        if number.isdigit() and unit.startswith(("minute", "second", "hour")):
            scale = (
                60.0 if unit.startswith("minute") else 3600.0 if unit.startswith("hour") else 1.0
            )
            return float(number) * scale
    return None
