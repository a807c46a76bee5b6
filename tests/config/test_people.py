"""[[people]]: one person across surfaces; managers listed once; the older lists still count."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_config import MINIMAL, problems
from triagebot.cases.identities import Identity
from triagebot.config.settings import load_settings

ANA_ROW = """
[[people]]
name = "Ana Lopez"
slack_user_id = "U0ANA"
teams_aad_object_id = "5c1e0f4a-aad-ana"
board_login = "ana"
cli_name = "ana"
"""
MARIA_ROW = """
[[people]]
name = "Maria Chen"
slack_user_id = "U0MARIA"
cli_name = "maria"
manager = true
"""


def test_a_person_joins_their_identities_and_nobody_elses(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.toml"
    path.write_text(MINIMAL + ANA_ROW + MARIA_ROW, encoding="utf-8")
    people = load_settings(path, {}).people
    ana = [
        Identity("slack", "U0ANA"),
        Identity("teams", "5c1e0f4a-aad-ana"),
        Identity("board", "ana"),
        Identity("cli", "ana"),
    ]
    assert all(people.same_person(ana[0], other) for other in ana)
    assert all(people.name_of(i) == "Ana Lopez" for i in ana)
    # Ana's Slack id spelled by Teams, or her login typed on the CLI by someone, is not Ana.
    assert not people.same_person(ana[0], Identity("teams", "U0ANA"))
    assert not people.same_person(ana[2], Identity("legacy", "ana"))
    assert people.group_key("teams:5c1e0f4a-aad-ana") == "Ana Lopez"
    assert people.group_key("teams:someone-else") == "teams:someone-else"
    assert people.name_of(Identity("teams", "x1"), {"x1": "Alex Wilber"}) == "Alex Wilber"


def test_a_manager_is_listed_once_for_every_surface(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.toml"
    path.write_text(MINIMAL + ANA_ROW + MARIA_ROW, encoding="utf-8")
    settings = load_settings(path, {})
    assert settings.is_manager(Identity("slack", "U0MARIA"))
    assert settings.is_manager(Identity("cli", "maria"))
    assert not settings.is_manager(Identity("board", "maria"))  # no board login listed
    assert not settings.is_manager(Identity("teams", "U0MARIA"))
    assert not settings.is_manager(Identity("slack", "U0ANA"))


def test_the_older_managers_lists_still_count_on_their_own_surface(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.toml"
    older = '[managers]\nnames = ["maria"]\nslack = ["U0MARIA"]\nteams = ["aad-maria"]\n'
    path.write_text(MINIMAL + older, encoding="utf-8")
    settings = load_settings(path, {})
    for yes in ("cli:maria", "board:maria", "slack:U0MARIA", "teams:aad-maria"):
        assert settings.is_manager(Identity.parse(yes)), yes
    for no in ("teams:U0MARIA", "slack:maria", "legacy:maria", "slack:aad-maria"):
        assert not settings.is_manager(Identity.parse(no)), no


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ('[[people]]\nname = "Ana"\n', "people[0] (Ana): give at least one of slack_user_id"),
        (
            '[[people]]\nname = "Ana"\nslack_user_id = "ana"\n',
            "people[0] (Ana).slack_user_id: 'ana' is not a Slack user id",
        ),
        (
            '[[people]]\nname = "Ana"\nboard_login = "Ana Lopez"\n',
            "people[0] (Ana).board_login: 'Ana Lopez' is not a board login",
        ),
        (
            '[[people]]\nname = "Ana"\ncli_name = "ana"\n'
            '[[people]]\nname = "Ben"\ncli_name = "ANA"\n',
            "people[1] (Ben): cli:ana is already people[0]'s",
        ),
        (
            '[[people]]\nname = "Ana"\ncli_name = "ana"\n'
            '[[people]]\nname = "ana"\ncli_name = "ana2"\n',
            "people[1] (ana).name: 'ana' is listed twice",
        ),
        ('[[people]]\nname = "Ana"\nemail = "a@b"\n', "people[0] (Ana).email: unknown field"),
        ('[managers]\nnames = [""]\n', "managers.names[0]: an identity needs a non-empty id"),
    ],
)
def test_mistakes_in_people_are_one_line_each(tmp_path: Path, rows: str, expected: str) -> None:
    lines = problems(tmp_path, MINIMAL + rows)
    assert any(expected in line for line in lines), lines
    assert all("\n" not in line for line in lines)
