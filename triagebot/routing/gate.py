"""When the model may route a post on its own, and when a person must choose.

A post no department rule claims goes where the model says when the model's top probability
reaches ``auto_route_at`` (per department optional); below it the post waits in the fallback
queue (``triage``) with the model's top suggestions shown as one-click buttons. A post the
model thinks no department owns (``none``) is marked spam only when it is at least
``spam_at`` sure and the post has at least ``SPAM_MIN_WORDS`` words, else it waits in the
fallback queue like any unsure post: a few words ("@brand refund please") are too little for
the model to close a customer's post on its own (a person dismisses chatter in one click).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from triagebot.config.routing import AUTO_ROUTE_AT, SPAM_AT, RoutingConfig

#: Fewest words (``@handles`` included) of a post the model alone may mark as spam.
SPAM_MIN_WORDS = 6


@dataclass(frozen=True)
class Gate:
    """Probability thresholds of the model's own decisions."""

    auto_route_at: float = AUTO_ROUTE_AT
    per_department: Mapping[str, float] = field(default_factory=dict)
    spam_at: float = SPAM_AT

    @classmethod
    def from_config(cls, config: RoutingConfig) -> Gate:
        return cls(config.auto_route_at, dict(config.auto_route_at_for), config.spam_at)

    def threshold(self, department: str) -> float:
        return self.per_department.get(department, self.auto_route_at)

    def may_mark_spam(self, probability: float, text: str) -> bool:
        """True when the model's ``none`` is sure enough, on enough words, to mark spam."""
        return probability >= self.spam_at and len(text.split()) >= SPAM_MIN_WORDS
