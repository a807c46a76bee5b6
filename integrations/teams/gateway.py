"""The thin layer over botbuilder's ``CloudAdapter`` that the Teams surface talks through.

``TeamsGateway`` does four things: start a new thread in a channel with a card
(``create_conversation``, not ``TeamsInfo.send_message_to_teams_channel``, which fails with
``CloudAdapter``), update a message (``update_activity``), and send a card or text into a
conversation (``continue_conversation``). Every call passes ``bot_app_id`` = the app id
("" in local mode). Connector failures become ``DeliveryError``: 429 and 412/502/503/504
are retried after ``Retry-After`` (or a short default); 401/403/404 are permanent. Only this
module, ``bot`` and ``app`` import botbuilder, so moving to Microsoft's successor SDK means
rewriting these three.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from msrest.exceptions import ClientRequestError, HttpOperationError
from msrest.universal_http.requests import ClientRetryPolicy

from integrations.teams.connector_http import pool_connector_calls
from triagebot.errors import DeliveryError

log = logging.getLogger(__name__)

CHANNEL_ID = "msteams"
RETRIED = {412, 429, 500, 502, 503, 504}
_HINTS = {
    401: "the bot's credentials were refused: check MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD",
    403: "the bot may not post there: is the app still installed in the team?",
    404: "the conversation or message no longer exists (channel deleted, app removed?)",
}


@dataclass(frozen=True)
class Where:
    """A conversation the bot can reach: the service URL, conversation id and tenant."""

    service_url: str
    conversation_id: str
    tenant_id: str | None = None

    def reference(self, app_id: str) -> ConversationReference:
        return ConversationReference(
            channel_id=CHANNEL_ID,
            service_url=self.service_url,
            conversation=ConversationAccount(id=self.conversation_id, tenant_id=self.tenant_id),
            bot=ChannelAccount(id=app_id),
        )


def retry_after(headers: Any, default: float) -> float:
    """Seconds from a ``Retry-After`` header (delta seconds), else ``default``."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def translate(exc: Exception, what: str) -> DeliveryError:
    """A connector failure as a ``DeliveryError`` (retried or permanent, see the module doc)."""
    if isinstance(exc, HttpOperationError) and exc.response is not None:
        status = int(exc.response.status_code)
        if status in RETRIED:
            wait = retry_after(exc.response.headers, 5.0 if status == 429 else 2.0)
            return DeliveryError(f"teams {what}: HTTP {status}", retry_after=wait)
        hint = _HINTS.get(status)
        message = f"teams {what}: HTTP {status}" + (f" ({hint})" if hint else "")
        return DeliveryError(message, permanent=status in _HINTS or status == 400)
    return DeliveryError(f"teams {what}: {type(exc).__name__}: {exc}")


_FAILURES = (HttpOperationError, ClientRequestError, aiohttp.ClientError, TimeoutError, OSError)


def card_activity(card: dict[str, Any], summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = summary
    return activity


def speed_up_connector_clients() -> None:
    """Make building a Bot Connector client cheap (botbuilder builds one for every turn and
    every proactive call).

    msrest's ``ClientRetryPolicy()`` tests 999 status codes for membership in a 500-item list,
    about 3 ms of event-loop time per client; the same codes as a frozenset make that ~0.05 ms.
    Same values, same behaviour. Their calls also go through one kept session on threads of
    their own (``connector_http``). Idempotent.
    """
    pool_connector_calls()
    policy: Any = ClientRetryPolicy
    if not isinstance(policy.safe_codes, frozenset):
        policy.safe_codes = frozenset(policy.safe_codes)


class TeamsGateway:
    """Posts, updates and replies through ``adapter`` as the bot ``app_id``."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self.adapter = adapter
        self.app_id = app_id
        speed_up_connector_clients()

    async def start_thread(
        self, channel: Where, card: dict[str, Any], summary: str | None = None
    ) -> tuple[str, str]:
        """Post ``card`` as a new thread in a channel; (thread conversation id, activity id)."""
        params = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=self.app_id),
            channel_data={"channel": {"id": channel.conversation_id}},
            activity=card_activity(card, summary),
            tenant_id=channel.tenant_id,
        )
        created: dict[str, str] = {}

        async def done(context: TurnContext) -> None:
            created["conversation"] = context.activity.conversation.id
            created["activity"] = context.activity.id

        try:
            await self.adapter.create_conversation(
                self.app_id, done, params, channel_id=CHANNEL_ID, service_url=channel.service_url
            )
        except _FAILURES as exc:
            raise translate(exc, f"new thread in {channel.conversation_id}") from exc
        return created["conversation"], created["activity"]

    async def update(
        self, where: Where, activity_id: str, card: dict[str, Any], summary: str | None = None
    ) -> None:
        """Replace the card of message ``activity_id`` (for everyone who sees it)."""
        activity = card_activity(card, summary)
        activity.id = activity_id

        async def run(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._continue(where, run, f"update {activity_id}")

    async def send(self, where: Where, activity: Activity) -> str | None:
        """Send ``activity`` into a conversation (a thread: ``<channel>;messageid=<root>``)."""
        sent: dict[str, str | None] = {}

        async def run(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent["id"] = response.id if response is not None else None

        await self._continue(where, run, f"send to {where.conversation_id}")
        return sent.get("id")

    async def _continue(self, where: Where, logic: Any, what: str) -> None:
        try:
            await self.adapter.continue_conversation(
                where.reference(self.app_id), logic, bot_app_id=self.app_id
            )
        except _FAILURES as exc:
            raise translate(exc, what) from exc
