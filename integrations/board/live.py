"""Live updates: the board is a surface that tells open browsers about every change.

The delivery worker calls ``post``/``update``/``reply`` for each outbox item (changes made by
the CLI in another process included); each call only puts the case id into the queue of every
connected browser, never waits for one, and never fails, so Slack and Teams delivery is not
held up. A browser whose queue is full is told to reload instead.
"""

from __future__ import annotations

import asyncio
import logging

from triagebot.cases.records import Case, MessageRef

log = logging.getLogger(__name__)

SURFACE = "board"
QUEUE_SIZE = 100
RELOAD = "*"  # sent in place of case ids when a browser fell behind


class Hub:
    """The connected browsers' event queues."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str | None]] = set()

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def notify(self, case_id: str) -> None:
        """Tell every browser that ``case_id`` changed; never blocks."""
        for queue in list(self._queues):
            try:
                queue.put_nowait(case_id)
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RELOAD)

    def close(self) -> None:
        """End every stream (server shutdown)."""
        for queue in list(self._queues):
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)


class BoardSurface:
    """The board as a surface: shows every case, renders in the browser."""

    name = SURFACE

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def shows(self, case: Case) -> bool:
        return True

    async def post(self, case: Case) -> MessageRef:
        self.hub.notify(case.id)
        return MessageRef(SURFACE, SURFACE, case.id)

    async def update(self, case: Case, ref: MessageRef) -> None:
        self.hub.notify(case.id)

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        self.hub.notify(case.id)

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        self.hub.notify(case.id)
