"""Reading the thread under each case's post: the brand's public answer, wherever it was
given, and the customer's follow-ups.

The leader reads, for every active case (and resolved ones for ``[replies]
follow_closed_for``) whose source can read threads, the posts under the customer's post, and
records in one compare-and-set what they show (``apply_thread``, a pure function):

- the first post by one of the brand's accounts (``brand.handles``, or marked by the platform)
  is the case's **first public response**, whoever wrote it and from wherever;
- a reply left ``sending`` or ``uncertain`` is settled: found in the thread, it was sent;
  still absent after a while, it was not (it is never sent again by itself);
- after the brand's latest answer the case **waits on the customer** (the resolve clock
  pauses); a new post by the customer is a **follow-up**: a thread note, the clock resumes
  (its due time pushed later by the business time spent waiting), and a resolved case reopens
  within ``sla.reopen_within``;
- a post deleted by its author is noted once (``gone_at``).

Reads are paced per source within half its API's free limit (``ThreadBudget``): with many
cases each is read less often, never faster than ``[replies] check_every``. The schedule lives
in memory; after a restart every case is read again once, still within the budget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from triagebot.actions.executor import SettingsPolicy, outbox_item
from triagebot.actions.public import PublicThreads, ThreadRead, ThreadReads
from triagebot.actions.reply import answered, settle_from_thread
from triagebot.cases.answers import FirstResponse, ResponseVia, ThreadPost
from triagebot.cases.caps import MAX_TEXT
from triagebot.cases.identities import SYSTEM
from triagebot.cases.lifecycle import LifecyclePolicy, Reopen, apply
from triagebot.cases.links import safe_http_url
from triagebot.cases.note_mentions import inert_text
from triagebot.cases.records import ACTIVE_STATES, Case, CaseEvent, CaseState, OutboxItem
from triagebot.cases.records import OutboxKind as Kind
from triagebot.config.settings import Settings
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.lanes import in_background
from triagebot.sla.clocks import resumed_resolve_due
from triagebot.store.base import Store

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

#: Share of a source's free rate limit the thread checks may use (polling needs the rest).
BUDGET_SHARE = 0.5
#: How often the checker runs; each run reads what the budgets allow.
RUN_EVERY = timedelta(seconds=30)
#: How often the whole list of cases to follow is read again from the store (between two
#: reads, new cases are added by ingest time and each read case's copy is kept current).
REFRESH_EVERY = timedelta(hours=1)
#: New cases are looked for from a little before the last look (ingest times may lag).
NEW_CASES_OVERLAP = timedelta(minutes=2)
#: A source whose read failed is left alone this long (longer when the platform said so).
ERROR_PAUSE = timedelta(minutes=2)
#: Longest wait for one read of a batch of threads.
READ_TIMEOUT = 30.0
_QUOTE = 300
NEVER = datetime.min.replace(tzinfo=UTC)
_ATTEMPTS = 4


def _pause(wait: float | None) -> timedelta:
    """How long a source's thread reads stop after a failure: the platform's own wait when it
    gave one (a 429's reset), never less than ``ERROR_PAUSE``."""
    if wait is None or not wait > 0:
        return ERROR_PAUSE
    return max(ERROR_PAUSE, timedelta(seconds=min(wait, 86_400.0)))


def account_key(handle: str) -> str:
    """A platform handle compared with the brand's: no leading ``@``, case-folded."""
    return handle.strip().lstrip("@").casefold()


def brand_accounts(handles: Iterable[str]) -> frozenset[str]:
    return frozenset(k for k in (account_key(h) for h in handles) if k)


@dataclass(frozen=True)
class ThreadChange:
    """What one read of a case's thread changes: the new case (one version ahead), its events
    and outbox items."""

    case: Case
    events: tuple[CaseEvent, ...]
    outbox: tuple[OutboxItem, ...]


def _quote(text: str) -> str:
    short = text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"
    return inert_text(" ".join(short.split()))


def _event(case: Case, action: str, now: datetime, note: str | None = None) -> CaseEvent:
    return CaseEvent(
        case_id=case.id, action=action, actor=SYSTEM, surface="thread", at=now,
        version=case.version + 1, note=note,
    )  # fmt: skip


@dataclass
class _Edit:
    """A case being changed by one read, with the events and notes the change makes."""

    base: Case
    now: datetime
    case: Case
    events: list[CaseEvent] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)

    def note(self, action: str, note: str, *, stored: str | None = None, **after: object) -> None:
        """An event (``stored``: its note, when other than the thread note) and a thread note."""
        event = _event(self.base, action, self.now, stored if stored is not None else note)
        self.events.append(replace(event, after=dict(after)))
        self.outbox.append(outbox_item(self.base.id, Kind.REPLY, self.now, note))


def _first_response(edit: _Edit, ours: Sequence[ThreadPost]) -> None:
    if edit.case.first_response is not None or not ours:
        return
    first = ours[0]
    handle = first.author.lstrip("@")
    link = safe_http_url(first.url)
    edit.case = answered(
        edit.case, FirstResponse(first.created_at, f"@{handle}", ResponseVia.THREAD, link)
    )
    where = f": {inert_text(link)}" if link else ""  # the platform's link: no mention token
    source = edit.base.mention.source
    edit.note(
        "public_response", f"answered in public by @{_quote(handle)} on {source}{where}", url=link
    )


def _follow_ups(edit: _Edit, follow_ups: Sequence[ThreadPost]) -> None:
    for post in follow_ups[-5:]:  # a burst of posts: the last few are noted
        text = post.text[:MAX_TEXT]
        note = f"the customer replied in the thread: “{_quote(text)}”"
        edit.note("follow_up", note, stored=text, post=post.id)


def _waiting(
    edit: _Edit,
    latest_ours: datetime | None,
    customer_last: bool,
    resume_due: Callable[[Case, datetime, datetime], datetime],
    *,
    customer_wrote_last: bool,
) -> None:
    """The customer wrote last: the resolve clock resumes. The brand answered last: it pauses.
    ``customer_last``: a new follow-up came after the brand's latest answer;
    ``customer_wrote_last``: the thread's latest post (new or seen before) is the customer's,
    so a later read of the same thread never pauses the clock again."""
    case = edit.case
    if customer_last and case.waiting_since is not None:
        due = resume_due(case, case.waiting_since, edit.now)
        edit.case = replace(case, resolve_due=due, waiting_since=None)
    elif (
        latest_ours is not None
        and not customer_last
        and not customer_wrote_last
        and case.is_active
        and case.first_response is not None
        and case.waiting_since is None
    ):
        edit.case = replace(case, waiting_since=latest_ours)


def _reopen(edit: _Edit, wrote_at: datetime, policy: LifecyclePolicy) -> None:
    case = edit.case
    if (
        case.state is not CaseState.RESOLVED
        or case.resolved_at is None
        or wrote_at <= case.resolved_at
        or edit.now - case.resolved_at > policy.reopen_within
    ):
        return
    reopened, event = apply(case, Reopen(case.id, SYSTEM, "thread"), policy, edit.now)
    edit.case = replace(reopened, version=case.version)
    edit.events.append(replace(event, note="the customer replied after the case was resolved"))
    edit.outbox.append(
        outbox_item(case.id, Kind.REPLY, edit.now, "reopened: the customer replied in the thread")
    )


def apply_thread(
    case: Case,
    read: ThreadRead,
    brand: frozenset[str],
    now: datetime,
    *,
    policy: LifecyclePolicy,
    resume_due: Callable[[Case, datetime, datetime], datetime],
) -> ThreadChange | None:
    """What ``read`` changes on ``case``; None when nothing. ``resume_due(case, since, now)``
    is the resolve due time pushed later by the business time waited since ``since``."""
    customer = account_key(case.mention.author.handle)
    after_post = (p for p in read.posts if p.created_at >= case.mention.created_at)
    posts = sorted(after_post, key=lambda p: p.created_at)
    ours = [p for p in posts if p.by_brand or account_key(p.author) in brand]
    seen = case.thread_seen_at
    follow_ups = [
        p
        for p in posts
        if (seen is None or p.created_at > seen)
        and account_key(p.author) == customer
        and p not in ours
    ]
    settled, events, outbox = settle_from_thread(case, ours, now)
    edit = _Edit(case, now, settled, list(events), list(outbox))
    _first_response(edit, ours)
    _follow_ups(edit, follow_ups)
    latest_ours = ours[-1].created_at if ours else None
    latest_customer = follow_ups[-1].created_at if follow_ups else None
    customer_last = latest_customer is not None and (
        latest_ours is None or latest_customer > latest_ours
    )
    theirs = [p.created_at for p in posts if account_key(p.author) == customer and p not in ours]
    customer_wrote_last = bool(theirs) and (latest_ours is None or theirs[-1] > latest_ours)
    _waiting(edit, latest_ours, customer_last, resume_due, customer_wrote_last=customer_wrote_last)
    if customer_last and latest_customer is not None:
        _reopen(edit, latest_customer, policy)
    if read.gone and edit.case.gone_at is None:
        edit.case = replace(edit.case, gone_at=now)
        why = inert_text(read.gone)  # the adapter's words, some of them the platform's
        text = f"The post was {why} at the source; this case keeps the copy fetched earlier."
        edit.note("source_deleted", text)
    if posts and (seen is None or posts[-1].created_at > seen):
        edit.case = replace(edit.case, thread_seen_at=posts[-1].created_at)
    return _finish(edit)


def _finish(edit: _Edit) -> ThreadChange | None:
    if edit.case == edit.base:
        return None
    outbox = list(edit.outbox)
    if not any(item.kind is Kind.UPDATE for item in outbox):
        outbox.insert(0, outbox_item(edit.base.id, Kind.UPDATE, edit.now))
    changed = replace(edit.case, version=edit.base.version + 1, updated_at=edit.now)
    events = edit.events or [_event(edit.base, "thread_read", edit.now)]
    stamped = tuple(replace(e, version=changed.version) for e in events)
    return ThreadChange(changed, stamped, tuple(outbox))


def resume_due_for(settings: Settings) -> Callable[[Case, datetime, datetime], datetime]:
    """The resolve due time pushed later by the business time spent waiting on the customer,
    in the calendar of the case's department."""

    def resume(case: Case, since: datetime, now: datetime) -> datetime:
        calendar = settings.calendar_for(case.department)
        return resumed_resolve_due(calendar, case.resolve_due, since, now)

    return resume


def record_read(
    store: Store, settings: Settings, case_id: str, read: ThreadRead, now: datetime
) -> Case | None:
    """Apply one read to the stored case with compare-and-set (retrying lost races)."""
    policy = SettingsPolicy(settings)
    brand = brand_accounts(settings.config.brand.handles)
    resume = resume_due_for(settings)
    for _ in range(_ATTEMPTS):
        try:
            case = store.get_case(case_id)
        except CaseNotFound:
            return None
        change = apply_thread(case, read, brand, now, policy=policy, resume_due=resume)
        if change is None:
            return case
        try:
            store.save_case(change.case, case.version, change.events, change.outbox)
        except VersionConflict:
            continue
        return change.case
    log.warning("case %s: thread read not recorded, the case kept changing", case_id)
    return None


@dataclass
class _Pace:
    """A token bucket: ``rate`` requests a second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = 0.0
    at: datetime | None = None
    paused_until: datetime | None = None

    def take(self, now: datetime) -> bool:
        if self.paused_until is not None and now < self.paused_until:
            return False
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at).total_seconds() * self.rate)
        else:
            self.tokens = min(self.burst, 1.0)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Followed(NamedTuple):
    """What the checker keeps of a followed case between reads (the case itself is read from
    the store when its thread is due: 50,000 decoded cases held here took ~100 MB)."""

    source: str
    settling: bool  # a reply of ours is in flight: read first, to settle it


def _followed(case: Case) -> _Followed:
    return _Followed(case.mention.source, case.reply_in_flight is not None)


@dataclass
class ThreadChecker:
    """The leader's paced thread reads over every followed case."""

    store: Store
    settings: Settings
    sources: Mapping[str, PublicThreads]
    http: httpx.AsyncClient
    clock: Callable[[], datetime]
    #: How often each case is read at most (default: ``[replies] check_every``).
    every: timedelta | None = None
    _followed: dict[str, _Followed] = field(default_factory=dict)
    _next: dict[str, datetime] = field(default_factory=dict)
    _last: dict[str, datetime] = field(default_factory=dict)  # when each case was last read
    _paces: dict[str, _Pace] = field(default_factory=dict)
    _refreshed: datetime | None = None
    _newest: datetime | None = None

    def _readers(self) -> dict[str, PublicThreads]:
        return {n: s for n, s in self.sources.items() if s.can_read_threads}

    def _pace(self, source: PublicThreads) -> _Pace:
        pace = self._paces.get(source.name)
        if pace is None:
            budget = source.thread_budget
            rate = BUDGET_SHARE * budget.requests / budget.per_seconds
            burst = max(1.0, rate * RUN_EVERY.total_seconds())
            pace = self._paces[source.name] = _Pace(rate, burst)
        return pace

    def _load_followed(self, now: datetime) -> dict[str, _Followed]:
        readers = self._readers()
        window = self.settings.config.replies.follow_closed_for
        active = self.store.list_cases(states=ACTIVE_STATES)
        resolved = self.store.list_cases(
            states=[CaseState.RESOLVED], since=now - window - timedelta(days=30)
        )
        recent = [
            c for c in resolved if c.resolved_at is not None and now - c.resolved_at <= window
        ]
        followed: dict[str, _Followed] = {}
        for cases in (active, recent):
            while cases:  # each case freed once looked at (a listed case decodes when read)
                case = cases.pop()
                if case.mention.source in readers:
                    followed[case.id] = _followed(case)
        return followed

    def _add_new_cases(self, now: datetime) -> None:
        """Follow the cases ingested since the last look (between full refreshes)."""
        since = (self._newest or now) - NEW_CASES_OVERLAP
        readers = self._readers()
        for case in self.store.list_cases(states=ACTIVE_STATES, since=since):
            if case.id not in self._followed and case.mention.source in readers:
                self._followed[case.id] = _followed(case)
        self._newest = now

    def note_changed(self, case: Case) -> None:
        """A case changed here (a reply recorded): read its thread again soon."""
        if case.mention.source in self.sources:
            self._followed[case.id] = _followed(case)
            self._next[case.id] = self.clock()

    def due(self, now: datetime) -> dict[str, list[str]]:
        """The ids of the cases whose threads are due, per source, most urgent first: replies
        to settle, then the longest unread (never read first), so that no case waits behind
        others."""
        by_source: dict[str, list[str]] = {}
        for case_id, followed in self._followed.items():
            if self._next.get(case_id, now) <= now:
                by_source.setdefault(followed.source, []).append(case_id)
        for ids in by_source.values():
            ids.sort(key=lambda i: (not self._followed[i].settling, self._last.get(i, NEVER)))
        return by_source

    def _cases(self, ids: Sequence[str]) -> list[Case]:
        """The stored cases of ``ids`` (one gone from the store is no longer followed)."""
        found: list[Case] = []
        for case_id in ids:
            try:
                found.append(self.store.get_case(case_id))
            except CaseNotFound:
                self._forget(case_id)
        return found

    async def run(self) -> int:
        """One pass: read the threads the budgets allow; the number of cases read. A pass
        cut short by the server stopping ends quietly (what it read is recorded: each read is
        one compare-and-set of its own)."""
        try:
            return await self._pass()
        except asyncio.CancelledError:
            log.info("event=thread_reads_stopped")
            return 0

    async def _pass(self) -> int:
        now = self.clock()
        if self._refreshed is None or now - self._refreshed >= REFRESH_EVERY:
            self._followed = await in_background(self._load_followed, now)
            self._next = {k: v for k, v in self._next.items() if k in self._followed}
            self._last = {k: v for k, v in self._last.items() if k in self._followed}
            self._refreshed = self._newest = now
        else:
            await in_background(self._add_new_cases, now)
        readers = self._readers()
        jobs = [
            self._read_source(readers[name], cases, now)
            for name, cases in self.due(now).items()
            if name in readers
        ]
        counts = await asyncio.gather(*jobs)
        return sum(counts)

    async def _read_source(self, source: PublicThreads, ids: Sequence[str], now: datetime) -> int:
        pace = self._pace(source)
        batch = max(1, source.thread_budget.batch)
        every = self.every or self.settings.config.replies.check_every
        read = 0
        for start in range(0, len(ids), batch):
            if not pace.take(self.clock()):
                break
            group = await in_background(self._cases, ids[start : start + batch])
            if not group:
                continue
            try:
                answers = await asyncio.wait_for(
                    source.threads(self.http, [c.mention for c in group]), READ_TIMEOUT
                )
            except Exception as error:  # one source failing never stalls the others
                log.warning("source %s: thread read failed: %s", source.name, error)
                pace.paused_until = self.clock() + _pause(getattr(error, "retry_after", None))
                break
            cut = False
            if isinstance(answers, ThreadReads):  # throttled part-way: the rest waits its turn
                log.warning("source %s: thread reads cut short by the platform", source.name)
                pace.paused_until = self.clock() + _pause(answers.wait)
                cut = True
            for case in group:
                found = answers.get(case.mention.id)
                if cut and found is None:
                    continue
                self._next[case.id] = now + every
                self._last[case.id] = now
                if found is None:
                    continue
                updated = await in_background(
                    record_read, self.store, self.settings, case.id, found, self.clock()
                )
                read += 1
                self._follow(updated)
            if cut:
                break
        return read

    def _follow(self, case: Case | None) -> None:
        if case is None:
            return
        window = self.settings.config.replies.follow_closed_for
        keep = case.is_active or (
            case.state is CaseState.RESOLVED
            and case.resolved_at is not None
            and self.clock() - case.resolved_at <= window
        )
        if keep:
            self._followed[case.id] = _followed(case)
        else:
            self._forget(case.id)

    def _forget(self, case_id: str) -> None:
        self._followed.pop(case_id, None)
        self._next.pop(case_id, None)
        self._last.pop(case_id, None)
