"""The Teams surface over a real wire: the real CloudAdapter (local mode) talks to a loopback
Bot Connector that records requests and fails on demand (429, 412, 502, 504, 403, 404)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integrations.teams.app import teams_targets
from integrations.teams.auth import create_adapter
from integrations.teams.gateway import TeamsGateway
from integrations.teams.places import SURFACE, Place
from integrations.teams.surface import TeamsSurface
from tests.conftest import EXAMPLE_CONFIG
from triagebot.cases.identities import Identity
from triagebot.cases.note_mentions import mention_user
from triagebot.cases.records import Author, Case, CaseState, Mention, MessageRef, Priority
from triagebot.config.settings import Environment, load_settings
from triagebot.errors import DeliveryError
from triagebot.store.tinydb_store import TinyDBStore


@dataclass
class FakeConnector:
    """Records every call; ``fail`` holds (status, headers) answers to give first."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    n: int = 0
    peers: set[object] = field(default_factory=set)  # the connections requests came on

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if request.transport is not None:
            self.peers.add(request.transport.get_extra_info("peername"))
        self.calls.append((request.method, request.path, body))
        if self.fail:
            status, headers = self.fail.pop(0)
            return web.json_response({"error": {"code": "x", "message": "no"}}, status=status,
                                     headers=headers)  # fmt: skip
        self.n += 1
        if request.method == "POST" and request.path == "/v3/conversations":
            channel = body["channelData"]["channel"]["id"]
            return web.json_response(
                {"id": f"{channel};messageid=m{self.n}", "activityId": f"m{self.n}"}
            )
        return web.json_response({"id": f"a{self.n}"})


@pytest.fixture
async def connector() -> AsyncIterator[tuple[FakeConnector, str]]:
    fake = FakeConnector()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, f"http://127.0.0.1:{server.port}/"
    await server.close()


@pytest.fixture
def surface(tmp_path: Path, now: datetime, connector: tuple[FakeConnector, str]) -> TeamsSurface:
    _, url = connector
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "t.json")})
    store = TinyDBStore(tmp_path / "t.json")
    for cid, name in (("19:ship", "Shipping"), ("19:mgr", "Managers")):
        place = Place(id=cid, kind="channel", service_url=url, reference={}, team_id="19:t",
                      team_name="Northwind", name=name, tenant_id="tn", seen_at=now)  # fmt: skip
        store.remember_place(SURFACE, cid, place.to_json())
    gateway = TeamsGateway(create_adapter(Environment()), "")
    teams = TeamsSurface(gateway, teams_targets(settings), store, lambda: now)
    teams.load()
    return teams


def make_case(now: datetime, department: str = "shipping") -> Case:
    mention = Mention(id="x:1", source="x", kind="post", url="https://x.example/1",
                      author=Author("sam", "Sam", 10), text="Where is my parcel?",
                      created_at=now)  # fmt: skip
    return Case(id="7", mention=mention, department=department, priority=Priority.P2,
                state=CaseState.OPEN, ingested_at=now, claim_due=now + timedelta(hours=1),
                resolve_due=now + timedelta(days=1))  # fmt: skip


async def test_post_update_reply_and_escalate(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime
) -> None:
    fake, url = connector
    case = make_case(now)
    ref = await surface.post(case)
    assert (ref.channel, ref.message_id) == ("19:ship;messageid=m1", "m1")
    assert ref.extra["service_url"] == url
    method, path, body = fake.calls[0]
    assert (method, path) == ("POST", "/v3/conversations")
    assert body["isGroup"] is True and body["channelData"] == {"channel": {"id": "19:ship"}}
    card = body["activity"]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "case #7" in json.dumps(card["content"])

    # After a restart: a new surface works from the stored ref alone.
    await surface.update(case, MessageRef.from_dict(ref.to_dict()))
    method, path, body = fake.calls[-1]
    assert (method, path) == ("PUT", "/v3/conversations/19:ship;messageid=m1/activities/m1")
    assert body["attachments"][0]["content"]["type"] == "AdaptiveCard"

    surface.people["29:ana"] = "Ana"
    await surface.reply(
        case, ref, f"claimed by {mention_user(Identity('teams', '29:ana'))} **now**"
    )
    method, path, body = fake.calls[-1]
    assert method == "POST"
    assert path.startswith("/v3/conversations/19:ship;messageid=m1/activities")
    assert body["text"] == "claimed by @Ana \\*\\*now\\*\\*"

    note = "reminder for {@oncall:customer_service} and {@user:a_b}"
    await surface.reply(case, ref, note)
    assert fake.calls[-1][2]["text"] == "reminder for @on-call Customer Service and @a\\_b"

    await surface.escalate(case, ref, "claim overdue")
    method, path, body = fake.calls[-1]
    assert path == "/v3/conversations" and body["channelData"]["channel"]["id"] == "19:mgr"
    assert "Escalation" in json.dumps(body["activity"]["attachments"][0]["content"])

    await surface.digest("shipping", "3 cases waiting\n**1** overdue")
    method, path, body = fake.calls[-1]
    assert body["channelData"]["channel"]["id"] == "19:mgr"
    assert "\\\\*\\\\*1\\\\*\\\\* overdue" in json.dumps(body["activity"])


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "7"}, 7.0), (429, {}, 5.0), (412, {}, 2.0), (502, {}, 2.0),
     (504, {"Retry-After": "3"}, 3.0)],
)  # fmt: skip
async def test_throttling_and_gateway_errors_are_retried_after_a_while(
    *,
    surface: TeamsSurface,
    connector: tuple[FakeConnector, str],
    now: datetime,
    status: int,
    headers: dict[str, str],
    retry_after: float,
) -> None:
    fake, _ = connector
    fake.fail.append((status, headers))
    with pytest.raises(DeliveryError) as error:
        await surface.post(make_case(now))
    assert not error.value.permanent and error.value.retry_after == retry_after
    ref = await surface.post(make_case(now))  # the retry goes through
    assert ref.message_id == "m1"


@pytest.mark.parametrize("status", [403, 404])
async def test_forbidden_and_missing_are_permanent(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime, status: int
) -> None:
    fake, url = connector
    fake.fail.append((status, {}))
    ref = MessageRef(SURFACE, "19:ship;messageid=m1", "m1", {"service_url": url})
    with pytest.raises(DeliveryError) as error:
        await surface.update(make_case(now), ref)
    assert error.value.permanent and str(status) in str(error.value)


async def test_a_department_without_a_known_channel_is_not_shown_until_one_is_seen(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    case = make_case(now, department="billing")  # teams_channel "Billing": never seen
    assert not surface.shows(case) and not surface.shows(case)
    said = [r for r in caplog.records if "not shown in Teams" in r.getMessage()]
    assert len(said) == 1 and "'Billing'" in said[0].getMessage()
    with pytest.raises(DeliveryError, match="triagebot teams channels") as error:
        await surface.post(case)
    assert error.value.permanent
    assert not surface.shows(make_case(now, department="sales"))  # no teams_channel at all
    _, url = connector
    surface.note_place(Place(id="19:bill", kind="channel", service_url=url, reference={},
                             name="Billing", seen_at=now))  # fmt: skip
    assert surface.shows(case)


async def test_a_channel_learned_by_another_process_is_found(
    surface: TeamsSurface, connector: tuple[FakeConnector, str], now: datetime
) -> None:
    _, url = connector
    place = Place(id="19:bill", kind="channel", service_url=url, reference={}, name="Billing",
                  team_name="Northwind", seen_at=now)  # fmt: skip
    surface.store.remember_place(SURFACE, place.id, place.to_json())  # not through this surface
    ref = await surface.post(make_case(now, department="billing"))
    assert ref.channel.startswith("19:bill;")


def test_connector_clients_keep_msrest_retry_codes() -> None:
    from msrest.universal_http.requests import ClientRetryPolicy  # noqa: PLC0415

    from integrations.teams.gateway import speed_up_connector_clients  # noqa: PLC0415

    speed_up_connector_clients()
    speed_up_connector_clients()  # idempotent
    retried = ClientRetryPolicy().policy.status_forcelist
    assert retried == [408, *(c for c in range(500, 999) if c not in (501, 505))]
