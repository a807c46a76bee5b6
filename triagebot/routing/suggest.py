"""A small classifier for posts no rule claims, trained from labelled examples in rules/.

Multinomial naive Bayes over the same stems the rules match (single stems and pairs of
neighbours), pure Python, trained when the rules load (a few hundred examples take
milliseconds). The router asks it only when no department rule fired: a confident guess
routes the post (``options.classifier_routes_at``), a weaker one is recorded as a suggestion
while the post goes to the fallback department.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise, repeat
from pathlib import Path

from triagebot.routing.rules.loading import RuleFileError
from triagebot.routing.textnorm import fold, stems, tokens

SMOOTHING = 0.5


def features(text: str) -> list[str]:
    """Stems and neighbouring pairs of stems."""
    return stem_features(stems(tokens(fold(text))))


def stem_features(words: list[str]) -> list[str]:
    return words + [f"{a} {b}" for a, b in pairwise(words)]


@dataclass(frozen=True)
class Guess:
    department: str
    probability: float


class Classifier:
    """Naive Bayes over ``features``; build it with ``train`` or ``from_file``."""

    def __init__(
        self,
        priors: dict[str, float],
        weights: dict[str, dict[str, float]],
        unseen: dict[str, float],
    ) -> None:
        self.priors = priors
        self.weights = weights
        self.unseen = unseen
        self.vocabulary = frozenset(f for w in weights.values() for f in w)

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> Classifier:
        """From (text, department) pairs."""
        counts: dict[str, Counter[str]] = {}
        documents: Counter[str] = Counter()
        for text, department in examples:
            documents[department] += 1
            counts.setdefault(department, Counter()).update(features(text))
        vocabulary = {f for c in counts.values() for f in c}
        total = sum(documents.values())
        priors = {d: math.log(n / total) for d, n in documents.items()}
        weights: dict[str, dict[str, float]] = {}
        unseen: dict[str, float] = {}
        for department, counter in counts.items():
            denominator = math.log(sum(counter.values()) + SMOOTHING * (len(vocabulary) + 1))
            unseen[department] = math.log(SMOOTHING) - denominator
            weights[department] = {
                f: math.log(n + SMOOTHING) - denominator for f, n in counter.items()
            }
        return cls(priors, weights, unseen)

    @classmethod
    def from_file(cls, path: Path, known_departments: Iterable[str]) -> Classifier:
        """Examples as JSON lines ``{"text": ..., "department": ...}``; errors name the line."""
        known = set(known_departments)
        examples = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleFileError(
                path, None, f"cannot read the classifier's examples: {exc}"
            ) from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                text, department = str(data["text"]), str(data["department"])
            except (ValueError, KeyError, TypeError, RecursionError):
                raise RuleFileError(
                    path, number, 'each line must be {"text": ..., "department": ...}'
                ) from None
            if department not in known:
                raise RuleFileError(path, number, f"department: unknown department {department!r}")
            examples.append((text, department))
        if not examples:
            raise RuleFileError(path, None, "no examples to learn from")
        return cls.train(examples)

    def guess(self, text: str) -> Guess | None:
        """The likeliest department and its probability, or None for a post with no known word."""
        return self.guess_stems(stems(tokens(fold(text))))

    def guess_stems(self, words: list[str]) -> Guess | None:
        """``guess`` for a post already reduced to stems."""
        found = stem_features(words)
        if not any(map(self.vocabulary.__contains__, found)):
            return None
        count = len(found)
        scores = {
            d: prior + sum(map(self.weights[d].get, found, repeat(self.unseen[d], count)))
            for d, prior in self.priors.items()
        }
        best = max(scores, key=lambda d: scores[d])
        total = sum(math.exp(s - scores[best]) for s in scores.values())
        return Guess(best, 1.0 / total)
