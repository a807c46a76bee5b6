"""The router: rules/*.yaml compiled once (see ``matcher``), then ``route(mention) -> Routing``.

Each department's score is the sum of the weights of its rules that fired. The highest
score is the primary department (ties: the bigger single rule, then the earlier hit in the
text); others that reach ``cc_share`` of it and at least ``cc_min`` are copied (at most
``max_cc``). Spam rules score the same way: a post is spam when its spam score reaches
``spam_threshold`` and beats every department, unless a single spam rule fired and the model
would route the post to a department on its own (a customer's post that happens to hold a promo
phrase, "I work from home", "DM for details", is still a customer's post). Priority rules
apply when they name no department or the primary one; the most urgent wins, else the
configured default. A post no department rule claims is routed by the department model
(``model``) when it is sure enough (``gate``), else it goes to the fallback with the model's
suggestions; a post the model is sure no department owns is spam. Department rules are
overrides: when one fires, it wins. Without a model, the older naive Bayes classifier
(``suggest``) plays that part.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from triagebot.cases.records import Mention, Priority, Routing
from triagebot.cases.suggestions import MODEL, Suggestion
from triagebot.errors import ConfigError
from triagebot.routing.gate import Gate
from triagebot.routing.matcher import CompiledRules, Match
from triagebot.routing.rules.loading import RuleFileError
from triagebot.routing.rules.parse import parse_rules
from triagebot.routing.rules.spec import Options, RuleSet, RuleSpec
from triagebot.routing.suggest import Classifier, Guess

if TYPE_CHECKING:  # the model loads numpy: imported by those who build one
    from triagebot.routing.model.classifier import DepartmentModel, Prediction

_URGENCY = {Priority.P1: 0, Priority.P2: 1, Priority.P3: 2}


def normalise(text: str) -> str:
    """Unicode-normalised, case-folded text for matching."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Explanation:
    """Why a mention was routed as it was: rules fired (with words), scores, rules held back."""

    routing: Routing
    scores: dict[str, float]
    spam_score: float
    fired: list[tuple[RuleSpec, list[str]]]
    blocked: dict[str, str] = field(default_factory=dict)
    guess: Guess | None = None
    prediction: Prediction | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            **self.routing.to_dict(),
            "scores": self.scores,
            "spam_score": self.spam_score,
            "matches": [
                {
                    "rule": rule.id,
                    "department": rule.department,
                    "priority": rule.priority.value if rule.priority else None,
                    "spam": rule.spam,
                    "weight": rule.weight,
                    "words": words,
                }
                for rule, words in self.fired
            ],
            "not_fired": self.blocked,
            "classifier": (
                {
                    "department": self.guess.department,
                    "probability": round(self.guess.probability, 3),
                }
                if self.guess
                else None
            ),
            "model": (
                [
                    {"department": s.department, "probability": round(s.probability, 3)}
                    for s in self.prediction.ranked[:3]
                ]
                if self.prediction
                else None
            ),
        }


@dataclass(frozen=True)
class _Active:
    ruleset: RuleSet
    compiled: CompiledRules
    classifier: Classifier | None = None
    model: DepartmentModel | None = None
    gate: Gate = field(default_factory=Gate)


@dataclass(frozen=True)
class Decision:
    """A routing with the model's view of the post (None when the model was not asked)."""

    routing: Routing
    prediction: Prediction | None = None

    @property
    def confidence(self) -> float | None:
        return self.prediction.top.probability if self.prediction else None

    def suggestions(self, limit: int = 3) -> list[Suggestion]:
        return self.prediction.departments(limit) if self.prediction else []

    def to_dict(self) -> dict[str, object]:
        """The routing, the model's ``confidence`` in its first choice and its three likeliest
        labels (``suggestions``), ``none`` among them when it thinks that no department owns
        the post: what it thinks, whatever the gate then did (a card offers departments only)."""
        confidence = self.confidence
        ranked = self.prediction.ranked[:3] if self.prediction else ()
        return {
            **self.routing.to_dict(),
            "confidence": None if confidence is None else round(confidence, 3),
            "suggestions": [
                {"department": s.department, "probability": round(s.probability, 3)} for s in ranked
            ],
        }


class Router:
    """Routes mentions with compiled rules; build it with ``Router.load``.

    ``replace_rules`` swaps in the rules of another router in one step, so every holder of
    this router (pipelines, the poller) routes with the new rules from the next mention on.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        default_priority: Priority = Priority.P2,
        classifier: Classifier | None = None,
        model: DepartmentModel | None = None,
        gate: Gate | None = None,
    ) -> None:
        self._active = _Active(
            ruleset, CompiledRules(ruleset.rules), classifier, model, gate or Gate()
        )
        self.default_priority = default_priority

    @property
    def ruleset(self) -> RuleSet:
        return self._active.ruleset

    @property
    def compiled(self) -> CompiledRules:
        return self._active.compiled

    @property
    def classifier(self) -> Classifier | None:
        return self._active.classifier

    @property
    def model(self) -> DepartmentModel | None:
        return self._active.model

    @property
    def gate(self) -> Gate:
        return self._active.gate

    @property
    def options(self) -> Options:
        return self._active.ruleset.options

    def use_model(self, model: DepartmentModel | None, gate: Gate | None = None) -> None:
        """Route with ``model`` (and ``gate``) from the next mention on; the rules stay."""
        active = self._active
        self._active = _Active(
            active.ruleset, active.compiled, active.classifier, model, gate or active.gate
        )

    def replace_rules(self, other: Router) -> None:
        """Route with ``other``'s rules from now on (the model and gate stay this router's)."""
        mine = self._active
        theirs = other._active
        self._active = _Active(
            theirs.ruleset, theirs.compiled, theirs.classifier, mine.model, mine.gate
        )
        self.default_priority = other.default_priority

    @classmethod
    def load(
        cls,
        rules_dir: Path,
        known_departments: Iterable[str],
        default_priority: Priority = Priority.P2,
        model: DepartmentModel | None = None,
        gate: Gate | None = None,
    ) -> Router:
        """Read and compile every rules file; ConfigError lists each problem as file:line."""
        known = list(known_departments)
        ruleset, problems = parse_rules(rules_dir, known)
        classifier = None
        if not problems and ruleset.options.classifier:
            try:
                classifier = Classifier.from_file(rules_dir / ruleset.options.classifier, known)
            except RuleFileError as exc:
                problems.append(exc)
        if problems:
            raise ConfigError([f"{p.where}: {p.message}" for p in problems])
        return cls(ruleset, default_priority, classifier, model, gate)

    @property
    def files(self) -> list[Path]:
        return list(self.ruleset.files)

    def route(self, mention: Mention) -> Routing:
        return self.decide(mention).routing

    def decide(self, mention: Mention) -> Decision:
        """The routing of ``mention`` with the model's probabilities."""
        active = self._active
        routing, _, _, prediction = self._decide(active, active.compiled.match(mention), mention)
        return Decision(routing, prediction)

    def prepare(self, mentions: Iterable[Mention]) -> None:
        """Embed a batch of posts at once, so routing them one by one costs no more."""
        model = self._active.model
        if model is not None:
            model.prepare([m.text for m in mentions])

    def explain(self, mention: Mention) -> Explanation:
        active = self._active
        match = active.compiled.match(mention, explain=True)
        routing, scores, spam_score, prediction = self._decide(active, match, mention)
        if prediction is None and active.model is not None:
            prediction = active.model.predict([mention.text])[0]
        kept, overruled = _split_overruled(active, match.fired)
        fired = [(rule, match.words.get(rule.id, [])) for rule in kept]
        blocked = dict(match.blocked) | {
            rule.id: "overruled: the team's corrections proved it wrong here (routing learn)"
            for rule in overruled
        }
        if spam_score >= active.ruleset.options.spam_threshold and not routing.spam:
            claimer = "a department rule"  # else the model, sure of a department (_outweighed)
            if not scores and prediction is not None:
                top = prediction.top
                claimer = f"the model ({top.department} {top.probability:.0%})"
            blocked |= {
                rule.id: f"outweighed: {claimer} claims the post" for rule in kept if rule.spam
            }
        guess = active.classifier.guess(mention.text) if active.classifier else None
        return Explanation(routing, scores, spam_score, fired, blocked, guess, prediction)

    def _decide(
        self, active: _Active, match: Match, mention: Mention
    ) -> tuple[Routing, dict[str, float], float, Prediction | None]:
        opts = active.ruleset.options
        scores: dict[str, float] = {}
        biggest: dict[str, float] = {}
        first: dict[str, float] = {}
        spam_score = 0.0
        first_at = match.first_at
        fired, _ = _split_overruled(active, match.fired)
        for rule in fired:
            dept, weight = rule.department, rule.weight
            if rule.spam:
                spam_score += weight
            elif dept is not None:
                if dept in scores:
                    scores[dept] += weight
                    biggest[dept] = max(biggest[dept], weight)
                    first[dept] = min(first[dept], first_at.get(rule.id, 1.0))
                else:
                    scores[dept], biggest[dept] = weight, weight
                    first[dept] = first_at.get(rule.id, 1.0)
        ranked = sorted(scores, key=lambda d: (-scores[d], -biggest[d], first[d], d))
        top = scores[ranked[0]] if ranked else 0.0
        prediction: Prediction | None = None
        if active.model is not None and not ranked:
            prediction = active.model.predict([mention.text])[0]
        if spam_score >= opts.spam_threshold and spam_score > top:
            spam_rules = tuple(r.id for r in fired if r.spam)
            if not _outweighed(spam_rules, prediction, active.gate):
                return (
                    Routing(opts.fallback, Priority.P3, spam=True, rules=spam_rules),
                    scores,
                    spam_score,
                    prediction,
                )
        primary = ranked[0] if ranked else opts.fallback
        guessed: tuple[str, ...] = ()
        if prediction is not None:
            primary, guessed, spam = _gate(prediction, active.gate, opts.fallback, mention.text)
            if spam:
                routing = Routing(opts.fallback, Priority.P3, spam=True, rules=guessed)
                return routing, scores, spam_score, prediction
        elif active.classifier is not None and not ranked:
            primary, guessed = _ask(active.classifier, match.stems, opts)
        elif (
            active.classifier is not None
            and len(ranked) > 1
            and top <= opts.classifier_decides_below
        ):
            ranked, guessed = _pick(active.classifier, match.stems, opts, ranked)
            primary = ranked[0]
        floor = max(opts.cc_share * top, opts.cc_min)
        cc = tuple(d for d in ranked[1:] if scores[d] >= floor)[: opts.max_cc]
        priority, priority_rules = self._priority(fired, primary)
        used = tuple(r.id for r in fired if r.department is not None and not r.spam)
        rules = used + tuple(r for r in priority_rules if r not in used) + guessed
        return Routing(primary, priority, cc=cc, rules=rules), scores, spam_score, prediction

    def _priority(self, fired: list[RuleSpec], primary: str) -> tuple[Priority, tuple[str, ...]]:
        chosen: Priority | None = None
        applied: list[str] = []
        for rule in fired:
            if rule.priority is None or rule.spam or rule.department not in (None, primary):
                continue
            applied.append(rule.id)
            if chosen is None or _URGENCY[rule.priority] < _URGENCY[chosen]:
                chosen = rule.priority
        return chosen or self.default_priority, tuple(applied)


def _split_overruled(
    active: _Active, fired: list[RuleSpec]
) -> tuple[list[RuleSpec], list[RuleSpec]]:
    """The rules that fired, and those of them whose department or spam vote the learned
    model overrules (``routing.overruled``)."""
    overruled = active.model.overruled if active.model is not None else frozenset()
    if not overruled:
        return fired, []
    gone = [r for r in fired if r.id in overruled and (r.spam or r.department is not None)]
    gone_ids = {r.id for r in gone}
    return [r for r in fired if r.id not in gone_ids], gone


def _outweighed(spam_rules: tuple[str, ...], prediction: Prediction | None, gate: Gate) -> bool:
    """True when one spam rule alone fired and the model would route the post to a department
    on its own: one promo phrase in a customer's post ("I work from home") is not spam; two
    spam rules at once ("use code X for 90% off, shop now") are."""
    return len(spam_rules) == 1 and prediction is not None and _claimed(prediction, gate)


def _claimed(prediction: Prediction, gate: Gate) -> bool:
    """True when the model gives the post to a department surely enough to route it there:
    then it is not spam, whatever the spam rules say (as when a department rule claims it)."""
    top = prediction.top
    return top.department != "none" and top.probability >= gate.threshold(top.department)


def _gate(
    prediction: Prediction, gate: Gate, fallback: str, text: str
) -> tuple[str, tuple[str, ...], bool]:
    """The model's department when it is sure enough, else the fallback with suggestions.

    Returns the department, the entries for ``Routing.rules``, and whether the post is spam.
    """
    top = prediction.top
    if top.department == "none":
        if gate.may_mark_spam(top.probability, text):
            return fallback, (top.entry(MODEL),), True
    elif top.probability >= gate.threshold(top.department):
        return top.department, (top.entry(MODEL),), False
    return fallback, tuple(s.entry() for s in prediction.departments(3)), False


def _ask(classifier: Classifier, words: list[str], opts: Options) -> tuple[str, tuple[str, ...]]:
    """The classifier's department if it is sure enough, else the fallback and a suggestion."""
    guess = classifier.guess_stems(words)
    if guess is None:
        return opts.fallback, ()
    if guess.probability >= opts.classifier_routes_at:
        return guess.department, (f"classifier:{guess.department}",)
    return opts.fallback, (f"suggest:{guess.department}",)


def _pick(
    classifier: Classifier, words: list[str], opts: Options, ranked: list[str]
) -> tuple[list[str], tuple[str, ...]]:
    """With weak rule evidence, the classifier's choice among the departments the rules found."""
    guess = classifier.guess_stems(words)
    if guess is None or guess.department not in ranked[1:]:
        return ranked, ()
    if guess.probability < opts.classifier_routes_at:
        return ranked, ()
    others = [d for d in ranked if d != guess.department]
    return [guess.department, *others], (f"classifier:{guess.department}",)
