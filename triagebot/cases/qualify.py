"""Qualifying the actors a store recorded before identities carried their surface.

A case document of that time names its holder (``claimed_by``) and closer (``resolved_by``)
by a bare id or name, without saying through which surface they acted; its events do say
(``surface``). ``qualified_case`` replays a case's events in order to learn which identity each
bare name stood for at each step, and rewrites the two fields: ``U0ANA`` claimed from Slack
becomes ``slack:U0ANA``, ``ana`` from the board ``board:ana``, the pipeline's ``triagebot``
``system:triagebot``. A name no event vouches for becomes ``legacy:<name>``: nobody on any
surface, so it confers no rights; a manager can still act on the case, and a ``[[people]]``
row's ``legacy_names`` joins it to a person for the figures.

Events are never rewritten (they are append-only): ``CaseEvent.from_dict`` qualifies a bare
actor by the event's own surface as it reads it, by the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from triagebot.cases.identities import SURFACES, Identity, read_stored

JSON = dict[str, Any]
_CLOSING = frozenset({"resolve", "spam"})


def is_qualified(value: object) -> bool:
    """True for ``None`` and for text already of the form ``surface:id``."""
    if value is None or value == "":
        return True
    surface, sep, _ = str(value).partition(":")
    return bool(sep) and surface in SURFACES


def _same(identity: Identity, bare: str) -> bool:
    try:
        return Identity(identity.surface, bare) == identity
    except ValueError:
        return False


def _qualify(bare: str, *candidates: Identity | None) -> Identity:
    """``bare`` as the first candidate it names (the holder so far, the acting identity), or
    else a legacy name."""
    for known in candidates:
        if known is not None and _same(known, bare):
            return known
    return read_stored(bare)


def _holder_after(events: Iterable[Mapping[str, Any]]) -> Identity | None:
    holder: Identity | None = None
    for event in events:
        after = event.get("after") or {}
        if "claimed_by" not in after:
            continue
        value = after["claimed_by"]
        actor = read_stored(str(event["actor"]), event.get("surface"))
        if value is None or value == "":
            holder = None
        elif is_qualified(value):
            holder = Identity.parse(str(value))
        else:
            holder = _qualify(str(value), holder, actor)  # a resolve keeps the holder
    return holder


def _closer(bare: str, events: list[Mapping[str, Any]]) -> Identity:
    for event in reversed(events):
        if event.get("action") in _CLOSING:
            actor = read_stored(str(event["actor"]), event.get("surface"))
            if _same(actor, bare):
                return actor
    return read_stored(bare)


def qualified_case(doc: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> JSON | None:
    """``doc`` with its holder and closer qualified (see the module docstring), or None when
    there is nothing to change. ``events`` are the case's events, oldest first."""
    claimed, resolved = doc.get("claimed_by"), doc.get("resolved_by")
    if is_qualified(claimed) and is_qualified(resolved):
        return None
    trail = list(events)
    changed = dict(doc)
    if not is_qualified(claimed):
        changed["claimed_by"] = str(_qualify(str(claimed), _holder_after(trail)))
    if not is_qualified(resolved):
        changed["resolved_by"] = str(_closer(str(resolved), trail))
    return changed
