"""Run the real ``triagebot`` command in a subprocess, with a store in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_cli(
    args: Sequence[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRIAGEBOT_", "SLACK_", "MICROSOFT_"))
    }
    environ.pop("DATABASE_URL", None)
    environ.pop("DYNO", None)
    environ["TRIAGEBOT_DB"] = str(cwd / "data" / "triagebot.json")
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "triagebot", *args],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
