"""``triagebot poll --once``, ``triagebot sources`` and ``/healthz`` against a loopback source."""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import EXAMPLE_CONFIG
from tests.sources.server import FIXTURES, FakeServer, fixture_reply
from triagebot.cli.sources import build_poller, cmd_poll, cmd_sources
from triagebot.config.settings import load_settings
from triagebot.errors import InputError
from triagebot.runtime.server import create_app
from triagebot.runtime.wiring import Runtime

FEED = (FIXTURES / "google_alerts" / "feed_poll1.xml").read_bytes()


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/alerts/feed"
    httpd.shutdown()
    httpd.server_close()


def write_config(folder: Path, feed_url: str) -> Path:
    base = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("[[sources]]")[0]
    rest = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("# Where breaches are escalated.")[1]
    sources = f"""
[[sources]]
name = "alerts"
type = "rss"
base_url = "{feed_url}"
interval = "15m"
backfill = "5000d"

[[sources]]
name = "x"
type = "x"
base_url = "http://127.0.0.1:9"
bearer_token_env = "X_TEST_TOKEN"
"""
    path = folder / "triagebot.toml"
    path.write_text(
        base + sources + "\n[escalation]" + rest.split("[escalation]", 1)[1], encoding="utf-8"
    )
    return path


@pytest.fixture
def configured(tmp_path: Path, feed_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = write_config(tmp_path, feed_url)
    monkeypatch.setenv("TRIAGEBOT_CONFIG", str(config))
    monkeypatch.setenv("TRIAGEBOT_DB", str(tmp_path / "data" / "triagebot.json"))
    monkeypatch.setenv("TRIAGEBOT_RULES", str(EXAMPLE_CONFIG.parent / "rules"))
    return tmp_path


def test_poll_once_then_sources(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_poll(argparse.Namespace(once=True, source=None)) == 0
    out = capsys.readouterr().out
    assert "x: not polled: source 'x' needs credentials: set X_TEST_TOKEN" in out
    assert "alerts: 6 fetched, " in out
    assert " new cases" in out
    assert "#1 " in out
    assert cmd_poll(argparse.Namespace(once=True, source="alerts")) == 0
    assert "alerts: 0 fetched, 0 new cases" in capsys.readouterr().out  # the cursor remembers
    assert cmd_sources(argparse.Namespace(json=True)) == 0
    rows = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["alerts"]["status"] == "ok"
    assert rows["alerts"]["last_success"] is not None
    assert rows["alerts"]["typical_lag_seconds"] > 0
    assert rows["x"]["status"] == "off"
    assert rows["x"]["missing"] == ["X_TEST_TOKEN"]
    assert cmd_sources(argparse.Namespace(json=False)) == 0
    table = capsys.readouterr().out
    assert "alerts" in table
    assert "set X_TEST_TOKEN" in table


def test_poll_an_unknown_source(configured: Path) -> None:
    with pytest.raises(InputError, match="no source 'nope'"):
        cmd_poll(argparse.Namespace(once=True, source="nope"))


async def test_healthz_shows_each_source(tmp_path: Path) -> None:
    fake = FakeServer()
    await fake.start()
    fake.add(
        "/feed",
        fixture_reply(
            "google_alerts", "feed_poll1.xml", headers={"content-type": "application/atom+xml"}
        ),
    )
    config = write_config(tmp_path, fake.url + "/feed")
    settings = load_settings(config, {"TRIAGEBOT_DB": str(tmp_path / "db.json")})
    runtime = Runtime.build(settings)
    server = TestServer(create_app(runtime, poller=build_poller(runtime)))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                async with session.get(server.make_url("/healthz")) as response:
                    body = await response.json()
                sources = {s["name"]: s for s in body["sources"]}
                if sources["alerts"]["last_success"]:
                    break
                await asyncio.sleep(0.05)
        assert sources["alerts"]["status"] == "ok"
        assert sources["alerts"]["next_run"] is not None
        assert sources["alerts"]["typical_lag_seconds"] > 0
        assert "lags" not in sources["alerts"]  # the median, not the recent lags themselves
        assert sources["x"]["problem"] == "source 'x' needs credentials: set X_TEST_TOKEN"
    finally:
        await server.close()
        await fake.close()


class _Throttled(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(429)
        self.send_header("Retry-After", "600")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_sources_json_says_why_a_source_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Throttled)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        config = write_config(tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}/feed")
        monkeypatch.setenv("TRIAGEBOT_CONFIG", str(config))
        monkeypatch.setenv("TRIAGEBOT_DB", str(tmp_path / "data" / "triagebot.json"))
        monkeypatch.setenv("TRIAGEBOT_RULES", str(EXAMPLE_CONFIG.parent / "rules"))
        assert cmd_poll(argparse.Namespace(once=True, source="alerts")) == 1
        capsys.readouterr()
        assert cmd_sources(argparse.Namespace(json=True)) == 0
    finally:
        httpd.shutdown()
        httpd.server_close()
    rows = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["alerts"]["backoff_until"] is not None
    assert rows["alerts"]["backoff_reason"] == "rate limited: alerts: HTTP 429 on /feed"
