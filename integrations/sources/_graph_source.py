"""A Graph API source read in parts (tagged posts, comments, ...), each its own walk.

One poll runs the parts it is configured for, in order; a part that fails keeps what the
others found (the poll is partial), and a part that nearly spends the rate budget leaves the
rest for the next poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from integrations.sources._base import (
    BaseSource,
    Latest,
    Walk,
    Watermark,
    as_dict,
    dump_cursor,
    load_cursor,
    partial_result,
)
from integrations.sources._graph import Graph, finished, paused_page
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

#: A part of a poll: it walks its edge into ``found`` and returns the pause Graph asked for.
Part = Callable[[httpx.AsyncClient, dict[str, Any], Latest], Awaitable[float | None]]
#: What a part does with one item of its edge.
Take = Callable[[dict[str, Any], Walk, Latest], None]


class GraphSource(BaseSource):
    """Polls the configured ``parts`` of a Graph API source with one ``graph`` client."""

    graph: Graph

    def parts(self) -> list[tuple[str, Part]]:
        """The (name, walk) of each part this source is configured to read."""
        raise NotImplementedError

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        found = Latest()
        self.graph.reason = None
        pause: float | None = None
        errors: list[tuple[str, SourceError]] = []
        streams = self.parts()
        for part, walk in streams:
            if pause:
                break  # the budget is nearly spent: the rest waits for the next poll
            try:
                pause = await walk(http, state, found)
            except SourceError as exc:  # what the other part found is still ingested
                errors.append((part, exc))
        reason = self.graph.reason if pause else None
        cursor = dump_cursor(state)
        return partial_result(found, cursor, pause, errors, len(streams), pause_reason=reason)

    async def walk_edge(
        self,
        http: httpx.AsyncClient,
        state: dict[str, Any],
        found: Latest,
        *,
        key: str,
        path: str,
        fields: str,
        take_item: Take,
    ) -> float | None:
        """Walk the newest items of ``path`` down to the watermark kept under ``state[key]``.

        A throttled page or a nearly spent budget ends the walk early; what earlier pages found
        is kept, and the watermark moves only past a walk that was not cut short.
        """
        mark = Watermark.load(as_dict(state.get(key)), self.overlap)
        walk = Walk(mark, self.floor())
        params = {"fields": fields, "limit": self.page_size}
        after: str | None = None
        pause: float | None = None
        cut_short = False
        for _ in range(self.max_pages):
            page, pause = await paused_page(
                self.graph, http, path, params, after=after, now=self.clock()
            )
            if page is None:  # throttled: what earlier pages found is kept
                cut_short = True
                break
            for item in page.items:
                take_item(item, walk, found)
            after = page.after
            if walk.reached_known or not after:
                break
            if pause:
                cut_short = True
                break
        else:
            walk.note_truncated(self.name, self.max_pages)
        state[key] = finished(walk, mark, interrupted=cut_short).dump()
        return pause
