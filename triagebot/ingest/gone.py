"""Posts deleted or removed at their source: a note on the open case made from them.

A source that lists a post as deleted (Reddit's ``[deleted]`` author, a ``[removed]`` body)
never makes a case of it. When a case was made from the post before it went, the case gets
one ``source_deleted`` event and a thread note on every surface that shows it, so whoever
handles it knows the customer's words are gone from the source (the case keeps its copy).
Only open cases are noted, once each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from triagebot.actions.executor import outbox_item
from triagebot.cases.lifecycle import SYSTEM_ACTOR
from triagebot.cases.records import ACTIVE_STATES, Case, CaseEvent, OutboxKind
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.ingest.sources import GonePost
from triagebot.store.base import Store

log = logging.getLogger(__name__)

ACTION = "source_deleted"
ATTEMPTS = 3


def note_gone(store: Store, gone: Iterable[GonePost], now: datetime) -> list[Case]:
    """Note on each open case whose post is now gone that it was deleted; the cases noted.

    The open cases are found by the store's mention index (one look-up for the batch), never
    by listing the active cases.
    """
    by_id = {post.id: post for post in gone}
    if not by_id:
        return []
    found = store.active_cases_of_mentions(list(by_id))
    noted = []
    for mention_id, case_id in sorted(found.items(), key=lambda item: item[1]):
        updated = _note(store, case_id, by_id[mention_id], now)
        if updated is not None:
            noted.append(updated)
    return noted


def _note(store: Store, case_id: str, post: GonePost, now: datetime) -> Case | None:
    for _ in range(ATTEMPTS):
        try:
            case = store.get_case(case_id)
        except CaseNotFound:
            return None
        if case.state not in ACTIVE_STATES or any(
            e.action == ACTION for e in store.events(case_id)
        ):
            return None
        updated = replace(case, version=case.version + 1, updated_at=now, gone_at=now)
        text = f"The post was {post.why} at the source; this case keeps the copy fetched earlier."
        event = CaseEvent(
            case_id=case_id,
            action=ACTION,
            actor=SYSTEM_ACTOR,
            surface="pipeline",
            at=now,
            version=updated.version,
            note=text,
        )
        try:
            store.save_case(
                updated,
                case.version,
                (event,),
                (outbox_item(case_id, OutboxKind.REPLY, now, text),),
            )
        except VersionConflict:
            continue
        return updated
    log.warning("case %s changed too often to note its deleted post; skipped", case_id)
    return None
