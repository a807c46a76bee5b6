"""The SLA watcher driven by a fake clock against the TinyDB store, across restarts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.sla_helpers import make_case, ny, store_cases
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.actions import watcher as watcher_module
from triagebot.actions.executor import execute
from triagebot.actions.watcher import SlaWatcher
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import Claim, Reassign
from triagebot.cases.note_mentions import plain_mentions, render_mentions
from triagebot.cases.records import CaseState, MessageRef, OutboxItem, OutboxKind
from triagebot.config.settings import Settings
from triagebot.runtime.console import ConsoleSurface
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.sla.clocks import resumed_resolve_due
from triagebot.store import open_store
from triagebot.store.base import Store

ANA = Identity("cli", "ana")
MARIA = Identity("cli", "maria")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db.json"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = open_store(db)
    yield opened
    opened.close()


def drain(store: Store, at: datetime) -> list[OutboxItem]:
    items = store.lease_outbox(at + timedelta(days=30), 1000, timedelta(minutes=5))
    for item in items:
        store.complete_outbox(item.id)
    return items


def sent(store: Store, watcher: SlaWatcher, at: datetime) -> list[tuple[OutboxKind, str]]:
    watcher.run_once(at)
    return [(i.kind, i.text or "") for i in drain(store, at) if i.kind is not OutboxKind.UPDATE]


def test_claim_ladder_fires_each_step_once_at_its_business_time(
    settings: Settings, store: Store
) -> None:
    # P2 in billing: claim within 1h of business time; note at 50%, reminder at 75%.
    store_cases(store, [make_case(settings, "1", ny(17, 10))])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    assert sent(store, watcher, ny(17, 10, 29)) == []
    [(kind, text)] = sent(store, watcher, ny(17, 10, 30))
    assert kind is OutboxKind.REPLY and text.startswith("nobody holds this case yet: claim due in")
    assert sent(store, watcher, ny(17, 10, 31)) == []
    [(kind, text)] = sent(store, watcher, ny(17, 10, 45))
    assert kind is OutboxKind.REPLY and text.startswith("reminder: claim due in 15m")
    [(kind, text)] = sent(store, watcher, ny(17, 11, 0))
    assert kind is OutboxKind.ESCALATE
    assert "case #1 (Billing & Refunds, P2) was not claimed" in text
    assert "manager: {@user:slack:U0MANAGER}" in text  # Maria Chen, from [[people]]
    assert sent(store, watcher, ny(17, 11, 30)) == []
    case = store.get_case("1")
    assert case.sla_marks == ("billing:claim:note", "billing:claim:remind", "billing:claim:breach")
    actions = [e.action for e in store.events("1")]
    assert actions == ["sla-note", "sla-remind", "sla-breach"]


def test_nothing_is_repeated_after_a_restart(settings: Settings, db: Path) -> None:
    first = open_store(db)
    store_cases(first, [make_case(settings, "1", ny(17, 10))])
    assert len(sent(first, SlaWatcher(first, settings, Clock(ny(17, 10))), ny(17, 10, 50))) == 1
    first.close()
    second = open_store(db)
    try:
        watcher = SlaWatcher(second, settings, Clock(ny(17, 10)))
        assert sent(second, watcher, ny(17, 10, 55)) == []
        [(kind, _)] = sent(second, watcher, ny(17, 11, 1))
        assert kind is OutboxKind.ESCALATE
    finally:
        second.close()


def test_a_step_reached_overnight_goes_out_when_the_department_opens(
    settings: Settings, store: Store
) -> None:
    # Ingested 16:20 on Tuesday: 50% of the claim hour is reached at 16:50, while nobody ran.
    store_cases(store, [make_case(settings, "1", ny(17, 16, 20))])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 16, 20)))
    assert sent(store, watcher, ny(17, 23, 0)) == []  # closed
    assert sent(store, watcher, ny(18, 8, 59)) == []
    [(kind, text)] = sent(store, watcher, ny(18, 9, 0))
    assert kind is OutboxKind.REPLY and "claim due in 20m" in text  # 40 of 60 minutes used
    # The reminder (75% = 09:05) comes in business time the next morning.
    assert sent(store, watcher, ny(18, 9, 4)) == []
    [(kind, text)] = sent(store, watcher, ny(18, 9, 5))
    assert text.startswith("reminder: claim due in 15m")


def test_a_target_due_at_the_close_is_escalated_the_same_day(
    settings: Settings, store: Store
) -> None:
    store_cases(store, [make_case(settings, "1", ny(17, 16, 0))])  # claim due 17:00, the close
    watcher = SlaWatcher(store, settings, Clock(ny(17, 16)))
    assert [k for k, _ in sent(store, watcher, ny(17, 17, 2))] == [OutboxKind.ESCALATE]


def test_only_the_highest_step_reached_is_sent(settings: Settings, store: Store) -> None:
    store_cases(store, [make_case(settings, "1", ny(17, 10))])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    [(kind, _)] = sent(store, watcher, ny(17, 11, 10))
    assert kind is OutboxKind.ESCALATE
    assert sent(store, watcher, ny(17, 11, 20)) == []


def test_resolve_ladder_mentions_the_claimer_and_the_oncall_group(
    settings: Settings, store: Store
) -> None:
    # Shipping: 09:00-12:00,13:00-17:30 (7h30 a day), on-call group set, idle release 1h.
    # P2 resolve within one business day: ingested Tue 09:00, due Tue 17:30.
    store_cases(store, [make_case(settings, "1", ny(17, 9), department="shipping")])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 9)))
    execute(store, watcher.policy, Claim("1", ANA), ny(17, 9, 10))
    drain(store, ny(17, 9, 10))
    # 50% is 13:45; ana's claim went idle at 10:10 and was released then, so reclaim.
    [(_, first)] = sent(store, watcher, ny(17, 10, 10))
    assert first.startswith("released back to the queue")
    execute(store, watcher.policy, Claim("1", ANA), ny(17, 13, 40))
    drain(store, ny(17, 13, 40))
    [(kind, text)] = sent(store, watcher, ny(17, 13, 45))
    assert kind is OutboxKind.REPLY
    assert text == "{@user:cli:ana}: half-way to the resolve target; due in 3h 45m (Tue 17:30 EST)"
    # At 15:38 the reminder is due and ana's claim has been idle for 1h58m: both in one save.
    [(_, text), (_, released)] = sent(store, watcher, ny(17, 15, 38))
    assert text == (
        "reminder: resolve due in 1h 52m of business time (Tue 17:30 EST) — {@oncall:shipping}"
    )
    assert released.startswith("released back to the queue")
    assert plain_mentions(text).endswith("— @on-call:shipping")


def test_reassignment_starts_the_ladder_of_the_new_department(
    settings: Settings, store: Store
) -> None:
    store_cases(store, [make_case(settings, "1", ny(17, 10))])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    assert len(sent(store, watcher, ny(17, 10, 46))) == 1  # billing's reminder
    execute(store, watcher.policy, Reassign("1", MARIA, department="sales"), ny(17, 10, 47))
    drain(store, ny(17, 10, 47))
    [(_, text)] = sent(store, watcher, ny(17, 10, 48))
    assert text.startswith("reminder: claim due in")  # sales' own reminder, once
    assert sent(store, watcher, ny(17, 10, 49)) == []
    assert "sales:claim:remind" in store.get_case("1").sla_marks


def test_an_idle_claim_goes_back_to_the_queue(settings: Settings, store: Store) -> None:
    store_cases(store, [make_case(settings, "1", ny(17, 10))])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    execute(store, watcher.policy, Claim("1", ANA), ny(17, 10, 5))
    drain(store, ny(17, 10, 5))
    assert sent(store, watcher, ny(17, 12, 4)) == []  # idle 1h59m (idle_release = 2h)
    texts = [t for _, t in sent(store, watcher, ny(17, 12, 5))]
    assert texts == ["released back to the queue: no change from {@user:cli:ana} for 2h"]
    case = store.get_case("1")
    assert case.state is CaseState.OPEN and case.claimed_by is None
    assert case.first_claimed_at == ny(17, 10, 5)  # the claim target stays met
    event = store.events("1")[-1]
    assert (event.action, event.actor, event.surface) == ("unclaim", SYSTEM, "watcher")


def test_two_watchers_racing_send_each_step_once(settings: Settings, db: Path) -> None:
    one, two = open_store(db), open_store(db)
    try:
        store_cases(one, [make_case(settings, str(n), ny(17, 10)) for n in range(1, 6)])
        first = SlaWatcher(one, settings, Clock(ny(17, 10)))
        second = SlaWatcher(two, settings, Clock(ny(17, 10)))
        stale = [two.get_case(str(n)) for n in range(1, 6)]
        assert first.run_once(ny(17, 10, 31)) == 5
        # The second process planned against the same versions: every save loses the CAS,
        # re-reads, and finds the step already sent.
        assert all(second.plan(case, ny(17, 10, 31)) is not None for case in stale)
        assert second.run_once(ny(17, 10, 31)) == 0
        assert len(drain(one, ny(17, 10, 31))) == 5
    finally:
        one.close()
        two.close()


def test_closed_cases_are_not_watched(settings: Settings, store: Store) -> None:
    store_cases(store, [make_case(settings, "1", ny(17, 10), state=CaseState.SPAM)])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    assert sent(store, watcher, ny(18, 12)) == []


def test_render_mentions_lets_a_surface_choose_its_markup() -> None:
    text = "reminder: claim due in 5m — {@oncall:shipping} {@user:U123}"
    rendered = render_mentions(text, lambda kind, value: f"<{kind}={value}>")
    assert rendered == "reminder: claim due in 5m — <oncall=shipping> <user=U123>"


@needs_postgres
def test_steps_are_sent_once_on_postgres_across_a_restart_and_a_race(settings: Settings) -> None:
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with throwaway_schema() as (url, schema):
        with PostgresStore(url, schema=schema) as one, PostgresStore(url, schema=schema) as two:
            store_cases(one, [make_case(settings, str(n), ny(17, 10)) for n in range(1, 4)])
            stale = [two.get_case(str(n)) for n in range(1, 4)]
            assert SlaWatcher(one, settings, Clock(ny(17, 10))).run_once(ny(17, 10, 31)) == 3
            racer = SlaWatcher(two, settings, Clock(ny(17, 10)))
            assert all(racer.plan(case, ny(17, 10, 31)) for case in stale)
            assert racer.run_once(ny(17, 10, 31)) == 0
            assert len(drain(one, ny(17, 10, 31))) == 3
        with PostgresStore(url, schema=schema) as again:
            watcher = SlaWatcher(again, settings, Clock(ny(17, 10)))
            assert sent(again, watcher, ny(17, 10, 40)) == []
            assert again.get_case("1").sla_marks == ("billing:claim:note",)


async def test_console_shows_the_steps_with_plain_mentions(
    settings: Settings, store: Store
) -> None:
    out = io.StringIO()
    console = ConsoleSurface(out, color=False, name_of=settings.people.name_of)
    store_cases(store, [make_case(settings, "1", ny(17, 9), department="shipping")])
    store.set_message_ref("1", MessageRef("console", "console", "1"))
    watcher = SlaWatcher(store, settings, Clock(ny(17, 9)))
    watcher.run_once(ny(17, 9, 46))  # shipping's claim reminder mentions its on-call group
    watcher.run_once(ny(17, 10, 1))  # breach: escalated naming the manager
    worker = DeliveryWorker(store, [console], watcher.policy, Clock(ny(17, 10, 1)))
    await worker.drain()
    printed = out.getvalue()
    assert "#1 ↳ reminder: claim due in 14m of business time" in printed
    assert "— @on-call:shipping" in printed
    assert "escalation #1 SLA breach: case #1 (Shipping, P2)" in printed
    assert "manager: @Maria Chen" in printed and "{@" not in printed


def _public(items: list[tuple[OutboxKind, str]]) -> list[tuple[OutboxKind, str]]:
    return [(kind, text) for kind, text in items if "public answer" in text]


def test_respond_ladder_climbs_until_the_first_public_response(
    settings: Settings, store: Store
) -> None:
    # Billing (New York, 09:00-17:00), P2: respond within 4h of Tue 09:00 -> Tue 13:00.
    answered = make_case(settings, "1", ny(17, 9), answer_due=True)
    silent = make_case(settings, "2", ny(17, 9), answer_due=True)
    older = make_case(settings, "3", ny(17, 9))  # ingested before the target: no respond_due
    store_cases(store, [answered, silent, older])
    assert answered.respond_due == ny(17, 13)
    watcher = SlaWatcher(store, settings, Clock(ny(17, 9)))
    for case_id in ("1", "2", "3"):
        execute(store, watcher.policy, Claim(case_id, ANA), ny(17, 9, 5))
    drain(store, ny(17, 9, 5))
    # Claimed is not answered: the respond ladder goes on, and says what is missing.
    notes = _public(sent(store, watcher, ny(17, 11)))
    assert notes == [
        (OutboxKind.REPLY, "{@user:cli:ana}: no public answer yet: half-way to the respond "
         "target; due in 2h (Tue 13:00 EST)"),
    ] * 2  # fmt: skip
    case = store.get_case("1")
    reply = FirstResponse(ny(17, 11, 30), "@northwind", ResponseVia.THREAD, "https://x.test/1")
    store.save_case(replace(case, version=case.version + 1, first_response=reply), case.version)
    [(_, reminder)] = _public(sent(store, watcher, ny(17, 12)))
    assert (
        reminder
        == "reminder: no public answer yet: respond due in 1h of business time (Tue 13:00 EST)"
        " — {@user:cli:ana}"
    )
    [(kind, breach)] = _public(sent(store, watcher, ny(17, 13, 1)))
    assert kind is OutboxKind.ESCALATE
    assert breach.startswith("SLA breach: case #2 (Billing & Refunds, P2) had no public answer by")
    assert _public(sent(store, watcher, ny(17, 16))) == []
    marks = {c: store.get_case(c).sla_marks for c in ("1", "2", "3")}
    assert [m for m in marks["1"] if ":respond:" in m] == ["billing:respond:note"]
    assert [m for m in marks["2"] if ":respond:" in m] == [
        "billing:respond:note", "billing:respond:remind", "billing:respond:breach",
    ]  # fmt: skip
    assert not [m for m in marks["3"] if ":respond:" in m]


def test_waiting_on_the_customer_pauses_the_resolve_ladder(
    settings: Settings, store: Store
) -> None:
    # Billing, P2: resolve within one business day of Tue 09:00 -> Tue 17:00.
    answered_at = ny(17, 10)
    case = make_case(
        settings, "1", ny(17, 9), answer_due=True, state=CaseState.CLAIMED, claimed_by=ANA,
        claimed_at=ny(17, 9, 5), first_claimed_at=ny(17, 9, 5),
        first_response=FirstResponse(answered_at, "@northwind", ResponseVia.REPLY),
        waiting_since=answered_at,
    )  # fmt: skip
    store_cases(store, [case])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 9)))
    for at in (ny(17, 13), ny(17, 15), ny(17, 17, 1), ny(18, 12)):  # the idle claim goes
        assert not [t for _, t in sent(store, watcher, at) if "resolve" in t], at
    assert not [m for m in store.get_case("1").sla_marks if ":resolve:" in m]
    # The customer replies Wed 12:00: the due time moves by the 10 business hours waited.
    current = store.get_case("1")
    pushed = resumed_resolve_due(
        settings.calendar_for("billing"), current.resolve_due, answered_at, ny(18, 12)
    )
    assert pushed == ny(19, 11)
    resumed = replace(current, version=current.version + 1, waiting_since=None, resolve_due=pushed)
    store.save_case(resumed, current.version)
    [(_, note)] = [item for item in sent(store, watcher, ny(18, 12, 1)) if "resolve" in item[1]]
    assert note == "nobody holds this case yet: resolve due in 6h 59m (Thu 11:00 EST)"
    [(kind, _)] = [item for item in sent(store, watcher, ny(19, 11, 1)) if "resolve" in item[1]]
    assert kind is OutboxKind.ESCALATE


def test_a_pass_measures_in_chunks_and_misses_no_case(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases are measured a chunk at a time (each freed after); every case still gets its
    step, whatever the chunk size against the number of cases."""
    monkeypatch.setattr(watcher_module, "MEASURE_CHUNK", 2)
    store_cases(store, [make_case(settings, str(n), ny(17, 10)) for n in range(1, 8)])
    watcher = SlaWatcher(store, settings, Clock(ny(17, 10)))
    assert watcher.run_once(ny(17, 10, 31)) == 7
    assert len(drain(store, ny(17, 10, 31))) == 7
    assert watcher.run_once(ny(17, 10, 32)) == 0
