"""A board world: the example settings, a TinyDB store, the board mounted on an aiohttp app.

No scheduler runs: tests drive changes through the core and the board's own routes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from integrations.board.app import add_board
from integrations.board.auth import hash_password
from integrations.board.web import Board, BoardOptions
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.clock import FakeClock as Clock
from triagebot.cases.records import Author, Case, Mention
from triagebot.config.settings import load_settings
from triagebot.runtime.wiring import Runtime

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class BoardWorld:
    runtime: Runtime
    board: Board
    client: TestClient[Any, Any]
    clock: Clock
    n: int = 0

    async def ingest(self, text: str, source: str = "x") -> Case:
        self.n += 1
        mention = Mention(
            id=f"{source}:{self.n}",
            source=source,
            kind="post",
            url=f"https://x.example/status/{self.n}",
            author=Author(f"customer_{self.n}", "Sam", 12),
            text=text,
            created_at=self.clock.now - timedelta(minutes=2),
        )
        result = await asyncio.to_thread(self.runtime.pipeline.ingest, [mention], self.clock.now)
        assert len(result.new) == 1, result
        return result.new[0]

    async def page(self, path: str = "/") -> str:
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        return str(await response.text())

    async def csrf(self) -> str:
        match = _CSRF.search(await self.page())
        assert match, "no CSRF token on the page"
        return match.group(1)

    async def name(self, who: str) -> None:
        token = await self.csrf()
        response = await self.client.post(
            "/board/name", data={"csrf": token, "name": who}, allow_redirects=False
        )
        assert response.status == 303

    async def act(
        self, case_id: str, action: str, *, token: str | None = None, **form: str
    ) -> tuple[int, Any]:
        token = await self.csrf() if token is None else token
        response = await self.client.post(
            f"/board/cases/{case_id}/{action}",
            data={"csrf": token, **form},
            headers={"Accept": "application/json"},
        )
        body = await response.text()
        return response.status, (await response.json() if body.startswith("{") else body)


async def start_board(
    tmp_path: Path, now: datetime, options: BoardOptions
) -> tuple[BoardWorld, Runtime]:
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "db.json")})
    clock = Clock(now)
    runtime = Runtime.build(settings, [], clock=clock)
    app = web.Application()
    board = add_board(runtime, app, options)
    assert board is not None
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return BoardWorld(runtime, board, client, clock), runtime


@pytest.fixture
async def demo(tmp_path: Path, now: datetime) -> AsyncIterator[BoardWorld]:
    """The board as ``triagebot demo`` runs it: no login, buttons on."""
    world, runtime = await start_board(tmp_path, now, BoardOptions(writable=True, demo=True))
    try:
        yield world
    finally:
        await world.client.close()
        runtime.close()


@pytest.fixture(scope="session")
def ana_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
async def served(tmp_path: Path, now: datetime, ana_hash: str) -> AsyncIterator[BoardWorld]:
    """The board as ``triagebot serve`` runs it with one user and the default (read-only)."""
    options = BoardOptions(users={"ana": ana_hash}, writable=False)
    world, runtime = await start_board(tmp_path, now, options)
    try:
        yield world
    finally:
        await world.client.close()
        runtime.close()
