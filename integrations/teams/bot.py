"""The Teams bot: card presses, ``sla`` by @mention or in personal chat, and where it was added.

``TriagebotTeamsBot`` is a botbuilder ``ActivityHandler``:

- ``adaptiveCard/action`` invokes (Action.Execute) are answered from ``on_invoke_activity``
  with an ``InvokeResponse`` whose body is a model (botbuilder 4.17.1 answers 500 when the
  response comes back from ``on_adaptive_card_invoke``); the body is the refreshed card.
- A message with a ``value`` is the Action.Submit fallback: the card is updated in place and a
  refusal is said in a reply.
- Other messages are commands: ``sla …`` (the words of Slack's ``/sla``), anything else gets
  a short help.
- Every activity tells where the bot is (team, channel, chat) and who spoke: new places and
  names are remembered in the store, and a team install also lists the team's channels.
  Active cases of departments that a newly learned channel makes reachable are queued for a
  post there (``catchup``), through the outbox, so cases from before the install appear too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, ChannelAccount
from botbuilder.schema.teams import TeamsChannelData
from msrest.serialization import Model

from integrations.teams import catchup, render, render_sla, tmd
from integrations.teams.gateway import card_activity
from integrations.teams.handlers import CardActions, invoke_value
from integrations.teams.places import Place
from integrations.teams.surface import TeamsSurface
from triagebot.cases.identities import Identity
from triagebot.errors import InputError
from triagebot.reports.query import gather, parse_query
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

CARD_ACTION = "adaptiveCard/action"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
SEEN_AGAIN = timedelta(hours=1)  # how often an unchanged place's "seen" time is rewritten
_AT = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
HELP = (
    "I post public posts about the brand in each department's channel, with Claim and Resolve "
    "buttons and SLA due times. Mention me with `sla help` to see what I can tell you about SLAs."
)


def teams_user_id(sender: ChannelAccount) -> str:
    """Whom Teams says pressed or wrote: the AAD object id (the same in every chat, team and
    app of the tenant), else (Agents Playground, which sends none) the channel user id."""
    return str(sender.aad_object_id or sender.id or "unknown")


def command_text(activity: Activity) -> str:
    """The message text without the @mention of the bot (or any ``<at>`` tag)."""
    text = activity.text or ""
    if activity.recipient is not None:
        text = TurnContext.remove_recipient_mention(activity) or text
    return " ".join(_AT.sub(" ", text).split())


def place_of(activity: Activity, now: datetime) -> Place | None:
    """Where ``activity`` happened, as a place to remember (a channel, not its thread)."""
    conversation = activity.conversation
    if conversation is None or not activity.service_url:
        return None
    data = TeamsChannelData().deserialize(activity.channel_data or {})
    team, channel = data.team, data.channel
    reference = TurnContext.get_conversation_reference(activity).serialize()
    tenant = (data.tenant.id if data.tenant else None) or conversation.tenant_id
    if channel is not None and channel.id:
        reference["conversation"] = {
            "id": channel.id,
            "isGroup": True,
            "tenantId": tenant,
            "conversationType": "channel",
        }
        general = team is not None and channel.id == team.id
        return Place(
            id=channel.id,
            kind="channel",
            service_url=activity.service_url,
            reference=reference,
            team_id=team.id if team else None,
            team_name=team.name if team else None,
            name=channel.name or ("General" if general else None),
            tenant_id=tenant,
            seen_at=now,
        )
    kind = conversation.conversation_type or ("groupChat" if conversation.is_group else "personal")
    return Place(
        id=conversation.id.split(";")[0],
        kind=kind,
        service_url=activity.service_url,
        reference=reference,
        name=conversation.name,
        tenant_id=tenant,
        seen_at=now,
    )


class MessageInvokeResponse(Model):
    """An invoke answer that is a message, not a card (``AdaptiveCardInvokeResponse``
    declares its value an object, so a text would not serialise)."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "str"},
    }

    def __init__(self, *, status_code: int, type: str, value: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.status_code, self.type, self.value = status_code, type, value


class TriagebotTeamsBot(ActivityHandler):  # type: ignore[misc]
    """Answers Teams activities for one runtime; see the module docstring."""

    def __init__(self, runtime: Runtime, surface: TeamsSurface) -> None:
        self.runtime = runtime
        self.surface = surface
        self.actions = CardActions(runtime, surface)
        self._pending: dict[str, Callable[[], None]] = {}
        self._writer: asyncio.Future[None] | None = None

    # --- every activity ------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await self._observe(turn_context)
        except Exception:
            log.exception("teams: could not remember where an activity came from")
        await super().on_turn(turn_context)

    async def _observe(self, turn_context: TurnContext) -> None:
        """Use new names and places at once; store them in the background (off the answer)."""
        activity = turn_context.activity
        sender = activity.from_property
        bot_id = activity.recipient.id if activity.recipient else None
        if sender is not None and sender.id and sender.name and sender.id != bot_id:
            user_id = teams_user_id(sender)
            self._save(f"person {user_id}", self.surface.note_person(user_id, sender.name))
        place = place_of(activity, datetime.now(UTC))
        if place is not None and self._is_news(place):
            known = self._known(place.id)
            merged = self._merged(place)
            self._save(f"place {place.id}", self.surface.note_place(merged))
            if known is None or (known.name, known.team_name) != (merged.name, merged.team_name):
                self._catch_up([merged.id])  # a channel new by id or by name

    def _catch_up(self, place_ids: list[str]) -> None:
        """Queue Teams posts of the cases waiting for these channels (after their writes)."""
        departments = self.surface.departments_at(set(place_ids))
        if not departments:
            return
        store, now = self.runtime.store, self.runtime.clock()

        def queue() -> None:
            catchup.queue_posts(store, departments, now)

        self._save("catch-up " + ",".join(departments), queue)

    def _save(self, key: str, write: Callable[[], None] | None) -> None:
        """Queue a store write; one writer runs them in turn, the latest per key only, so a
        burst of presses does not queue a burst of store writes ahead of the claims."""
        if write is None:
            return
        self._pending[key] = write
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())

    async def _write_pending(self) -> None:
        while self._pending:
            key = next(iter(self._pending))
            write = self._pending.pop(key)
            try:
                await asyncio.to_thread(write)
            except Exception:
                log.exception("teams: could not store %s", key)

    async def drain(self) -> None:
        """Wait for background writes and card redraws (tests, shutdown)."""
        if self._writer is not None:
            await asyncio.wait({self._writer})
        await self.actions.drain()

    def _known(self, place_id: str) -> Place | None:
        return next((p for p in self.surface.known_places() if p.id == place_id), None)

    def _is_news(self, place: Place) -> bool:
        known = self._known(place.id)
        if known is None or known.seen_at is None or place.seen_at is None:
            return True
        if place.name and place.name != known.name:
            return True
        if place.team_name and place.team_name != known.team_name:
            return True
        return bool(place.seen_at - known.seen_at > SEEN_AGAIN)

    def _merged(self, place: Place) -> Place:
        """``place`` keeping names learned earlier that this activity does not carry."""
        known = self._known(place.id)
        if known is None:
            return place
        return Place(
            id=place.id,
            kind=place.kind,
            service_url=place.service_url,
            reference=place.reference,
            team_id=place.team_id or known.team_id,
            team_name=place.team_name or known.team_name,
            name=place.name or known.name,
            tenant_id=place.tenant_id or known.tenant_id,
            seen_at=place.seen_at,
        )

    # --- added to a team or chat ---------------------------------------------------------
    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._learn_channels(turn_context)
        if (turn_context.activity.conversation.conversation_type or "") == "personal":
            await turn_context.send_activity(MessageFactory.text(HELP))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        added = turn_context.activity.members_added or []
        if any(m.id == bot_id for m in added):
            await self._learn_channels(turn_context)

    async def _learn_channels(self, turn_context: TurnContext) -> None:
        """Remember every channel of the team the bot was just added to (names included)."""
        activity = turn_context.activity
        data = TeamsChannelData().deserialize(activity.channel_data or {})
        if data.team is None or not data.team.id:
            return
        try:
            client = await TeamsInfo.get_teams_connector_client(turn_context)
            # botbuilder's Teams operations are synchronous HTTP calls: keep them off the loop.
            listing = await asyncio.to_thread(client.teams.get_teams_channels, data.team.id)
        except Exception as exc:
            log.warning("teams: cannot list the channels of team %s: %s", data.team.id, exc)
            return
        now = datetime.now(UTC)
        base = place_of(activity, now)
        if base is None:
            return
        for info in listing.conversations or []:
            general = info.id == data.team.id
            reference = dict(base.reference) | {
                "conversation": {
                    "id": info.id,
                    "isGroup": True,
                    "tenantId": base.tenant_id,
                    "conversationType": "channel",
                }
            }
            place = Place(
                id=info.id,
                kind="channel",
                service_url=base.service_url,
                reference=reference,
                team_id=data.team.id,
                team_name=data.team.name or base.team_name,
                name=info.name or ("General" if general else None),
                tenant_id=base.tenant_id,
                seen_at=now,
            )
            await asyncio.to_thread(self.surface.remember, self._merged(place))
        log.info("teams: team %s has %d channel(s)", data.team.id, len(listing.conversations or []))
        self._catch_up([info.id for info in listing.conversations or []])

    # --- card presses --------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name != CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        verb, data = invoke_value(turn_context.activity.value)
        answer = await self.actions.handle(verb, data, self._actor(turn_context))
        body: Model
        if answer.case is None:
            body = MessageInvokeResponse(
                status_code=200, type=MESSAGE_RESPONSE, value=answer.message or ""
            )
        else:
            card = self.actions.card(answer.case, answer.notice, answer.typed)
            body = AdaptiveCardInvokeResponse(
                status_code=200, type=render.ADAPTIVE_CARD, value=card
            )
        # A model, not a dict: botbuilder 4.17.1 serialises the body itself.
        return InvokeResponse(status=200, body=body)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and activity.value:
            await self._submitted(turn_context, activity.value)
            return
        words = command_text(activity)
        first, _, rest = words.partition(" ")
        if first.lower() in ("sla", "/sla"):
            await self._sla(turn_context, rest)
            return
        await turn_context.send_activity(MessageFactory.text(HELP))

    async def _submitted(self, turn_context: TurnContext, value: dict[str, Any]) -> None:
        """The Action.Submit fallback: update the card for everyone, say a refusal aloud."""
        answer = await self.actions.handle(None, value, self._actor(turn_context))
        if answer.case is None:
            await turn_context.send_activity(MessageFactory.text(tmd.escape(answer.message or "")))
            return
        reply_to = turn_context.activity.reply_to_id
        if reply_to:
            updated = card_activity(self.actions.card(answer.case))
            updated.id = reply_to
            await turn_context.update_activity(updated)
        if answer.notice:
            await turn_context.send_activity(MessageFactory.text(tmd.escape(answer.notice)))

    # --- sla ----------------------------------------------------------------------------
    async def _sla(self, turn_context: TurnContext, words: str) -> None:
        settings = self.runtime.settings
        actor = self._actor(turn_context)
        managers = settings.config.managers
        if managers.sla_command_managers_only and not settings.is_manager(actor):
            text = "sla is open to the managers listed in triagebot's configuration."
            await turn_context.send_activity(MessageFactory.text(text))
            return
        names = {d: c.display_name for d, c in settings.departments.items()}
        try:
            query = parse_query(words, names, command="sla")
        except InputError as exc:
            card = render_sla.message_card(tmd.escape_keeping_code(str(exc)))
            await turn_context.send_activity(card_activity(card, "sla"))
            return
        try:
            found = await asyncio.to_thread(gather, self.runtime, query, actor)
            card = render_sla.answer_card(found, actor, self.surface.context())
        except Exception:
            log.exception("teams sla failed")
            card = render_sla.message_card("Sorry, the SLA figures could not be computed now.")
        await turn_context.send_activity(card_activity(card, "SLA figures"))

    @staticmethod
    def _actor(turn_context: TurnContext) -> Identity:
        sender = turn_context.activity.from_property
        return Identity("teams", teams_user_id(sender) if sender is not None else "unknown")
