"""Labels from the team's actions, and the routing report's figures on a hand-built history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.store.builders import make_case, make_event
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import Claim, MarkSpam, Reassign, Reopen, Resolve
from triagebot.cases.records import Assignment, CaseState, NewCase
from triagebot.config.settings import Settings
from triagebot.routing.feedback import LabelKind, label_of, read_labels, routed_by
from triagebot.routing.feedback_report import routing_report
from triagebot.store.tinydb_store import TinyDBStore

ANA = Identity("cli", "ana")
BO = Identity("slack", "U0BO")
MARIA = Identity("cli", "maria")  # a manager of the example configuration


@pytest.fixture
def store(settings: Settings) -> TinyDBStore:
    return TinyDBStore(settings.env.db_path, segment_capacity=3)


def _add(
    store: TinyDBStore,
    case_id: str,
    routed: str,
    at: datetime,
    *,
    rules: tuple[str, ...] = (),
    spam: bool = False,
) -> None:
    case = make_case(case_id, department=routed, ingested_at=at, text=f"post {case_id}")
    first = Assignment(routed, at, at if spam else None)
    case = replace(
        case,
        state=CaseState.SPAM if spam else CaseState.OPEN,
        rules=rules,
        assignments=(first,),
        resolved_by=SYSTEM if spam else None,
        resolved_at=at if spam else None,
    )
    ingest = replace(
        make_event(case, "ingest", surface="pipeline", at=at),
        after={"state": case.state.value, "department": routed},
    )
    store.add_cases([NewCase(case, (ingest,), ())])


def test_only_people_count_and_the_last_correction_decides(
    store: TinyDBStore, settings: Settings, now: datetime
) -> None:
    policy = SettingsPolicy(settings)
    _add(store, "1", "sales", now)
    execute(store, policy, Reassign("1", ANA, "cli", department="billing"), now)  # at once
    execute(store, policy, Reassign("1", BO, "slack", department="shipping"), now + timedelta(1))
    execute(store, policy, Resolve("1", BO, "slack"), now + timedelta(2))
    _add(store, "2", "sales", now)
    execute(store, policy, Resolve("2", ANA, "cli"), now)
    _add(store, "3", "sales", now)
    execute(store, policy, MarkSpam("3", ANA, "cli"), now)
    _add(store, "4", "sales", now)
    execute(store, policy, Reassign("4", ANA, "cli", department="triage"), now)
    _add(store, "5", "sales", now)
    execute(store, policy, Resolve("5", SYSTEM, "watcher"), now)  # not a person
    _add(store, "6", "sales", now)
    execute(store, policy, Claim("6", ANA, "cli"), now)  # says nothing about the department
    labels = {label.case_id: label for label in read_labels(store)}
    assert sorted(labels) == ["1", "2", "3"]
    assert (labels["1"].department, labels["1"].kind) == ("shipping", LabelKind.CORRECTION)
    assert (labels["2"].department, labels["2"].kind) == ("sales", LabelKind.CONFIRMATION)
    assert (labels["3"].department, labels["3"].kind) == ("none", LabelKind.CORRECTION)
    assert labels["1"].routed == "sales" and not labels["1"].hit and labels["2"].hit
    assert labels["1"].text == "post 1"
    assert read_labels(store, known=["billing"]) == [labels["3"]]  # none is always known


def test_a_system_event_is_no_label_even_from_a_vouching_surface(now: datetime) -> None:
    case = make_case("1", department="sales")
    event = make_event(case, "reassign", actor=SYSTEM, surface="cli", at=now)
    assert label_of(case, [event]) is None


def test_rules_spam_reopened_and_reassigned_is_a_miss_of_none(
    store: TinyDBStore, settings: Settings, now: datetime
) -> None:
    policy = SettingsPolicy(settings)
    _add(store, "1", "triage", now, spam=True)
    execute(store, policy, Reopen("1", MARIA, "cli"), now + timedelta(minutes=5))
    execute(store, policy, Reassign("1", ANA, "cli", department="pr"), now + timedelta(minutes=6))
    (label,) = read_labels(store)
    assert (label.routed, label.department) == ("none", "pr")
    assert routed_by(store.get_case("1")) == "spam"


def test_report_figures_on_a_hand_built_history(
    store: TinyDBStore, settings: Settings, now: datetime
) -> None:
    """Ten cases in the period, one older; seven labels by people.

    billing: routed 3 (2 kept, 1 -> sales); sales: routed 2 (1 kept, 1 -> billing);
    triage: 2 handed to shipping and pr; spam at ingest: 1 left alone; 2 untouched.
    """
    policy = SettingsPolicy(settings)
    day = timedelta(days=1)
    model = ("model:billing=0.91",)
    plan = [
        ("1", "billing", model, Resolve("1", ANA, "cli")),
        ("2", "billing", ("billing-refund",), Resolve("2", ANA, "cli")),
        ("3", "billing", model, Reassign("3", ANA, "cli", department="sales")),
        ("4", "sales", ("model:sales=0.8",), Resolve("4", BO, "slack")),
        ("5", "sales", model, Reassign("5", BO, "slack", department="billing")),
        ("6", "triage", ("suggest:shipping=0.41",), Reassign("6", ANA, "cli", "shipping")),
        ("7", "triage", ("suggest:billing=0.30",), Reassign("7", ANA, "cli", "pr")),
        ("8", "billing", ("billing-refund",), None),
        ("9", "triage", (), None),
    ]
    for case_id, routed, rules, command in plan:
        _add(store, case_id, routed, now - 3 * day, rules=rules)
        if command is not None:
            execute(store, policy, command, now - 2 * day)
    _add(store, "10", "triage", now - 3 * day, spam=True)
    _add(store, "11", "billing", now - 40 * day, rules=model)  # before the period
    execute(store, policy, Reassign("11", ANA, "cli", department="sales"), now - 39 * day)

    report = routing_report(store, now, timedelta(days=30))
    assert report.cases == 10
    assert report.how == {"model": 4, "rules": 2, "fallback": 3, "spam": 1}
    assert report.auto_routed == 7 and report.auto_share == pytest.approx(0.7)
    assert (len(report.labels), report.corrections) == (7, 4)
    assert report.accuracy == pytest.approx(3 / 7)
    rows = {row.department: row for row in report.departments}
    assert "triage" not in rows
    assert rows["billing"].precision == pytest.approx(2 / 3)
    assert rows["billing"].recall == pytest.approx(2 / 3)
    assert (rows["sales"].precision, rows["sales"].recall) == (0.5, 0.5)
    assert (rows["shipping"].precision, rows["shipping"].recall) == (None, 0.0)
    assert sorted(report.confusions) == [
        ("billing", "sales", 1),
        ("sales", "billing", 1),
        ("triage", "pr", 1),
        ("triage", "shipping", 1),
    ]
    (week,) = report.weeks
    assert (week.labels, week.hits, week.start.weekday()) == (7, 3, 0)
    as_json = report.to_dict()
    assert as_json["auto_share"] == pytest.approx(0.7)
    assert as_json["departments"]["billing"]["routed"] == 3  # type: ignore[index]
