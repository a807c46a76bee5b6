"""The classifier for posts no rule claims: training, guesses, routing and suggesting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.triage_helpers import post, router_for
from triagebot.errors import ConfigError
from triagebot.routing.suggest import Classifier

EXAMPLES = [
    ("my parcel is late again", "shipping"),
    ("courier lost the parcel", "shipping"),
    ("where is the parcel", "shipping"),
    ("charged twice on my card", "billing"),
    ("my card was charged", "billing"),
]
RULES = "department: pr\nrules:\n  - {name: praise, terms: [love]}\n"


def examples_file(folder: Path, rows: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({"text": t, "department": d}) + "\n" for t, d in rows)
    (folder / "examples.jsonl").write_text(text)


def test_guesses_from_examples() -> None:
    classifier = Classifier.train(EXAMPLES)
    guess = classifier.guess("Parcels!")
    assert guess is not None and guess.department == "shipping" and 0.5 < guess.probability <= 1
    assert classifier.guess("nothing known here") is None


@pytest.mark.parametrize(
    ("routes_at", "department", "rule"),
    [(0.5, "shipping", "classifier:shipping"), (1.1, "triage", "suggest:shipping")],
)
def test_routes_when_sure_else_suggests(
    tmp_path: Path, routes_at: float, department: str, rule: str
) -> None:
    examples_file(tmp_path, EXAMPLES)
    options = f"options: {{classifier: examples.jsonl, classifier_routes_at: {routes_at}}}\n"
    router = router_for(tmp_path, {"pr.yaml": RULES, "options.yaml": options})
    routing = router.route(post("the parcel is lost"))
    assert (routing.department, routing.rules) == (department, (rule,))
    assert router.route(post("love it")).rules == ("pr.praise",)
    assert router.explain(post("the parcel is lost")).guess is not None


def test_bad_examples_name_the_line(tmp_path: Path) -> None:
    examples_file(tmp_path, EXAMPLES)
    with (tmp_path / "examples.jsonl").open("a") as handle:
        handle.write('{"text": "x", "department": "legal"}\n')
    options = "options: {classifier: examples.jsonl}\n"
    with pytest.raises(
        ConfigError, match=r"examples.jsonl:6: department: unknown department 'legal'"
    ):
        router_for(tmp_path, {"pr.yaml": RULES, "options.yaml": options})


def test_with_weak_evidence_the_classifier_picks_among_the_matches(tmp_path: Path) -> None:
    examples_file(tmp_path, EXAMPLES)
    rules = """
        rules:
          - {name: money, department: billing, weight: 2, terms: [lost]}
          - {name: parcels, department: shipping, weight: 2, terms: [courier]}
    """
    options = "options: {classifier: examples.jsonl, classifier_routes_at: 0.5, "
    weak = router_for(
        tmp_path, {"r.yaml": rules, "o.yaml": options + "classifier_decides_below: 2}"}
    )
    routing = weak.route(post("lost card, the courier said"))  # billing wins ties by word order
    assert routing.department == "shipping" and routing.rules[-1] == "classifier:shipping"
    assert routing.cc == ("billing",)
    strong = router_for(
        tmp_path, {"r.yaml": rules, "o.yaml": options + "classifier_decides_below: 1}"}
    )
    assert strong.route(post("lost card, the courier said")).department == "billing"
