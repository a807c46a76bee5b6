"""Stack Exchange: the brand's public comment on a question, and the answers and comments
under it.

A reply is ``POST /2.3/posts/{id}/comments/add`` with ``body``, ``site``, the app ``key``
and an ``access_token`` with the ``write_access`` scope of the brand's account, named by
``reply_access_token_env`` (default ``STACKEXCHANGE_REPLY_ACCESS_TOKEN``; reads need no
token; not set, the source cannot reply and polls as before). Comments are 15 to 600
characters. Every refusal is an error wrapper (``error_id``, ``error_name``,
``error_message``; HTTP 400 as the API sends them): ``throttle_violation`` (502) says in its
message how many seconds to wait, 401-406 are the token or key, ``internal_error`` (500) may
have written the comment.

The thread of up to 30 questions is read in four calls: ``/questions/{ids}`` (a question
missing from the answer is deleted), ``/questions/{ids}/answers``, ``/posts/{ids}/comments``
for the questions and for their answers. Posts by ``brand_user_ids`` are the brand's; the
core also compares display names with the brand's handles. The daily quota is 10,000
requests with an app key and 300 without (api.stackexchange.com/docs/throttle), shared with
polling: four calls a round make it 2,500 (75) rounds a day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import StrictInt

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import get, json_body
from integrations.sources._options import SourceOptions, Text
from integrations.sources._refusals import write_credentials
from integrations.sources._replies import (
    empty,
    external_id,
    reply_body,
    send,
    thread_post,
    too_long,
)
from integrations.sources._text import html_to_text, parse_time, unescape
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

REPLY_TOKEN_VARIABLE = "STACKEXCHANGE_REPLY_ACCESS_TOKEN"
MIN_COMMENT, MAX_COMMENT = 15, 600
BATCH = 30  # questions per thread round (ids per call go up to 100)
CALLS_PER_ROUND = 4
#: How an API error says when to try again ("... available in 12 seconds").
WAIT_SAID = re.compile(r"available in (\d+) seconds")
_TOKEN_ERRORS = {401, 402, 403, 405, 406}


class StackExchangePublicOptions(SourceOptions):
    """The keys a Stack Exchange source reads to comment and to tell the brand's posts."""

    reply_access_token_env: Text | None = None  # default STACKEXCHANGE_REPLY_ACCESS_TOKEN
    brand_user_ids: tuple[StrictInt, ...] = ()  # the site's user ids of the brand's accounts


class StackExchangePublic:
    """``PublicThreads`` for ``StackExchangeSource`` (which sets ``reply_token``)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    site: str
    key: str | None
    env: Mapping[str, str]
    reply_token: str | None = None
    reply_missing: tuple[str, ...] = ()  # write variables to set (``triagebot sources``)
    options: Any
    clock: Callable[[], datetime]
    can_read_threads: ClassVar[bool] = True

    @property
    def thread_budget(self) -> ThreadBudget:
        daily = 10_000 if self.key else 300
        return ThreadBudget(daily // CALLS_PER_ROUND, 86_400.0, BATCH)

    def _init_public(self) -> None:
        """The write token; it needs the app key too (a variable that is not set only leaves
        the source unable to reply)."""
        variable = self.options.reply_access_token_env or REPLY_TOKEN_VARIABLE
        values, missing = write_credentials(self.env, [variable])
        self.reply_token = values.get(variable)
        key_variable = self.options.key_env or "STACKEXCHANGE_KEY"
        self.reply_missing = missing + (() if self.key else (key_variable,))

    @property
    def can_reply(self) -> bool:
        return bool(self.reply_token and self.key)

    def reply_problem(self, text: str) -> str | None:
        if problem := empty(text):
            return problem
        count = len(text.strip())
        if count < MIN_COMMENT:
            return (
                f"{count} characters: a Stack Exchange comment needs at least {MIN_COMMENT}; "
                f"add {MIN_COMMENT - count}"
            )
        return too_long(count, MAX_COMMENT)

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if not self.can_reply:
            missing = " and ".join(self.reply_missing)
            raise ReplyFailed(f"{self.name}: replies are not set up: set {missing}")
        post_id = external_id(self.name, mention)
        form = {
            "body": text,
            "site": self.site,
            "key": str(self.key),
            "access_token": str(self.reply_token),
            "preview": "false",
        }
        url = f"{self.base_url}/2.3/posts/{post_id}/comments/add"
        response = await send(http, self.name, "POST", url, data=form)
        body = reply_body(response)
        if response.status_code == 200 and "error_id" not in body:
            items = [i for i in map(as_dict, as_list(body.get("items"))) if i.get("comment_id")]
            if not items:
                raise ReplyFailed(f"{self.name}: the API answered without the comment")
            comment_id = str(items[0]["comment_id"])
            link = items[0].get("link")
            url = link if isinstance(link, str) else f"{mention.url}#comment{comment_id}_{post_id}"
            return SentReply(comment_id, url)
        raise self._refusal(body, response.status_code)

    def _refusal(self, body: dict[str, Any], status: int) -> Exception:
        error_id = body.get("error_id")
        name = str(body.get("error_name") or f"HTTP {status}")
        message = " ".join(str(body.get("error_message") or "").split())[:200]
        said = f"{self.name}: {name}" + (f": {message}" if message else "")
        if error_id == 502 or status == 429:
            match = WAIT_SAID.search(message)
            wait = float(match.group(1)) if match else 60.0
            return ReplyFailed(said, retry_after=wait)
        if error_id in _TOKEN_ERRORS:
            variable = self.options.reply_access_token_env
            return ReplyFailed(f"{said} (renew the write_access token in {variable})")
        if error_id == 500:
            return ReplyUnknown(f"{said}; the comment may have been posted")
        return ReplyFailed(said)

    # --- threads ------------------------------------------------------------------------
    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        by_id = {external_id(self.name, m): m for m in mentions[:BATCH]}
        ids = [i for i in by_id if i.isdigit()]
        if not ids:
            return {}
        joined = ";".join(ids)
        questions = await self._items(http, f"/questions/{joined}")
        alive = {str(q.get("question_id")) for q in questions}
        answers = await self._items(http, f"/questions/{joined}/answers", withbody=True)
        comments = await self._items(http, f"/posts/{joined}/comments", withbody=True)
        question_of = {
            str(a["answer_id"]): str(a.get("question_id"))
            for a in answers
            if isinstance(a.get("answer_id"), int)
        }
        answer_ids = list(question_of)
        for start in range(0, len(answer_ids), 100):
            on_answers = ";".join(answer_ids[start : start + 100])
            comments += await self._items(http, f"/posts/{on_answers}/comments", withbody=True)
        posts: dict[str, list[ThreadPost]] = {i: [] for i in ids}
        brand = set(self.options.brand_user_ids)
        for answer in answers:
            question = str(answer.get("question_id"))
            if question in posts and str(answer.get("answer_id")) in question_of:
                posts[question].append(self._answer(answer, by_id[question], brand))
        for comment in comments:
            on = str(comment.get("post_id"))
            question = question_of.get(on, on)
            if question in posts:
                posts[question].append(self._comment(comment, by_id[question], brand))
        return {
            by_id[i].id: ThreadRead(posts=posts[i]) if i in alive else ThreadRead(gone="deleted")
            for i in ids
        }

    async def _items(
        self, http: httpx.AsyncClient, path: str, *, withbody: bool = False
    ) -> list[dict[str, Any]]:
        """The items of ``path``, oldest first, over up to ``max_pages`` pages of 100."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"site": self.site, "pagesize": 100, "sort": "creation"}
        params |= {"order": "asc"} | ({"filter": "withbody"} if withbody else {})
        if self.key:
            params["key"] = self.key
        url = f"{self.base_url}/2.3{path}"
        for page in range(1, self.options.max_pages + 1):
            now = self.clock()
            response = await get(
                http, self.name, url, params=params | {"page": page}, now=now, ok=(200, 400)
            )
            body = as_dict(json_body(response, self.name))
            if response.status_code == 400 or "error_id" in body:
                refused = self._refusal(body, response.status_code)
                wait = refused.retry_after if isinstance(refused, ReplyFailed) else None
                raise SourceError(str(refused), retry_after=wait)
            items += [i for i in map(as_dict, as_list(body.get("items"))) if i]
            if body.get("has_more") is not True or body.get("backoff"):
                break  # the rest of a long thread waits for the next round
        return items

    def _answer(self, item: dict[str, Any], mention: Mention, brand: set[int]) -> ThreadPost:
        answer_id = str(item.get("answer_id"))
        return self._post(
            answer_id,
            item,
            brand,
            url=f"{_origin(mention.url)}/a/{answer_id}",
            in_reply_to=str(item.get("question_id")),
        )

    def _comment(self, item: dict[str, Any], mention: Mention, brand: set[int]) -> ThreadPost:
        comment_id, post_id = str(item.get("comment_id")), str(item.get("post_id"))
        return self._post(
            comment_id,
            item,
            brand,
            url=f"{mention.url}#comment{comment_id}_{post_id}",
            in_reply_to=post_id,
        )

    def _post(
        self,
        post_id: str,
        item: dict[str, Any],
        brand: set[int],
        *,
        url: str,
        in_reply_to: str,
    ) -> ThreadPost:
        owner = as_dict(item.get("owner"))
        user_id = owner.get("user_id")
        name = unescape(str(owner.get("display_name") or ""))
        return thread_post(
            post_id,
            author=name or (str(user_id) if isinstance(user_id, int) else None),
            text=html_to_text(item.get("body")),
            created_at=parse_time(item.get("creation_date"), self.clock()),
            url=url,
            in_reply_to=in_reply_to,
            by_brand=isinstance(user_id, int) and user_id in brand,
            max_text=self.options.max_text,
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
