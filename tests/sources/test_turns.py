"""A poll converting many posts hands the event loop back between them."""

from __future__ import annotations

import asyncio

from integrations.sources._base import TURN, in_turns


async def test_converting_many_posts_lets_other_tasks_run_in_between() -> None:
    turns: list[int] = []  # how many items had been taken at each turn of the other task
    taken = 0

    async def other() -> None:
        while True:
            turns.append(taken)
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    items = []
    async for item in in_turns(range(4 * TURN + 3)):
        items.append(item)
        taken += 1
    task.cancel()
    assert items == list(range(4 * TURN + 3))
    inside = sorted({t for t in turns if 0 < t < len(items)})
    assert inside == [TURN, 2 * TURN, 3 * TURN, 4 * TURN]  # a turn after every TURN items
