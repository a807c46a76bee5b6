"""Contract: repeated reads of the active cases (kept decoded by version) see every change."""

from __future__ import annotations

from datetime import timedelta

from tests.store.builders import T0, make_new, moved
from tests.store.conftest import Opener
from triagebot.cases.records import ACTIVE_STATES, CaseState


def test_active_lists_follow_changes_made_through_another_connection(open_store: Opener) -> None:
    reader, writer = open_store(), open_store()
    reader.add_cases([make_new(str(n), ingested_at=T0 + timedelta(minutes=n)) for n in (1, 2, 3)])
    assert [c.id for c in reader.list_cases(states=ACTIVE_STATES)] == ["3", "2", "1"]

    one = writer.get_case("1")
    writer.save_case(moved(one, CaseState.CLAIMED), one.version)
    two = writer.get_case("2")
    writer.save_case(moved(two, CaseState.RESOLVED), two.version)
    listed = reader.list_cases(states=ACTIVE_STATES)
    assert listed == [writer.get_case("3"), writer.get_case("1")]
    assert listed[1].state is CaseState.CLAIMED

    claimed = reader.list_cases(states=[CaseState.CLAIMED])
    assert claimed == [writer.get_case("1")]
    back = writer.get_case("2")
    writer.save_case(moved(back, CaseState.OPEN), back.version)
    assert [c.id for c in reader.list_cases(states=ACTIVE_STATES)] == ["3", "2", "1"]
    assert reader.list_cases(states=ACTIVE_STATES, department="support", limit=1)[0].id == "3"
