"""Control characters in a mention's id, source, kind or URL are refused at ingest.

Those fields reach CSV exports, logs and chat links as they are: a carriage return in a
mention id split the export's record and let the next "row" start with a formula.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli
from tests.triage_helpers import DEPARTMENTS
from triagebot.cases.control_chars import control_character_field
from triagebot.cases.records import Author, Mention, Priority
from triagebot.config.settings import Settings
from triagebot.ingest.mention_io import mention_from_json
from triagebot.ingest.pipeline import Pipeline
from triagebot.routing.router import Router
from triagebot.runtime.deploy import open_configured_store
from triagebot.store.base import Store

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "id": "reddit:t3_1",
    "source": "reddit",
    "url": "https://www.reddit.example/r/gear/comments/1",
    "text": "northwind charged me twice",
    "created_at": "2026-11-17T14:00:00Z",
}
BAD_VALUES = ["\r=cmd|' /C calc'!A0", "\n", "\t", "\x00", "\x1b[31m", "\x85", "\u2028", "\u202e"]


@pytest.mark.parametrize("field", ["id", "source", "kind", "url"])
@pytest.mark.parametrize("bad", BAD_VALUES)
def test_the_json_lines_reader_names_the_field(field: str, bad: str) -> None:
    data = {**GOOD, field: (GOOD.get(field) or "reddit") + bad}
    if field == "url" and bad in ("\n", "\t", "\r=cmd|' /C calc'!A0"):
        data[field] = "https://www.reddit.example/r/" + bad + "x"  # urlsplit drops these
    with pytest.raises(ValueError, match=f"^{field}: contains a control character"):
        mention_from_json(data)


def test_ordinary_values_pass() -> None:
    mention = mention_from_json({**GOOD, "id": "reddit:t3_ü-1 é", "kind": "post"})
    assert control_character_field(mention) is None


def test_ingest_stops_with_the_file_line_and_field_and_stores_nothing(tmp_path: Path) -> None:
    rows = [GOOD, {**GOOD, "id": "reddit:t3_2\r=cmd|' /C calc'!A0"}]
    file = tmp_path / "in.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli(["ingest", str(file)], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"triagebot: {file}:2: id: contains a control character (line break, tab, bidi mark)"
    ]
    assert not (tmp_path / "data").exists()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_configured_store(settings.env)
    yield opened
    opened.close()


def test_the_pipeline_drops_such_a_mention_from_any_source(
    settings: Settings, store: Store, now: datetime
) -> None:
    pipeline = Pipeline(store, settings, Router.load(ROOT / "rules", DEPARTMENTS, Priority.P2))

    def mention(n: int, **fields: Any) -> Mention:
        base = Mention(
            id=f"forum:{n}",
            source="forum",
            kind="rss",
            url=f"https://forum.example.org/t/{n}",
            author=Author("someone"),
            text="northwind charged me twice",
            created_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        )
        return replace(base, **fields)

    result = pipeline.ingest(
        [
            mention(1),
            mention(2, id="forum:2\r=cmd"),
            mention(3, url="https://forum.example.org/t/3\x85"),
            mention(4, source="forum\u2028"),
        ],
        now,
    )
    assert [c.mention.id for c in result.new] == ["forum:1"]
    assert result.ignored == 3
    assert [c.mention.id for c in store.list_cases()] == ["forum:1"]
