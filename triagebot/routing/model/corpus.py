"""The labelled posts shipped with triagebot, and their precomputed embeddings.

``data/corpus/<industry>.jsonl`` holds one post a line: ``text``, ``label`` (a department or
``none``), optional ``secondary``, ``lang``, ``industry`` and ``voice``. The vectors of those
texts are shipped beside them (``data/model/corpus_vectors.npy``, float16, in corpus order) with
a digest of the texts, so retraining never has to embed the corpus again; ``build`` remakes
both when the corpus changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triagebot.routing.model.embedder import Vectors

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS_DIR = DATA / "corpus"
MODEL_DIR = DATA / "model"
VECTORS = MODEL_DIR / "corpus_vectors.npy"
DIGEST = MODEL_DIR / "corpus_digest.txt"
HEAD = MODEL_DIR / "head.npz"
FIRST_PASS = MODEL_DIR / "first_pass.npz"
#: What a post that no department owns is labelled.
NONE = "none"


@dataclass(frozen=True)
class LabelledPost:
    text: str
    label: str
    lang: str = "en"
    industry: str = ""


def read_posts(folder: Path = CORPUS_DIR) -> list[LabelledPost]:
    """Every labelled post of the ``*.jsonl`` files in ``folder``, files in name order."""
    posts: list[LabelledPost] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            posts.append(
                LabelledPost(
                    str(row["text"]),
                    str(row["label"]),
                    str(row.get("lang") or "en"),
                    str(row.get("industry") or path.stem),
                )
            )
    return posts


def digest(texts: list[str]) -> str:
    """A digest of the texts in order: shipped vectors belong to exactly these texts."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def shipped_vectors(posts: list[LabelledPost]) -> Vectors | None:
    """The shipped vectors of ``posts``, or None when they belong to other texts."""
    if not VECTORS.is_file() or not DIGEST.is_file():
        return None
    if DIGEST.read_text(encoding="utf-8").strip() != digest([p.text for p in posts]):
        return None
    vectors = np.load(VECTORS, allow_pickle=False).astype(np.float32)
    return vectors if vectors.shape[0] == len(posts) else None
