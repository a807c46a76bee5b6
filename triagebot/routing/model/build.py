"""Remake the shipped corpus vectors and head: ``python -m triagebot.routing.model.build``.

Run it after editing ``data/corpus``; it embeds every post (a few minutes on one core) and
trains the head that ``triagebot triage`` uses until a deployment learns its own, and the
cheap first pass in front of it.
"""

from __future__ import annotations

import sys

import numpy as np

from triagebot.routing.model.corpus import (
    DIGEST,
    FIRST_PASS,
    HEAD,
    MODEL_DIR,
    VECTORS,
    digest,
    read_posts,
)
from triagebot.routing.model.embedder import E5Embedder
from triagebot.routing.model.first_pass import FirstPass
from triagebot.routing.model.head import LinearHead


def main() -> int:
    posts = read_posts()
    embedder = E5Embedder(threads=int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    vectors = embedder.embed([p.text for p in posts])
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    np.save(VECTORS, vectors.astype(np.float16))
    DIGEST.write_text(digest([p.text for p in posts]) + "\n", encoding="utf-8")
    head = LinearHead.fit(vectors, [p.label for p in posts], embedder.name)
    HEAD.write_bytes(head.to_bytes())
    first_pass = FirstPass.fit([p.text for p in posts], [p.label for p in posts])
    FIRST_PASS.write_bytes(first_pass.to_bytes())
    print(f"{len(posts)} posts, {len(head.labels)} labels: {', '.join(head.labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
