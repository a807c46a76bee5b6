"""Small builders for the triage tests: rules folders written from text, mentions from text."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from triagebot.cases.records import Author, Mention, Priority
from triagebot.routing.router import Router

DEPARTMENTS = ("customer_service", "sales", "shipping", "billing", "hr", "pr", "product")


def write_rules(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def router_for(folder: Path, files: dict[str, str]) -> Router:
    return Router.load(write_rules(folder, files), DEPARTMENTS, Priority.P2)


def post(
    text: str,
    *,
    source: str = "x",
    kind: str | None = None,
    lang: str | None = None,
    followers: int | None = 100,
    number: int = 1,
) -> Mention:
    return Mention(
        id=f"{source}:{number}",
        source=source,
        kind=kind or source,
        url=f"https://example.invalid/{number}",
        author=Author(f"user{number}", followers=followers),
        text=text,
        created_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        lang=lang,
    )
