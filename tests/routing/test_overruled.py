"""Shipped rules the team's corrections prove wrong here are overruled by the learned model.

The whole flow through the real commands, on both stores, is in
``test_learning_commands.py``; these tests pin the bar, which rules may be overruled, and
what the router then does with a post such a rule fires on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.routing_eval import DEPARTMENTS, RULES, mention_of
from triagebot.cases.records import Priority
from triagebot.routing.model.active import StoredModel
from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.overruled import RuleRecord, overruled_rules, shipped_votes
from triagebot.routing.router import Router
from triagebot.routing.rules.parse import parse_rules

#: A carrier's own customer, whose app trouble the shipped carrier-name rule sends to shipping.
CARRIER_APP = "@northwind the evri app logs me out every time I open it"
#: A customer waiting for a prize, whom the shipped deal-sites rule takes for a giveaway blast.
DEAL = "still waiting on my giveaway voucher code, tag a friend they said"


@pytest.mark.parametrize(
    ("fired", "wrong", "overruled"),
    [
        (100, 5, False),  # 95% right at least: the bar the shipped rules were kept on
        (100, 6, True),
        (4, 2, False),  # too few corrections to tell
        (6, 3, True),
        (3, 3, True),
    ],
)
def test_the_bar(fired: int, wrong: int, overruled: bool) -> None:
    assert RuleRecord("billing.x", "billing", fired, wrong).overruled is overruled


def test_a_rule_stays_overruled_while_it_is_shipped() -> None:
    votes = {"shipping.carrier_names": "shipping", "spam.deal_sites": "none"}
    records = [RuleRecord("spam.deal_sites", "none", 8, 5)]
    before = ["shipping.carrier_names", "billing.gone"]  # the second: no longer shipped
    assert overruled_rules(records, before, votes) == (
        "shipping.carrier_names",
        "spam.deal_sites",
    )


def test_only_the_shipped_department_and_spam_rules_may_be_overruled(tmp_path: Path) -> None:
    shipped, _ = parse_rules(RULES, DEPARTMENTS)
    votes = shipped_votes(shipped.rules, RULES)
    assert votes["shipping.carrier_names"] == "shipping"
    assert votes["spam.deal_sites"] == "none"
    assert not any(rule.startswith("priority.") for rule in votes)  # they route nothing

    own = shutil.copytree(RULES, tmp_path / "rules")  # a deployment's own copy
    copied, _ = parse_rules(own, DEPARTMENTS)
    assert shipped_votes(copied.rules, RULES) == {}


def router_overruling(*rules: str) -> Router:
    model = DepartmentModel.shipped(DEPARTMENTS)
    learned = DepartmentModel(model.head, None, DEPARTMENTS, "learned-x", model.first_pass,
                              overruled=rules)  # fmt: skip
    return Router.load(RULES, DEPARTMENTS, Priority.P2, model=learned)


def test_an_overruled_rule_leaves_its_posts_to_the_model() -> None:
    shipped = Router.load(RULES, DEPARTMENTS, Priority.P2, model=DepartmentModel.shipped())
    assert shipped.route(mention_of(CARRIER_APP, 1)).rules == ("shipping.carrier_names",)
    assert shipped.route(mention_of(DEAL, 2)).spam

    router = router_overruling("shipping.carrier_names", "spam.deal_sites")
    app = router.route(mention_of(CARRIER_APP, 1))
    assert "shipping.carrier_names" not in app.rules
    assert any(r.startswith(("model:", "suggest:")) for r in app.rules)
    deal = router.route(mention_of(DEAL, 2))
    assert not deal.spam and "spam.deal_sites" not in deal.rules

    explained = router.explain(mention_of(CARRIER_APP, 1)).to_dict()
    assert "overruled" in str(explained["not_fired"]["shipping.carrier_names"])  # type: ignore[index]
    assert all(m["rule"] != "shipping.carrier_names" for m in explained["matches"])  # type: ignore[attr-defined]


def test_a_stored_model_with_a_bad_list_of_overruled_rules_is_unreadable() -> None:
    model = DepartmentModel.shipped()
    stored = StoredModel("learned-x", model.head, "2026-12-05T00:00:00Z", 10, {})
    data = json.loads(stored.to_text())
    data["overruled_rules"] = "spam.deal_sites"
    with pytest.raises(ValueError, match="overruled_rules"):
        StoredModel.from_text(json.dumps(data))
