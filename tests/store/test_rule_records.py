"""How often each shipped rule decided a case, read from either store a week at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.store.builders import T0, make_case, make_event, make_outbox
from triagebot.cases.records import NewCase
from triagebot.routing.feedback import Label, LabelKind
from triagebot.routing.overruled import rule_records
from triagebot.store.base import Store

LOGIN = "customer_service.login_code"
DEALS = "spam.deal_sites"
VOTES = {LOGIN: "customer_service", DEALS: "none"}


def add(store: Store, n: int, days: float, rules: tuple[str, ...]) -> None:
    case = replace(make_case(str(n), ingested_at=T0 + timedelta(days=days)), rules=rules)
    store.add_cases([NewCase(case, (make_event(case),), (make_outbox(f"post-{n}", case.id),))])


def label(n: int, department: str, rules: tuple[str, ...]) -> Label:
    at = T0 + timedelta(days=n)
    return Label(str(n), "text", department, LabelKind.CORRECTION, at, "x", at, rules)


def test_the_cases_of_every_week_count_and_only_the_labels_contradicting_a_rule(
    store: Store,
) -> None:
    for n in range(30):  # a case every 18 hours for over three weeks
        rules = (LOGIN,) if n % 2 else ((DEALS,) if n % 5 == 0 else ("priority.outage",))
        add(store, n, n * 0.75, rules)
    add(store, 99, -3, (LOGIN,))  # before the period
    labels = [
        label(1, "shipping", (LOGIN,)),
        label(3, "customer_service", (LOGIN,)),  # the rule was right
        label(5, "shipping", (LOGIN,)),
        label(10, "sales", (DEALS,)),
        label(11, "billing", ("priority.outage",)),  # not a shipped vote
    ]
    records = rule_records(store, labels, VOTES, T0, T0 + timedelta(days=22.5))
    by_rule = {r.rule: (r.decides, r.fired, r.wrong) for r in records}
    assert by_rule == {LOGIN: ("customer_service", 15, 2), DEALS: ("none", 3, 1)}
