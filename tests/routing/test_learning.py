"""Learning's parts that need no embedding: label weights, scoring, too few labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.routing.test_active_model import LABELS, always
from triagebot.routing.feedback import Label, LabelKind
from triagebot.routing.learning import (
    CONFIRMATION_WEIGHT,
    CORRECTION_WEIGHT,
    NEW_DEPARTMENT_CAP,
    Learner,
    learn,
    score,
)
from triagebot.routing.model.embedder import DIM
from triagebot.store.tinydb_store import TinyDBStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def label(n: int, department: str, kind: LabelKind = LabelKind.CORRECTION) -> Label:
    return Label(str(n), f"post {n}", department, kind, T0 + timedelta(minutes=n), "sales", T0)


def test_corrections_weigh_more_than_confirmations_and_a_new_department_more_still() -> None:
    learner = Learner()
    few = [label(n, "claims") for n in range(10)]
    many = [label(n, "warranty") for n in range(400)]
    weights = learner.weights(
        [label(1, "billing"), label(2, "billing", LabelKind.CONFIRMATION), *few, *many]
    )
    assert weights[:2] == [CORRECTION_WEIGHT, CONFIRMATION_WEIGHT]
    assert CORRECTION_WEIGHT < weights[2] <= NEW_DEPARTMENT_CAP  # 10 labels: close to the cap
    assert weights[-1] == CORRECTION_WEIGHT  # 400 labels are enough on their own


def test_score_counts_top_one_among_the_allowed_labels_per_department() -> None:
    head = always("hr", "x").head
    vectors = np.zeros((3, DIM), np.float32)
    result = score(head, vectors, ["hr", "sales", "sales"], set(LABELS))
    assert (result.correct, result.total) == ({"hr": 1}, {"hr": 1, "sales": 2})
    assert result.accuracy == 1 / 3 and result.of("sales") == 0.0
    without_hr = score(head, vectors, ["hr", "sales", "sales"], set(LABELS) - {"hr"})
    assert without_hr.of("hr") == 0.0


def test_too_few_labels_learn_nothing_and_store_nothing(tmp_path: Path) -> None:
    with TinyDBStore(tmp_path / "triagebot.json") as store:
        result, model = learn(store, ["sales", "billing"], T0)
        assert not result.activated and model is None
        assert "0 labels from the team" in result.reason
        assert store.get_cursor("routing:model:active") is None


def _shares(learner: Learner, labels: list[Label], names: list[str]) -> dict[str, float]:
    """Each label's share of the training weight, as the biases see it after the shift."""
    weights = learner.weights(labels)
    shift = learner.prior_shift(labels, weights, names)
    trained = {n: float(learner.corpus_labels.count(n)) for n in names}
    for one, weight in zip(labels, weights, strict=True):
        trained[one.department] += weight
    moved = {n: trained[n] * np.exp(s) for n, s in zip(names, shift, strict=True)}
    total = sum(moved.values())
    return {n: moved[n] / total for n in names}


def test_corrections_change_no_department_s_share_of_the_prior() -> None:
    learner = Learner()
    names = sorted(set(learner.corpus_labels))
    corpus = {n: learner.corpus_labels.count(n) / len(learner.corpus_labels) for n in names}
    chatter = [label(n, "none") for n in range(150)] + [label(n, "billing") for n in range(50)]
    shares = _shares(learner, chatter, names)
    assert shares == pytest.approx(corpus, rel=1e-4)
    moved = learner.prior_shift(chatter, learner.weights(chatter), names)
    shift = dict(zip(names, moved, strict=True))
    assert shift["none"] < shift["billing"] < 0 < shift["sales"]


def test_confirmations_and_departments_the_corpus_lacks_keep_their_share() -> None:
    learner = Learner()
    names = sorted({*learner.corpus_labels, "claims"})
    confirmed = [label(n, "none", LabelKind.CONFIRMATION) for n in range(100)]
    assert not learner.prior_shift(confirmed, learner.weights(confirmed), names).any()
    new = [label(n, "claims") for n in range(30)]
    assert not learner.prior_shift(new, learner.weights(new), names).any()
    mixed = [*new, label(31, "none")]
    moved = learner.prior_shift(mixed, learner.weights(mixed), names)
    shift = dict(zip(names, moved, strict=True))
    assert shift["claims"] == 0.0 and shift["none"] < 0 < shift["sales"]
