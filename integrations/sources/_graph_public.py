"""Facebook Pages and Instagram: the brand's public comment reply, and the comments under a
post, through the Graph API.

A reply is one ``POST`` of ``message`` (Facebook ``/{object-id}/comments``; Instagram
``/{ig-comment-id}/replies``) with a token of its own, named by ``reply_token_env`` (default
``FACEBOOK_REPLY_TOKEN``, ``INSTAGRAM_REPLY_TOKEN``): a Page access token with
``pages_manage_engagement`` (Facebook) or ``instagram_manage_comments`` (Instagram), so the
read token can stay read-only; not set, the source cannot reply and polls as before. Graph
refuses with HTTP 400/403 and an ``error`` object: codes 4/17/32/613/80001-80014 are
throttling (the wait comes from the usage headers' ``estimated_time_to_regain_access`` or
``Retry-After``), 190 a dead token (which variable to renew), 10 and 200-299 a missing
permission; a 5xx or a lost answer leaves the reply uncertain (Graph has no idempotency
key). The thread is the comments edge of the customer's post or comment; a comment by the
Page or the account itself is the brand's, and Graph's code 100 ("object does not exist") on
it means the post is gone.

Budget (developers.facebook.com/docs/graph-api/overview/rate-limiting): requests with a Page
token fall under the Business Use Case limits, 4,800 calls a day times the Page's engaged
users (Instagram: times its impressions); with one, 200 an hour, the floor declared here. A
read that finds a budget nearly spent (the usage headers, ``_graph.SLOW_FROM``) ends the
round; the rest waits for the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from integrations.sources._base import BaseSource
from integrations.sources._graph import (
    Graph,
    GraphError,
    GraphOptions,
    read_usage,
)
from integrations.sources._refusals import write_credentials
from integrations.sources._replies import empty, external_id, reply_body, send, too_long
from triagebot.actions.public import ReplyFailed, SentReply, ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

THREAD_BUDGET = ThreadBudget(200, 3600.0, 1)
_NOT_FOUND = 100
_THREAD_PAGES = 3  # pages of comments read per thread (newest 300 at 100 a page)


def reply_graph_for(
    source: BaseSource, token_default: str, secret_default: str
) -> tuple[Graph | None, tuple[str, ...]]:
    """The Graph client that writes replies, and the write variable to set when there is
    none (a variable that is not set never stops polling; the source just cannot reply)."""
    options = source.options
    assert isinstance(options, GraphOptions)
    variable = options.reply_token_env or token_default
    values, missing = write_credentials(source.env, [variable])
    if variable not in values:
        return None, missing
    secret = source.credential("app_secret_env", secret_default, required=False)
    base = f"{source.base_url}/{options.api_version}"
    return Graph(source.name, base, values[variable], variable, secret), ()


class GraphPublic:
    """``PublicThreads`` for a Graph source; Facebook and Instagram say where a reply goes,
    where the thread is, and how a comment reads."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    options: Any
    clock: Callable[[], datetime]
    graph: Graph
    reply_graph: Graph | None
    reply_missing: tuple[str, ...] = ()  # write variables to set (``triagebot sources``)
    max_reply: ClassVar[int]  # characters in one comment
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET

    # --- what each platform says ------------------------------------------------------------
    def reply_path(self, mention: Mention, target: str) -> str:
        """The edge a reply to ``mention`` is posted to (raises ReplyFailed when none)."""
        raise NotImplementedError

    def reply_url(self, mention: Mention, reply_id: str) -> str | None:
        raise NotImplementedError

    def thread_edge(self, mention: Mention, target: str) -> tuple[str, dict[str, Any]] | None:
        """(path, query) of the thread under ``mention``; None when it cannot be read."""
        raise NotImplementedError

    def thread_item(self, item: dict[str, Any], mention: Mention) -> ThreadPost | None:
        raise NotImplementedError

    # --- the contract -------------------------------------------------------------------------
    @property
    def can_reply(self) -> bool:
        return self.reply_graph is not None

    def reply_problem(self, text: str) -> str | None:
        return empty(text) or too_long(len(text), self.max_reply)

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        graph = self.reply_graph
        if graph is None:
            missing = " and ".join(self.reply_missing)
            raise ReplyFailed(f"{self.name}: replies are not set up: set {missing}")
        path = self.reply_path(mention, external_id(self.name, mention))
        params = {"appsecret_proof": graph.proof} if graph.proof else None
        response = await send(
            http,
            self.name,
            "POST",
            f"{graph.base_url}{path}",
            headers={"Authorization": f"Bearer {graph.token}"},
            data={"message": text},
            params=params,
        )
        body = reply_body(response)
        reply_id = body.get("id")
        if response.status_code == 200 and "error" not in body:
            if not isinstance(reply_id, str) or not reply_id:
                raise ReplyFailed(f"{self.name}: Graph answered without the comment's id")
            return SentReply(reply_id, self.reply_url(mention, reply_id))
        if response.status_code == 429:  # not Graph's way, but a proxy's
            raise ReplyFailed(f"{self.name}: HTTP 429", retry_after=300.0)
        usage = read_usage(response.headers)
        error = graph.error(body, response, usage, self.clock())
        raise ReplyFailed(str(error), retry_after=error.retry_after)

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        found: dict[str, ThreadRead] = {}
        for mention in mentions:
            edge = self.thread_edge(mention, external_id(self.name, mention))
            if edge is None:
                found[mention.id] = ThreadRead()
                continue
            try:
                found[mention.id], slow_down = await self._thread(http, mention, *edge)
            except SourceError:
                if found:
                    break  # throttled: the rest waits for the next round
                raise
            if slow_down:
                break  # the budget is nearly spent: the rest waits for the next round
        return found

    async def _thread(
        self, http: httpx.AsyncClient, mention: Mention, path: str, query: dict[str, Any]
    ) -> tuple[ThreadRead, bool]:
        """The thread, and whether Graph's usage headers ask to slow down."""
        params = {**query, "limit": 100}
        posts: list[ThreadPost] = []
        after: str | None = None
        for _ in range(_THREAD_PAGES):
            try:
                page = await self.graph.page(http, path, params, after, self.clock())
            except GraphError as exc:
                if exc.code == _NOT_FOUND:
                    return ThreadRead(gone="deleted"), False
                raise
            for item in page.items:
                post = self.thread_item(item, mention)
                if post is not None:
                    posts.append(post)
            after = page.after
            if not after or page.pause:
                return ThreadRead(posts=posts), page.pause is not None
        return ThreadRead(posts=posts), False
