"""A walk over pages that can stop half-way (a 429, a timeout) and go on where it stopped.

A walk judges items against the watermark as it was when the walk began. When a later page
fails, the items already taken are kept and the cursor records that starting watermark and
where the walk stopped (a page number or a page token); the next poll continues from there
with the same judge, so the older items of the interrupted walk are not skipped because the
watermark has meanwhile moved on to the newest ones. Items the two halves share are told
apart by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integrations.sources._base import Walk, Watermark, as_dict


class ResumableWalk:
    """``walk`` judges and records items; ``start`` is where to begin (None: the first page)."""

    def __init__(self, saved: Mapping[str, Any], overlap: float, floor: datetime) -> None:
        mark = Watermark.load(saved, overlap)
        resume = as_dict(saved.get("resume"))
        self.start: Any = resume.get("at") if resume else None
        self.base = Watermark.load(resume, overlap) if self.start is not None else mark
        judge = Watermark(self.base.newest, {**self.base.seen, **mark.seen}, overlap)
        self.floor = floor
        self.walk = Walk(judge, floor)
        self.walk.mark = Watermark(mark.newest, dict(mark.seen), overlap)

    def abandon(self) -> None:
        """Give up going on where an earlier walk stopped (its page can no longer be read):
        walk afresh from the newest items. The rest of the old walk is lost, and logged."""
        mark = self.walk.mark
        self.start = None
        self.base = Watermark(mark.newest, dict(mark.seen), mark.overlap)
        self.walk = Walk(self.base, self.floor)

    def behind(self, at: float) -> bool:
        """True when an item this old is behind the watermark or the backfill window."""
        old, floor = self.walk.old, self.walk.floor
        return old.is_past(at) or (floor is not None and at < floor)

    @property
    def since(self) -> float | None:
        """Where the walk's first request starts (inclusive), from the judging watermark."""
        return self.base.since

    def take(self, item_id: str, at: float) -> bool:
        return self.walk.take(item_id, at)

    def took(self, item_id: str) -> bool:
        """True if this walk already took the item (a second copy in the same poll)."""
        return self.walk.took(item_id)

    @property
    def reached_known(self) -> bool:
        return self.walk.reached_known

    def dump(self, stopped_at: object = None) -> dict[str, Any]:
        """The cursor: the watermark, and where to go on if the walk stopped early (with the
        ids taken so far, which the watermark alone may have let go of)."""
        taken = {i: self.walk.mark.seen[i] for i in self.walk.ids if i in self.walk.mark.seen}
        data = self.walk.mark.dump()
        if stopped_at is not None:
            seen = {**self.base.seen, **taken}
            base = Watermark(self.base.newest, seen, self.base.overlap)
            data["resume"] = {**base.dump(), "at": stopped_at}
        return data
