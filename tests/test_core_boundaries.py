"""The core stays free of platform, source-API and database modules."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "triagebot.models",
    "triagebot.lifecycle",
    "triagebot.actions",
    "triagebot.sla",
    "triagebot.calendar",
    "triagebot.config",
    "triagebot.triage",
    "triagebot.pipeline",
    "triagebot.delivery",
    "triagebot.console",
    "triagebot.sources",
    "triagebot.source_state",
    "triagebot.polling",
    "triagebot.crosspost",
    "triagebot.urls",
    "triagebot.cli_sources",
    "triagebot.sla_query",
]
FORBIDDEN = [
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "tinydb",
    "psycopg",
    "httpx",
    "feedparser",
    "inscriptis",
    "lxml",
]


def test_core_imports_no_platform_modules() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE_MODULES)
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
