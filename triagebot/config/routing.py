"""The ``[routing]`` block of triagebot.toml: the department model and its confidence gate."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Defaults chosen on a held-out part of the shipped corpus (docs/routing.md).
AUTO_ROUTE_AT = 0.5
SPAM_AT = 0.8


class RoutingConfig(BaseModel):
    """``model``: "learned" (this deployment's active model, else the shipped one), "shipped"
    (never the learned one) or "off" (rules and the naive Bayes examples only).
    ``auto_route_at``: the model routes a post on its own at or above this probability;
    ``auto_route_at_for``: the same per department; ``spam_at``: marks "no department" as spam.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["learned", "shipped", "off"] = "learned"
    auto_route_at: float = Field(default=AUTO_ROUTE_AT, gt=0.0, le=1.0)
    auto_route_at_for: dict[str, float] = {}
    spam_at: float = Field(default=SPAM_AT, gt=0.0, le=1.0)
