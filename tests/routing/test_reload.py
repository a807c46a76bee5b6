"""Rules reload while serving: a good edit is picked up, a broken one keeps the old rules."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from aiohttp import web

from tests.triage_helpers import DEPARTMENTS, post, write_rules
from triagebot.cases.records import Priority
from triagebot.config.settings import Settings
from triagebot.routing.router import Router
from triagebot.routing.rules.reload import RulesWatcher
from triagebot.runtime.server import SCHEDULER, create_app
from triagebot.runtime.wiring import Runtime

FIRST = "department: billing\nrules:\n  - {name: refund, terms: [refund]}\n"
SECOND = "department: shipping\nrules:\n  - {name: refund, terms: [refund]}\n"
BROKEN = "department: shipping\nrules:\n  - {name: refund, terms: [refund], regex: ['(']}\n"


def touch(path: Path, text: str, step: int) -> None:
    """Write and move the modification time forward, as a later save would."""
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + step * 1_000_000_000))


def watcher(folder: Path) -> tuple[Router, RulesWatcher]:
    router = Router.load(folder, DEPARTMENTS, Priority.P2)
    return router, RulesWatcher(router, folder, lambda: Router.load(folder, DEPARTMENTS))


def test_an_edit_is_picked_up_by_the_same_router(tmp_path: Path) -> None:
    folder = write_rules(tmp_path, {"rules.yaml": FIRST})
    router, watch = watcher(folder)
    assert watch.check() is False  # nothing changed yet
    touch(folder / "rules.yaml", SECOND, 1)
    assert watch.check() is True
    assert router.route(post("refund")).department == "shipping"
    assert watch.check() is False


def test_a_new_file_counts_as_a_change(tmp_path: Path) -> None:
    folder = write_rules(tmp_path, {"rules.yaml": FIRST})
    router, watch = watcher(folder)
    write_rules(folder, {"more.yaml": "department: pr\nrules:\n  - {name: hi, terms: [hello]}\n"})
    assert watch.check() is True
    assert router.route(post("hello")).department == "pr"


def test_a_broken_edit_keeps_the_previous_rules_and_logs_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_rules(tmp_path, {"rules.yaml": FIRST})
    router, watch = watcher(folder)
    touch(folder / "rules.yaml", BROKEN, 1)
    with caplog.at_level(logging.ERROR, logger="triagebot.routing.rules.reload"):
        assert watch.check() is False
    assert router.route(post("refund")).department == "billing"
    assert any(f"{folder / 'rules.yaml'}:3: regex" in r.getMessage() for r in caplog.records)
    caplog.clear()
    assert watch.check() is False  # reported once, not on every tick
    assert caplog.records == []
    touch(folder / "rules.yaml", SECOND, 2)
    assert watch.check() is True
    assert router.route(post("refund")).department == "shipping"


async def test_the_server_schedules_the_reload_job(settings: Settings) -> None:
    runtime = Runtime.build(settings)
    app = create_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        job = app[SCHEDULER].get_job("rules-reload")
        assert job is not None
    finally:
        await runner.cleanup()
