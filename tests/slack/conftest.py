"""A Slack world for tests: the fake Slack, the real aiohttp app with Slack mounted, a store.

Requests to ``/slack/events`` are signed the way Slack signs them; the clock is fixed and
moved by hand; delivery is driven by ``world.deliver()`` (the scheduler's own flush may run
too: outbox leases keep the two apart).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from integrations.slack.app import SlackIntegration, build_slack, mount
from integrations.slack.lanes import ChannelLanes
from integrations.slack.payload import ActionId, CasePayload, option_value
from integrations.slack.surface import SURFACE
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.clock import FakeClock as Clock
from tests.fakes.slack import TOKEN
from tests.fakes.slack_requests import SECRET, block_action, signed, slash
from tests.fakes.slack_views import ModalSlack
from triagebot.cases.records import Author, Case, Mention, MessageRef
from triagebot.config.settings import load_settings
from triagebot.runtime.server import DELIVERY, SCHEDULER, create_app
from triagebot.runtime.wiring import Runtime

CHANNELS = {"C0SUPPORT", "C0SALES", "C0SHIPPING", "C0BILLING", "C0PRESS", "C0PRODUCT",
            "C0TRIAGE", "C0ESCALATE", "C0MANAGERS"}  # fmt: skip


@dataclass
class SlackWorld:
    fake: ModalSlack
    runtime: Runtime
    slack: SlackIntegration
    client: TestClient[Any, Any]
    clock: Clock
    _n: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)

    def mention(self, text: str, **changes: Any) -> Mention:
        self._n += 1
        base: dict[str, Any] = {
            "id": f"x:{self._n}",
            "source": "x",
            "kind": "post",
            "url": f"https://x.example/status/{self._n}",
            "author": Author(f"customer_{self._n}", "Sam", 1234),
            "text": text,
            "created_at": self.clock.now - timedelta(minutes=2),
        }
        base.update(changes)
        return Mention(**base)

    async def ingest(self, text: str, **changes: Any) -> Case:
        mention = self.mention(text, **changes)
        result = await asyncio.to_thread(self.runtime.pipeline.ingest, [mention], self.clock.now)
        assert len(result.new) == 1, result
        return result.new[0]

    async def deliver(self) -> None:
        await self.runtime.delivery().drain()
        for _ in range(100):
            if await asyncio.to_thread(self.runtime.store.pending_outbox) == 0:
                return
            await asyncio.sleep(0.05)
            await self.runtime.delivery().drain()

    def ref(self, case_id: str) -> MessageRef:
        return self.runtime.store.message_refs(case_id)[SURFACE]

    def case(self, case_id: str) -> Case:
        return self.runtime.store.get_case(case_id)

    async def post(self, body: str, headers: dict[str, str] | None = None) -> Any:
        response = await self.client.post(
            "/slack/events", data=body, headers=headers or signed(body)
        )
        text = await response.text()
        return response.status, (json.loads(text) if text.startswith("{") else text)

    async def click(
        self, action: ActionId, case_id: str, user: str, *, version: int | None = None,
        department: str | None = None,
    ) -> Any:  # fmt: skip
        ref = self.ref(case_id)
        ver = self.case(case_id).version if version is None else version
        value = CasePayload(case_id, ver).to_value()
        selected = option_value(case_id, ver, department) if department else None
        body = block_action(action.value, value, user=user, channel=ref.channel,
                            message_ts=ref.message_id, response_url=self.fake.response_url(),
                            selected=selected)  # fmt: skip
        return await self.post(body)

    async def sla(self, text: str, user: str = "U0ANA") -> Any:
        body = slash(text, user=user, channel="C0SUPPORT", response_url=self.fake.response_url())
        return await self.post(body)

    async def hold_scheduler(self) -> None:
        """Pause the app's scheduler and wait out a flush in progress: a test that plays a
        crash between posting and recording drives delivery itself, with no other worker."""
        app = self.client.app
        assert app is not None
        app[SCHEDULER].pause()
        await app[DELIVERY].wait_idle(5.0)

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        """Wait for work Bolt goes on with after the ack."""
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting"
            await asyncio.sleep(0.02)


@pytest.fixture
async def world(tmp_path: Path, now: datetime) -> AsyncIterator[SlackWorld]:
    fake = ModalSlack(channels=set(CHANNELS))
    await fake.start()
    env = {
        "TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json"),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
    }
    settings = load_settings(EXAMPLE_CONFIG, env)
    clock = Clock(now)
    runtime = Runtime.build(settings, [], clock=clock)
    slack = build_slack(runtime, lanes=ChannelLanes(0.0))
    runtime.surfaces.append(slack.surface)
    app = create_app(runtime)
    mount(app, slack)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield SlackWorld(fake, runtime, slack, client, clock)
    finally:
        await client.close()
        await fake.stop()
