"""How likely each department is to own a post: the embedder and a head, over known departments.

Labels the deployment has not configured are dropped and the rest renormalised, so a
deployment without, say, ``hr`` never gets an ``hr`` suggestion. ``none`` (no department owns
the post) is kept: it is what marks chatter and spam. A small cache keeps the last predictions
by text, so a batch embedded at once (``prepare``) is not embedded again post by post.

Every post is read first by the cheap ``first_pass``; a post it is sure of (a department, not
``none``) is not embedded. A learned model has a first pass of its own, trained on the same
labels as its head, and it *blends* the two on the posts the first pass is not sure of (see
``blend``): the first pass reads the deployment's own words (its places, products and
phrasing) that the embedder's head can only approximate. An older learned head without a
first pass keeps the shipped one unless it has learned a department the corpus lacks (then
every post is embedded, so that department can be found).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from triagebot.cases.suggestions import Suggestion
from triagebot.routing.model.corpus import FIRST_PASS, HEAD, NONE
from triagebot.routing.model.embedder import Embedder, shared_embedder
from triagebot.routing.model.first_pass import SURE_AT, FirstPass
from triagebot.routing.model.head import Floats, LinearHead

log = logging.getLogger(__name__)
_CACHE = 4096


@dataclass(frozen=True)
class Prediction:
    """Every label with its probability, most likely first."""

    ranked: tuple[Suggestion, ...]

    @property
    def top(self) -> Suggestion:
        return self.ranked[0]

    def departments(self, limit: int = 3) -> list[Suggestion]:
        """The most likely departments (``none`` left out)."""
        return [s for s in self.ranked if s.department != NONE][:limit]


def sure(first: Floats, labels: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which rows of first-pass probabilities decide on their own: a department (not ``none``)
    at ``SURE_AT`` or more."""
    none = list(labels).index(NONE) if NONE in labels else -1
    decided: npt.NDArray[np.bool_] = (first.max(axis=1) >= SURE_AT) & (first.argmax(axis=1) != none)
    return decided


def blend(head: Floats, first: Floats) -> Floats:
    """The normalised geometric mean of a head's and a first pass's probabilities (rows of the
    same labels): where they disagree, the one that is surer weighs more. Chosen on the
    learning streams of ``tests/data/routing_stream`` (see ``docs/benchmarks.md``)."""
    mixed = np.sqrt(np.maximum(head, 1e-9) * np.maximum(first, 1e-9)).astype(np.float32)
    out: Floats = mixed / mixed.sum(axis=1, keepdims=True)
    return out


def route_probabilities(
    head: LinearHead,
    vectors: Floats,
    first: Floats | None,
    *,
    blended: bool,
) -> Floats:
    """Each label's probability as a model routes, given the head's input ``vectors`` and the
    first pass's probabilities ``first`` of the same posts: the first pass where it is sure,
    elsewhere the head, or the ``blend`` of the two for a learned first pass."""
    probabilities = head.probabilities(vectors)
    if first is None:
        return probabilities
    if blended:
        probabilities = blend(probabilities, first)
    decided = sure(first, head.labels)
    probabilities[decided] = first[decided]
    return probabilities


def shipped_first_pass() -> FirstPass | None:
    """The first pass trained on the shipped corpus (None when it was not built)."""
    return FirstPass.from_bytes(FIRST_PASS.read_bytes()) if FIRST_PASS.is_file() else None


class DepartmentModel:
    """A trained head over the embeddings of one embedder; ``version`` names the head.
    ``overruled``: shipped rules this deployment's corrections proved wrong here (see
    ``routing.overruled``); the router lets the model decide their posts."""

    def __init__(
        self,
        head: LinearHead,
        embedder: Embedder | None = None,
        departments: Iterable[str] | None = None,
        version: str = "shipped",
        first_pass: FirstPass | None = None,
        *,
        blended: bool = False,
        overruled: Iterable[str] = (),
    ) -> None:
        self.head = head
        self.overruled = frozenset(overruled)
        self.embedder = embedder or shared_embedder()
        self.version = version
        self.first_pass = first_pass if first_pass and first_pass.labels == head.labels else None
        self.blended = blended and self.first_pass is not None
        wanted = set(departments) | {NONE} if departments is not None else set(head.labels)
        self._keep = np.array([label in wanted for label in head.labels])
        self._labels = [label for label in head.labels if label in wanted]
        self._cache: OrderedDict[str, Prediction] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def shipped(cls, departments: Iterable[str] | None = None) -> DepartmentModel:
        """The head trained on the shipped corpus, with its first pass."""
        head = LinearHead.from_bytes(HEAD.read_bytes())
        first_pass = shipped_first_pass()
        return cls(head, None, departments, "shipped", first_pass)

    @classmethod
    def learned(
        cls,
        head: LinearHead,
        departments: Iterable[str] | None,
        version: str,
        first_pass: FirstPass | None = None,
        overruled: Iterable[str] = (),
    ) -> DepartmentModel:
        """A deployment's learned head behind its learned ``first_pass``, blended with it;
        without one, behind the shipped first pass when their labels agree (a head that
        learned a department of its own then reads every post)."""
        if first_pass is not None:
            return cls(
                head, None, departments, version, first_pass, blended=True, overruled=overruled
            )
        return cls(head, None, departments, version, shipped_first_pass(), overruled=overruled)

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, embedding only the texts not predicted recently."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            found = self._find(missing)
            with self._lock:
                for text, prediction in zip(missing, found, strict=True):
                    self._cache[text] = prediction
                while len(self._cache) > _CACHE:
                    self._cache.popitem(last=False)
        with self._lock:
            return [self._cache.get(t) or self._rank_one(t) for t in texts]

    def _find(self, texts: list[str]) -> list[Prediction]:
        """Predictions for ``texts`` as ``route_probabilities`` reads them, embedding only the
        posts the first pass is not sure of."""
        if self.first_pass is None:
            return self._rank(self.head.probabilities(self.embedder.embed(texts)))
        first = self.first_pass.probabilities(texts)
        probabilities = first.copy()
        unsure = ~sure(first, self.head.labels)
        if unsure.any():
            rest = [t for t, u in zip(texts, unsure, strict=True) if u]
            vectors = self.embedder.embed(rest)
            probabilities[unsure] = route_probabilities(
                self.head, vectors, first[unsure], blended=self.blended
            )
        return self._rank(probabilities)

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed a batch in one go; later ``predict`` calls for these texts are free."""
        self.predict(texts)

    def _rank_one(self, text: str) -> Prediction:  # evicted while a huge batch went by
        return self._find([text])[0]

    def _rank(self, probabilities: Floats) -> list[Prediction]:
        kept = probabilities[:, self._keep]
        kept = kept / kept.sum(axis=1, keepdims=True)
        out: list[Prediction] = []
        for row in kept:
            order = np.argsort(-row)
            out.append(Prediction(tuple(Suggestion(self._labels[i], float(row[i])) for i in order)))
        return out
