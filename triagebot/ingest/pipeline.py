"""Ingest: mention -> relevance -> dedupe -> triage -> case + SLA clocks -> outbox.

A batch is stored in one atomic step, so a crash never leaves a case without its
outbox item (it would never be posted) nor an outbox item without its case. Running the
same batch twice stores nothing the second time: dedupe is by mention id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from triagebot.actions.executor import outbox_item
from triagebot.cases.caps import TEXT_CEILING, cap_mention
from triagebot.cases.control_chars import control_character_field
from triagebot.cases.lifecycle import SYSTEM_ACTOR
from triagebot.cases.records import (
    Assignment,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    NewCase,
    OutboxKind,
    Routing,
)
from triagebot.config.settings import Settings
from triagebot.ingest.brand import BrandFilter
from triagebot.ingest.crosspost import CrossPosts
from triagebot.ingest.gone import note_gone
from triagebot.ingest.sources import GonePost
from triagebot.routing.router import Router
from triagebot.sla.clocks import due_times, respond_due_time
from triagebot.store.base import Store

log = logging.getLogger(__name__)

Batch = tuple[Iterable[Mention], datetime]  # mentions and when they were fetched


@dataclass
class IngestResult:
    """What happened to each mention of a batch."""

    new: list[Case] = field(default_factory=list)
    duplicates: int = 0
    ignored: int = 0
    also_seen: list[Case] = field(default_factory=list)  # existing cases that got a cross-post

    @property
    def spam(self) -> int:
        return sum(1 for c in self.new if c.state is CaseState.SPAM)

    def merge(self, other: IngestResult) -> None:
        self.new.extend(other.new)
        self.duplicates += other.duplicates
        self.ignored += other.ignored
        self.also_seen.extend(other.also_seen)


class Pipeline:
    """Turns mentions into stored cases; the delivery worker takes it from the outbox."""

    def __init__(self, store: Store, settings: Settings, router: Router) -> None:
        self.store = store
        self.settings = settings
        self.router = router
        self.brand = BrandFilter(settings.config.brand)
        self.crossposts = CrossPosts(store)

    def ingest(self, mentions: Iterable[Mention], now: datetime) -> IngestResult:
        return self.ingest_batches([(mentions, now)])[0]

    def ingest_batches(self, batches: Sequence[Batch]) -> list[IngestResult]:
        """``ingest`` of several batches at once (the polls of one cycle): one look-up of known
        mentions, one cross-post plan, one id reservation and one store write for them all.
        Each batch keeps its own ingest time and gets its own result."""
        results = [IngestResult() for _ in batches]
        # Every source's adapter caps its posts; this is the ceiling for whatever reached here.
        capped = [[cap_mention(m, TEXT_CEILING) for m in mentions] for mentions, _ in batches]
        known = self.store.known_mentions([m.id for ms in capped for m in ms])  # one look-up
        seen: dict[str, int] = {}  # mention id -> its batch
        fresh: list[Mention] = []
        for n, mentions in enumerate(capped):
            result = results[n]
            for mention in mentions:
                if (field := control_character_field(mention)) is not None:
                    log.warning(
                        "mention %r from %s refused: control character in its %s",
                        mention.id[:200],
                        mention.source[:100],
                        field,
                    )
                    result.ignored += 1
                elif not mention.text.strip() or not self.brand.is_relevant(mention):
                    result.ignored += 1  # an empty post (deleted, media only): nothing to do
                elif mention.id in seen or mention.id in known:
                    result.duplicates += 1
                else:
                    seen[mention.id] = n
                    fresh.append(mention)
        if not fresh:
            return results
        now = max(at for _, at in batches)
        plan = self.crossposts.plan(fresh, now)  # one complaint seen twice is one case
        for mention_id in plan.duplicate_ids:
            results[seen[mention_id]].duplicates += 1
        fresh = plan.fresh
        self.router.prepare(fresh)  # the model embeds the whole batch at once
        ids = self.store.next_case_ids(len(fresh)) if fresh else []
        batch = [
            plan.apply(self._new_case(i, m, batches[seen[m.id]][1]))
            for i, m in zip(ids, fresh, strict=True)
        ]
        for entry, stored in zip(batch, self.store.add_cases(batch) if batch else [], strict=True):
            result = results[seen[entry.case.mention.id]]
            if stored:
                result.new.append(entry.case)
            else:
                result.duplicates += 1
        for case in self.crossposts.record(plan, now):
            for n in sorted({seen[m.id] for m in plan.attach.get(case.id, ())}):
                results[n].also_seen.append(case)
        return results

    def note_gone(self, gone: Iterable[GonePost], now: datetime) -> list[Case]:
        """Note on open cases that their post was deleted at the source (``ingest.gone``)."""
        return note_gone(self.store, gone, now)

    def route(self, mention: Mention) -> Routing:
        return self.router.route(mention)

    def _new_case(self, case_id: str, mention: Mention, now: datetime) -> NewCase:
        routing = self.route(mention)
        department = routing.department
        policy = self.settings.sla_policy(routing.priority, department)
        calendar = self.settings.calendar_for(department)
        claim_due, resolve_due = due_times(policy, calendar, now)
        state = CaseState.SPAM if routing.spam else CaseState.NEW
        case = Case(
            id=case_id,
            mention=mention,
            department=department,
            priority=routing.priority,
            state=state,
            ingested_at=now,
            claim_due=claim_due,
            resolve_due=resolve_due,
            respond_due=respond_due_time(policy, calendar, now),
            cc=routing.cc,
            rules=routing.rules,
            updated_at=now,
            resolved_at=now if routing.spam else None,
            resolved_by=SYSTEM_ACTOR if routing.spam else None,
            assignments=(Assignment(department, now, now if routing.spam else None),),
        )
        event = CaseEvent(
            case_id=case_id,
            action="ingest",
            actor=SYSTEM_ACTOR,
            surface="pipeline",
            at=now,
            version=case.version,
            after={
                "state": state.value,
                "department": department,
                "priority": routing.priority.value,
            },
            note="; ".join(routing.rules) or None,
        )
        outbox = () if routing.spam else (outbox_item(case_id, OutboxKind.POST, now),)
        return NewCase(case, (event,), outbox)
