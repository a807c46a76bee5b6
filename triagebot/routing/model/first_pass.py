"""A cheap first pass: a linear model on hashed words and character n-grams.

It reads a post in a tenth of a millisecond, against about 25 ms for the embedder, and is
right far less often; but on the posts it is very sure of (``SURE_AT``), it is about as right
as the embedder. Those posts skip the embedder, which is most of the cost of routing. It
never decides that no department owns a post (spam is the embedder's call). The shipped one is
trained on the corpus; ``routing learn`` trains one on the corpus plus the deployment's labels,
weighted as for the head, and stores it with the learned head (see ``classifier``).

Features: the folded words (``textnorm``), pairs of adjacent words and the character 3- to
5-grams of each word, hashed (CRC-32) into ``BUCKETS`` buckets, each post's vector scaled to
unit length. Training is full-batch gradient descent with Nesterov momentum on the
L2-regularised, sample-weighted cross-entropy.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from triagebot.routing.textnorm import fold, tokens

BUCKETS = 1 << 17
#: A post whose top probability reaches this skips the embedder (chosen by leave-one-industry-
#: out validation on the corpus: see ``docs/benchmarks.md``).
SURE_AT = 0.7
L2 = 1e-5
STEPS = 300
RATE = 2.0
_MAX_CHARS = 2000

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def features(text: str) -> Ints:
    """The distinct buckets of ``text``'s words, word pairs and character n-grams."""
    words = tokens(fold(text[:_MAX_CHARS]))
    grams: list[str] = []
    for word in words:
        grams.append("w" + word)
        padded = f"<{word}>"
        for n in (3, 4, 5):
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    grams.extend(f"b{a} {b}" for a, b in pairwise(words))
    found = np.fromiter(
        (zlib.crc32(g.encode("utf-8")) % BUCKETS for g in grams), dtype=np.int64, count=len(grams)
    )
    return np.unique(found)


@dataclass(frozen=True)
class Sparse:
    """Rows of hashed features: bucket ids, values and row offsets (CSR)."""

    index: Ints
    value: Floats
    offsets: Ints

    @classmethod
    def of(cls, texts: Sequence[str]) -> Sparse:
        rows = [features(t) for t in texts]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        index = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        value = np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1)), lengths).astype(np.float32)
        return cls(index, value, offsets)

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1

    def times(self, weights: Floats) -> Floats:
        """The (rows, labels) product with ``weights`` (buckets, labels), a label at a time:
        the temporaries are one float per stored feature, not one per feature and label."""
        out = np.zeros((self.rows, weights.shape[1]), dtype=np.float32)
        if not len(self.index):
            return out
        filled = np.diff(self.offsets) > 0
        starts = self.offsets[:-1][filled]
        for k in range(weights.shape[1]):
            out[filled, k] = np.add.reduceat(weights[self.index, k] * self.value, starts)
        return out


@dataclass(frozen=True)
class FirstPass:
    """Weights ``(BUCKETS, labels)`` and biases of a softmax over ``labels``."""

    labels: tuple[str, ...]
    weights: Floats
    bias: Floats

    def probabilities(self, texts: Sequence[str]) -> Floats:
        return _softmax(Sparse.of(texts).times(self.weights) + self.bias)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        sample_weight: Sequence[float] | None = None,
    ) -> FirstPass:
        """Train on ``texts`` with their ``labels`` (heavier ``sample_weight`` counts more)."""
        names = tuple(sorted(set(labels)))
        index = {name: i for i, name in enumerate(names)}
        x = Sparse.of(texts)
        y = np.zeros((x.rows, len(names)), dtype=np.float32)
        y[np.arange(x.rows), [index[label] for label in labels]] = 1.0
        share = np.full((x.rows, 1), 1.0 / max(1, x.rows), dtype=np.float32)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float32)
            share = (w / w.sum())[:, None]
        lengths = np.diff(x.offsets)
        weights = np.zeros((BUCKETS, len(names)), dtype=np.float32)
        bias = np.zeros(len(names), dtype=np.float32)
        velocity, bias_velocity = np.zeros_like(weights), np.zeros_like(bias)
        grad = np.empty_like(weights)
        for _ in range(STEPS):
            ahead, bias_ahead = weights + 0.9 * velocity, bias + 0.9 * bias_velocity
            error = (_softmax(x.times(ahead) + bias_ahead) - y) * share
            for k in range(len(names)):  # a label at a time, as in ``Sparse.times``
                per_feature = np.repeat(error[:, k], lengths) * x.value
                grad[:, k] = np.bincount(x.index, per_feature, minlength=BUCKETS)
            grad += L2 * ahead
            velocity = 0.9 * velocity - RATE * grad
            bias_velocity = 0.9 * bias_velocity - RATE * error.sum(axis=0)
            weights, bias = weights + velocity, bias + bias_velocity
        return cls(names, weights, bias)

    def to_bytes(self, *, small: bool = False) -> bytes:
        """The weights as float16; ``small``: only the buckets some post has, as int8 steps
        of 1/127 of each label's largest weight (a quarter of the size)."""
        buffer = io.BytesIO()
        if not small:
            np.savez_compressed(
                buffer,
                labels=np.array(self.labels),
                weights=self.weights.astype(np.float16),
                bias=self.bias,
            )
            return buffer.getvalue()
        rows = np.flatnonzero(np.any(self.weights != 0, axis=1)).astype(np.uint32)
        step = np.maximum(np.abs(self.weights).max(axis=0), 1e-12).astype(np.float32) / 127
        np.savez_compressed(
            buffer,
            labels=np.array(self.labels),
            rows=rows,
            steps=np.round(self.weights[rows] / step).astype(np.int8),
            step=step,
            bias=self.bias,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FirstPass:
        """Read saved weights (either form); ValueError when they are not a first pass."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                labels = tuple(str(x) for x in saved["labels"])
                bias = np.asarray(saved["bias"], dtype=np.float32)
                if "weights" in saved:
                    weights = np.asarray(saved["weights"], dtype=np.float32)
                else:
                    weights = _unpack(saved["rows"], saved["steps"], saved["step"], len(labels))
        except (OSError, KeyError, ValueError, IndexError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a first-pass model: {exc}") from exc
        if weights.shape != (BUCKETS, len(labels)) or bias.shape != (len(labels),):
            raise ValueError("not a first-pass model: weights and labels disagree")
        if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
            raise ValueError("not a first-pass model: weights are not finite")
        return cls(labels, weights, bias)


def _unpack(rows: Ints, steps: npt.NDArray[np.int8], step: Floats, labels: int) -> Floats:
    """The weights saved by ``to_bytes(small=True)``."""
    if steps.shape != (len(rows), labels) or step.shape != (labels,):
        raise ValueError("rows, steps and labels disagree")
    if len(rows) and (rows.min() < 0 or rows.max() >= BUCKETS):
        raise ValueError("bucket out of range")
    weights = np.zeros((BUCKETS, labels), dtype=np.float32)
    weights[rows.astype(np.int64)] = steps.astype(np.float32) * step.astype(np.float32)
    return weights


def _softmax(logits: Floats) -> Floats:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    out: Floats = exp / exp.sum(axis=1, keepdims=True)
    return out
