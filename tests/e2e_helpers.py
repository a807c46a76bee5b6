"""Gates for the end-to-end tests that need programs outside Python.

On a developer's machine without Debian's chromium or npm these tests are skipped with a
message saying how to enable them; in CI (``TRIAGEBOT_REQUIRE_E2E=1``, set by ``.ci/run``)
a missing program fails the test instead, so the suite cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
PLAYGROUND_DIR = Path(__file__).resolve().parent / "teams" / "playground"
PLAYGROUND_CLI = PLAYGROUND_DIR / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _missing(message: str) -> NoReturn:
    if os.environ.get("TRIAGEBOT_REQUIRE_E2E"):
        pytest.fail(f"{message} (required: TRIAGEBOT_REQUIRE_E2E is set)")
    pytest.skip(message)


def require_chromium() -> Path:
    """The path of Debian's chromium; skips (or fails in CI) when it is not installed."""
    if not CHROMIUM.exists():
        _missing("browser test: install Debian's chromium to run it (apt-get install chromium)")
    try:
        import playwright  # noqa: F401, PLC0415
    except ImportError:
        _missing("browser test: install the dev extras to run it (pip install -e '.[dev]')")
    return CHROMIUM


def require_playground() -> tuple[str, Path]:
    """``(node, cli.js)`` of Microsoft 365 Agents Playground; skips (or fails in CI) without it."""
    node = shutil.which("node")
    if node is None or not PLAYGROUND_CLI.exists():
        _missing(
            "Teams playground test: install Node.js and run "
            "`npm ci --prefix tests/teams/playground` (make test does it when npm is present)"
        )
    return node, PLAYGROUND_CLI
