"""The contract between the core and a source that can answer in public or read threads.

A source adapter that implements ``PublicThreads`` lets staff reply to the customer's post
from Slack, Teams or the board (``reply``), and lets the leader read the thread under each
active case's post (``threads``) to see the brand's public answer wherever it was given and
the customer's follow-ups. Everything else (who may reply, drafts, recording the attempt
before it is sent, pacing the thread reads, the SLA) is the core's.

Adapters raise ``ReplyFailed`` only when the platform certainly did not post the reply (it
answered 4xx, or the connection never reached it) and ``ReplyUnknown`` when it may have (a
timeout after the request was sent, a 5xx, a dropped connection): the core never sends a
reply again on ``ReplyUnknown``, it reads the thread to settle it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention

if TYPE_CHECKING:  # the core never imports httpx at run time
    import httpx


@dataclass(frozen=True)
class SentReply:
    """The platform's id of the reply it posted, and its public address when known."""

    external_id: str
    url: str | None = None


class ReplyFailed(Exception):
    """The platform did not post the reply; ``reason`` is shown to the replier.

    ``retry_after`` (seconds): the platform asked for a pause (429) and the same reply may be
    sent again after it.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ReplyUnknown(Exception):
    """The reply may have been posted (timeout after sending, 5xx, connection lost)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ThreadRead:
    """What one read of a customer's thread found: the posts under it (any order) and, when
    the customer's own post is gone, why (``"deleted by its author"``)."""

    posts: Sequence[ThreadPost] = ()
    gone: str | None = None


class ThreadReads(dict[str, ThreadRead]):
    """The threads a round read, by mention id, when the platform cut the round short
    (throttled or failing part-way): the threads not read wait, and ``wait`` (seconds) is the
    pause the platform asked for, when it said."""

    def __init__(self, found: Mapping[str, ThreadRead], wait: float | None = None) -> None:
        super().__init__(found)
        self.wait = wait


@dataclass(frozen=True)
class ThreadBudget:
    """How fast a source's threads may be read: ``requests`` per ``per_seconds`` (the API's
    free limit, of which the core uses at most half), ``batch`` posts per request."""

    requests: int
    per_seconds: float
    batch: int = 1


@runtime_checkable
class PublicThreads(Protocol):
    """A source that can reply in public and/or read the thread under a post.

    Example::

        class Forum(BaseSource):
            can_reply = True
            can_read_threads = True
            thread_budget = ThreadBudget(60, 60.0)

            def reply_problem(self, text):
                return "at most 500 characters" if len(text) > 500 else None

            async def reply(self, http, mention, text, key):
                r = await http.post(..., json={"parent": mention.raw["id"], "text": text})
                return SentReply(str(r.json()["id"]), r.json()["url"])

            async def threads(self, http, mentions):
                return {m.id: ThreadRead(posts=[...]) for m in mentions}
    """

    @property
    def name(self) -> str: ...

    @property
    def can_reply(self) -> bool:
        """True when the API can post a reply and the write credentials are configured."""
        ...

    @property
    def can_read_threads(self) -> bool: ...

    @property
    def thread_budget(self) -> ThreadBudget: ...

    def reply_problem(self, text: str) -> str | None:
        """Why ``text`` cannot be posted as it is (too long in the platform's own count), in
        words for the replier; None when it can."""
        ...

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        """Post ``text`` as the brand's public reply to ``mention``. ``key`` is unique to this
        reply: send it as the idempotency key where the API takes one."""
        ...

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        """The thread under each post, by mention id; a post missing from the answer could
        not be read this time (it is tried again later). At most ``thread_budget.batch``
        mentions are passed at once."""
        ...


@runtime_checkable
class PerPostReplies(Protocol):
    """A source that can tell, before anything is recorded or sent, that one post cannot be
    answered through its API (Instagram media the account is only tagged in, a post whose
    ids the poller did not keep): the card offers Mark answered instead of Reply."""

    def post_refusal(self, mention: Mention) -> str | None:
        """Why a reply to ``mention`` cannot be posted, in words for the replier; None when
        it can."""
        ...


@runtime_checkable
class CheckedReplies(Protocol):
    """A source whose length rule depends on the post answered or on what its platform says
    (Mastodon: the instance's own limit, read once; the customer's ``@acct`` put before the
    text): the core asks before anything is recorded, so the replier can still edit."""

    async def reply_problem_for(
        self, http: httpx.AsyncClient, mention: Mention, text: str
    ) -> str | None:
        """Why ``text`` cannot be posted as the reply to ``mention``, in words for the
        replier; None when it can."""
        ...


def post_refusal(source: object, mention: Mention) -> str | None:
    """The source's refusal of replies to ``mention`` (None: it takes them, or cannot say)."""
    return source.post_refusal(mention) if isinstance(source, PerPostReplies) else None


def reply_capable(source: object) -> PublicThreads | None:
    """The source as ``PublicThreads`` when it implements the contract, else None."""
    return source if isinstance(source, PublicThreads) else None
