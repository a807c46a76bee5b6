"""Who acts on a case: an identity qualified by the surface that vouches for it.

An actor is never a bare name: ``slack:U0ANA`` (a Slack user id), ``teams:<AAD object id>``,
``board:ana`` (a board login), ``cli:ana`` (a ``--by`` name), ``system:triagebot`` (the
pipeline, delivery and the SLA watcher) or ``legacy:ana`` (an actor stored before identities
were qualified, whose surface nobody recorded). Two identities are equal only when surface and
id both are, so a Teams user whose id happens to read ``U0ANA`` is not the Slack user
``U0ANA``. Joining the identities of one person is the people directory's job (config).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Surfaces that vouch for an identity, in the order a person's identities are listed.
SURFACES = ("slack", "teams", "board", "cli", "system", "legacy")
#: Surfaces whose ids are names people type: compared without regard to case.
_NAMED = frozenset({"board", "cli", "legacy"})
MAX_ID = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, order=True)
class Identity:
    """A surface and the id that surface gives a person; ``str()`` is ``"surface:id"``."""

    surface: str
    id: str

    def __post_init__(self) -> None:
        if self.surface not in SURFACES:
            raise ValueError(f"unknown identity surface {self.surface!r}")
        text = unicodedata.normalize("NFC", self.id).strip()
        if self.surface in _NAMED:
            text = text.casefold()
        if not text:
            raise ValueError("an identity needs a non-empty id")
        if len(text) > MAX_ID or _CONTROL.search(text):
            raise ValueError(
                f"{self.surface} id must be at most {MAX_ID} characters without control ones"
            )
        object.__setattr__(self, "id", text)

    def __str__(self) -> str:
        return f"{self.surface}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Identity:
        """``"surface:id"`` as written by ``str()``; raises ``ValueError`` otherwise."""
        surface, sep, ident = text.partition(":")
        if not sep or surface not in SURFACES:
            raise ValueError(
                f"{text[:60]!r} is not a qualified identity: write surface:id, surface one of "
                + ", ".join(SURFACES)
            )
        return cls(surface, ident)

    @property
    def is_system(self) -> bool:
        return self.surface == "system"


#: The actor of everything triagebot does by itself (ingest, delivery, the SLA watcher).
SYSTEM = Identity("system", "triagebot")
#: The name the system actor had before identities were qualified.
LEGACY_SYSTEM_NAME = "triagebot"
#: Event surfaces (where a change came from) whose actor the surface itself vouched for.
VOUCHING_SURFACES = frozenset({"slack", "teams", "board", "cli"})
#: Event surfaces of triagebot's own work.
SYSTEM_SURFACES = frozenset({"pipeline", "delivery", "watcher", "crosspost", "sla"})


def read_stored(text: str, event_surface: str | None = None) -> Identity:
    """An actor as stored: qualified ones as they are; an older, bare one qualified by the
    surface of the event that recorded it when that surface vouches for it, the system's own
    name as the system, anything else as ``legacy:<name>``."""
    surface, sep, _ = text.partition(":")
    if sep and surface in SURFACES:
        return Identity.parse(text)
    if event_surface in VOUCHING_SURFACES:
        return Identity(event_surface, text)
    if text == LEGACY_SYSTEM_NAME and (event_surface is None or event_surface in SYSTEM_SURFACES):
        return SYSTEM
    return Identity("legacy", text)


def read_optional(text: str | None, event_surface: str | None = None) -> Identity | None:
    return None if text is None or text == "" else read_stored(text, event_surface)
