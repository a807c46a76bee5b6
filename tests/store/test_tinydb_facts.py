"""The TinyDB store's SLA facts files: written with each segment, optional when reading."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from tests.store._files import compacted_root
from tests.store.builders import varied_case
from triagebot.cases.facts import sla_facts
from triagebot.cases.records import Case, NewCase
from triagebot.store.tinydb_store import TinyDBStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "triagebot.json"


def _filled(path: Path) -> list[Case]:
    rng = random.Random(8)
    cases = [varied_case(rng, n) for n in range(1, 41)]
    with TinyDBStore(path, segment_capacity=4) as store:
        assert all(store.add_cases([NewCase(c) for c in cases]))
    return cases


def _history(path: Path) -> Path:
    return path.with_name("triagebot.history")


def test_each_segment_has_a_facts_file_of_its_cases(path: Path) -> None:
    cases = _filled(path)
    segments = compacted_root(path)["meta"]["1"]["segments"]
    assert segments
    by_id = {c.id: c for c in cases}
    for segment in segments:
        facts = json.loads((_history(path) / segment["facts"]).read_text())
        assert facts["segment"] == segment["file"]
        assert [tuple(row) for row in facts["facts"]] == [
            tuple(sla_facts(by_id[str(row[0])])) for row in facts["facts"]
        ]


def test_a_store_written_without_facts_files_still_answers(path: Path) -> None:
    """Segments of an earlier version have no facts file: the store reads the cases."""
    cases = _filled(path)
    data = compacted_root(path)
    for segment in data["meta"]["1"]["segments"]:
        (_history(path) / segment.pop("facts")).unlink()
    path.write_text(json.dumps(data))
    with TinyDBStore(path, segment_capacity=4) as store:
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
        store.save_case(replace(cases[0], version=2), 1)  # rewrites its segment
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in store.list_cases())


def test_a_facts_file_that_vanished_is_not_an_error(path: Path) -> None:
    cases = _filled(path)
    for facts in _history(path).glob("*.facts.json"):
        facts.unlink()
    with TinyDBStore(path, segment_capacity=4) as store:
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)


def test_migrate_writes_the_facts_files_an_earlier_version_left_out(path: Path) -> None:
    cases = _filled(path)
    data = compacted_root(path)
    segments = data["meta"]["1"]["segments"]
    for segment in segments:
        (_history(path) / segment.pop("facts")).unlink()
    path.write_text(json.dumps(data))
    with TinyDBStore(path, segment_capacity=4) as store:
        assert store.migrate() == [f"wrote SLA facts files for {len(segments)} history segments"]
        assert store.migrate() == []
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
    after = compacted_root(path)["meta"]["1"]["segments"]
    assert all((_history(path) / s["facts"]).exists() for s in after)
    assert [s["file"] for s in after] == [s["file"] for s in segments]


def test_facts_files_of_an_earlier_shape_are_read_past_and_rewritten(path: Path) -> None:
    """Facts files written before the first-response facts have 12 per case: the store reads
    the cases of those segments instead, and ``migrate`` writes them again in full."""
    cases = _filled(path)
    segments = compacted_root(path)["meta"]["1"]["segments"]
    for segment in segments:
        file = _history(path) / segment["facts"]
        kept = json.loads(file.read_text())
        kept["facts"] = [row[:12] for row in kept["facts"]]
        file.write_text(json.dumps(kept))
    with TinyDBStore(path, segment_capacity=4) as store:
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
        assert store.migrate()[0] == f"wrote SLA facts files for {len(segments)} history segments"
        assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
    after = compacted_root(path)["meta"]["1"]["segments"]
    for segment in after:
        rows = json.loads((_history(path) / segment["facts"]).read_text())["facts"]
        assert all(len(row) == 15 for row in rows)
    assert any(c.first_response is not None and c.state.is_closed for c in cases)
