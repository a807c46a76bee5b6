"""One person is one row: Ana acts from Slack, Teams, the board and the CLI and is counted once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.sla_helpers import make_case, ny, store_cases
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Resolve
from triagebot.config.settings import load_settings
from triagebot.reports.query import SlaQuery, gather
from triagebot.reports.summary import summary_for
from triagebot.runtime.digest import digest_text
from triagebot.runtime.wiring import Runtime
from triagebot.sla.export import export_rows

NOW = ny(17, 8, 30)
ANA_SLACK = Identity("slack", "U0ANA")
ANA_TEAMS = Identity("teams", "3f1d7b0e-aad-ana")
ANA_BOARD = Identity("board", "ana")
ANA_CLI = Identity("cli", "ana")
#: Someone else whose Teams id happens to read like Ana's Slack id.
TEAMS_U0ANA = Identity("teams", "U0ANA")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        'name = "Ana Lopez"\n', f'name = "Ana Lopez"\nteams_aad_object_id = "{ANA_TEAMS.id}"\n'
    )
    config = tmp_path / "triagebot.toml"
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, {"TRIAGEBOT_DB": str(tmp_path / "db" / "triagebot.json")})
    built = Runtime.build(settings, routing=False, clock=lambda: NOW)
    yield built
    built.close()


def act_from_every_surface(runtime: Runtime) -> None:
    """Monday: Ana claims one case on each surface, resolves two from other surfaces than the
    one she claimed them on; a stranger with a Teams id equal to her Slack id claims a fifth."""
    s = runtime.settings
    store_cases(runtime.store, [make_case(s, str(n), ny(16, 10)) for n in range(1, 6)])
    store, policy = runtime.store, runtime.policy
    for n, who in enumerate((ANA_SLACK, ANA_TEAMS, ANA_BOARD, ANA_CLI), start=1):
        execute(store, policy, Claim(str(n), who, who.surface), ny(16, 10, 10 * n))
    execute(store, policy, Resolve("1", ANA_BOARD, "board"), ny(16, 12))
    execute(store, policy, Resolve("2", ANA_CLI, "cli"), ny(16, 13))
    execute(store, policy, Claim("5", TEAMS_U0ANA, "teams"), ny(16, 14))


def test_sla_by_person_has_one_row_for_ana_across_four_surfaces(runtime: Runtime) -> None:
    act_from_every_surface(runtime)
    summary = summary_for(runtime, timedelta(days=7))
    assert sorted(summary.by_person) == ["Ana Lopez", "teams:U0ANA"]
    ana = summary.by_person["Ana Lopez"]
    assert ana.count == 4 and ana.by_state["resolved"] == 2 and ana.by_state["claimed"] == 2
    assert summary.by_person["teams:U0ANA"].count == 1


@pytest.mark.parametrize("asker", [ANA_SLACK, ANA_TEAMS, ANA_BOARD, ANA_CLI])
def test_sla_me_is_the_same_from_each_of_anas_surfaces(runtime: Runtime, asker: Identity) -> None:
    act_from_every_surface(runtime)
    found = gather(runtime, SlaQuery(view="me"), asker)
    assert found.person is not None and found.person.count == 4
    assert sorted(c.id for c in found.holding) == ["3", "4"]


def test_sla_me_of_the_look_alike_teams_user_is_theirs_alone(runtime: Runtime) -> None:
    act_from_every_surface(runtime)
    found = gather(runtime, SlaQuery(view="me"), TEAMS_U0ANA)
    assert found.person is not None and found.person.count == 1
    assert [c.id for c in found.holding] == ["5"]


def test_the_digest_and_the_export_name_ana_once(runtime: Runtime) -> None:
    act_from_every_surface(runtime)
    lines = digest_text(runtime, "billing", NOW).splitlines()
    people = lines[lines.index("by person, last 7 days:") + 1 :]
    assert people[:2] == ["  Ana Lopez: 4 cases, 2 resolved", "  teams:U0ANA: 1 cases, 0 resolved"]
    settings = runtime.settings
    cases = runtime.store.list_cases()
    rows = export_rows(cases, settings.calendar_for, NOW, settings.people.name_of)
    names = {row["case_id"]: (row["claimed_by"], row["claimed_by_name"]) for row in rows}
    assert names["1"] == ("slack:U0ANA", "Ana Lopez")
    assert names["2"] == (f"teams:{ANA_TEAMS.id}", "Ana Lopez")
    assert names["5"] == ("teams:U0ANA", "U0ANA")
