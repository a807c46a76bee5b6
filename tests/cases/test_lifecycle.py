"""The case state machine: every legal and illegal move, and who may make it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import (
    Claim,
    Command,
    MarkSpam,
    Publish,
    Reassign,
    Reopen,
    Resolve,
    Unclaim,
    apply,
)
from triagebot.cases.records import Assignment, Author, Case, CaseState, Mention, Priority
from triagebot.config.people import People, Person
from triagebot.errors import AlreadyClaimed, IllegalTransition, NotAllowed

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
ANA = Identity("slack", "U0ANA")
ANA_ON_BOARD = Identity("board", "ana")
BEN = Identity("cli", "ben")
SAM = Identity("board", "sam")
MARIA = Identity("teams", "6f1c-maria")
#: Ana's Slack id, as another surface might happen to spell one of its own users.
TEAMS_U0ANA = Identity("teams", "U0ANA")
PEOPLE = People(
    [
        Person("Ana Lopez", (ANA, ANA_ON_BOARD)),
        Person("Maria Chen", (MARIA, Identity("cli", "maria")), manager=True),
    ]
)


class Policy:
    reopen_within = timedelta(days=7)

    def is_manager(self, actor: Identity) -> bool:
        return PEOPLE.is_manager(actor)

    def same_person(self, one: Identity, other: Identity) -> bool:
        return PEOPLE.same_person(one, other)

    def name_of(self, actor: Identity) -> str:
        return PEOPLE.name_of(actor)

    def department_exists(self, department: str) -> bool:
        return department in {"support", "shipping", "triage"}

    def due_times(
        self, priority: Priority, department: str, start: datetime
    ) -> tuple[datetime, datetime]:
        hours = 2 if department == "shipping" else 1
        return start + timedelta(hours=hours), start + timedelta(hours=8 * hours)

    def respond_due(self, priority: Priority, department: str, start: datetime) -> datetime:
        hours = 2 if department == "shipping" else 1
        return start + timedelta(hours=4 * hours)


POLICY = Policy()


def make_case(state: CaseState = CaseState.OPEN, **changes: object) -> Case:
    mention = Mention(
        id="x:1",
        source="x",
        kind="x",
        url="https://x.example/1",
        author=Author("sam"),
        text="where is my parcel",
        created_at=T0 - timedelta(minutes=5),
    )
    case = Case(
        id="7",
        mention=mention,
        department="support",
        priority=Priority.P2,
        state=state,
        ingested_at=T0,
        claim_due=T0 + timedelta(hours=1),
        resolve_due=T0 + timedelta(hours=8),
        assignments=(Assignment("support", T0),),
    )
    return replace(case, **changes)  # type: ignore[arg-type]


def claimed(by: Identity = ANA, at: datetime = T0) -> Case:
    return make_case(CaseState.CLAIMED, claimed_by=by, claimed_at=at, first_claimed_at=at)


def run(case: Case, cmd: Command, minutes: int = 10) -> Case:
    return apply(case, cmd, POLICY, T0 + timedelta(minutes=minutes))[0]


# --- legal moves -------------------------------------------------------------------------


def test_publish_opens_a_new_case() -> None:
    after = run(make_case(CaseState.NEW), Publish("7", SYSTEM, "delivery"))
    assert after.state is CaseState.OPEN
    assert after.version == 2


@pytest.mark.parametrize("state", [CaseState.NEW, CaseState.OPEN])
def test_anyone_may_claim_an_unowned_case(state: CaseState) -> None:
    after = run(make_case(state), Claim("7", BEN, "slack"))
    assert (after.state, after.claimed_by) == (CaseState.CLAIMED, BEN)
    assert after.claimed_at == after.first_claimed_at == T0 + timedelta(minutes=10)


def test_claim_records_an_event_with_before_and_after() -> None:
    case, event = apply(make_case(), Claim("7", BEN, "teams"), POLICY, T0)
    assert (event.action, event.actor, event.surface, event.at) == ("claim", BEN, "teams", T0)
    assert event.before["state"] == "open" and event.before["claimed_by"] is None
    assert event.after["state"] == "claimed" and event.after["claimed_by"] == "cli:ben"
    assert event.version == case.version == 2


def test_unclaim_by_holder_keeps_first_claim_time() -> None:
    after = run(claimed(ANA), Unclaim("7", ANA))
    assert (after.state, after.claimed_by, after.claimed_at) == (CaseState.OPEN, None, None)
    assert after.first_claimed_at == T0


def test_resolve_by_holder() -> None:
    after = run(claimed(ANA), Resolve("7", ANA), minutes=30)
    assert after.state is CaseState.RESOLVED
    assert after.resolved_by == ANA and after.resolved_at == T0 + timedelta(minutes=30)
    assert after.assignments[-1].until == after.resolved_at


def test_resolving_an_open_case_counts_as_claimed_by_the_resolver() -> None:
    after = run(make_case(), Resolve("7", BEN))
    assert after.claimed_by == BEN and after.first_claimed_at == after.resolved_at


@pytest.mark.parametrize("cmd", [Unclaim("7", MARIA), Resolve("7", MARIA), MarkSpam("7", MARIA)])
def test_manager_may_act_on_someone_elses_case(cmd: Command) -> None:
    assert run(claimed(ANA), cmd).version == 2


def test_reopen_within_window() -> None:
    resolved = run(claimed(), Resolve("7", ANA))
    reopened = apply(resolved, Reopen("7", ANA), POLICY, T0 + timedelta(days=6))[0]
    assert reopened.state is CaseState.OPEN
    assert reopened.resolved_at is None and reopened.claimed_by is None
    assert reopened.assignments[-1] == Assignment("support", T0 + timedelta(days=6))


def test_spam_can_be_undone_any_time() -> None:
    spam = run(make_case(), MarkSpam("7", BEN))
    assert spam.state is CaseState.SPAM
    back = apply(spam, Reopen("7", BEN), POLICY, T0 + timedelta(days=60))[0]
    assert back.state is CaseState.OPEN


def test_reassign_hands_over_without_resetting_the_customer_clock() -> None:
    after = run(claimed(ANA), Reassign("7", ANA, department="shipping"), minutes=20)
    assert (after.state, after.department, after.claimed_by) == (CaseState.OPEN, "shipping", None)
    # Due times are recomputed for the new department but from the original ingest time.
    assert after.claim_due == T0 + timedelta(hours=2)
    assert after.resolve_due == T0 + timedelta(hours=16)
    assert after.respond_due == T0 + timedelta(hours=8)
    assert after.first_claimed_at == T0
    assert after.assignments == (
        Assignment("support", T0, T0 + timedelta(minutes=20)),
        Assignment("shipping", T0 + timedelta(minutes=20)),
    )


def test_reassign_drops_the_new_department_from_cc() -> None:
    after = run(make_case(cc=("shipping", "triage")), Reassign("7", BEN, department="shipping"))
    assert after.cc == ("triage",)


# --- illegal moves ------------------------------------------------------------------------


def test_second_claim_names_the_holder_and_when() -> None:
    with pytest.raises(AlreadyClaimed, match=r"already claimed by Ana Lopez 10m ago"):
        run(claimed(ANA), Claim("7", BEN))


def test_claiming_your_own_case_again_says_so() -> None:
    with pytest.raises(AlreadyClaimed, match="already claimed by you"):
        run(claimed(ANA), Claim("7", ANA))


@pytest.mark.parametrize(
    "cmd",
    [
        Unclaim("7", BEN),
        Resolve("7", BEN),
        MarkSpam("7", BEN),
        Reassign("7", BEN, department="shipping"),
    ],
)
def test_only_holder_or_manager_may_touch_a_claimed_case(cmd: Command) -> None:
    with pytest.raises(NotAllowed, match="claimed by Ana Lopez: only they or a manager"):
        run(claimed(ANA), cmd)


@pytest.mark.parametrize(
    ("state", "cmd"),
    [
        (CaseState.OPEN, Publish("7", SYSTEM)),
        (CaseState.OPEN, Unclaim("7", ANA)),
        (CaseState.NEW, Unclaim("7", ANA)),
        (CaseState.RESOLVED, Claim("7", ANA)),
        (CaseState.SPAM, Claim("7", ANA)),
        (CaseState.RESOLVED, Resolve("7", ANA)),
        (CaseState.RESOLVED, MarkSpam("7", ANA)),
        (CaseState.SPAM, MarkSpam("7", ANA)),
        (CaseState.OPEN, Reopen("7", ANA)),
        (CaseState.CLAIMED, Reopen("7", ANA)),
        (CaseState.RESOLVED, Reassign("7", ANA, department="shipping")),
    ],
)
def test_moves_that_make_no_sense_in_a_state(state: CaseState, cmd: Command) -> None:
    case = make_case(state, claimed_by=ANA if state is CaseState.CLAIMED else None, resolved_at=T0)
    with pytest.raises(IllegalTransition):
        run(case, cmd)


def test_reopen_after_the_window_is_refused() -> None:
    resolved = run(claimed(), Resolve("7", ANA))
    with pytest.raises(NotAllowed, match="can be reopened within 7d"):
        apply(resolved, Reopen("7", ANA), POLICY, T0 + timedelta(days=8))


def test_reassign_to_unknown_or_same_department() -> None:
    with pytest.raises(IllegalTransition, match="no department 'legal'"):
        run(make_case(), Reassign("7", ANA, department="legal"))
    with pytest.raises(IllegalTransition, match="already with support"):
        run(make_case(), Reassign("7", ANA, department="support"))


def test_a_refused_command_changes_nothing() -> None:
    case = claimed(ANA)
    with pytest.raises(NotAllowed):
        run(case, Resolve("7", BEN))
    assert case.state is CaseState.CLAIMED and case.version == 1


# --- identities: surfaces never stand in for each other ------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        Unclaim("7", TEAMS_U0ANA, "teams"),
        Resolve("7", TEAMS_U0ANA, "teams"),
        MarkSpam("7", TEAMS_U0ANA, "teams"),
        Reassign("7", TEAMS_U0ANA, "teams", department="shipping"),
    ],
)
def test_a_teams_id_equal_to_a_slack_id_cannot_act_on_the_slack_claimers_case(
    cmd: Command,
) -> None:
    case = claimed(ANA)
    with pytest.raises(NotAllowed, match="claimed by Ana Lopez: only they or a manager"):
        run(case, cmd)
    with pytest.raises(AlreadyClaimed, match="already claimed by Ana Lopez"):
        run(case, Claim("7", TEAMS_U0ANA, "teams"))


def test_the_same_name_on_another_surface_is_another_person() -> None:
    with pytest.raises(NotAllowed, match="claimed by ben"):
        run(claimed(BEN), Resolve("7", Identity("board", "ben"), "board"))


def test_one_person_may_act_from_any_of_their_surfaces() -> None:
    after = run(claimed(ANA), Resolve("7", ANA_ON_BOARD, "board"))
    assert (after.state, after.claimed_by, after.resolved_by) == (
        CaseState.RESOLVED,
        ANA,
        ANA_ON_BOARD,
    )
    with pytest.raises(AlreadyClaimed, match="already claimed by you"):
        run(claimed(ANA), Claim("7", ANA_ON_BOARD, "board"))


# --- who may reopen ------------------------------------------------------------------------


def test_a_resolved_case_is_reopened_by_its_resolver_holder_or_a_manager() -> None:
    resolved = run(claimed(ANA), Resolve("7", MARIA, "teams"))  # a manager resolved Ana's case
    for who in (MARIA, ANA, ANA_ON_BOARD, Identity("cli", "maria")):
        assert run(resolved, Reopen("7", who), minutes=20).state is CaseState.OPEN
    for who in (BEN, SAM, TEAMS_U0ANA):
        with pytest.raises(NotAllowed, match="resolved by Maria Chen: only they, its holder"):
            run(resolved, Reopen("7", who), minutes=20)


def test_spam_is_reopened_by_who_marked_it_or_a_manager() -> None:
    spam = run(make_case(), MarkSpam("7", BEN))
    assert run(spam, Reopen("7", BEN)).state is CaseState.OPEN
    assert run(spam, Reopen("7", MARIA)).state is CaseState.OPEN
    with pytest.raises(NotAllowed, match="marked as spam by ben: only they or a manager"):
        run(spam, Reopen("7", ANA))


def test_spam_found_at_ingest_is_reopened_by_anyone_on_the_team() -> None:
    spam = make_case(CaseState.SPAM, resolved_by=SYSTEM, resolved_at=T0)
    for who in (ANA, MARIA, TEAMS_U0ANA):
        assert run(spam, Reopen("7", who)).state is CaseState.OPEN
    with pytest.raises(NotAllowed, match="marked as spam by the rules"):
        run(spam, Reopen("7", SYSTEM))


def test_reassigning_spam_reopens_it_in_the_same_step_with_the_same_check() -> None:
    found = make_case(CaseState.SPAM, resolved_by=SYSTEM, resolved_at=T0)
    command = Reassign("7", ANA, department="shipping")
    moved, event = apply(found, command, POLICY, T0 + timedelta(minutes=1))
    assert (moved.state, moved.department, moved.resolved_by) == (CaseState.OPEN, "shipping", None)
    assert (event.before["state"], event.after["state"]) == ("spam", "open")
    assert moved.assignments[-1].department == "shipping" and moved.assignments[-1].until is None

    marked = run(make_case(), MarkSpam("7", BEN))
    assert run(marked, Reassign("7", BEN, department="shipping")).department == "shipping"
    back = run(marked, Reassign("7", BEN, department="support"))  # where it was: reopened there
    assert (back.state, back.department) == (CaseState.OPEN, "support")
    with pytest.raises(NotAllowed, match="marked as spam by ben: only they or a manager"):
        run(marked, Reassign("7", ANA, department="shipping"))

    resolved = run(make_case(), Resolve("7", ANA))
    with pytest.raises(IllegalTransition, match="reopen it before reassigning"):
        run(resolved, Reassign("7", ANA, department="shipping"))


@pytest.mark.parametrize("state", [CaseState.NEW, CaseState.OPEN])
def test_anyone_may_resolve_an_unclaimed_case_which_then_counts_for_them(
    state: CaseState,
) -> None:
    after = run(make_case(state), Resolve("7", SAM, "board"))
    assert (after.claimed_by, after.resolved_by) == (SAM, SAM)
