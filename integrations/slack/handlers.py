"""Clicks -> core commands: ack first, then run the command through ``actions.execute``.

A click never edits a record itself: its payload names the case (and the version it was
rendered from), the clicker's Slack user id is the actor, and the core decides. After a change
the message is updated at once from the stored case (the outbox updates it again, which is
harmless: ``chat.update`` is idempotent, and nothing is ever posted twice). Known refusals
("already claimed by …") go back to the clicker as an ephemeral message; anything unexpected
is logged with an id that the ephemeral message quotes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from integrations.common import clicks
from integrations.common.failures import logged_failure
from integrations.slack import mrkdwn
from integrations.slack.payload import ActionId, BadPayload, CasePayload, parse_option, parse_value
from integrations.slack.surface import SURFACE, SlackSurface
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Command
from triagebot.cases.records import Case
from triagebot.errors import DeliveryError, TriagebotError
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Click:
    """One click, read from Bolt's body: who, where, which action, which case."""

    action: ActionId
    user: str
    channel: str | None
    payload: CasePayload
    department: str = ""


@dataclass
class SlackDeps:
    """What the listeners need: the runtime (store, policy, clock) and the Slack surface."""

    runtime: Runtime
    surface: SlackSurface


def pressed_by(body: dict[str, Any]) -> str:
    """The Slack user id of whoever pressed or submitted ("" when Slack sent none)."""
    return str((body.get("user") or {}).get("id") or "")


def pressed_in(body: dict[str, Any]) -> str | None:
    """The channel a button was pressed in (None for a modal's submission)."""
    found = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(found) if found else None


def read_click(action_id: ActionId, body: dict[str, Any], action: dict[str, Any]) -> Click:
    """The click in ``body``; raises ``BadPayload`` for a value triagebot did not write."""
    user, channel = pressed_by(body), pressed_in(body)
    if action_id is ActionId.REASSIGN:
        payload, department = parse_option((action.get("selected_option") or {}).get("value"))
        return Click(action_id, user, channel, payload, department)
    if action_id is ActionId.SUGGEST:
        payload, department = parse_option(action.get("value"))
        return Click(action_id, user, channel, payload, department)
    return Click(action_id, user, channel, parse_value(action.get("value")))


def build_command(click: Click) -> Command:
    actor = Identity(SURFACE, click.user or "unknown")
    return clicks.build_command(click.action, click.payload, actor, SURFACE, click.department)


class ClickHandler:
    """Applies clicks through the core and answers the clicker."""

    def __init__(self, deps: SlackDeps) -> None:
        self.deps = deps

    async def handle(
        self, action_id: ActionId, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        """Everything after the ack: parse, check freshness, execute, update, answer."""
        try:
            click = read_click(action_id, body, action)
        except BadPayload as exc:
            await self._tell(body, str(exc))
            return
        try:
            case = await self._apply(click)
        except TriagebotError as exc:
            # Names, not ids turned into mentions: a Teams id can read like a Slack user id.
            await self._tell(body, mrkdwn.escape(str(exc)))
            return
        except Exception:
            error_id = logged_failure(
                log, "click %s on case %s", click.action, click.payload.case_id
            )
            await self._tell(
                body, f"Something went wrong; nothing was changed (error id {error_id})."
            )
            return
        if case is not None:
            await self.refresh(case)

    async def _apply(self, click: Click) -> Case | None:
        runtime = self.deps.runtime
        if click.action in clicks.NEEDS_FRESH:
            current = await asyncio.to_thread(runtime.store.get_case, click.payload.case_id)
            if current.version != click.payload.version:
                await self.refresh(current)
                clicks.check_fresh(click.action, click.payload, current)
        command = build_command(click)
        outcome = await asyncio.to_thread(
            execute, runtime.store, runtime.policy, command, runtime.clock()
        )
        log.info("case %s: %s by %s from slack", outcome.case.id, command.action, click.user)
        return outcome.case

    async def refresh(self, case: Case) -> None:
        """Re-render the case's Slack message now (the outbox will do it again, harmlessly)."""
        refs = await asyncio.to_thread(self.deps.runtime.store.message_refs, case.id)
        ref = refs.get(SURFACE)
        if ref is None:
            return
        try:
            await self.deps.surface.update(case, ref)
        except DeliveryError as exc:
            log.warning("immediate update of case %s failed (the outbox retries): %s", case.id, exc)

    async def _tell(self, body: dict[str, Any], text: str) -> None:
        """An ephemeral answer to the clicker, in the channel they clicked in."""
        await self.tell_user(pressed_in(body), pressed_by(body), text)

    async def tell_user(self, channel: str | None, user: str | None, text: str) -> None:
        """An ephemeral message (``text``: mrkdwn, already escaped) to ``user`` in ``channel``."""
        if not user or not channel:
            log.info("cannot answer a click without user and channel: %s", text)
            return
        try:
            await self.deps.surface.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception as exc:
            log.warning("ephemeral answer to %s in %s failed: %s", user, channel, exc)


def action_listener(handler: ClickHandler, action_id: ActionId) -> Listener:
    """A Bolt listener for one action id: ack at once, then hand over to the handler."""

    async def listener(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await handler.handle(action_id, body, action)

    listener.__name__ = f"on_{action_id.name.lower()}"
    return listener
