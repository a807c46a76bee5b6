"""The router (shipped rules + department model) on the evaluation set, which it never saw.

``tests/data/routing_eval/*.jsonl`` was written apart from the training corpus, rules and
examples, by another writer, about industries the corpus does not cover;
``tests/routing/test_contamination.py`` fails if any of its texts, or a near-duplicate, is in
them. Run ``python -m bench.routing_eval`` for the figures (``--misses`` lists the misses).

- *top-1*: the router's department when it routed on its own, ``none`` when it marked spam,
  else the model's first suggestion; compared with the label (``none`` for chatter and spam);
- *auto-routed*: share of posts the router sent somewhere on its own (a rule, the model above
  the gate, or spam), and the precision of those decisions;
- *none precision*: of the posts marked spam, the share labelled ``none``;
- per shipped department rule: how often the posts it fired on belong to its department.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triagebot.cases.records import Author, Mention, Priority
from triagebot.cases.suggestions import MODEL
from triagebot.routing.gate import Gate
from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.router import Router

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "data" / "routing_eval"
RULES = ROOT / "rules"
DEPARTMENTS = ("customer_service", "sales", "shipping", "billing", "hr", "pr", "product")
NONE = "none"


def load_eval(folder: Path = EVAL) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def mention_of(text: str, number: int) -> Mention:
    return Mention(
        id=f"eval:{number}",
        source="eval",
        kind="post",
        url=f"https://example.invalid/{number}",
        text=text,
        author=Author("someone"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def shipped_router(gate: Gate | None = None) -> Router:
    model = DepartmentModel.shipped(DEPARTMENTS)
    return Router.load(RULES, DEPARTMENTS, Priority.P2, model=model, gate=gate)


@dataclass
class Score:
    posts: int = 0
    correct: int = 0
    auto: int = 0
    auto_correct: int = 0
    spam: int = 0
    spam_correct: int = 0
    foreign: int = 0
    foreign_correct: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    by_label_correct: Counter[str] = field(default_factory=Counter)
    rule_fired: Counter[str] = field(default_factory=Counter)
    rule_right: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    outcomes: list[bool] = field(default_factory=list)

    @property
    def top1(self) -> float:
        return self.correct / self.posts

    @property
    def auto_share(self) -> float:
        return self.auto / self.posts

    @property
    def auto_precision(self) -> float:
        return self.auto_correct / self.auto if self.auto else 1.0

    @property
    def none_precision(self) -> float:
        return self.spam_correct / self.spam if self.spam else 1.0

    @property
    def foreign_top1(self) -> float:
        return self.foreign_correct / self.foreign if self.foreign else 1.0

    def rule_precision(self) -> dict[str, float]:
        return {r: self.rule_right[r] / n for r, n in self.rule_fired.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "top1": round(self.top1, 4),
            "auto_share": round(self.auto_share, 4),
            "auto_precision": round(self.auto_precision, 4),
            "none_precision": round(self.none_precision, 4),
            "spam_marked": self.spam,
            "non_english_posts": self.foreign,
            "non_english_top1": round(self.foreign_top1, 4),
            "by_label": {
                k: round(self.by_label_correct[k] / n, 4) for k, n in sorted(self.by_label.items())
            },
            "rule_precision": {k: round(v, 4) for k, v in sorted(self.rule_precision().items())},
        }


def evaluate(router: Router, posts: list[dict[str, Any]]) -> Score:
    score = Score()
    mentions = [mention_of(p["text"], n) for n, p in enumerate(posts)]
    router.prepare(mentions)
    department_rules = {r.id: r.department for r in router.ruleset.rules if r.department}
    for post, mention in zip(posts, mentions, strict=True):
        decision = router.decide(mention)
        routing = decision.routing
        label = post["label"]
        if routing.spam:
            guess, auto = NONE, True
            score.spam += 1
            score.spam_correct += label == NONE
        elif routing.department in DEPARTMENTS:
            guess, auto = routing.department, True
        else:
            prediction = decision.prediction or router.explain(mention).prediction
            guess, auto = (prediction.top.department if prediction else NONE), False
        right = guess == label
        score.outcomes.append(right)
        score.posts += 1
        score.correct += right
        score.by_label[label] += 1
        score.by_label_correct[label] += right
        if auto:
            score.auto += 1
            score.auto_correct += right
        if post.get("lang", "en") != "en":
            score.foreign += 1
            score.foreign_correct += right
        if not right:
            score.confusions[(label, guess)] += 1
            score.misses.append((label, guess, post["text"]))
        for rule_id in routing.rules:
            if rule_id in department_rules and not rule_id.startswith(MODEL):
                score.rule_fired[rule_id] += 1
                score.rule_right[rule_id] += department_rules[rule_id] == label
    return score


def first_pass_split(posts: list[dict[str, Any]], score: Score) -> str:
    """How many posts the shipped first pass decides alone, and how right each pass is."""
    from triagebot.routing.model.first_pass import SURE_AT  # noqa: PLC0415

    first = DepartmentModel.shipped(DEPARTMENTS).first_pass
    if first is None:
        return "no first pass"
    probabilities = first.probabilities([p["text"] for p in posts])
    sure = [
        row.max() >= SURE_AT and first.labels[int(row.argmax())] != NONE for row in probabilities
    ]
    decided = [right for right, s in zip(score.outcomes, sure, strict=True) if s]
    rest = [right for right, s in zip(score.outcomes, sure, strict=True) if not s]
    return (
        f"first pass sure of {len(decided)} posts ({100 * len(decided) / len(posts):.1f}%), "
        f"top-1 {100 * sum(decided) / max(1, len(decided)):.1f}%; the embedder routed the other "
        f"{len(rest)}, top-1 {100 * sum(rest) / max(1, len(rest)):.1f}%"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    posts = load_eval()
    score = evaluate(shipped_router(), posts)
    print(json.dumps(score.to_dict(), indent=2))
    print(first_pass_split(posts, score))
    print("top confusions:", score.confusions.most_common(8))
    if args.misses:
        for label, guess, text in score.misses:
            print(f"{label:>16} -> {guess:<16} {text[:110]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
