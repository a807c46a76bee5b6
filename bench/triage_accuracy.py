"""Accuracy of the default rules on the labelled posts in tests/data/triage_*.jsonl.

Run ``python -m bench.triage_accuracy`` for a Markdown report (``--write`` puts it into
docs/triage.md between the accuracy markers; ``--misses`` lists the posts routed wrongly).
Top-1 department accuracy counts the non-spam posts; spam precision is the share of posts
routed as spam that are labelled spam; priority accuracy counts the posts that carry a label.
``tests/test_triage_accuracy.py`` asserts the thresholds with the same code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triagebot.cases.records import FALLBACK_DEPARTMENT, Author, Mention, Priority
from triagebot.routing.router import Router
from triagebot.routing.suggest import Classifier

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "tests" / "data" / "triage_posts.jsonl"
HELDOUT = ROOT / "tests" / "data" / "triage_heldout.jsonl"
SETS = {"tuning set": POSTS, "held-out set": HELDOUT}
RULES = ROOT / "rules"
DOC = ROOT / "docs" / "triage.md"
DEPARTMENTS = ("customer_service", "sales", "shipping", "billing", "hr", "pr", "product")
BEGIN, END = "<!-- accuracy:begin -->", "<!-- accuracy:end -->"


def load_posts(path: Path = POSTS) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def default_router(rules_dir: Path = RULES, *, classifier: bool = True) -> Router:
    router = Router.load(rules_dir, DEPARTMENTS, Priority.P2)
    return router if classifier else Router(router.ruleset, Priority.P2)


def with_classifier(router: Router, examples: list[dict[str, Any]]) -> Router:
    """The same rules with a classifier trained on ``examples`` only."""
    pairs = [(p["text"], p["department"]) for p in examples if not p["spam"]]
    pairs = [(text, dept) for text, dept in pairs if dept != FALLBACK_DEPARTMENT]
    return Router(router.ruleset, Priority.P2, Classifier.train(pairs))


def evaluate_folds(router: Router, posts: list[dict[str, Any]], folds: int = 5) -> Report:
    """Rules plus a classifier that never saw the post it routes (k-fold cross-validation)."""
    total = Report()
    for fold in range(folds):
        test = [p for n, p in enumerate(posts) if n % folds == fold]
        train = [p for n, p in enumerate(posts) if n % folds != fold]
        part = evaluate(with_classifier(router, train), test)
        total.total.update(part.total)
        total.correct.update(part.correct)
        total.spam_flagged += part.spam_flagged
        total.spam_true_positive += part.spam_true_positive
        total.spam_labelled += part.spam_labelled
        total.priority_total += part.priority_total
        total.priority_correct += part.priority_correct
        total.misses += part.misses
    return total


def as_mention(number: int, post: dict[str, Any]) -> Mention:
    source = str(post.get("source", "x"))
    return Mention(
        id=f"{source}:{number}",
        source=source,
        kind=source,
        url=f"https://example.invalid/{number}",
        author=Author(f"user{number}", followers=post.get("followers", 250)),
        text=str(post["text"]),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lang=post.get("lang"),
    )


@dataclass
class Report:
    """Counts per department (non-spam posts), for spam and for priority."""

    total: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)
    spam_flagged: int = 0
    spam_true_positive: int = 0
    spam_labelled: int = 0
    priority_total: int = 0
    priority_correct: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / max(sum(self.total.values()), 1)

    @property
    def spam_precision(self) -> float:
        return self.spam_true_positive / self.spam_flagged if self.spam_flagged else 1.0

    @property
    def spam_recall(self) -> float:
        return self.spam_true_positive / self.spam_labelled if self.spam_labelled else 1.0

    @property
    def priority_accuracy(self) -> float:
        return self.priority_correct / max(self.priority_total, 1)


def evaluate(router: Router, posts: list[dict[str, Any]]) -> Report:
    report = Report()
    for number, post in enumerate(posts, 1):
        routing = router.route(as_mention(number, post))
        labelled_spam = bool(post.get("spam"))
        report.spam_labelled += labelled_spam
        if routing.spam:
            report.spam_flagged += 1
            report.spam_true_positive += labelled_spam
        if labelled_spam:
            if not routing.spam:
                report.misses.append(f"spam -> {routing.department}: {post['text']}")
            continue
        expected = post.get("department") or FALLBACK_DEPARTMENT
        got = "spam" if routing.spam else routing.department
        report.total[expected] += 1
        if got == expected:
            report.correct[expected] += 1
        else:
            report.misses.append(f"{expected} -> {got} {list(routing.rules)}: {post['text']}")
        if post.get("priority") and not routing.spam:
            report.priority_total += 1
            report.priority_correct += routing.priority.value == post["priority"]
    return report


def all_posts() -> list[dict[str, Any]]:
    return [post for path in SETS.values() for post in load_posts(path)]


def markdown(report: Report, posts: int, parts: dict[str, Report] | None = None) -> str:
    lines = [
        f"Labelled posts: {posts} (`tests/data/triage_posts.jsonl` and "
        "`tests/data/triage_heldout.jsonl`), default rules in `rules/`, with the classifier for "
        "posts no rule claims trained on the other four fifths of the posts (5-fold "
        "cross-validation, so no post is routed by a classifier that saw it).",
        "",
        "| Department | Posts | Correct | Top-1 accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for dept in sorted(report.total, key=lambda d: (d == FALLBACK_DEPARTMENT, d)):
        total, correct = report.total[dept], report.correct[dept]
        lines.append(f"| {dept} | {total} | {correct} | {correct / total:.1%} |")
    total, correct = sum(report.total.values()), sum(report.correct.values())
    lines += [
        f"| **all (non-spam)** | {total} | {correct} | **{report.accuracy:.1%}** |",
        "",
        "| Spam | Result |",
        "| --- | ---: |",
        f"| labelled spam | {report.spam_labelled} |",
        f"| routed as spam | {report.spam_flagged} |",
        f"| precision | **{report.spam_precision:.1%}** |",
        f"| recall | {report.spam_recall:.1%} |",
        "",
        f"Priority (P1/P2/P3) matches the label on {report.priority_accuracy:.1%} of "
        f"{report.priority_total} non-spam posts.",
    ]
    if parts:
        lines += [
            "",
            "| Set | Non-spam posts | Top-1 accuracy | Spam precision |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, part in parts.items():
            count = sum(part.total.values())
            lines.append(f"| {name} | {count} | {part.accuracy:.1%} | {part.spam_precision:.1%} |")
    return "\n".join(lines)


def write_doc(text: str, doc: Path = DOC) -> None:
    content = doc.read_text(encoding="utf-8")
    start, stop = content.index(BEGIN) + len(BEGIN), content.index(END)
    doc.write_text(content[:start] + "\n" + text + "\n" + content[stop:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="update docs/triage.md")
    parser.add_argument("--misses", action="store_true", help="list the posts routed wrongly")
    args = parser.parse_args(argv)
    rules_only = default_router(classifier=False)
    posts = all_posts()
    report = evaluate_folds(rules_only, posts)
    parts = {name: evaluate(rules_only, load_posts(path)) for name, path in SETS.items()}
    parts = {f"{name}, rules only": part for name, part in parts.items()}
    parts["all, rules only"] = evaluate(rules_only, posts)
    parts["all, rules + classifier (cross-validated)"] = report
    text = markdown(report, len(posts), parts)
    print(text)
    if args.misses:
        print("\n".join(["", "Misses:", *report.misses]))
    if args.write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
