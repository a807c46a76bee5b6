"""Learning's parts that need no embedding: label weights, scoring, too few labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

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
