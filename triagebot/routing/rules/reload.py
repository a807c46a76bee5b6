"""Reload rules/ while serving: a scheduler job compares file times every few seconds.

When a rules file is added, removed or changed, the whole folder is read and compiled
again and swapped into the running router (``Router.replace_rules``). A broken edit
keeps the previous rules running and logs each problem with its file and line; the same
broken state is reported once, and tried again as soon as the files change again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from triagebot.errors import ConfigError
from triagebot.lanes import in_background
from triagebot.routing.router import Router

log = logging.getLogger(__name__)

RELOAD_EVERY = timedelta(seconds=3)
Snapshot = tuple[tuple[str, int, int], ...]


def snapshot(rules_dir: Path) -> Snapshot:
    """Name, modification time and size of every rules and examples file (empty if none)."""
    try:
        paths = sorted(p for p in rules_dir.iterdir() if p.suffix in {".yaml", ".yml", ".jsonl"})
    except OSError:
        return ()
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class RulesWatcher:
    """Keeps ``router`` in step with the files in ``rules_dir``."""

    def __init__(self, router: Router, rules_dir: Path, build: Callable[[], Router]) -> None:
        self.router = router
        self.rules_dir = rules_dir
        self.build = build
        self.seen = snapshot(rules_dir)
        self.reloads = 0
        self.last_error: list[str] = []

    def check(self) -> bool:
        """Reload if the files changed; True when new rules are now active."""
        current = snapshot(self.rules_dir)
        if current == self.seen:
            return False
        self.seen = current
        try:
            fresh = self.build()
        except ConfigError as exc:
            self.last_error = exc.problems
            log.error(
                "rules not reloaded, the previous rules stay active: %d problem(s)",
                len(exc.problems),
            )
            for problem in exc.problems:
                log.error("rules: %s", problem)
            return False
        self.router.replace_rules(fresh)
        self.reloads += 1
        self.last_error = []
        log.info("rules reloaded from %s (%d rules)", self.rules_dir, len(fresh.ruleset.rules))
        return True

    async def run(self) -> None:
        """The scheduler job: the check reads files, so it runs off the event loop."""
        await in_background(self.check)
