"""Identities: qualified by surface, never equal across surfaces; older bare actors read safely."""

from __future__ import annotations

import pytest

from triagebot.cases.identities import SYSTEM, Identity, read_optional, read_stored
from triagebot.cases.note_mentions import mention_user, mentioned, plain_mentions


def test_text_form_round_trips() -> None:
    for identity in (
        Identity("slack", "U0ANA"),
        Identity("teams", "29:1f2e-3d"),  # Teams ids hold colons themselves
        Identity("board", "ana"),
        Identity("cli", "ana lopez"),
        SYSTEM,
    ):
        assert Identity.parse(str(identity)) == identity
    assert str(Identity("teams", "29:1f2e")) == "teams:29:1f2e"


def test_the_same_id_on_two_surfaces_is_two_identities() -> None:
    assert Identity("slack", "U0ANA") != Identity("teams", "U0ANA")
    assert Identity("cli", "ana") != Identity("board", "ana")
    assert len({Identity("slack", "U0ANA"), Identity("teams", "U0ANA")}) == 2


def test_typed_names_ignore_case_and_spaces_but_platform_ids_do_not() -> None:
    assert Identity("cli", "  Ana ") == Identity("cli", "ana")
    assert Identity("board", "ANA") == Identity("board", "ana")
    assert Identity("slack", "U0ana") != Identity("slack", "U0ANA")


@pytest.mark.parametrize(
    ("surface", "ident", "message"),
    [
        ("cli", "", "non-empty"),
        ("cli", "   ", "non-empty"),
        ("cli", "ana\x1b[31m", "control"),
        ("cli", "a" * 201, "at most 200"),
        ("email", "ana@example.com", "unknown identity surface"),
    ],
)
def test_bad_identities_are_refused(surface: str, ident: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Identity(surface, ident)


@pytest.mark.parametrize("text", ["ana", "U0ANA", "email:ana", ":ana", "slack:"])
def test_parse_wants_a_known_surface_and_an_id(text: str) -> None:
    with pytest.raises(ValueError, match="identity"):
        Identity.parse(text)


@pytest.mark.parametrize(
    ("stored", "event_surface", "expected"),
    [
        ("slack:U0ANA", None, Identity("slack", "U0ANA")),
        ("slack:U0ANA", "teams", Identity("slack", "U0ANA")),  # qualified stays as written
        ("U0ANA", "slack", Identity("slack", "U0ANA")),
        ("U0ANA", "teams", Identity("teams", "U0ANA")),
        ("29:alex", "teams", Identity("teams", "29:alex")),
        ("ana", "board", Identity("board", "ana")),
        ("ana", "cli", Identity("cli", "ana")),
        ("triagebot", "pipeline", SYSTEM),
        ("triagebot", "watcher", SYSTEM),
        ("triagebot", None, SYSTEM),
        ("ana", "demo", Identity("legacy", "ana")),
        ("U0ANA", None, Identity("legacy", "U0ANA")),  # a case field: no surface recorded
    ],
)
def test_older_bare_actors_are_qualified_by_the_surface_that_recorded_them(
    stored: str, event_surface: str | None, expected: Identity
) -> None:
    assert read_stored(stored, event_surface) == expected


def test_a_legacy_actor_is_nobody_on_any_surface() -> None:
    legacy = read_stored("U0ANA")
    assert legacy not in {Identity("slack", "U0ANA"), Identity("teams", "U0ANA")}
    assert read_optional(None) is None and read_optional("") is None


def test_mention_tokens_carry_any_identity_through_a_note() -> None:
    who = Identity("cli", "ana {lopez}")
    token = mention_user(who)
    assert " " not in token.strip("{}") and mentioned(token[7:-1]) == who
    assert plain_mentions(f"claimed by {token}") == "claimed by @ana {lopez}"
    assert plain_mentions(f"by {token}", lambda i: "Ana Lopez", at="") == "by Ana Lopez"
