"""The embedded store's part of qualifying older actors (see ``triagebot.cases.qualify``).

Every case document, active ones in the root and closed ones in the history segments, gets
its ``claimed_by``/``resolved_by`` qualified from its embedded events, in one write
transaction; the meta document then records that this store's actors are qualified, so the
scan runs once. Changed segments are written anew, as every change of history is.
"""

from __future__ import annotations

from collections.abc import Iterable

from triagebot.cases.qualify import qualified_case
from triagebot.store._engine import Tx
from triagebot.store._history import History, SegmentInfo

#: Meta key: true once every stored actor is a qualified identity.
QUALIFIED_ACTORS = "qualified_actors"


def qualify_actors(tx: Tx, history: History, segments: Iterable[SegmentInfo]) -> int:
    """Qualify the actors of every case in the store; how many cases changed."""
    changed = 0
    for slot, packed in tx.active_slots():
        doc = packed.doc(tx.path)
        new = qualified_case(doc, doc.get("events") or [])
        if new is not None:
            tx.replace(slot, doc | new)
            changed += 1
    for info in segments:
        for closed in history.segment(info, keep=False).values():
            new = qualified_case(closed, closed.get("events") or [])
            if new is not None:
                tx.history.put(new)
                changed += 1
    tx.meta[QUALIFIED_ACTORS] = True
    tx.meta_changed = True
    return changed
