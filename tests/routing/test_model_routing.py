"""The department model routes offline, behind its gate, and reaches its targets on unseen posts.

The evaluation set (``tests/data/routing_eval``) is kept apart from everything the router
learns from (``test_contamination.py``); the thresholds are the ones ``docs/routing.md``
reports. The model runs for real: the shipped weights, the shipped embedder, no network.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.routing_eval import DEPARTMENTS, Score, evaluate, load_eval, mention_of, shipped_router
from tests.triage_helpers import write_rules
from triagebot.cases.records import Priority
from triagebot.cases.suggestions import model_choice, suggestions
from triagebot.routing.gate import Gate
from triagebot.routing.model.active import ACTIVE_KEY, StoredModel, load_active, save_stored
from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.model.corpus import read_posts, shipped_vectors
from triagebot.routing.model.embedder import MODEL_NAME, shared_embedder
from triagebot.routing.model.head import LinearHead
from triagebot.routing.router import Router

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def score() -> Score:
    return evaluate(shipped_router(), load_eval())


def test_the_corpus_is_big_varied_and_multilingual() -> None:
    posts = read_posts()
    assert len(posts) >= 3000
    assert len({p.industry for p in posts}) >= 12
    assert sum(p.lang != "en" for p in posts) >= 0.1 * len(posts)
    labels = Counter(p.label for p in posts)
    assert set(labels) == {*DEPARTMENTS, "none"}
    assert min(labels.values()) >= 150


def test_the_shipped_vectors_belong_to_the_corpus_and_to_the_shipped_embedder() -> None:
    posts = read_posts()
    vectors = shipped_vectors(posts)
    assert vectors is not None
    sample = [0, len(posts) // 2, len(posts) - 1]
    fresh = shared_embedder().embed([posts[i].text for i in sample])
    assert np.allclose(fresh, vectors[sample], atol=2e-2)


def test_the_model_loads_and_routes_with_no_network() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "*", "HTTPS_PROXY": "http://0.0.0.0:9"}
    code = (
        "from bench.routing_eval import shipped_router, mention_of\n"
        "text = 'you charged my card twice, I want my money back'\n"
        "d = shipped_router().decide(mention_of(text, 1))\n"
        "print(d.routing.department)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "billing"


def test_top1_on_posts_from_unseen_industries(score: Score) -> None:
    assert score.posts >= 600
    assert score.top1 >= 0.80, score.confusions.most_common(5)


def test_most_posts_are_routed_on_their_own_and_those_are_right(score: Score) -> None:
    assert score.auto_share >= 0.60
    assert score.auto_precision >= 0.90


def test_posts_in_other_languages(score: Score) -> None:
    assert score.foreign >= 60
    assert score.foreign_top1 >= 0.70


def test_what_is_marked_spam_is_spam(score: Score) -> None:
    assert score.spam >= 10
    assert score.none_precision >= 0.95


def test_every_shipped_department_rule_is_precise(score: Score) -> None:
    imprecise = {r: p for r, p in score.rule_precision().items() if p < 0.95}
    assert imprecise == {}


def test_an_unsure_post_waits_in_triage_with_suggestions() -> None:
    router = shipped_router(Gate(auto_route_at=0.999, spam_at=0.999))
    decision = router.decide(
        mention_of("hmm not sure who to ask about the thing from last week", 1)
    )
    assert decision.routing.department == "triage"
    assert not decision.routing.spam
    offered = suggestions(decision.routing.rules, limit=3)
    assert [s.department for s in offered] == [s.department for s in decision.suggestions()]
    assert len(offered) == 3
    assert all(s.department in DEPARTMENTS for s in offered)
    assert offered[0].probability >= offered[1].probability >= offered[2].probability


def test_a_sure_post_is_routed_and_says_so() -> None:
    router = shipped_router(Gate(auto_route_at=0.3))
    decision = router.decide(mention_of("I was charged twice for my order, please refund me", 2))
    assert decision.routing.department == "billing"
    chosen = model_choice(decision.routing.rules)
    assert chosen is not None
    assert chosen.department == "billing"
    assert decision.to_dict()["confidence"] == pytest.approx(chosen.probability, abs=0.01)


def test_a_department_rule_wins_over_the_model(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules",
        {
            "pr.yaml": """
                department: pr
                rules:
                  - name: regulator
                    terms: ["consumer watchdog"]
            """
        },
    )
    model = DepartmentModel.shipped(DEPARTMENTS)
    router = Router.load(rules, DEPARTMENTS, Priority.P2, model=model, gate=Gate())
    text = "you charged my card twice, refund me or I go to the consumer watchdog"
    assert model.predict([text])[0].top.department == "billing"
    decision = router.decide(mention_of(text, 3))
    assert decision.routing.department == "pr"
    assert decision.routing.rules == ("pr.regulator",)
    assert model_choice(decision.routing.rules) is None


def test_only_configured_departments_are_suggested() -> None:
    model = DepartmentModel.shipped(["billing", "sales"])
    prediction = model.predict(["are you hiring interns this summer?"])[0]
    assert {s.department for s in prediction.ranked} == {"billing", "sales", "none"}
    assert sum(s.probability for s in prediction.ranked) == pytest.approx(1.0, abs=1e-4)


def _triage_json(text: str, folder: Path) -> dict[str, Any]:
    """``triagebot triage --json TEXT`` with the example configuration, as a user runs it."""
    config = ROOT / "triagebot.example.toml"
    env = {**os.environ, "TRIAGEBOT_CONFIG": str(config), "TRIAGEBOT_DB": str(folder / "db.json")}
    done = subprocess.run(
        [sys.executable, "-m", "triagebot", "triage", "--json", text],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line: dict[str, Any] = json.loads(done.stdout.splitlines()[0])
    return line


def test_triage_json_carries_confidence_and_suggestions(tmp_path: Path) -> None:
    line = _triage_json("where is my parcel, 2 weeks late", tmp_path)
    assert 0.0 < line["confidence"] <= 1.0
    assert len(line["suggestions"]) == 3
    assert line["department"] == "shipping"
    assert line["suggestions"][0] == {"department": "shipping", "probability": line["confidence"]}


def test_triage_json_names_none_when_the_model_thinks_no_department_owns_the_post(
    tmp_path: Path,
) -> None:
    line = _triage_json("lol same 😂", tmp_path)
    assert (line["department"], line["spam"]) == ("triage", False)  # too short to be spam
    first = line["suggestions"][0]
    assert first == {"department": "none", "probability": line["confidence"]}
    assert first["probability"] > line["suggestions"][1]["probability"]


class _MemoryValues:
    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}

    def get_cursor(self, source: str) -> str | None:
        return self.values.get(source)

    def set_cursor(self, source: str, cursor: str | None) -> None:
        self.values[source] = cursor


def test_a_corrupt_stored_model_falls_back_to_the_shipped_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _MemoryValues()
    store.set_cursor(ACTIVE_KEY, '{"version": "v9", "head": "not base64!!"}')
    with caplog.at_level(logging.ERROR):
        model = load_active(store, DEPARTMENTS)
    assert model.version == "shipped"
    assert "shipped model" in caplog.text


def test_a_stored_model_of_another_embedder_is_not_used(caplog: pytest.LogCaptureFixture) -> None:
    head = DepartmentModel.shipped().head
    other = replace(head, embedder="some-other-model")
    store = _MemoryValues()
    save_stored(store, StoredModel("v2", other, "2026-12-01T00:00:00Z", 10, {}))
    with caplog.at_level(logging.ERROR):
        assert load_active(store, DEPARTMENTS).version == "shipped"
    assert "some-other-model" in caplog.text


def test_a_stored_model_round_trips() -> None:
    head = LinearHead.fit(
        np.eye(4, 384, dtype=np.float32), ["billing", "sales", "none", "billing"], MODEL_NAME
    )
    store = _MemoryValues()
    save_stored(store, StoredModel("v3", head, "2026-12-01T00:00:00Z", 4, {"accuracy": 1.0}))
    model = load_active(store, DEPARTMENTS)
    assert model.version == "v3"
    assert model.labels == ["billing", "none", "sales"]


@pytest.mark.parametrize(
    "text",
    [
        "sparks coming out of the outlet in my bedroom, the electrician never came",
        "Three news outlets have emailed me about the mould in our building. Answer publicly.",
    ],
)
def test_an_outlet_that_is_not_a_shop_is_not_spam(text: str) -> None:
    assert not shipped_router().route(mention_of(text, 1)).spam
