"""Cases for the watcher, digest, export and chart tests, with due times from the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from triagebot.actions.executor import SettingsPolicy
from triagebot.cases.records import Author, Case, CaseState, Mention, NewCase, Priority
from triagebot.config.settings import Settings
from triagebot.store.base import Store

NEW_YORK = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A New York local time in 2026 (the example calendar's zone), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def make_case(
    settings: Settings,
    case_id: str,
    ingested: datetime,
    *,
    department: str = "billing",
    priority: Priority = Priority.P2,
    state: CaseState = CaseState.OPEN,
    source: str = "reddit",
    lag: timedelta = timedelta(minutes=3),
    answer_due: bool = False,
    **changes: Any,
) -> Case:
    policy = SettingsPolicy(settings)
    claim_due, resolve_due = policy.due_times(priority, department, ingested)
    if answer_due:  # the respond target (cases of an earlier version have none)
        changes.setdefault("respond_due", policy.respond_due(priority, department, ingested))
    mention = Mention(
        id=f"{source}:{case_id}",
        source=source,
        kind="post",
        url=f"https://example.test/{source}/{case_id}",
        author=Author(f"user{case_id}"),
        text=f"northwind problem {case_id}",
        created_at=ingested - lag,
    )
    return Case(
        id=case_id,
        mention=mention,
        department=department,
        priority=priority,
        state=state,
        ingested_at=ingested,
        claim_due=claim_due,
        resolve_due=resolve_due,
        updated_at=ingested,
        **changes,
    )


def store_cases(store: Store, cases: list[Case]) -> None:
    assert all(store.add_cases([NewCase(case) for case in cases]))
