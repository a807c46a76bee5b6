"""Wiring: Slack joins `serve` and `demo` only when both secrets are set; the events URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from integrations.slack.app import slack_targets
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.slack_requests import signed
from tests.slack.conftest import SlackWorld
from triagebot.cli.run import add_slack
from triagebot.config.settings import load_settings
from triagebot.errors import ConfigError
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime


def runtime_with(tmp_path: Path, **env: str) -> Runtime:
    settings = load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "t.json"), **env})
    return Runtime.build(settings, [], routing=False)


def test_no_secrets_no_slack(tmp_path: Path) -> None:
    runtime = runtime_with(tmp_path)
    app = create_app(runtime)
    add_slack(runtime, app)
    assert runtime.surfaces == []
    assert "/slack/events" not in {r.resource.canonical for r in app.router.routes() if r.resource}
    runtime.close()


def test_one_secret_alone_is_a_config_error(tmp_path: Path) -> None:
    runtime = runtime_with(tmp_path, SLACK_BOT_TOKEN="xoxb-1")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        add_slack(runtime, create_app(runtime))
    runtime.close()


def test_both_secrets_add_the_surface_and_the_route(tmp_path: Path) -> None:
    runtime = runtime_with(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    app = create_app(runtime)
    add_slack(runtime, app)
    assert [s.name for s in runtime.surfaces] == ["slack"]
    assert "/slack/events" in {r.resource.canonical for r in app.router.routes() if r.resource}
    runtime.close()


def test_targets_come_from_the_config(tmp_path: Path) -> None:
    targets = slack_targets(runtime_with(tmp_path).settings)
    assert targets.channels["shipping"] == "C0SHIPPING"
    assert "hr" not in targets.channels  # HR lives in Teams
    assert targets.escalation == "C0ESCALATE"
    assert targets.oncall == {"shipping": "S0SHIPONCALL"}
    assert targets.departments["billing"] == "Billing & Refunds"


async def test_the_events_url_answers_slacks_challenge(world: SlackWorld) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c0ffee", "token": "x"})
    headers = {**signed(body), "Content-Type": "application/json"}
    status, answer = await world.post(body, headers)
    assert status == 200
    assert answer in ({"challenge": "c0ffee"}, "c0ffee")


async def test_a_mention_of_the_bot_gets_a_short_help(world: SlackWorld) -> None:
    ts = "1700000000.000100"
    event = {"type": "app_mention", "user": "U0ANA", "text": "<@UBOT0001> hi", "ts": ts,
             "channel": "C0SUPPORT", "event_ts": ts}  # fmt: skip
    body = json.dumps({"token": "x", "team_id": "T0TEST", "api_app_id": "A0TEST",
                       "event": event, "type": "event_callback", "event_id": "Ev1",
                       "event_time": 1700000000, "authorizations": []})  # fmt: skip
    status, _ = await world.post(body, {**signed(body), "Content-Type": "application/json"})
    assert status == 200
    await world.until(lambda: world.fake.messages.get("C0SUPPORT"))
    [note] = world.fake.messages["C0SUPPORT"]
    assert note["thread_ts"] == ts and "/sla help" in note["text"]


def test_the_manifest_names_the_events_url_scopes_and_sla() -> None:
    manifest = yaml.safe_load((ROOT / "integrations" / "slack" / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "chat:write.public", "commands", "channels:history"} <= scopes
    [command] = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = {command["url"], settings["interactivity"]["request_url"],
            settings["event_subscriptions"]["request_url"]}  # fmt: skip
    assert command["command"] == "/sla"
    assert {u.rsplit("/", 2)[-2:] == ["slack", "events"] for u in urls} == {True}
    assert settings["interactivity"]["is_enabled"] is True
