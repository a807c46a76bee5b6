"""The daily digest: its cron trigger across daylight-saving changes, its text and delivery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.sla_helpers import make_case, ny, store_cases
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState
from triagebot.config.settings import Settings
from triagebot.runtime.console import ConsoleSurface
from triagebot.runtime.digest import (
    digest_text,
    digest_trigger,
    register_sla_jobs,
    run_digest,
    send_digest,
)
from triagebot.runtime.scheduler import create_scheduler
from triagebot.runtime.wiring import Runtime


def fire_times(settings: Settings, department: str, start: datetime, count: int) -> list[datetime]:
    trigger = digest_trigger(settings, department)
    assert trigger is not None
    times: list[datetime] = []
    previous = None
    at = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, at)
        assert fire is not None
        times.append(fire.astimezone(UTC))
        previous, at = fire, fire + timedelta(seconds=1)
    return times


def test_digest_stays_at_local_time_across_the_autumn_change(settings: Settings) -> None:
    # New York leaves daylight saving time on Sunday 2026-11-01.
    times = fire_times(settings, "billing", datetime(2026, 10, 30, 14, tzinfo=UTC), 3)
    assert times == [
        datetime(2026, 10, 31, 12, 30, tzinfo=UTC),  # 08:30 EDT
        datetime(2026, 11, 1, 13, 30, tzinfo=UTC),  # 08:30 EST
        datetime(2026, 11, 2, 13, 30, tzinfo=UTC),
    ]


def test_digest_stays_at_local_time_across_the_spring_change(settings: Settings) -> None:
    # New York enters daylight saving time on Sunday 2026-03-08; shipping digests at 08:00.
    times = fire_times(settings, "shipping", datetime(2026, 3, 7, 0, tzinfo=UTC), 2)
    assert times == [
        datetime(2026, 3, 7, 13, 0, tzinfo=UTC),  # 08:00 EST
        datetime(2026, 3, 8, 12, 0, tzinfo=UTC),  # 08:00 EDT
    ]


def test_each_department_digests_in_its_own_time_zone(settings: Settings) -> None:
    # HR is in Berlin, which changes on Sunday 2026-10-25.
    times = fire_times(settings, "hr", datetime(2026, 10, 24, 0, tzinfo=UTC), 2)
    assert times == [
        datetime(2026, 10, 24, 6, 30, tzinfo=UTC),  # 08:30 CEST
        datetime(2026, 10, 25, 7, 30, tzinfo=UTC),  # 08:30 CET
    ]


@dataclass
class DigestRecorder:
    name: str = "recorder"
    digests: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    async def digest(self, department: str, text: str) -> None:
        if self.fail:
            raise RuntimeError("down")
        self.digests.append((department, text))


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = Runtime.build(settings, routing=False, clock=lambda: ny(17, 8, 30))
    yield built
    built.close()


def seed(runtime: Runtime) -> None:
    s = runtime.settings
    store_cases(
        runtime.store,
        [
            # Monday 16th, claimed in 20m, answered in public in 1h, resolved in 2h: all
            # within SLA.
            make_case(
                s, "1", ny(16, 10), state=CaseState.RESOLVED, answer_due=True,
                first_response=FirstResponse(ny(16, 11), "@northwind", ResponseVia.REPLY),
                first_claimed_at=ny(16, 10, 20), claimed_by=Identity("cli", "ana"),
                claimed_at=ny(16, 10, 20),
                resolved_at=ny(16, 12), resolved_by=Identity("cli", "ana"),
            ),
            # Friday 13th, never claimed: breached both targets, still open.
            make_case(s, "2", ny(13, 10)),
            # Today: not part of yesterday or the last seven days yet.
            make_case(s, "3", ny(17, 8)),
            make_case(s, "4", ny(16, 11), department="sales"),
        ],
    )  # fmt: skip


def test_digest_text_covers_yesterday_and_the_last_seven_days(runtime: Runtime) -> None:
    seed(runtime)
    text = digest_text(runtime, "billing", ny(17, 8, 30))
    lines = text.splitlines()
    assert lines[0].startswith("SLA digest for Billing & Refunds, Mon 16 Nov")
    assert lines[1] == "yesterday: 1 cases, 1 resolved, 0 spam"
    assert lines[2] == "  claim: median 20m, p90 20m, 100% in SLA, 0 breached"
    assert lines[3] == "  public answer: median 1h, p90 1h, 100% in SLA, 0 breached"
    assert "last 7 days: 2 cases, 1 resolved, 0 spam" in lines
    assert "  claim: median 20m, p90 20m, 50% in SLA, 1 breached" in lines
    assert lines[-1] == "open now: 2"


async def test_digest_goes_to_every_surface_that_takes_digests(runtime: Runtime) -> None:
    seed(runtime)
    good, broken = DigestRecorder(), DigestRecorder("broken", fail=True)
    runtime.surfaces = [good, broken, object()]  # type: ignore[list-item]
    assert await send_digest(runtime, "billing") == 1
    [(department, text)] = good.digests
    assert department == "billing" and "yesterday: 1 cases" in text


async def test_console_prints_the_digest(runtime: Runtime) -> None:
    import io  # noqa: PLC0415

    out = io.StringIO()
    runtime.surfaces = [ConsoleSurface(out, color=False)]
    assert await send_digest(runtime, "sales") == 1
    assert "digest sales" in out.getvalue() and "yesterday: no cases" in out.getvalue()


def test_jobs_are_registered_for_the_watcher_and_each_digest(runtime: Runtime) -> None:
    scheduler = create_scheduler()
    register_sla_jobs(runtime, scheduler)
    ids = {job.id for job in scheduler.get_jobs()}
    assert "sla-watch" in ids
    assert {f"sla-digest-{d}" for d in runtime.settings.departments} <= ids


async def test_the_digest_job_sends_once_a_day_at_its_time(settings: Settings) -> None:
    clock = [ny(17, 8, 30)]
    runtime = Runtime.build(settings, routing=False, clock=lambda: clock[0])
    recorder = DigestRecorder()
    runtime.surfaces = [recorder]  # type: ignore[list-item]
    try:
        assert await run_digest(runtime, "billing") is True
        clock[0] = ny(17, 8, 31)  # a second process taking over the jobs runs them at once
        assert await run_digest(runtime, "billing") is False
        clock[0] = ny(17, 12)  # not digest time
        assert await run_digest(runtime, "billing") is False
        clock[0] = ny(18, 8, 32)
        assert await run_digest(runtime, "billing") is True
        assert len(recorder.digests) == 2
    finally:
        runtime.close()
    reopened = Runtime.build(settings, routing=False, clock=lambda: ny(18, 8, 35))
    try:  # a restart the same morning does not send it again
        assert await run_digest(reopened, "billing") is False
    finally:
        reopened.close()
