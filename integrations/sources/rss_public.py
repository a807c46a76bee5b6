"""Feeds (RSS, Atom, Google Alerts) neither reply nor show a thread: staff answer where the
post is and mark the case answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import httpx

from integrations.sources._replies import CannotReply
from triagebot.actions.public import ThreadBudget, ThreadRead
from triagebot.cases.records import Mention

NO_WRITE_API = (
    "a feed has no way to reply: answer on the page the post links to, "
    "then mark the case answered (with the link)"
)


class RssPublic(CannotReply):
    """``PublicThreads`` for ``RssSource``: neither replies nor threads."""

    can_read_threads: ClassVar[bool] = False
    thread_budget: ClassVar[ThreadBudget] = ThreadBudget(1, 3600.0, 1)  # never read
    reply_unsupported: ClassVar[str] = NO_WRITE_API

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        return {}
