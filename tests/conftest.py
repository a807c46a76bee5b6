"""Shared fixtures: a clean environment, the example settings, a fixed clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triagebot.config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "triagebot.example.toml"
ENV_PREFIXES = ("TRIAGEBOT_", "SLACK_", "MICROSOFT_")
ENV_NAMES = ("DATABASE_URL", "DYNO", "PORT")
KEPT_NAMES = ("TRIAGEBOT_TEST_DATABASE_URL", "TRIAGEBOT_REQUIRE_E2E")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's triagebot, Slack, Teams or database settings."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES) or name in ENV_NAMES:
            if name in KEPT_NAMES:
                continue
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(EXAMPLE_CONFIG, {"TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json")})


@pytest.fixture
def now() -> datetime:
    # A Tuesday, 10:00 in New York: inside business hours of the example calendar.
    return datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
