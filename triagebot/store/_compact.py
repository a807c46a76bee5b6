"""``python -m triagebot.store._compact PATH``: compact the embedded store at ``PATH``.

Started by a writer whose journal has grown past its threshold (see ``_engine``), so that
parsing and encoding a large store take no time from the serving process. Exits at once when
another compaction of the same store is running.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from triagebot.errors import StoreError
from triagebot.store._engine import Engine


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m triagebot.store._compact PATH", file=sys.stderr)
        return 2
    try:
        with Engine(Path(argv[0])) as engine:
            engine.compact()
    except StoreError as exc:
        logging.getLogger(__name__).error("compaction failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
