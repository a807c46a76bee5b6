"""``triagebot sources`` says for each source whether it can reply in public (or which write
variable is missing) and whether it reads the thread under a post."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from triagebot.cli.sources import cmd_sources

SOURCES = """
[[sources]]
name = "alerts"
type = "rss"
base_url = "http://127.0.0.1:9/feed"

[[sources]]
name = "x"
type = "x"
base_url = "http://127.0.0.1:9"
reply_token_env = "NW_X_REPLY"

[[sources]]
name = "fedi"
type = "mastodon"
base_url = "http://127.0.0.1:9"
hashtags = ["northwind"]

[[sources]]
name = "hn"
type = "hackernews"
base_url = "http://127.0.0.1:9"

[[sources]]
name = "sky"
type = "bluesky"
base_url = "http://127.0.0.1:9"

[[sources]]
name = "forum"
type = "discourse"
base_url = "http://127.0.0.1:9"
query = "northwind"
reply_username = "northwind_support"
"""


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    head, rest = text.split("[[sources]]")[0], text.split("# Where breaches are escalated.")[1]
    config = tmp_path / "triagebot.toml"
    config.write_text(head + SOURCES + "\n[escalation]" + rest.split("[escalation]", 1)[1])
    monkeypatch.setenv("TRIAGEBOT_CONFIG", str(config))
    monkeypatch.setenv("TRIAGEBOT_DB", str(tmp_path / "data" / "triagebot.json"))
    monkeypatch.setenv("TRIAGEBOT_RULES", str(EXAMPLE_CONFIG.parent / "rules"))
    for name in ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD", "NW_X_REPLY", "MASTODON_REPLY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISCOURSE_REPLY_API_KEY", "forum-write-key")  # a default write variable
    monkeypatch.setenv("X_BEARER_TOKEN", "app-token")
    monkeypatch.setenv("MASTODON_REPLY_TOKEN", "write-token")  # a default write variable
    return tmp_path


def test_sources_say_who_can_reply_and_read_threads(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_sources(argparse.Namespace(json=True)) == 0
    rows = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["x"]["can_reply"] is False
    assert rows["x"]["reply_missing"] == ["NW_X_REPLY"]  # the variable the block names
    assert rows["x"]["can_read_threads"] is True
    assert rows["fedi"]["can_reply"] is True and rows["fedi"]["reply_missing"] == []
    assert rows["hn"]["can_reply"] is False and rows["hn"]["can_read_threads"] is True
    assert "no API to post" in rows["hn"]["reply_unsupported"]
    assert rows["alerts"]["can_reply"] is False and rows["alerts"]["can_read_threads"] is False
    assert rows["sky"]["can_reply"] is None  # not built: its read credentials are missing
    assert rows["forum"]["can_reply"] is True and rows["forum"]["reply_missing"] == []
    assert cmd_sources(argparse.Namespace(json=False)) == 0
    replies = capsys.readouterr().out.split("public reply", 1)[1]
    table = {line.split()[0]: line.split()[1:] for line in replies.splitlines()[1:] if line}
    assert table["x"] == ["set", "NW_X_REPLY", "yes"]
    assert table["hn"] == ["no", "write", "API", "yes"]
    assert table["fedi"] == ["yes", "yes"]
    assert table["alerts"] == ["no", "write", "API", "no"]
    assert table["sky"] == ["-", "-"]
