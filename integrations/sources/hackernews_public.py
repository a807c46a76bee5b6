"""Hacker News: no API can post, so staff answer on the site and mark the case answered; the
thread under a story or comment is read to see the brand's answer and follow-ups.

The thread is Algolia's ``GET /api/v1/items/<id>``: the item with its whole tree of
``children`` in one request (walked to a bounded depth and count). Deleted and dead items
drop out of Algolia's index, so when Algolia no longer has the item (404, or an item without
author) the official Firebase API says why: ``item/<id>.json`` with ``deleted`` or ``dead``
(or nothing at all) means the post is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import httpx
from pydantic import Field, StrictStr

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import get, json_body
from integrations.sources._options import SourceOptions
from integrations.sources._replies import CannotReply, read_each, thread_post
from integrations.sources._text import html_to_text, parse_time
from triagebot.actions.public import ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention

ITEM_URL = "https://news.ycombinator.com/item?id="
FIREBASE = "https://hacker-news.firebaseio.com/v0"
NO_WRITE_API = (
    "Hacker News has no API to post a reply: answer on news.ycombinator.com, "
    "then mark the case answered (with the link)"
)
#: hn.algolia.com/api: "10,000 API requests per hour" per IP; one request reads a thread.
THREAD_BUDGET = ThreadBudget(10_000, 3600.0, 1)
#: How much of a thread is read: levels of replies, and comments in all.
THREAD_DEPTH, THREAD_POSTS = 6, 500


class HackerNewsPublicOptions(SourceOptions):
    """Where the official item API is (a deleted item's state is read there)."""

    firebase_url: Annotated[StrictStr, Field(pattern=r"^https?://[^/\s]+")] = FIREBASE


class HackerNewsPublic(CannotReply):
    """``PublicThreads`` for ``HackerNewsSource``: threads only."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    options: Any
    clock: Callable[[], datetime]
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET
    reply_unsupported: ClassVar[str] = NO_WRITE_API

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        async def read(mention: Mention) -> ThreadRead | None:
            item_id = mention.id.removeprefix(f"{self.name}:")
            return await self._thread(http, item_id) if item_id.isdigit() else None

        return await read_each(mentions, read)

    async def _thread(self, http: httpx.AsyncClient, item_id: str) -> ThreadRead | None:
        now = self.clock()
        url = f"{self.base_url}/api/v1/items/{item_id}"
        response = await get(http, self.name, url, now=now, ok=(200, 404))
        item = as_dict(json_body(response, self.name)) if response.status_code == 200 else {}
        if not item.get("author"):
            return await self._why_gone(http, item_id, now)
        posts: list[ThreadPost] = []
        level = [(child, item_id) for child in as_list(item.get("children"))]
        for _ in range(THREAD_DEPTH):
            deeper: list[tuple[Any, str]] = []
            for child, parent in level:
                data = as_dict(child)
                child_id = data.get("id")
                if not isinstance(child_id, int) or len(posts) >= THREAD_POSTS:
                    continue
                deeper += [(c, str(child_id)) for c in as_list(data.get("children"))]
                if data.get("author") and data.get("text"):  # deleted children have neither
                    posts.append(self._post(data, parent, now))
            level = deeper
        return ThreadRead(posts=posts)

    async def _why_gone(
        self, http: httpx.AsyncClient, item_id: str, now: datetime
    ) -> ThreadRead | None:
        """The official API's word on an item Algolia no longer has; None: not known yet."""
        url = f"{self.options.firebase_url.rstrip('/')}/item/{item_id}.json"
        item = json_body(await get(http, self.name, url, now=now), self.name)
        if item is None:
            return ThreadRead(gone="deleted")
        item = as_dict(item)
        if item.get("deleted") is True:
            return ThreadRead(gone="deleted by its author")
        if item.get("dead") is True:
            return ThreadRead(gone="killed (flagged or removed by moderators)")
        return None  # still there, not indexed yet: read again later

    def _post(self, data: dict[str, Any], parent: str, now: datetime) -> ThreadPost:
        item_id = str(data["id"])
        return thread_post(
            item_id,
            author=str(data.get("author")),
            text=html_to_text(data.get("text")),
            created_at=parse_time(data.get("created_at_i") or data.get("created_at"), now),
            url=f"{ITEM_URL}{item_id}",
            in_reply_to=parent,
            max_text=self.options.max_text,
        )
