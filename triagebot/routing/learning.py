"""``triagebot routing learn``: retrain the department model on the team's corrections.

The head and the first pass in front of it are trained again on the shipped corpus (its
vectors ship with triagebot, so only this deployment's posts are embedded) plus this
deployment's labels (``feedback``): corrections weigh ``CORRECTION_WEIGHT`` times a corpus
post, confirmations ``CONFIRMATION_WEIGHT`` times, and the few labels of a department the
corpus lacks more (see ``Learner.weights``); then the biases are moved so that corrections
change what a department's posts look like, not how common it is (``Learner.prior_shift``).
The first pass has to learn too: a post it is sure of never reaches the head, so a head alone
could not change where such posts go; elsewhere the learned model blends the two
(``classifier.blend``). The most recent fifth of the labels (in time order) is held out: a
candidate (first pass and head) trained without them is scored on them against the model
routing now, each read the way it routes (``classifier.route_probabilities``), and only a
candidate that is not worse is trained again on every label and activated in the store, where
every process of the deployment finds it. A model that has already learned from the held-out
posts cannot be judged on them; it is then the shipped model that the candidate must not fall
behind.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from triagebot.cases.records import FALLBACK_DEPARTMENT
from triagebot.cases.time_fields import iso, parse_iso
from triagebot.errors import TriagebotError
from triagebot.routing.feedback import NONE, Label, LabelKind, read_labels
from triagebot.routing.model.active import StoredModel, read_stored, save_stored
from triagebot.routing.model.classifier import route_probabilities, shipped_first_pass
from triagebot.routing.model.corpus import HEAD, read_posts, shipped_vectors
from triagebot.routing.model.embedder import Embedder, Vectors, shared_embedder
from triagebot.routing.model.first_pass import FirstPass
from triagebot.routing.model.head import Floats, LinearHead
from triagebot.routing.overruled import RuleRecord, overruled_rules, rule_records
from triagebot.store.base import Store

log = logging.getLogger(__name__)

CORRECTION_WEIGHT = 5.0
CONFIRMATION_WEIGHT = 2.0
NEW_DEPARTMENT_CAP = 40.0
HOLDOUT_SHARE = 0.2
#: Fewer labels than this teach too little to be worth a model of their own.
MIN_LABELS = 5
#: The most recent labels used (older ones are dropped: embedding them is the slow part).
MAX_LABELS = 5000


class LearningError(TriagebotError):
    """Learning cannot run (the shipped corpus vectors do not match the corpus)."""


@dataclass(frozen=True)
class Score:
    """Right answers per department (by the label) on the held-out posts."""

    correct: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        whole = sum(self.total.values())
        return sum(self.correct.values()) / whole if whole else None

    def of(self, department: str) -> float | None:
        whole = self.total.get(department, 0)
        return self.correct.get(department, 0) / whole if whole else None

    def to_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "departments": {
                d: {"correct": self.correct.get(d, 0), "total": n, "accuracy": self.of(d)}
                for d, n in sorted(self.total.items())
            },
        }


@dataclass(frozen=True)
class LearnResult:
    """What a learning run found and did."""

    activated: bool
    reason: str
    labels: int
    corrections: int
    confirmations: int
    held_out: int
    baseline: str
    before: Score
    after: Score
    version: str | None = None
    #: The shipped rules that decided cases here, and those the new model overrules.
    rules: tuple[RuleRecord, ...] = ()
    overruled: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "activated": self.activated,
            "reason": self.reason,
            "version": self.version,
            "rules": [record.to_dict() for record in self.rules],
            "overruled_rules": list(self.overruled),
            "labels": self.labels,
            "corrections": self.corrections,
            "confirmations": self.confirmations,
            "held_out": self.held_out,
            "baseline": self.baseline,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


@dataclass(frozen=True)
class Trained:
    """What routes: a head and the first pass in front of it (None: every post is embedded),
    ``blended`` with it when the first pass was learned with the head (see ``classifier``)."""

    head: LinearHead
    first_pass: FirstPass | None
    blended: bool = False


def score(
    head: LinearHead,
    vectors: Vectors,
    labels: Sequence[str],
    allowed: set[str],
    *,
    first_pass: FirstPass | None = None,
    texts: Sequence[str] = (),
    blended: bool = False,
) -> Score:
    """Top-1 among the ``allowed`` labels, per true label, of ``head`` on ``vectors``, or,
    given a ``first_pass`` and the ``texts``, of the two as they route (see
    ``classifier.route_probabilities``)."""
    first = None
    if first_pass is not None and first_pass.labels == head.labels:
        first = first_pass.probabilities(texts)
    probabilities = route_probabilities(head, vectors, first, blended=blended)
    keep = np.array([name in allowed for name in head.labels])
    probabilities = probabilities[:, keep]
    names = [name for name in head.labels if name in allowed]
    correct: dict[str, int] = {}
    total: dict[str, int] = {}
    for row, truth in zip(probabilities, labels, strict=True):
        total[truth] = total.get(truth, 0) + 1
        if names[int(np.argmax(row))] == truth:
            correct[truth] = correct.get(truth, 0) + 1
    return Score(correct, total)


def weight_of(label: Label) -> float:
    return CORRECTION_WEIGHT if label.kind is LabelKind.CORRECTION else CONFIRMATION_WEIGHT


class Learner:
    """Trains heads on the shipped corpus plus a deployment's labels."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or shared_embedder()
        posts = read_posts()
        vectors = shipped_vectors(posts)
        if vectors is None:
            raise LearningError(
                "the shipped corpus vectors do not match the corpus: "
                "run `python -m triagebot.routing.model.build`"
            )
        self.corpus_vectors = vectors
        self.corpus_texts = [p.text for p in posts]
        self.corpus_labels = [p.label for p in posts]

    def embed(self, labels: Sequence[Label]) -> Vectors:
        texts = list(dict.fromkeys(label.text for label in labels))
        vectors = self.embedder.embed(texts)
        row = {text: i for i, text in enumerate(texts)}
        return vectors[[row[label.text] for label in labels]] if labels else vectors

    def fit(self, labels: Sequence[Label], vectors: Vectors) -> Trained:
        """A head and a first pass on the corpus and ``labels`` (whose vectors are
        ``vectors``), weighted alike, their biases moved by ``prior_shift``."""
        all_vectors = np.vstack([self.corpus_vectors, vectors]) if labels else self.corpus_vectors
        names = self.corpus_labels + [label.department for label in labels]
        label_weights = self.weights(labels)
        weights = [1.0] * len(self.corpus_labels) + label_weights
        head = LinearHead.fit(all_vectors, names, self.embedder.name, weights)
        texts = self.corpus_texts + [label.text for label in labels]
        first_pass = FirstPass.fit(texts, names, weights)
        shift = self.prior_shift(labels, label_weights, head.labels)
        head = replace(head, bias=(head.bias + shift).astype(np.float32))
        first_pass = replace(first_pass, bias=(first_pass.bias + shift).astype(np.float32))
        return Trained(head, first_pass, blended=True)

    def prior_shift(
        self, labels: Sequence[Label], weights: Sequence[float], names: Sequence[str]
    ) -> Floats:
        """What to add to each label's bias so that corrections teach what a department's
        posts look like, not how common it is.

        Corrections are the posts routing got wrong, so their departments are not spread as
        the deployment's posts are (posts the model is unsure of, chatter above all, are
        many of them); trained on as they come, they make those departments likelier for
        every post. The usual correction for a training sample whose labels are spread
        otherwise than where the model is used: add log(target share) - log(trained share)
        to each bias, the target counting the corrections' weight as spread like the corpus.
        Confirmations, drawn from the posts routed right, count as they are. A department the
        corpus lacks is left out, and not moved: its corrections are all there is of it.
        """
        corpus = Counter(self.corpus_labels)
        known = [n for n in names if corpus[n]]
        corrected: defaultdict[str, float] = defaultdict(float)
        confirmed: defaultdict[str, float] = defaultdict(float)
        for label, weight in zip(labels, weights, strict=True):
            kept = corrected if label.kind is LabelKind.CORRECTION else confirmed
            kept[label.department] += weight
        moved = sum(corrected[n] for n in known) / sum(corpus[n] for n in known)
        trained = {n: corpus[n] + confirmed[n] + corrected[n] for n in known}
        target = {n: corpus[n] * (1.0 + moved) + confirmed[n] for n in known}
        total_trained, total_target = sum(trained.values()), sum(target.values())
        shift = [
            math.log(target[n] / total_target) - math.log(trained[n] / total_trained)
            if n in trained
            else 0.0
            for n in names
        ]
        return np.asarray(shift, dtype=np.float32)

    def weights(self, labels: Sequence[Label]) -> list[float]:
        """Each label's weight; a department the corpus lacks weighs, until it has enough
        labels of its own, about as much as an average corpus department (at most
        ``NEW_DEPARTMENT_CAP`` per label)."""
        known = set(self.corpus_labels)
        average = len(self.corpus_labels) / max(1, len(known))
        new = Counter(label.department for label in labels if label.department not in known)
        return [
            max(weight_of(label), min(NEW_DEPARTMENT_CAP, average / new[label.department]))
            if label.department in new
            else weight_of(label)
            for label in labels
        ]


def _baseline(stored: StoredModel | None, first_held_out: datetime) -> tuple[str, Trained]:
    """The model to beat, as it routes: the active learned one (``stored``) unless it has seen
    the held-out posts (one stored without a first pass routes behind the shipped one)."""
    shipped = shipped_first_pass()
    if stored is not None:
        seen_until = _time_or_none(stored.report.get("labels_until"))
        if seen_until is not None and seen_until < first_held_out:
            if stored.first_pass is not None:
                return stored.version, Trained(stored.head, stored.first_pass, blended=True)
            return stored.version, Trained(stored.head, shipped)
    return "shipped", Trained(LinearHead.from_bytes(HEAD.read_bytes()), shipped)


def _time_or_none(value: object) -> datetime | None:
    try:
        return parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def learn(
    store: Store,
    departments: Iterable[str],
    now: datetime,
    *,
    fallback: str = FALLBACK_DEPARTMENT,
    learner: Learner | None = None,
    activate: bool = True,
    shipped_rules: Mapping[str, str] | None = None,
) -> tuple[LearnResult, StoredModel | None]:
    """Retrain on the corpus and ``store``'s labels; store the new model if not worse.

    ``shipped_rules``: what each shipped department or spam rule in use decides, by id; those
    the labels prove wrong here are overruled by the new model (``routing.overruled``).
    Returns the result and the model now active because of this run (None if none was).
    """
    known = set(departments) - {fallback}
    labels = read_labels(store, known=known, fallback=fallback)[-MAX_LABELS:]
    corrections = sum(label.kind is LabelKind.CORRECTION for label in labels)
    counts = (len(labels), corrections, len(labels) - corrections)
    if len(labels) < MIN_LABELS:
        reason = f"{len(labels)} labels from the team, fewer than {MIN_LABELS}: nothing learned"
        return LearnResult(False, reason, *counts, 0, "-", Score(), Score()), None
    learner = learner or Learner()
    vectors = learner.embed(labels)
    held = max(1, round(len(labels) * HOLDOUT_SHARE))
    split = len(labels) - held
    candidate = learner.fit(labels[:split], vectors[:split])
    stored = read_stored(store)
    baseline_name, baseline = _baseline(stored, labels[split].at)
    allowed = known | {NONE}
    truths = [label.department for label in labels[split:]]
    texts = [label.text for label in labels[split:]]

    def judged(model: Trained) -> Score:
        return score(
            model.head,
            vectors[split:],
            truths,
            allowed,
            first_pass=model.first_pass,
            texts=texts,
            blended=model.blended,
        )

    before, after = judged(baseline), judged(candidate)
    votes = shipped_rules or {}
    first = min(label.ingested_at for label in labels)
    records = tuple(rule_records(store, labels, votes, first, now))
    overruled = overruled_rules(records, stored.overruled if stored else (), votes)
    if (after.accuracy or 0.0) < (before.accuracy or 0.0):
        reason = "the new model is worse on the latest labels: the active model stays"
        result = LearnResult(False, reason, *counts, held, baseline_name, before, after)
        return replace(result, rules=records, overruled=overruled), None
    if not activate:
        reason = "not worse on the latest labels (dry run: nothing stored)"
        result = LearnResult(False, reason, *counts, held, baseline_name, before, after)
        return replace(result, rules=records, overruled=overruled), None
    version = f"learned-{now:%Y%m%dT%H%M%SZ}-{len(labels)}"
    result = LearnResult(
        True,
        "not worse on the latest labels: activated",
        *counts,
        held,
        baseline_name,
        before,
        after,
        version,
        records,
        overruled,
    )
    report = result.to_dict() | {"labels_until": iso(labels[-1].at)}
    final = learner.fit(labels, vectors)
    model = StoredModel(
        version, final.head, iso(now) or "", len(labels), report, final.first_pass, overruled
    )
    save_stored(store, model)
    log.info(
        "routing model %s activated: %d labels, %.1f%% -> %.1f%% on the latest %d",
        version,
        len(labels),
        100 * (before.accuracy or 0.0),
        100 * (after.accuracy or 0.0),
        held,
    )
    return result, model
