"""Where the bot can post in Teams: the channels it has seen, and which department goes where.

A *place* is remembered in the store (``Store.remember_place("teams", id, data)``) whenever
the bot is added to a team or hears a message: team and channel ids and names, the tenant,
the service URL and the serialized conversation reference needed to post there after a
restart. Departments name their channel in ``teams_channel`` by id, by name
(``"Shipping"``) or as ``"Team/Channel"``. Pure code: no botbuilder here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SURFACE = "teams"


@dataclass(frozen=True)
class Place:
    """One conversation the bot knows: a team channel, a group chat or a personal chat."""

    id: str
    kind: str  # "channel", "groupChat" or "personal"
    service_url: str
    reference: Mapping[str, Any]
    team_id: str | None = None
    team_name: str | None = None
    name: str | None = None
    tenant_id: str | None = None
    seen_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``My Team / General`` for channels, otherwise the kind and id."""
        if self.kind == "channel":
            return f"{self.team_name or self.team_id or '?'} / {self.name or self.id}"
        return f"{self.kind} {self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "service_url": self.service_url,
            "reference": dict(self.reference),
            "team_id": self.team_id,
            "team_name": self.team_name,
            "name": self.name,
            "tenant_id": self.tenant_id,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
        }

    @classmethod
    def from_json(cls, place_id: str, data: Mapping[str, Any]) -> Place:
        seen = data.get("seen_at")
        return cls(
            id=place_id,
            kind=str(data.get("kind") or "channel"),
            service_url=str(data.get("service_url") or ""),
            reference=dict(data.get("reference") or {}),
            team_id=data.get("team_id"),
            team_name=data.get("team_name"),
            name=data.get("name"),
            tenant_id=data.get("tenant_id"),
            seen_at=datetime.fromisoformat(seen) if isinstance(seen, str) else None,
        )


def load_places(stored: Mapping[str, Mapping[str, Any]]) -> list[Place]:
    """Places from ``Store.places("teams")``, most recently seen first."""
    places = [Place.from_json(pid, data) for pid, data in stored.items()]
    return sorted(
        places, key=lambda p: (p.seen_at is None, -(p.seen_at.timestamp() if p.seen_at else 0))
    )


def _norm(text: str) -> str:
    return " ".join(text.strip().lstrip("#").split()).casefold()


def find_channel(places: Iterable[Place], wanted: str | None) -> Place | None:
    """The channel a department's ``teams_channel`` names: by id, ``Team/Channel`` or name.

    An id match wins; among name matches the most recently seen channel wins (``places``
    comes newest first from ``load_places``).
    """
    if not wanted:
        return None
    channels = [p for p in places if p.kind == "channel"]
    for place in channels:
        if place.id == wanted.strip():
            return place
    target = _norm(wanted)
    team_part, _, channel_part = target.rpartition("/")
    for place in channels:
        name = _norm(place.name or "")
        if (
            team_part
            and _norm(place.team_name or "") == team_part.strip()
            and name == channel_part.strip()
        ):
            return place
    for place in channels:
        if _norm(place.name or "") == target:
            return place
    return None
