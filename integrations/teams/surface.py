"""The Teams surface: each case as a card in a new thread of its department's channel.

Where to post comes from the places the bot has seen (``places``), matched against the
department's ``teams_channel``. A department whose channel the bot does not know yet is not
shown (``shows`` is False, said once per department), so its cases go on to the other surfaces;
when the bot learns the channel, those still active are queued for Teams (``catchup``). A post
that finds no channel even after re-reading the places fails permanently with a hint
(``triagebot teams channels``), so it is never retried forever. The message ref keeps the
thread's conversation id, the card's activity id and the service URL, so updates and thread
notes work after a restart. All Bot Connector calls go through ``TeamsGateway``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botbuilder.core import MessageFactory

from integrations.common.answers import never
from integrations.teams import render, tmd
from integrations.teams.gateway import TeamsGateway, Where
from integrations.teams.places import SURFACE, Place, find_channel, load_places
from triagebot.cases.note_mentions import mentioned, render_mentions
from triagebot.cases.records import Case, MessageRef
from triagebot.config.people import People
from triagebot.errors import DeliveryError
from triagebot.store.base import Store

log = logging.getLogger(__name__)

PERSON_PREFIX = "person:"
_HELD = re.compile("\ue000(\\d+)\ue001")
NOTE_LIMIT = 2_000
RELOAD_EVERY = 60.0  # seconds between re-reads of the known places


@dataclass(frozen=True)
class TeamsTargets:
    """Where cases go: a channel (name or id) per department, escalations, the digest."""

    channels: Mapping[str, str]  # department id -> teams_channel
    departments: Mapping[str, str]  # department id -> display name
    escalation: str | None = None
    digest: str | None = None
    people: People = field(default_factory=People)  # [[people]]: names across surfaces


class TeamsSurface:
    """Shows cases in Teams channels through the gateway it is given."""

    name = SURFACE

    def __init__(
        self,
        gateway: TeamsGateway,
        targets: TeamsTargets,
        store: Store,
        clock: Callable[[], datetime],
        can_reply: Callable[[Case], bool] = never,
    ) -> None:
        self.gateway = gateway
        self.targets = targets
        self.store = store
        self.clock = clock
        self.can_reply = can_reply
        self.people: dict[str, str] = {}  # Teams user id -> display name
        self._places: list[Place] = []
        self._unreachable: set[str] = set()  # departments already warned about

    # --- what the bot has seen -------------------------------------------------------------
    def load(self) -> None:
        """Read the known places and people from the store (blocking)."""
        stored = self.store.places(SURFACE)
        people = {k: v for k, v in stored.items() if k.startswith(PERSON_PREFIX)}
        self._places = load_places({k: v for k, v in stored.items() if k not in people})
        self._unreachable.clear()
        for key, data in people.items():
            if isinstance(data.get("name"), str):
                self.people[key.removeprefix(PERSON_PREFIX)] = data["name"]

    def known_places(self) -> list[Place]:
        """The places read or learned so far, most recently seen first."""
        return list(self._places)

    def note_place(self, place: Place) -> Callable[[], None]:
        """Use ``place`` from now on; returns the (blocking) write that keeps it in the store."""
        self._places = [place, *(p for p in self._places if p.id != place.id)]
        self._unreachable.clear()
        data = place.to_json()
        return lambda: self.store.remember_place(SURFACE, place.id, data)

    def note_person(self, user_id: str, name: str) -> Callable[[], None] | None:
        """Show ``name`` for ``user_id`` from now on; returns the (blocking) write that keeps it
        in the store, or None when nothing changed."""
        if not user_id or not name or self.people.get(user_id) == name:
            return None
        self.people[user_id] = name
        data = {"kind": "person", "name": name}
        return lambda: self.store.remember_place(SURFACE, PERSON_PREFIX + user_id, data)

    def remember(self, place: Place) -> None:
        """Use and store a place the bot just saw (blocking)."""
        self.note_place(place)()

    def remember_person(self, user_id: str, name: str) -> None:
        """Use and store a person's display name, shown on cards instead of their id."""
        write = self.note_person(user_id, name)
        if write is not None:
            write()

    async def channel_for(self, wanted: str, what: str) -> Place:
        place = find_channel(self._places, wanted)
        if place is None:
            await asyncio.to_thread(self.load)  # another process may have seen it
            place = find_channel(self._places, wanted)
        if place is None:
            raise DeliveryError(
                f"teams: {what}: no known channel matches teams_channel {wanted!r}; add the bot "
                "to that team (`triagebot teams channels` lists what it knows)",
                permanent=True,
            )
        return place

    # --- the Surface interface -------------------------------------------------------------
    def context(self) -> render.RenderContext:
        return render.RenderContext(
            self.targets.departments, self.clock(), self.people, self.targets.people, self.can_reply
        )

    def shows(self, case: Case) -> bool:
        """True when the department has a ``teams_channel`` the bot knows (else said once)."""
        wanted = self.targets.channels.get(case.department)
        if wanted is None:
            return False
        if find_channel(self._places, wanted) is not None:
            return True
        if case.department not in self._unreachable:
            self._unreachable.add(case.department)
            log.warning(
                "teams: cases of %s are not shown in Teams: no known channel matches "
                "teams_channel %r; add the bot to that team (`triagebot teams channels`)",
                case.department, wanted,
            )  # fmt: skip
        return False

    def departments_at(self, place_ids: Collection[str]) -> list[str]:
        """The departments whose ``teams_channel`` now leads to one of ``place_ids``."""
        found = []
        for department, wanted in sorted(self.targets.channels.items()):
            place = find_channel(self._places, wanted)
            if place is not None and place.id in place_ids:
                found.append(department)
        return found

    async def keep_loading(self, every: float = RELOAD_EVERY) -> None:
        """Re-read the places now and then: another process may have been added somewhere."""
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self.load)
            except Exception:
                log.exception("teams: could not re-read the known places")

    async def post(self, case: Case) -> MessageRef:
        wanted = self.targets.channels.get(case.department)
        if wanted is None:  # reassigned since the post was queued
            raise DeliveryError(
                f"teams: {case.department} has no teams_channel; case {case.id} not posted",
                permanent=True,
            )
        place = await self.channel_for(wanted, case.department)
        ctx = self.context()
        where = Where(place.service_url, place.id, place.tenant_id)
        thread, activity_id = await self.gateway.start_thread(
            where, render.case_card(case, ctx), render.summary(case, ctx)
        )
        extra = {
            "service_url": place.service_url,
            "tenant_id": place.tenant_id,
            "channel": place.id,
        }
        return MessageRef(SURFACE, thread, activity_id, extra)

    async def update(self, case: Case, ref: MessageRef) -> None:
        ctx = self.context()
        card = render.case_card(case, ctx)
        await self.gateway.update(where_of(ref), ref.message_id, card, render.summary(case, ctx))

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        await self._say(where_of(ref), self.note_text(text, NOTE_LIMIT))

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        dept = render.department_name(self.context(), case.department)
        excerpt = tmd.one_line(case.mention.text, 300)
        message = (
            f"🚨 **Escalation** · {case.priority} case #{tmd.one_line(case.id, 40)} for "
            f"**{dept}**\n\n{self.note_text(text, 1_000)}\n\n_{excerpt}_"
        )
        if self.targets.escalation is not None:
            place = await self.channel_for(self.targets.escalation, "[escalation]")
            where = Where(place.service_url, place.id, place.tenant_id)
            await self.gateway.start_thread(where, render.note_card(message), "Escalation")
        elif ref is not None:
            await self._say(where_of(ref), message)
        else:
            log.warning("escalation of case %s not shown: no escalation.teams_channel", case.id)

    async def digest(self, department: str, text: str) -> None:
        """The daily digest, to ``[managers] teams_channel`` (or the escalation channel)."""
        wanted = self.targets.digest or self.targets.escalation
        if wanted is None:
            return
        place = await self.channel_for(wanted, "digest")
        where = Where(place.service_url, place.id, place.tenant_id)
        lines = "\n\n".join(tmd.escape(line) for line in text.splitlines() if line.strip())
        await self.gateway.start_thread(where, render.note_card(lines[:4_000]), "SLA digest")

    def note_text(self, text: str, limit: int) -> str:
        """A core note as Teams markdown: escaped, mention tokens as (escaped) names."""
        names: list[str] = []

        def hold(kind: str, value: str) -> str:
            names.append(self._mention(kind, value))
            return f"\ue000{len(names) - 1}\ue001"

        escaped = tmd.escape_cut(render_mentions(text, hold), limit)[0]
        return _HELD.sub(lambda m: names[int(m.group(1))], escaped)

    def _mention(self, kind: str, value: str) -> str:
        if kind == "user":
            who = mentioned(value)
            return "@" + (render.person(self.context(), who) if who else tmd.one_line(value, 80))
        return "@on-call " + tmd.one_line(self.targets.departments.get(value, value), 80)

    async def _say(self, where: Where, markdown: str) -> None:
        activity = MessageFactory.text(markdown)
        activity.text_format = "markdown"
        await self.gateway.send(where, activity)


def where_of(ref: MessageRef) -> Where:
    """Where the case's thread is, from its message ref."""
    extra: Mapping[str, Any] = ref.extra or {}
    service_url = str(extra.get("service_url") or "")
    if not service_url:
        raise DeliveryError(
            f"teams: message ref of {ref.channel} has no service URL", permanent=True
        )
    tenant = extra.get("tenant_id")
    return Where(service_url, ref.channel, tenant if isinstance(tenant, str) else None)
