"""A department model whose probabilities the test sets, behind the real router and gate.

``unsure(router, billing=0.41, sales=0.33)`` makes every post no department rule claims get
those probabilities; with the gate at 0.9 the router itself sends it to ``triage`` with the
model's suggestions, exactly as an unsure prediction of the shipped model would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from triagebot.cases.suggestions import Suggestion
from triagebot.routing.gate import Gate
from triagebot.routing.model.classifier import DepartmentModel, Prediction
from triagebot.routing.router import Router


class FixedModel:
    """Answers the same probabilities for every text (the embedder is never asked)."""

    def __init__(self, probabilities: dict[str, float]) -> None:
        ranked = sorted(probabilities.items(), key=lambda item: -item[1])
        self.prediction = Prediction(tuple(Suggestion(d, p) for d, p in ranked))
        self.asked = 0
        self.overruled: frozenset[str] = frozenset()  # no shipped rule overruled

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.asked += len(texts)
        return [self.prediction for _ in texts]

    def prepare(self, texts: Sequence[str]) -> None:
        self.predict(texts)


def unsure(router: Router, **probabilities: float) -> FixedModel:
    """Route with a model that is never sure enough (the gate at 0.9) from now on."""
    model = FixedModel(probabilities)
    router.use_model(cast(DepartmentModel, model), Gate(auto_route_at=0.9))
    return model
