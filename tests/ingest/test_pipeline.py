"""Ingest -> dedupe -> triage -> case -> outbox -> surfaces, on a real store file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.clock import FakeClock as Clock
from tests.fakes.surface import RecordingSurface
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.cases.records import Author, CaseState, Mention
from triagebot.config.settings import Settings
from triagebot.errors import AlreadyClaimed
from triagebot.runtime.wiring import Runtime

ANA = Identity("slack", "U0ANA")


def mention(n: int, text: str, handle: str = "sam", **extra: object) -> Mention:
    return Mention(
        id=f"x:{n}",
        source="x",
        kind="x",
        url=f"https://x.example/{handle}/status/{n}",
        author=Author(handle, followers=10),
        text=text,
        created_at=datetime(2026, 11, 17, 14, 50, tzinfo=UTC),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = Runtime.build(
        settings, [RecordingSurface("slack"), RecordingSurface("teams")], clock=clock
    )
    yield rt
    rt.close()


def surface(runtime: Runtime, name: str) -> RecordingSurface:
    found = next(s for s in runtime.surfaces if s.name == name)
    assert isinstance(found, RecordingSurface)
    return found


def test_ingest_creates_cases_with_due_times_and_outbox(runtime: Runtime, now: datetime) -> None:
    result = runtime.pipeline.ingest(
        [
            mention(1, "Northwind double charged my card"),
            mention(2, "northwind parcel never arrived"),
        ],
        now,
    )
    assert [c.state for c in result.new] == [CaseState.NEW, CaseState.NEW]
    assert [c.department for c in result.new] == ["billing", "shipping"]
    case = runtime.store.get_case(result.new[0].id)
    assert case.ingested_at == now
    assert now < case.claim_due < case.resolve_due
    assert case.respond_due is not None and case.claim_due < case.respond_due < case.resolve_due
    assert case.respond_due == runtime.settings.calendar_for(case.department).add(
        now, runtime.settings.sla_policy(case.priority, case.department).respond_within
    )
    assert runtime.store.pending_outbox() == 2
    assert [e.action for e in runtime.store.events(case.id)] == ["ingest"]


def test_the_same_mention_is_stored_once(runtime: Runtime, now: datetime) -> None:
    batch = [mention(1, "northwind refund please"), mention(1, "northwind refund please")]
    first = runtime.pipeline.ingest(batch, now)
    second = runtime.pipeline.ingest(batch, now)
    assert (len(first.new), first.duplicates) == (1, 1)
    assert (len(second.new), second.duplicates) == (0, 2)
    assert runtime.store.pending_outbox() == 1


def test_own_accounts_and_lookalikes_are_ignored(runtime: Runtime, now: datetime) -> None:
    result = runtime.pipeline.ingest(
        [
            mention(1, "Our sale starts Friday at Northwind", handle="@NorthWind"),
            mention(2, "Northwind Airlines lost my bag"),
            mention(3, "Northwind Airlines lost my bag, so I need a new northwind outfitters pack"),
        ],
        now,
    )
    assert result.ignored == 2
    assert [c.mention.id for c in result.new] == ["x:3"]


def test_spam_is_stored_counted_and_never_posted(runtime: Runtime, now: datetime) -> None:
    result = runtime.pipeline.ingest([mention(1, "northwind 90% off with promo code FREE90")], now)
    assert result.spam == 1
    assert runtime.store.get_case(result.new[0].id).state is CaseState.SPAM
    assert runtime.store.pending_outbox() == 0


async def test_delivery_posts_everywhere_then_opens_the_case(
    runtime: Runtime, now: datetime
) -> None:
    [case] = runtime.pipeline.ingest([mention(1, "northwind where is my parcel")], now).new
    await runtime.delivery().drain()
    assert [c.id for c in surface(runtime, "slack").posts] == [case.id]
    assert [c.id for c in surface(runtime, "teams").posts] == [case.id]
    assert set(runtime.store.message_refs(case.id)) == {"slack", "teams"}
    assert runtime.store.get_case(case.id).state is CaseState.OPEN
    assert runtime.store.pending_outbox() == 0


async def test_a_change_updates_every_surface_and_leaves_a_note(
    runtime: Runtime, now: datetime
) -> None:
    [case] = runtime.pipeline.ingest([mention(1, "northwind where is my parcel")], now).new
    worker = runtime.delivery()
    await worker.drain()
    execute(runtime.store, runtime.policy, Claim(case.id, ANA, "slack"), now)
    await worker.drain()
    for name in ("slack", "teams"):
        assert surface(runtime, name).updates[-1].claimed_by == ANA
        assert surface(runtime, name).replies == [(case.id, "claimed by {@user:slack:U0ANA}")]


async def test_a_failing_surface_is_retried_alone(
    runtime: Runtime, clock: Clock, now: datetime
) -> None:
    teams = surface(runtime, "teams")
    teams.fail_next = 1
    teams.retry_after = 30
    [case] = runtime.pipeline.ingest([mention(1, "northwind where is my parcel")], now).new
    worker = runtime.delivery()
    await worker.drain()
    assert len(surface(runtime, "slack").posts) == 1 and teams.posts == []
    assert runtime.store.pending_outbox() == 1
    assert runtime.store.get_case(case.id).state is CaseState.NEW

    clock.advance(seconds=10)  # Retry-After not reached yet
    await worker.drain()
    assert teams.posts == []

    clock.advance(seconds=30)
    await worker.drain()
    assert len(teams.posts) == 1
    assert len(surface(runtime, "slack").posts) == 1  # never posted twice
    assert runtime.store.get_case(case.id).state is CaseState.OPEN


async def test_surfaces_only_show_their_departments(
    settings: Settings, clock: Clock, now: datetime
) -> None:
    only_hr = RecordingSurface("teams", departments={"hr"})
    runtime = Runtime.build(settings, [only_hr], clock=clock)
    try:
        runtime.pipeline.ingest([mention(1, "northwind where is my parcel")], now)
        await runtime.delivery().drain()
        assert only_hr.posts == []
        assert runtime.store.pending_outbox() == 0
    finally:
        runtime.close()


def test_two_claims_one_winner(runtime: Runtime, now: datetime) -> None:
    [case] = runtime.pipeline.ingest([mention(1, "northwind where is my parcel")], now).new
    execute(runtime.store, runtime.policy, Claim(case.id, ANA, "slack"), now)
    with pytest.raises(AlreadyClaimed, match="already claimed by Ana Lopez"):
        execute(
            runtime.store,
            runtime.policy,
            Claim(case.id, Identity("teams", "29:ben"), "teams"),
            now + timedelta(minutes=2),
        )
    resolved = execute(runtime.store, runtime.policy, Resolve(case.id, ANA, "slack"), now).case
    assert resolved.state is CaseState.RESOLVED
    assert [e.action for e in runtime.store.events(case.id)] == ["ingest", "claim", "resolve"]
