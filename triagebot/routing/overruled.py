"""Shipped rules that the team's corrections prove wrong for this deployment.

A shipped department or spam rule was kept because it was right on at least
``RULE_PRECISION`` of the evaluation posts it fired on; a deployment's posts can differ (for a
parcel carrier's own team, "the evri app logs me out" is not about a parcel). When the team's
labels contradict a rule on more than ``1 - RULE_PRECISION`` of the cases it decided here (and
on at least ``MIN_RULE_ERRORS`` of them), the learned model overrules it: its posts go to the
model like any other. Cases nobody labelled count as right, so the share wrong is a floor: a
rule overruled is below the bar for certain. Rules a deployment keeps in its own rules folder are
its own "this always goes to X" and are never overruled.

Once overruled, a rule decides nothing more, so its later posts cannot show it right again:
it stays overruled in the models learned after (until the deployment puts it in a rules folder
of its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from triagebot.paths import packaged_path
from triagebot.routing.feedback import NONE, Label
from triagebot.routing.rules.spec import RuleSpec
from triagebot.store.base import Store

RULE_PRECISION = 0.95
MIN_RULE_ERRORS = 3
WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class RuleRecord:
    """How one rule fared on this deployment's cases: decided ``fired``, labelled otherwise
    by the team on ``wrong`` of them."""

    rule: str
    decides: str
    fired: int
    wrong: int

    @property
    def overruled(self) -> bool:
        return self.wrong >= MIN_RULE_ERRORS and self.wrong > (1 - RULE_PRECISION) * self.fired

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "decides": self.decides,
            "fired": self.fired,
            "wrong": self.wrong,
        }


def shipped_votes(rules: Iterable[RuleSpec], shipped_dir: Path | None = None) -> dict[str, str]:
    """What each shipped department or spam rule among ``rules`` decides (``none`` for
    spam), by rule id; ``shipped_dir``: the folder of the rules triagebot ships."""
    shipped = (shipped_dir or packaged_path("rules")).resolve()
    return {
        rule.id: NONE if rule.spam else str(rule.department)
        for rule in rules
        if (rule.spam or rule.department is not None) and rule.path.resolve().parent == shipped
    }


def rule_records(
    store: Store,
    labels: Sequence[Label],
    votes: Mapping[str, str],
    since: datetime,
    now: datetime,
) -> list[RuleRecord]:
    """Each rule of ``votes`` that decided a case ingested from ``since`` on: on how many,
    and how many of those the ``labels`` contradict. The cases are read a week at a time, so
    a long period never holds more than a week of them in memory."""
    fired: Counter[str] = Counter()
    start = since
    while True:
        end = start + WINDOW
        last = end > now
        for case in store.list_cases(since=start, until=None if last else end):
            fired.update(rule for rule in case.rules if rule in votes)
        if last:
            break
        start = end
    wrong: Counter[str] = Counter()
    for label in labels:
        wrong.update(r for r in label.rules if r in votes and votes[r] != label.department)
    return [
        RuleRecord(rule, votes[rule], count, wrong[rule]) for rule, count in sorted(fired.items())
    ]


def overruled_rules(
    records: Iterable[RuleRecord], before: Iterable[str], votes: Mapping[str, str]
) -> tuple[str, ...]:
    """The rules to overrule: those the records prove wrong here, and those overruled
    ``before`` that are still shipped rules."""
    proven = {record.rule for record in records if record.overruled}
    kept = {rule for rule in before if rule in votes}
    return tuple(sorted(proven | kept))
