"""Discourse: the brand's public reply to a forum post, and the posts that follow it.

A reply is ``POST /posts.json`` with ``topic_id``, ``raw`` and ``reply_to_post_number``, as
the forum user ``reply_username`` with the key in ``reply_api_key_env`` (default
``DISCOURSE_REPLY_API_KEY``; ``Api-Key`` and ``Api-Username`` headers; a key apart from the
read one, scoped to ``posts:create`` or a user key of the brand's account; a variable that is
not set only leaves the source unable to reply). A refused reply answers
``{"errors": [...]}`` (422: too short, too similar to a recent post, topic closed; 403: the
user may not post there); a throttled one 429 with ``Retry-After`` and
``extras.wait_seconds``. Discourse has no idempotency key: a reply is sent once and a doubtful
one is settled by reading the thread.

The thread is ``GET /t/{topic_id}/posts.json?post_number={n-1}&asc=true``: the customer's
post ``n`` and the (up to 20) posts after it. Posts by ``reply_username`` or one of
``brand_usernames`` are the brand's. The customer's post missing from the answer (deleted
by staff), deleted by its author, or its topic gone (404) makes the thread ``gone``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import get, json_body, retry_after_header
from integrations.sources._options import Positive, SourceOptions, Text
from integrations.sources._refusals import write_credentials
from integrations.sources._replies import (
    empty,
    external_id,
    read_each,
    reply_body,
    retry_after,
    send,
    thread_post,
    too_long,
)
from integrations.sources._text import html_to_text, parse_time
from triagebot.actions.public import ReplyFailed, SentReply, ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention
from triagebot.errors import ConfigError, SourceError

REPLY_KEY_VARIABLE = "DISCOURSE_REPLY_API_KEY"
#: Discourse's own default of ``max_post_length`` and ``min_post_length`` (site settings).
MAX_POST_LENGTH = 32_000
MIN_POST_LENGTH = 20
#: Discourse's global per-IP limit (``DISCOURSE_MAX_REQS_PER_IP_PER_MINUTE``, default 200 a
#: minute; meta.discourse.org/t/global-rate-limits-and-throttling-in-discourse/78612); an
#: admin API key's own limit is 60 a minute, the lower one is the budget.
THREAD_BUDGET = ThreadBudget(60, 60.0, 1)
_GONE_WORDS = ("(post deleted by author)", "(post withdrawn by author", "(post deleted by")


class DiscoursePublicOptions(SourceOptions):
    """The keys a Discourse source reads to reply and to tell the brand's posts."""

    reply_api_key_env: Text | None = None  # default DISCOURSE_REPLY_API_KEY
    reply_username: Text | None = None  # the forum account the replies are posted as
    brand_usernames: tuple[Text, ...] = ()  # more forum accounts of the brand
    max_post_length: Positive = MAX_POST_LENGTH  # the forum's site setting
    min_post_length: Positive = MIN_POST_LENGTH


class DiscoursePublic:
    """``PublicThreads`` for ``DiscourseSource`` (which sets ``reply_key`` in its init)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    options: Any
    clock: Callable[[], datetime]
    api_key: str | None  # the read key, when the forum is private
    env: Mapping[str, str]
    reply_key: str | None = None
    reply_missing: tuple[str, ...] = ()  # write variables to set (``triagebot sources``)
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET

    def _init_public(self) -> None:
        """The write key (a variable that is not set only leaves the source unable to reply);
        a key named in the block needs the forum account it posts as."""
        named = self.options.reply_api_key_env
        variable = named or REPLY_KEY_VARIABLE
        values, self.reply_missing = write_credentials(self.env, [variable])
        self.reply_key = values.get(variable)
        if named and not self.options.reply_username:
            raise ConfigError(
                f"sources ({self.name}).reply_username: the forum account replies are posted "
                "as is required with reply_api_key_env"
            )

    @property
    def can_reply(self) -> bool:
        return bool(self.reply_key and self.options.reply_username)

    def reply_problem(self, text: str) -> str | None:
        if problem := empty(text):
            return problem
        count = len(text.strip())
        if count < self.options.min_post_length:
            return (
                f"{count} characters: this forum needs at least "
                f"{self.options.min_post_length}; add {self.options.min_post_length - count}"
            )
        return too_long(count, self.options.max_post_length)

    def _write_headers(self) -> dict[str, str]:
        if not self.can_reply:
            missing = " and ".join(self.reply_missing) or "reply_username"
            raise ReplyFailed(f"{self.name}: replies are not set up: set {missing}")
        return {
            "Api-Key": str(self.reply_key),
            "Api-Username": str(self.options.reply_username),
            "Accept": "application/json",
        }

    def post_refusal(self, mention: Mention) -> str | None:
        """A post whose topic and number the poller did not keep cannot be replied to."""
        topic_id, number = _place(mention.raw)
        return _no_topic(self.name) if topic_id is None or number is None else None

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        headers = self._write_headers()
        topic_id, number = _place(mention.raw)
        if topic_id is None or number is None:
            raise ReplyFailed(_no_topic(self.name))
        body = {"topic_id": topic_id, "raw": text, "reply_to_post_number": number}
        response = await send(
            http, self.name, "POST", f"{self.base_url}/posts.json", headers=headers, json=body
        )
        answer = reply_body(response)
        if response.status_code == 200:
            post_id = answer.get("id")
            if not _is_id(post_id):
                raise ReplyFailed(f"{self.name}: the forum answered without a post id")
            slug = answer.get("topic_slug")
            path = f"{slug}/" if isinstance(slug, str) and slug.isascii() and slug else ""
            reply_number = answer.get("post_number")
            url = f"{self.base_url}/t/{path}{topic_id}/{reply_number}"
            return SentReply(str(post_id), url if _is_id(reply_number) else None)
        said = " ".join(str(e) for e in as_list(answer.get("errors")))[:200]
        status = response.status_code
        if status == 429:
            wait = retry_after(response, self.clock())
            extras = as_dict(answer.get("extras"))
            if wait is None and isinstance(extras.get("wait_seconds"), int | float):
                wait = max(0.0, float(extras["wait_seconds"]))
            raise ReplyFailed(
                f"{self.name}: the forum asks to wait before posting again", retry_after=wait
            )
        if status in (401, 403):
            raise ReplyFailed(
                f"{self.name}: the forum refused the key or user {self.options.reply_username}"
                f" (HTTP {status}){': ' + said if said else ''}"
            )
        if status == 404:
            raise ReplyFailed(f"{self.name}: the topic is gone (HTTP 404)")
        raise ReplyFailed(f"{self.name}: the forum refused the reply (HTTP {status}): {said}")

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        async def read(mention: Mention) -> ThreadRead | None:
            topic_id, number = _place(mention.raw)
            if topic_id is None or number is None:
                return None
            return await self._thread(http, mention, topic_id, number)

        return await read_each(mentions, read)

    async def _thread(
        self, http: httpx.AsyncClient, mention: Mention, topic_id: int, number: int
    ) -> ThreadRead:
        url = f"{self.base_url}/t/{topic_id}/posts.json"
        params = {"post_number": number - 1, "asc": "true"}
        headers = {"Accept": "application/json"}
        if self.api_key:  # a private forum: the read key, as polling reads it
            headers |= {"Api-Key": self.api_key, "Api-Username": self.options.api_username}
        now = self.clock()
        response = await get(
            http, self.name, url, params=params, headers=headers, now=now, ok=(200, 403, 404, 429)
        )
        if response.status_code == 404:
            return ThreadRead(gone="deleted (its topic is gone)")
        if response.status_code != 200:
            wait = retry_after_header(response.headers.get("retry-after"), now)
            raise SourceError(
                f"{self.name}: HTTP {response.status_code} on /t/{topic_id}/posts.json",
                retry_after=wait,
            )
        stream = as_dict(as_dict(json_body(response, self.name)).get("post_stream"))
        posts = [p for p in map(as_dict, as_list(stream.get("posts"))) if _is_id(p.get("id"))]
        own = external_id(self.name, mention)
        mine = [p for p in posts if str(p["id"]) == own or p.get("post_number") == number]
        if not mine:
            return ThreadRead(gone="deleted")
        if why := _deleted(mine[0]):
            return ThreadRead(gone=why)
        names = (self.options.reply_username, *self.options.brand_usernames)
        brand = {u.casefold() for u in names if u}
        ids = {p.get("post_number"): str(p["id"]) for p in posts}
        later = [
            p
            for p in posts
            if _number(p.get("post_number")) > number
            and p.get("post_type", 1) == 1
            and not _deleted(p)
        ]
        return ThreadRead(posts=[self._post(p, topic_id, brand, ids, now) for p in later])

    def _post(
        self,
        post: dict[str, Any],
        topic_id: int,
        brand: set[str],
        ids: Mapping[Any, str],
        now: datetime,
    ) -> ThreadPost:
        username = str(post.get("username") or "")
        reply_to = post.get("reply_to_post_number")
        slug = post.get("topic_slug")
        path = f"{slug}/" if isinstance(slug, str) and slug.isascii() and slug else ""
        return thread_post(
            str(post["id"]),
            author=username,
            text=html_to_text(post.get("cooked")),
            created_at=parse_time(post.get("created_at"), now),
            url=f"{self.base_url}/t/{path}{topic_id}/{post.get('post_number')}",
            in_reply_to=ids.get(reply_to) if _is_id(reply_to) else None,
            by_brand=username.casefold() in brand,
            max_text=self.options.max_text,
        )


def _no_topic(source: str) -> str:
    return f"{source}: the post's topic is unknown; reply on the forum"


def _place(raw: Mapping[str, Any]) -> tuple[int | None, int | None]:
    topic_id, number = raw.get("topic_id"), raw.get("post_number")
    return (topic_id if _is_id(topic_id) else None, number if _is_id(number) else None)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: object) -> int:
    return value if isinstance(value, int) and _is_id(value) else 0


def _deleted(post: Mapping[str, Any]) -> str | None:
    if post.get("deleted_at") or post.get("user_deleted") is True:
        return "deleted by its author" if post.get("user_deleted") is True else "deleted"
    text = html_to_text(post.get("cooked")).casefold()
    if any(text.startswith(words) for words in _GONE_WORDS):
        return "deleted by its author"
    return None
