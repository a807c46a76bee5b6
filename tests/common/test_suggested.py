"""Which suggested departments a case card offers, and how their buttons read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from integrations.common.suggested import Offer, offers
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
NAMES = {"triage": "Triage", "billing": "Billing", "sales": "Sales", "shipping": "Shipping"}


def triage_case(*rules: str, **changes: object) -> Case:
    mention = Mention("x:1", "x", "post", "https://x.example/1", Author("sam", "Sam", 1), "hm", T0)
    case = Case("7", mention, "triage", Priority.P2, CaseState.OPEN, T0,
                T0 + timedelta(hours=1), T0 + timedelta(hours=4), rules=rules)  # fmt: skip
    return replace(case, **changes)  # type: ignore[arg-type]


def test_the_top_two_are_offered_most_likely_first() -> None:
    case = triage_case("suggest:billing=0.71", "suggest:sales=0.12", "suggest:shipping=0.09")
    assert offers(case, NAMES) == [Offer("billing", "Billing", 71), Offer("sales", "Sales", 12)]
    assert [o.label() for o in offers(case, NAMES)] == [
        "Send to Billing · 71%",
        "Send to Sales · 12%",
    ]


def test_unknown_departments_repeats_and_noise_are_skipped() -> None:
    case = triage_case(
        "priority-vip", "suggest:hr=0.60", "suggest:billing=0.20", "suggest:billing=0.20",
        "suggest:triage=0.10", "suggest:", "suggest:sales=abc", "suggest:sales=1.5",
        "suggest:shipping=0.004", "suggest:sales=0.05",
    )  # fmt: skip
    assert offers(case, NAMES) == [Offer("billing", "Billing", 20), Offer("sales", "Sales", 5)]


@pytest.mark.parametrize(
    "changes",
    [{"department": "billing"}, {"state": CaseState.RESOLVED}, {"state": CaseState.SPAM}],
)
def test_only_an_active_case_in_triage_offers_any(changes: dict[str, object]) -> None:
    case = triage_case("suggest:billing=0.71", **changes)
    assert offers(case, NAMES) == []


def test_a_claimed_case_in_triage_still_offers_them() -> None:
    case = triage_case("suggest:billing=0.71", state=CaseState.CLAIMED)
    assert [o.department for o in offers(case, NAMES)] == ["billing"]


def test_a_long_name_is_cut_so_the_label_fits() -> None:
    offer = Offer("billing", "Billing,\n refunds and " + "very " * 40 + "long", 71)
    label = offer.label(limit=75)
    assert len(label) == 75 and label.startswith("Send to Billing, refunds and very")
    assert label.endswith("… · 71%") and "\n" not in label
    assert Offer("x", "  ", 3).label() == "Send to x · 3%"


def test_the_older_classifiers_guess_is_offered_without_a_percentage() -> None:
    case = triage_case("suggest:hr", "suggest:billing", "suggest:billing=0.3")
    assert offers(case, NAMES) == [Offer("billing", "Billing", None)]
    assert offers(case, NAMES)[0].label() == "Send to Billing"
