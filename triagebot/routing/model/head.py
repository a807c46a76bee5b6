"""A multinomial logistic regression on embeddings: the trainable part of the model.

Training is full-batch gradient descent with Nesterov momentum on the L2-regularised,
sample-weighted cross-entropy: a convex problem of ``labels x (DIM + 1)`` weights, solved in
well under a second for thousands of posts. The weights are plain arrays, saved as ``.npz``
bytes with the labels and the name of the embedding model they were trained on.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]

#: L2 strength, steps and rate chosen by leave-one-industry-out validation on the corpus.
DEFAULT_L2 = 3e-5
STEPS = 1000
RATE = 4.0


@dataclass(frozen=True)
class LinearHead:
    """Weights ``(labels, dim)`` and biases of a softmax over ``labels``."""

    labels: tuple[str, ...]
    weights: Floats
    bias: Floats
    embedder: str

    def probabilities(self, vectors: Floats) -> Floats:
        """One row per vector: the probability of each label, summing to 1."""
        logits = vectors @ self.weights.T + self.bias
        return _softmax(logits)

    @classmethod
    def fit(
        cls,
        vectors: Floats,
        labels: Sequence[str],
        embedder: str,
        sample_weight: Sequence[float] | None = None,
        l2: float = DEFAULT_L2,
    ) -> LinearHead:
        """Train on ``vectors`` with their ``labels`` (heavier ``sample_weight`` counts more)."""
        names = tuple(sorted(set(labels)))
        index = {name: i for i, name in enumerate(names)}
        y = np.zeros((len(labels), len(names)), dtype=np.float32)
        y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
        w = np.ones(len(labels), dtype=np.float32)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float32)
        w = w / w.sum()
        x = np.hstack([vectors.astype(np.float32), np.ones((len(labels), 1), np.float32)])
        theta = np.zeros((x.shape[1], len(names)), dtype=np.float32)
        velocity = np.zeros_like(theta)
        for _ in range(STEPS):
            ahead = theta + 0.9 * velocity
            grad = x.T @ ((_softmax((x @ ahead).astype(np.float32)) - y) * w[:, None])
            grad[:-1] += l2 * ahead[:-1]
            velocity = 0.9 * velocity - RATE * grad
            theta = theta + velocity
        return cls(names, theta[:-1].T.copy(), theta[-1].copy(), embedder)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            labels=np.array(self.labels),
            weights=self.weights,
            bias=self.bias,
            embedder=np.array(self.embedder),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearHead:
        """Read saved weights; ValueError when they are not a head."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                labels = tuple(str(x) for x in saved["labels"])
                weights = np.asarray(saved["weights"], dtype=np.float32)
                bias = np.asarray(saved["bias"], dtype=np.float32)
                embedder = str(saved["embedder"])
        except (OSError, KeyError, ValueError, EOFError) as exc:
            raise ValueError(f"not a routing model: {exc}") from exc
        if weights.ndim != 2 or weights.shape[0] != len(labels) or bias.shape != (len(labels),):
            raise ValueError("not a routing model: weights and labels disagree")
        if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
            raise ValueError("not a routing model: weights are not finite")
        return cls(labels, weights, bias, embedder)


def _softmax(logits: Floats) -> Floats:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    out: Floats = exp / exp.sum(axis=1, keepdims=True)
    return out
