"""Answering the customer from where staff work: what Slack, Teams, the board and the CLI call.

``Answering`` holds the sources that can reply or read threads (by source name) and one HTTP
client. A reply is recorded first (``actions.reply.request_reply``, off the event loop), then
sent in a task of its own, so the click is answered at once and the card shows the outcome
when it is recorded. Replies still ``sending`` when the process stopped are never sent again:
the thread checker (``ingest.threads``) settles them from what the thread shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from triagebot.actions import reply as replies
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.actions.public import CheckedReplies, PublicThreads, post_refusal
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Resolve
from triagebot.cases.records import Case
from triagebot.config.settings import Settings
from triagebot.errors import InputError, NotAllowed
from triagebot.ingest.threads import RUN_EVERY, ThreadChecker
from triagebot.lanes import in_background
from triagebot.runtime.scheduler import add_interval_job
from triagebot.store.base import Store

if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: How long a platform may take to say whether a reply fits (Slack acks a modal within 3 s);
#: past it the text is checked by the platform when it is sent.
CHECK_WITHIN = 1.5


@dataclass
class Answering:
    """Replies, drafts, "answered elsewhere" and "closed: post deleted", for every surface."""

    store: Store
    settings: Settings
    sources: Mapping[str, PublicThreads]
    http: httpx.AsyncClient | None
    clock: Callable[[], datetime]
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)
    _checker: ThreadChecker | None = None

    @property
    def policy(self) -> SettingsPolicy:
        return SettingsPolicy(self.settings)

    def source_for(self, case: Case) -> PublicThreads | None:
        return self.sources.get(case.mention.source)

    def refusal(self, case: Case) -> str | None:
        """Why no reply to ``case`` can be posted from triagebot (the source cannot post, or
        not to this post), in words for the replier; None when one can."""
        source = self.source_for(case)
        if source is None or not source.can_reply or self.http is None:
            return (
                f"triagebot cannot post to {case.mention.source}: answer on the platform and "
                "mark the case answered"
            )
        refused = post_refusal(source, case.mention)
        if refused:
            return f"{refused}, then mark the case answered"
        return None

    def can_reply(self, case: Case) -> bool:
        """True when a reply typed here can be posted to the case's post."""
        return self.refusal(case) is None

    def reply_problem(self, case: Case, text: str) -> str | None:
        """Why ``text`` cannot be sent as the case's reply (empty, too long for the platform,
        the source cannot post), in words for the replier; None when it can."""
        refused = self.refusal(case)
        source = self.source_for(case)
        if refused or source is None:
            return refused
        try:
            replies.clean_reply_text(text, source.reply_problem)
        except Exception as error:  # InputError: its message is the answer
            return str(error)
        return None

    async def check_reply(self, case: Case, text: str) -> str | None:
        """``reply_problem``, then what the source can tell only for this post or by asking
        its platform (``CheckedReplies``), within ``CHECK_WITHIN``; None when it can be sent."""
        problem = self.reply_problem(case, text)
        source = self.source_for(case)
        if problem or not isinstance(source, CheckedReplies) or self.http is None:
            return problem
        cleaned = replies.clean_reply_text(text)
        try:
            return await asyncio.wait_for(
                source.reply_problem_for(self.http, case.mention, cleaned), CHECK_WITHIN
            )
        except Exception:  # the platform is slow or failed: it checks the text when sent
            log.warning("case %s: could not check the reply with %s", case.id, case.mention.source)
            return None

    async def _checked(self, case_id: str, text: str | None) -> PublicThreads:
        """The source that posts replies to the case, after ``check_reply`` of ``text``
        (``NotAllowed`` when none can, ``InputError`` when the text cannot be sent)."""
        case = await in_background(self.store.get_case, case_id)
        source = self._writer(case)
        if text is not None and (problem := await self.check_reply(case, text)):
            raise InputError(problem)
        return source

    def _writer(self, case: Case) -> PublicThreads:
        """The source that posts replies to ``case``; ``NotAllowed`` saying why none can."""
        refused = self.refusal(case)
        source = self.source_for(case)
        if refused or source is None:
            raise NotAllowed(refused or f"triagebot cannot post to {case.mention.source}")
        return source

    @property
    def approval(self) -> str:
        return self.settings.config.replies.approval

    async def _step(self, step: Callable[..., _T], **arguments: Any) -> _T:
        """One ``actions.reply`` step on the store and policy, now, off the event loop."""
        return await in_background(
            lambda: step(self.store, self.policy, now=self.clock(), **arguments)
        )

    async def reply(
        self, case_id: str, actor: Identity, surface: str, text: str
    ) -> replies.ReplyStarted:
        """Record the reply (a draft when approval is needed) and, if it is to be sent now,
        send it in the background. Raises ``NotAllowed``/``InputError`` for the replier."""
        source = await self._checked(case_id, text)
        started = await self._step(
            replies.request_reply,
            case_id=case_id,
            actor=actor,
            surface=surface,
            text=text,
            approval=self.approval,
            problem=source.reply_problem,
        )
        if started.needs_sending:
            self._send(started.case, started.reply.id)
        return started

    async def approve(
        self,
        case_id: str,
        reply_id: str,
        actor: Identity,
        surface: str,
        text: str | None = None,
    ) -> replies.ReplyStarted:
        """A manager approves a draft (as written, or edited to ``text``) and it is sent."""
        source = await self._checked(case_id, text)
        started = await self._step(
            replies.approve_draft,
            case_id=case_id,
            reply_id=reply_id,
            actor=actor,
            surface=surface,
            text=text,
            problem=source.reply_problem,
        )
        self._send(started.case, started.reply.id)
        return started

    async def discard(self, case_id: str, reply_id: str, actor: Identity, surface: str) -> Case:
        return await self._step(
            replies.discard_draft, case_id=case_id, reply_id=reply_id, actor=actor, surface=surface
        )

    async def mark_answered(
        self, case_id: str, actor: Identity, surface: str, url: str | None = None
    ) -> Case:
        """The customer was answered where triagebot cannot post (``url``: the answer)."""
        return await self._step(
            replies.mark_answered, case_id=case_id, actor=actor, surface=surface, url=url
        )

    async def close_deleted(self, case_id: str, actor: Identity, surface: str) -> Case:
        """Close a case whose post its author deleted (resolved, ``closed_as="deleted"``)."""
        case = await in_background(self.store.get_case, case_id)
        if case.gone_at is None:
            raise NotAllowed(f"the post of case #{case_id} is not known to be deleted")
        command = Resolve(case_id, actor, surface, reason="deleted")
        outcome = await in_background(execute, self.store, self.policy, command, self.clock())
        return outcome.case

    def _send(self, case: Case, reply_id: str) -> None:
        source = self.source_for(case)
        if source is None or self.http is None:
            return
        if self._checker is not None:
            self._checker.note_changed(case)
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._deliver(source, case.id, reply_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, source: PublicThreads, case_id: str, reply_id: str) -> Case | None:
        assert self.http is not None
        try:
            return await replies.deliver_reply(
                self.store,
                source,
                self.http,
                case_id=case_id,
                reply_id=reply_id,
                clock=self.clock,
            )
        except Exception:
            log.exception("case %s: recording reply %s failed", case_id, reply_id)
            return None

    async def drain(self) -> None:
        """Wait for the replies being sent (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def thread_checker(self, every: timedelta | None = None) -> ThreadChecker | None:
        """The leader's thread reads over the sources that can read threads (None: none can);
        ``every``: how often each case is read at most, when not ``[replies] check_every``."""
        if self.http is None or not any(s.can_read_threads for s in self.sources.values()):
            return None
        if self._checker is None:
            self._checker = ThreadChecker(
                self.store, self.settings, self.sources, self.http, self.clock, every
            )
        return self._checker

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Read threads every ``RUN_EVERY`` on the leader, within each source's budget."""
        checker = self.thread_checker()
        if checker is not None:
            add_interval_job(scheduler, "threads", checker.run, RUN_EVERY)

    async def aclose(self) -> None:
        await self.drain()
        if self.http is not None:
            await self.http.aclose()
