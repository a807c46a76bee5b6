"""Cases that waited for a channel: queued for Teams once the bot learns where they go.

A department's cases are not shown in Teams while the bot does not know its channel. When
the bot learns a channel (added to a team, re-added, or first heard in it), ``queue_posts``
queues a post on the Teams surface alone for every active case of the departments now
reachable there that Teams does not show yet (no Teams message ref). The posts take the
outbox like any other (leases, retries with backoff, at most one card per case); each item
is named after its case, so learning the channel again while one waits queues nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from integrations.teams.places import SURFACE
from triagebot.cases.records import CaseState, OutboxItem, OutboxKind
from triagebot.store.base import Store

log = logging.getLogger(__name__)

#: States a case can be shown in for the first time (a new case's own post may still wait).
WAITING = (CaseState.NEW, CaseState.OPEN, CaseState.CLAIMED)


def post_id(case_id: str) -> str:
    """The outbox id of the Teams catch-up post of ``case_id`` (one pending at a time)."""
    return f"{SURFACE}-post-{case_id}"


def queue_posts(store: Store, departments: Iterable[str], now: datetime) -> int:
    """Queue a Teams post for each active case of ``departments`` not shown in Teams yet,
    oldest first; returns how many were queued (blocking)."""
    items: list[OutboxItem] = []
    for department in sorted(set(departments)):
        cases = store.list_cases(states=WAITING, department=department)
        for case in reversed(cases):  # oldest first: the channel gets them in order
            if SURFACE in store.message_refs(case.id):
                continue
            items.append(
                OutboxItem(
                    id=post_id(case.id),
                    case_id=case.id,
                    kind=OutboxKind.POST,
                    created_at=now,
                    surface=SURFACE,
                )
            )
    queued = sum(store.queue_outbox(items)) if items else 0
    if items:
        log.info(
            "event=teams_catch_up departments=%s cases=%d queued=%d",
            ",".join(sorted(set(departments))), len(items), queued,
        )  # fmt: skip
    return queued
