"""The default rules on the labelled posts: the thresholds docs/triage.md reports against."""

from __future__ import annotations

from bench.triage_accuracy import (
    SETS,
    all_posts,
    default_router,
    evaluate,
    evaluate_folds,
    load_posts,
)
from tests.triage_helpers import post as post_for
from triagebot.cases.records import FALLBACK_DEPARTMENT

DEPARTMENTS = {"customer_service", "sales", "shipping", "billing", "hr", "pr", "product"}


def test_the_labelled_set_is_big_and_covers_every_department() -> None:
    posts = all_posts()
    assert len(load_posts(SETS["tuning set"])) >= 400
    labels = {p["department"] for p in posts if not p["spam"]}
    assert labels >= DEPARTMENTS and labels <= DEPARTMENTS | {FALLBACK_DEPARTMENT}
    assert {p.get("lang") for p in posts} >= {"es", "de", "fr", "pt"}
    assert sum(p["spam"] for p in posts) >= 30


def test_default_rules_reach_the_thresholds() -> None:
    rules_only = default_router(classifier=False)
    for path in SETS.values():
        part = evaluate(rules_only, load_posts(path))
        assert part.accuracy >= 0.85, (path.name, part.misses)
        assert part.spam_precision >= 0.95, path.name
    report = evaluate_folds(rules_only, all_posts())
    assert report.accuracy >= 0.85, report.misses
    assert report.spam_precision >= 0.95
    for department in DEPARTMENTS:
        assert report.correct[department] / report.total[department] >= 0.75, department


def test_the_shipped_classifier_loads_and_only_speaks_when_no_rule_does() -> None:
    router = default_router()
    assert router.classifier is not None
    claimed = router.route(post_for("my refund never came"))
    assert claimed.department == "billing"
    assert not any(r.startswith(("classifier:", "suggest:")) for r in claimed.rules)
    unclaimed = router.route(post_for("hmm, what about the weekend thing"))
    assert unclaimed.rules == () or unclaimed.rules[0].startswith(("classifier:", "suggest:"))
