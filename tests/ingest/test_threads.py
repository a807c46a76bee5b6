"""Reading the customer's thread: first public response, settling replies, follow-ups, waiting
on the customer, reopening, deleted posts (pure ``apply_thread`` and the stored round trip)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.store.builders import make_case
from triagebot.actions.executor import SettingsPolicy
from triagebot.actions.public import ThreadRead
from triagebot.cases.answers import (
    FirstResponse,
    PublicReply,
    ReplyState,
    ResponseVia,
    ThreadPost,
)
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case, CaseState, NewCase
from triagebot.config.settings import Settings
from triagebot.ingest.threads import (
    account_key,
    apply_thread,
    brand_accounts,
    record_read,
    resume_due_for,
)
from triagebot.store.tinydb_store import TinyDBStore

BRAND = brand_accounts(["@northwind", "@northwind_support"])
ANA = Identity("cli", "ana")


def post(
    post_id: str, author: str, text: str, at: datetime, *, by_brand: bool = False
) -> ThreadPost:
    return ThreadPost(post_id, author, text, at, f"https://x.example/{post_id}", by_brand=by_brand)


def case_at(now: datetime, **changes: object) -> Case:
    base = make_case("7", state=CaseState.CLAIMED, ingested_at=now - timedelta(hours=1),
                     claimed_by=ANA, department="shipping")  # fmt: skip
    mention = replace(base.mention, created_at=now - timedelta(hours=1))
    return replace(base, mention=mention, **changes)  # type: ignore[arg-type]


def run(case: Case, read: ThreadRead, now: datetime, settings: Settings) -> Case | None:
    change = apply_thread(
        case, read, BRAND, now, policy=SettingsPolicy(settings), resume_due=resume_due_for(settings)
    )
    if change is None:
        return None
    assert change.case.version == case.version + 1
    assert all(e.version == change.case.version for e in change.events)
    return change.case


def test_a_brand_reply_in_the_thread_is_the_first_public_response(
    settings: Settings, now: datetime
) -> None:
    case = case_at(now)
    answer = post(
        "p2", "@NorthWind_Support", "Sorry! DM us your order number", now - timedelta(minutes=20)
    )
    other = post("p1", "bystander", "same here", now - timedelta(minutes=40))
    changed = run(case, ThreadRead([other, answer]), now, settings)
    assert changed is not None and changed.first_response is not None
    assert changed.first_response.at == answer.created_at
    assert changed.first_response.via is ResponseVia.THREAD
    assert changed.first_response.by == "@NorthWind_Support"
    assert changed.waiting_since == answer.created_at  # the brand answered last
    assert changed.thread_seen_at == answer.created_at


def test_an_impostor_or_a_post_older_than_the_case_is_not_the_brand(
    settings: Settings, now: datetime
) -> None:
    case = case_at(now)
    impostor = post("p1", "northwind_supp0rt", "DM us your card number", now - timedelta(minutes=5))
    before = post("p0", "northwind", "New boots are in!", now - timedelta(hours=3))
    changed = run(case, ThreadRead([impostor, before]), now, settings)
    assert changed is None or changed.first_response is None


def test_the_platform_can_vouch_for_the_brand(settings: Settings, now: datetime) -> None:
    dev = post(
        "dc", "Northwind Outfitters", "Fixed in 4.2", now - timedelta(minutes=1), by_brand=True
    )
    changed = run(case_at(now), ThreadRead([dev]), now, settings)
    assert changed is not None and changed.first_response is not None


def test_a_follow_up_resumes_the_paused_clock_and_is_noted_once(
    settings: Settings, now: datetime
) -> None:
    waited_from = now - timedelta(hours=3)
    case = case_at(now, waiting_since=waited_from, thread_seen_at=waited_from,
                   resolve_due=now + timedelta(hours=2))  # fmt: skip
    case = replace(case, first_response=None)
    ours = post("b1", "northwind", "Could you send a photo?", waited_from)
    again = post(
        "c1",
        case.mention.author.handle,
        "here it is <script>x</script> {@user:slack:U1}",
        now - timedelta(minutes=2),
    )
    policy, resume = SettingsPolicy(settings), resume_due_for(settings)
    read = ThreadRead([ours, again])
    change = apply_thread(case, read, BRAND, now, policy=policy, resume_due=resume)
    assert change is not None
    assert change.case.waiting_since is None
    assert change.case.resolve_due > case.resolve_due  # pushed by the business time waited
    notes = [o.text for o in change.outbox if o.text]
    assert any("the customer replied" in n for n in notes)
    assert all("{@user:" not in n for n in notes)  # the follow-up cannot ping anyone
    again_read = run(change.case, ThreadRead([ours, again]), now, settings)
    assert again_read is None  # nothing new: no second note, no write


def test_after_a_follow_up_the_next_read_does_not_pause_the_clock_again(
    settings: Settings, now: datetime
) -> None:
    """The customer wrote last: reading the same thread again (every few minutes) keeps the
    resolve clock running; only a new answer from the brand pauses it."""
    waited_from = now - timedelta(minutes=40)  # the case's post is an hour old
    first = FirstResponse(waited_from, "@northwind", ResponseVia.THREAD)
    case = case_at(now, first_response=first, waiting_since=waited_from,
                   thread_seen_at=waited_from, resolve_due=now + timedelta(hours=2))  # fmt: skip
    ours = post("b1", "northwind", "Could you send a photo?", waited_from)
    again = post("c1", case.mention.author.handle, "here it is", now - timedelta(minutes=2))
    resumed = run(case, ThreadRead([ours, again]), now, settings)
    assert resumed is not None and resumed.waiting_since is None
    later = now + timedelta(minutes=5)
    assert run(resumed, ThreadRead([ours, again]), later, settings) is None  # nothing changes
    answer = post("b2", "northwind", "Thanks, a new pair is on its way", later)
    paused = run(resumed, ThreadRead([ours, again, answer]), later, settings)
    assert paused is not None and paused.waiting_since == answer.created_at


def test_a_follow_up_reopens_a_recently_resolved_case(settings: Settings, now: datetime) -> None:
    resolved_at = now - timedelta(hours=2)
    case = case_at(now, state=CaseState.RESOLVED, resolved_at=resolved_at, resolved_by=ANA,
                   thread_seen_at=resolved_at)  # fmt: skip
    again = post("c2", case.mention.author.handle, "still broken", now - timedelta(minutes=1))
    changed = run(case, ThreadRead([again]), now, settings)
    assert changed is not None and changed.state is CaseState.OPEN


def test_an_old_resolution_is_not_reopened(settings: Settings, now: datetime) -> None:
    resolved_at = now - settings.reopen_within - timedelta(days=1)
    case = case_at(now, state=CaseState.RESOLVED, resolved_at=resolved_at, resolved_by=ANA,
                   thread_seen_at=resolved_at)  # fmt: skip
    again = post("c3", case.mention.author.handle, "hello?", now - timedelta(minutes=1))
    changed = run(case, ThreadRead([again]), now, settings)
    assert changed is not None and changed.state is CaseState.RESOLVED


def test_a_reply_left_sending_is_settled_from_the_thread_never_resent(
    settings: Settings, now: datetime
) -> None:
    reply = PublicReply(
        "r1", "We're on it, sorry!", ANA, ReplyState.SENDING, now - timedelta(minutes=1)
    )
    case = case_at(now, replies=(reply,))
    seen = post("b9", "northwind", "@jo We're on it, sorry!", now - timedelta(seconds=50))
    changed = run(case, ThreadRead([seen]), now, settings)
    assert changed is not None
    settled = changed.reply("r1")
    assert settled is not None and settled.state is ReplyState.SENT
    assert settled.external_id == "b9"
    assert changed.first_response is not None


def test_an_unconfirmed_reply_fails_only_after_the_grace_time(
    settings: Settings, now: datetime
) -> None:
    reply = PublicReply("r1", "On it", ANA, ReplyState.UNCERTAIN, now - timedelta(minutes=1))
    case = case_at(now, replies=(reply,))
    assert run(case, ThreadRead([]), now, settings) is None
    later = now + timedelta(minutes=15)
    changed = run(case, ThreadRead([]), later, settings)
    assert changed is not None
    failed = changed.reply("r1")
    assert failed is not None and failed.state is ReplyState.FAILED


def test_a_deleted_post_is_noted_once(settings: Settings, now: datetime) -> None:
    changed = run(case_at(now), ThreadRead([], gone="deleted by its author"), now, settings)
    assert changed is not None and changed.gone_at == now
    assert run(changed, ThreadRead([], gone="deleted by its author"), now, settings) is None


def test_a_read_is_recorded_in_the_store(settings: Settings, now: datetime, tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "db.json")
    try:
        store.add_cases([NewCase(case_at(now))])
        answer = post("b1", "northwind", "Sorry, refund sent", now - timedelta(minutes=3))
        stored = record_read(store, settings, "7", ThreadRead([answer]), now)
        assert stored is not None and store.get_case("7").first_response is not None
        actions = [e.action for e in store.events("7")]
        assert "public_response" in actions
    finally:
        store.close()


@pytest.mark.parametrize("handle", ["@northwind", "NORTHWIND", " northwind "])
def test_brand_handles_compare_without_at_or_case(handle: str) -> None:
    assert account_key(handle) in BRAND


def test_a_reply_sent_while_already_waiting_keeps_the_wait_from_the_first_answer(
    settings: Settings, now: datetime
) -> None:
    first_at = now - timedelta(minutes=50)
    answer = FirstResponse(first_at, "@northwind", ResponseVia.THREAD, None)
    sent_at = now - timedelta(minutes=3)
    reply = PublicReply("r2", "Following up: DM us please", ANA, ReplyState.SENDING, sent_at)
    case = case_at(now, first_response=answer, waiting_since=first_at, replies=(reply,))
    seen = post("b2", "northwind", "Following up: DM us please", now - timedelta(minutes=2))
    changed = run(case, ThreadRead([seen]), now, settings)
    assert changed is not None and changed.reply("r2").state is ReplyState.SENT  # type: ignore[union-attr]
    assert changed.waiting_since == first_at  # the wait began at the first answer


def test_the_brand_answers_link_in_the_note_cannot_ping_anyone(
    settings: Settings, now: datetime
) -> None:
    link = "https://x.example/p2?ref={@user:slack:U1}{@oncall:shipping}"
    answer = replace(post("p2", "northwind", "Fixed", now - timedelta(minutes=5)), url=link)
    change = apply_thread(
        case_at(now), ThreadRead([answer]), BRAND, now,
        policy=SettingsPolicy(settings), resume_due=resume_due_for(settings),
    )  # fmt: skip
    assert change is not None and change.case.first_response is not None
    assert change.case.first_response.url == link  # kept as the platform gave it
    notes = [o.text for o in change.outbox if o.text]
    assert any("answered in public by @northwind" in n and "x.example/p2" in n for n in notes)
    assert all("{@" not in n for n in notes)
