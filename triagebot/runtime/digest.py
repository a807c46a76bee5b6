"""The daily SLA digest and the scheduler jobs of the SLA watcher.

At ``digest_at`` (local time of each department, a cron trigger in its time zone, so it stays
at 08:30 across daylight-saving changes) a short summary of yesterday and the last seven days
goes to the managers' channel. A digest belongs to no case, so it does not go through the
outbox: it is handed straight to every surface that has the optional ``digest`` method
(``DigestSurface``); a surface that fails is logged and skipped, and the digest is not retried.
``register_sla_jobs`` adds the watcher's interval job and one digest job per department. A run
of the digest job sends only within ``DIGEST_WINDOW`` of the digest time and only once per local
day (the day is kept in the store under the cursor ``digest:<department>``), so a process that
becomes the scheduler's leader and runs its jobs at once, or a restart, sends no second digest.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Protocol, runtime_checkable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from triagebot.actions.watcher import SlaWatcher, watch_every
from triagebot.cases.records import ACTIVE_STATES
from triagebot.config.settings import Settings
from triagebot.durations import format_seconds
from triagebot.lanes import in_background
from triagebot.runtime.scheduler import add_interval_job
from triagebot.runtime.wiring import Runtime
from triagebot.sla.figures import GroupStats, Summary, TargetStats
from triagebot.sla.period import summarize

log = logging.getLogger(__name__)

DIGEST_WINDOW = timedelta(minutes=10)


@runtime_checkable
class DigestSurface(Protocol):
    """A surface that can post a digest to the managers' channel (an optional method)."""

    name: str

    async def digest(self, department: str, text: str) -> None:
        """Post ``text`` (plain lines) about ``department`` to the managers' channel."""
        ...


def digest_time(settings: Settings, department: str) -> time | None:
    """The department's local digest time, or None when it has no digest."""
    dept = settings.departments.get(department)
    text = (dept.digest_at if dept else None) or settings.config.sla.digest_at
    if text is None:
        return None
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def digest_trigger(settings: Settings, department: str) -> CronTrigger | None:
    """A cron trigger firing daily at the digest time in the department's time zone."""
    at = digest_time(settings, department)
    if at is None:
        return None
    zone = settings.calendar_for(department).tz
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=zone)


def _target_line(label: str, target: TargetStats) -> str:
    if target.decided == 0 and target.n == 0:
        return f"{label}: -"
    share = "-" if target.within_sla is None else f"{target.within_sla:.0%}"
    median = "-" if target.median_business is None else format_seconds(target.median_business)
    p90 = "-" if target.p90_business is None else format_seconds(target.p90_business)
    return f"{label}: median {median}, p90 {p90}, {share} in SLA, {target.breaches} breached"


def _period_lines(title: str, stats: GroupStats) -> list[str]:
    if stats.count == 0:
        return [f"{title}: no cases"]
    resolved = stats.by_state.get("resolved", 0)
    return [
        f"{title}: {stats.count} cases, {resolved} resolved, {stats.spam} spam",
        "  " + _target_line("claim", stats.claim),
        "  " + _target_line("public answer", stats.respond),
        "  " + _target_line("resolve", stats.resolve),
    ]


#: People listed in a digest (the busiest first).
DIGEST_PEOPLE = 10


def _people_lines(summary: Summary) -> list[str]:
    """One line per person (all their surfaces joined), the most cases first."""
    ranked = sorted(summary.by_person.items(), key=lambda item: (-item[1].count, item[0]))
    lines = [
        f"  {name}: {stats.count} cases, {stats.by_state.get('resolved', 0)} resolved"
        for name, stats in ranked[:DIGEST_PEOPLE]
    ]
    if len(ranked) > DIGEST_PEOPLE:
        lines.append(f"  …and {len(ranked) - DIGEST_PEOPLE} more")
    return ["by person, last 7 days:", *lines] if lines else []


def digest_text(runtime: Runtime, department: str, now: datetime) -> str:
    """Yesterday and the last seven days (local days) of one department, as plain lines."""
    settings = runtime.settings
    calendar = settings.calendar_for(department)
    today = now.astimezone(calendar.tz).date()

    def start_of(day: int) -> datetime:
        return datetime.combine(
            today - timedelta(days=day), time(0), tzinfo=calendar.tz
        ).astimezone(UTC)

    midnight, yesterday, week = start_of(0), start_of(1), start_of(7)
    cases = runtime.store.list_cases(department=department, since=week, until=midnight)
    person_of = settings.people.group_key
    day = summarize(cases, settings.calendar_for, now, yesterday, midnight, person_of=person_of)
    seven = summarize(cases, settings.calendar_for, now, week, midnight, person_of=person_of)
    waiting = runtime.store.list_cases(states=ACTIVE_STATES, department=department)
    dept = settings.departments.get(department)
    name = dept.display_name if dept else department
    lines = [
        f"SLA digest for {name}, {today - timedelta(days=1):%a %d %b} (business time, median / p90)"
    ]
    lines += _period_lines("yesterday", day.total)
    lines += _period_lines("last 7 days", seven.total)
    lines += _people_lines(seven)
    lines.append(f"open now: {len(waiting)}")
    return "\n".join(lines)


async def send_digest(runtime: Runtime, department: str) -> int:
    """Post the digest on every surface that takes digests; returns how many took it."""
    text = await in_background(digest_text, runtime, department, runtime.clock())
    sent = 0
    for surface in runtime.surfaces:
        if not isinstance(surface, DigestSurface):
            continue
        try:
            await surface.digest(department, text)
        except Exception:
            log.exception("digest for %s on %s failed", department, surface.name)
        else:
            sent += 1
    return sent


async def run_digest(runtime: Runtime, department: str) -> bool:
    """The digest job: send if it is digest time and today's digest was not sent yet."""
    at = digest_time(runtime.settings, department)
    if at is None:
        return False
    zone = runtime.settings.calendar_for(department).tz
    local = runtime.clock().astimezone(zone)
    scheduled = datetime.combine(local.date(), at, tzinfo=zone)
    if not scheduled <= local < scheduled + DIGEST_WINDOW:
        log.info("digest for %s skipped: not its time (%s)", department, local.isoformat())
        return False
    key, today = f"digest:{department}", local.date().isoformat()
    if await in_background(runtime.store.get_cursor, key) == today:
        return False
    # Recorded before sending: a crash in between loses that day's digest, never doubles it.
    await in_background(runtime.store.set_cursor, key, today)
    await send_digest(runtime, department)
    return True


def register_sla_jobs(runtime: Runtime, scheduler: AsyncIOScheduler) -> SlaWatcher:
    """Add the watcher's interval job and each department's digest job to ``scheduler``."""
    watcher = SlaWatcher(runtime.store, runtime.settings, runtime.clock)
    add_interval_job(scheduler, "sla-watch", watcher.run, watch_every(), run_now=False)
    for department in runtime.settings.departments:
        trigger = digest_trigger(runtime.settings, department)
        if trigger is None:
            continue

        async def job(department: str = department) -> None:
            try:
                await run_digest(runtime, department)
            except Exception:
                log.exception("digest for %s failed", department)

        scheduler.add_job(job, trigger, id=f"sla-digest-{department}", replace_existing=True)
    return watcher
