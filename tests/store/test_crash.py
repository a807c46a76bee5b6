"""A writer killed with SIGKILL at random moments never damages the store or loses an
acknowledged change; nor does a compaction killed at random moments while a writer works."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.store._files import replayed_cases
from tests.store.builders import T0
from triagebot.cases.facts import crosspost_keys
from triagebot.cases.records import ACTIVE_STATES, CaseState
from triagebot.store._index import keys_of_doc, stored_keys
from triagebot.store.tinydb_store import TinyDBStore

pytestmark = pytest.mark.slow

KILLS = 15
ROOT = Path(__file__).resolve().parents[2]


def start(path: Path, role: str) -> subprocess.Popen[str]:
    """A worker of ``tests.store._workers`` (a writer's seed, or ``compactor``), once ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store._workers", str(path), role],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline() != "ready\n":
        kill(proc)
        raise AssertionError(f"worker {role} did not start")
    return proc


def kill(proc: subprocess.Popen[str]) -> list[str]:
    """SIGKILL the worker; the lines it printed (the last one may be cut, so it is left out)."""
    assert proc.stdout is not None
    proc.send_signal(signal.SIGKILL)
    output = proc.stdout.read()
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return [line for line in output.split("\n")[:-1] if line]


def run_until_killed(path: Path, seed: int, delay: float) -> list[str]:
    """Start a writer, let it work ``delay`` seconds after it is ready, kill it; its lines."""
    proc = start(path, str(seed))
    try:
        time.sleep(delay)
    finally:
        lines = kill(proc)
    return lines


class Ledger:
    """What writers acknowledged, and what they tried: a change is acknowledged when the call
    returned; a tried change may or may not be in the store (the writer was killed meanwhile,
    possibly after its commit, in the compaction that followed it)."""

    def __init__(self) -> None:
        self.acked: dict[str, tuple[int, str]] = {}
        self.tried: dict[str, dict[int, str]] = {}
        self.mentions: dict[str, str] = {}

    def record(self, lines: list[str], seed: int) -> int:
        """Note a writer's lines; how many changes it acknowledged."""
        done = 0
        for line in lines:
            words = line.split()
            if words[0] == "try":
                self.tried.setdefault(words[1], {})[int(words[2])] = words[3]
                continue
            case_id, version_text, state_text = words
            self.acked[case_id] = (int(version_text), state_text)
            if version_text == "1":  # an add (a case whose add was not acked is left out)
                self.mentions[case_id] = f"crash:{seed}:{case_id}"
            done += 1
        return done

    def check(self, path: Path) -> None:
        """Every acknowledged change is in the store, or a later one that was tried."""
        for doc in replayed_cases(path).values():  # each case's keys were written with it
            assert stored_keys(doc) == keys_of_doc(doc), doc["id"]
        with TinyDBStore(path) as store:
            for case_id, (version, acked_state) in self.acked.items():
                case = store.get_case(case_id)
                tried = self.tried.get(case_id, {}) | {version: acked_state}
                assert case.version >= version, case_id  # later: tried, not acknowledged
                assert case.version in tried, f"{case_id}: {case.version} was never tried"
                assert case.state == CaseState(tried[case.version]), case_id
                assert len(store.events(case_id)) == case.version
            listed = {c.id for c in store.list_cases()}
            assert set(self.acked) <= listed
        check_indexes(path, self.mentions)


def test_sigkill_never_loses_acknowledged_changes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    rng = random.Random(20250303)
    ledger = Ledger()
    changes = 0
    for seed in range(KILLS):
        changes += ledger.record(run_until_killed(path, seed, rng.uniform(0.01, 0.2)), seed)
        ledger.check(path)
    assert changes >= KILLS  # the writer did get work done between kills
    journals = [p for p in path.parent.iterdir() if ".journal-" in p.name]
    assert int(max(journals).name.rsplit("-", 1)[1]) > 2, "the writer never compacted"


def test_sigkill_of_a_compaction_loses_nothing(tmp_path: Path) -> None:
    """A compaction in a process of its own (as a writer starts one) killed at random moments,
    while a writer works: the writer's acknowledged changes all stay, before and after the
    writer is killed too."""
    path = tmp_path / "data" / "triagebot.json"
    rng = random.Random(20261204)
    ledger = Ledger()
    compactions = changes = 0
    for seed in range(3):
        writer = start(path, str(100 + seed))
        try:
            for _ in range(KILLS // 3):
                compactor = start(path, "compactor")
                time.sleep(rng.uniform(0.01, 0.3))
                compactions += kill(compactor).count("compacted")
        finally:
            changes += ledger.record(kill(writer), 100 + seed)
        ledger.check(path)
    assert changes and compactions, "nothing was written, or no compaction finished"


def check_indexes(path: Path, mentions: dict[str, str]) -> None:
    """The mention and cross-post indexes of a store opened afresh agree with its cases."""
    with TinyDBStore(path) as store:
        assert store.known_mentions([*mentions.values(), "crash:never"]) == set(mentions.values())
        active = store.list_cases(states=ACTIVE_STATES)
        assert {m.mention.id for m in store.list_cases()} >= set(mentions.values())
        by_author = store.crosspost_candidates(set(), {"jo"}, T0 - timedelta(days=1))
        assert [c.id for c in by_author] == [c.id for c in active]  # the writer's one author
        for case in active[:10]:
            found = store.crosspost_candidates(crosspost_keys(case).urls, set(), T0)
            assert [c.id for c in found] == [case.id]
