"""A writer killed with SIGKILL at random moments never damages the store or loses an
acknowledged change."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.store.builders import T0
from triagebot.cases.facts import crosspost_keys
from triagebot.cases.records import ACTIVE_STATES, CaseState
from triagebot.store._index import keys_of_doc, stored_keys
from triagebot.store.tinydb_store import TinyDBStore

pytestmark = pytest.mark.slow

KILLS = 15
ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(path: Path, seed: int, delay: float) -> list[str]:
    """Start a writer, let it work ``delay`` seconds after it is ready, kill it; its lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store._workers", str(path), str(seed)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        output = proc.stdout.read()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return [line for line in output.split("\n")[:-1] if line]  # the last one may be cut


def test_sigkill_never_loses_acknowledged_changes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    rng = random.Random(20250303)
    acked: dict[str, tuple[int, str]] = {}
    mentions: dict[str, str] = {}
    changes = 0
    for seed in range(KILLS):
        for line in run_until_killed(path, seed, rng.uniform(0.01, 0.2)):
            case_id, version_text, state_text = line.split()
            acked[case_id] = (int(version_text), state_text)
            if version_text == "1":  # an add (a case whose add was not acked is left out)
                mentions[case_id] = f"crash:{seed}:{case_id}"
            changes += 1

        root = json.loads(path.read_text())
        for doc in root.get("cases", {}).values():  # each case's keys were written with it
            assert stored_keys(doc) == keys_of_doc(doc), doc["id"]
        check_indexes(path, mentions)
        with TinyDBStore(path) as store:
            for case_id, (version, state) in acked.items():
                case = store.get_case(case_id)
                assert case.version in (version, version + 1), case_id
                if case.version == version:
                    assert case.state == CaseState(state), case_id
                assert len(store.events(case_id)) == case.version
            listed = {c.id for c in store.list_cases()}
            assert set(acked) <= listed
    assert changes >= KILLS  # the writer did get work done between kills


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
