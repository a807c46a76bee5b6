"""The people directory: ``[[people]]`` joins one person's identities on every surface.

Each row names a person once (``name``) with the ids the surfaces know them by (Slack user id,
Teams AAD object id, board login, ``--by`` name on the command line, bare names an older
store recorded) and whether they are a manager. ``People`` answers the questions the rest of
triagebot asks of an identity: whose is it, are two identities one person, is it a manager's,
what to call it. An identity no row lists is a person of its own, named by what its surface
supplied (a Teams display name) or by its id.

The older ``[managers]`` lists (``names``, ``slack``, ``teams``) still count: each entry is
read as the identity its surface would give (``names`` as both ``cli:`` and ``board:``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triagebot.cases.identities import Identity

if TYPE_CHECKING:
    from triagebot.config.file import PersonConfig

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
#: Ids of departments and sources, and board logins.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def people_problems(rows: Sequence[PersonConfig]) -> list[str]:
    """Rows without an identity, names and identities listed twice."""
    problems: list[str] = []
    names: dict[str, int] = {}
    owners: dict[Identity, int] = {}
    for i, row in enumerate(rows):
        where = f"people[{i}] ({row.name})"
        if names.setdefault(row.name.casefold(), i) != i:
            problems.append(f"{where}.name: {row.name!r} is listed twice")
        if not row.identities():
            problems.append(f"{where}: give at least one of slack_user_id, teams_aad_object_id, "
                            "board_login, cli_name")  # fmt: skip
        for identity in row.identities():
            first = owners.setdefault(identity, i)
            if first != i:
                problems.append(f"{where}: {identity} is already people[{first}]'s")
    return problems


@dataclass(frozen=True)
class Person:
    name: str
    identities: tuple[Identity, ...]
    manager: bool = False


class People:
    """Who is who across the surfaces; see the module docstring."""

    def __init__(self, persons: Iterable[Person] = (), managers: Iterable[Identity] = ()) -> None:
        self.persons = tuple(persons)
        self._by_identity = {i: p for p in self.persons for i in p.identities}
        self._by_name = {p.name.casefold(): p for p in self.persons}
        self._managers = frozenset(managers) | {
            i for p in self.persons if p.manager for i in p.identities
        }

    @classmethod
    def from_config(
        cls, rows: Sequence[PersonConfig], names: Sequence[str] = (),
        slack: Sequence[str] = (), teams: Sequence[str] = (),
    ) -> People:  # fmt: skip
        """The directory of ``[[people]]`` and the older ``[managers]`` lists."""
        persons = [Person(r.name, r.identities(), r.manager) for r in rows]
        managers = [Identity(s, n) for n in names for s in ("cli", "board")]
        managers += [Identity("slack", u) for u in slack]
        managers += [Identity("teams", u) for u in teams]
        return cls(persons, managers)

    def person(self, identity: Identity) -> Person | None:
        return self._by_identity.get(identity)

    def by_name(self, name: str) -> Person | None:
        return self._by_name.get(" ".join(name.split()).casefold())

    def same_person(self, one: Identity, other: Identity) -> bool:
        if one == other:
            return True
        person = self.person(one)
        return person is not None and person is self.person(other)

    def is_manager(self, identity: Identity) -> bool:
        return identity in self._managers

    def identities_of(self, identity: Identity) -> tuple[Identity, ...]:
        """Every identity of the person ``identity`` belongs to (itself at least)."""
        person = self.person(identity)
        return person.identities if person is not None else (identity,)

    def on_surface(self, identity: Identity, surface: str) -> Identity | None:
        """The person's identity on ``surface`` (``identity`` itself if it is one)."""
        return next((i for i in self.identities_of(identity) if i.surface == surface), None)

    def name_of(self, identity: Identity, supplied: Mapping[str, str] | None = None) -> str:
        """The person's name; else the name the surface supplied for its id; else the id."""
        person = self.person(identity)
        if person is not None:
            return person.name
        if identity.is_system:
            return "triagebot"
        if supplied is not None and identity.id in supplied:
            return supplied[identity.id]
        return identity.id

    def group_key(self, stored: str) -> str:
        """The row an SLA figure counts in: a person's name, else the qualified identity."""
        try:
            identity = Identity.parse(stored)
        except ValueError:
            return stored
        person = self.person(identity)
        return person.name if person is not None else stored

    def reference(self, text: str) -> Identity:
        """An identity named in the configuration (a department's ``manager``): a person's
        name, a qualified identity, or as before: a Slack user id, else a ``--by`` name."""
        person = self.by_name(text)
        if person is not None:
            return person.identities[0]
        surface, sep, _ = text.partition(":")
        if sep and surface in {"slack", "teams", "board", "cli"}:
            return Identity.parse(text)
        return Identity("slack" if SLACK_USER.match(text) else "cli", text)
