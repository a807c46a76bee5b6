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
    dump_cursor,
    load_cursor,
    partial_result,
)
from integrations.sources._graph import Graph
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

#: A part of a poll: it walks its edge into ``found`` and returns the pause Graph asked for.
Part = Callable[[httpx.AsyncClient, dict[str, Any], Latest], Awaitable[float | None]]


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
