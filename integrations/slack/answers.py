"""The public answer's buttons and modals in Slack: Reply, Mark answered, drafts, deleted posts.

A button is acked at once; a button that opens a modal checks the presser first (claim first,
or a manager) and opens it with the press's ``trigger_id`` (valid 3 s). A submitted modal is
checked before its ack, so a reply too long for the platform, an empty one, a link that is
not http(s) or a presser who may not reply keeps the modal open with the reason under the
field (``response_action: "errors"``); otherwise the modal closes and ``Answering`` records
the reply and sends it in the background. Refusals that come later go back as an ephemeral
message in the channel of the press.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from integrations.common.answers import (
    AnswerAction,
    answering_of,
    clean_url,
    parse_reply_value,
)
from integrations.common.failures import logged_failure
from integrations.slack import modals, mrkdwn
from integrations.slack.handlers import ClickHandler, SlackDeps, pressed_by, pressed_in
from integrations.slack.payload import BadPayload, parse_value
from integrations.slack.surface import SURFACE
from triagebot.actions.reply import APPROVAL_MANAGERS, may_reply
from triagebot.cases.answers import ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case
from triagebot.errors import NotAllowed, TriagebotError
from triagebot.runtime.answering import Answering

log = logging.getLogger(__name__)

ERROR_LIMIT = 300
MANAGERS_ONLY = "only a manager may approve a draft reply"
Listener = Callable[..., Awaitable[None]]


class AnswerHandler:
    """Runs the answer buttons and modals through ``Answering``."""

    def __init__(self, deps: SlackDeps, clicks: ClickHandler) -> None:
        self.deps = deps
        self.clicks = clicks

    @property
    def answering(self) -> Answering:
        return answering_of(self.deps.runtime)

    async def _case(self, case_id: str) -> Case:
        return await asyncio.to_thread(self.deps.runtime.store.get_case, case_id)

    # --- buttons ------------------------------------------------------------------------------
    async def press(
        self, action: AnswerAction, body: dict[str, Any], element: dict[str, Any]
    ) -> None:
        """Everything after the ack of an answer button; never raises."""
        if action is AnswerAction.OPEN_POST:
            return  # a link: Slack opened it in the browser
        user, channel = pressed_by(body), pressed_in(body)
        try:
            await self._press(action, body, element, Identity(SURFACE, user or "unknown"))
        except (TriagebotError, BadPayload) as exc:
            await self.clicks.tell_user(channel, user, mrkdwn.escape(str(exc)))
        except Exception:
            error_id = logged_failure(log, "slack %s", action)
            await self.clicks.tell_user(
                channel, user, f"Something went wrong; nothing was changed (error id {error_id})."
            )

    async def _press(
        self, action: AnswerAction, body: dict[str, Any], element: dict[str, Any], actor: Identity
    ) -> None:
        value = element.get("value")
        answering = self.answering
        if action in (AnswerAction.APPROVE, AnswerAction.EDIT, AnswerAction.DISCARD):
            payload, reply_id = parse_reply_value(value)
            if action is AnswerAction.APPROVE:
                started = await answering.approve(payload.case_id, reply_id, actor, SURFACE)
                await self.clicks.refresh(started.case)
            elif action is AnswerAction.DISCARD:
                await self.clicks.refresh(
                    await answering.discard(payload.case_id, reply_id, actor, SURFACE)
                )
            else:
                await self._open_edit(body, payload.case_id, reply_id, actor)
            return
        case = await self._case(parse_value(value).case_id)
        if action is AnswerAction.CLOSE_DELETED:
            await self.clicks.refresh(await answering.close_deleted(case.id, actor, SURFACE))
        elif action is AnswerAction.REPLY:
            refused = answering.refusal(case)
            if refused:
                raise NotAllowed(refused)
            may_reply(case, actor, answering.policy)
            draft = answering.approval == APPROVAL_MANAGERS and not answering.policy.is_manager(
                actor
            )
            await self._open(body, modals.reply_modal(case, pressed_in(body), draft=draft))
        elif action is AnswerAction.ANSWERED:
            may_reply(case, actor, answering.policy)
            await self._open(body, modals.answered_modal(case, pressed_in(body)))

    async def _open_edit(
        self, body: dict[str, Any], case_id: str, reply_id: str, actor: Identity
    ) -> None:
        if not self.answering.policy.is_manager(actor):
            raise NotAllowed(MANAGERS_ONLY)
        case = await self._case(case_id)
        draft = case.reply(reply_id)
        if draft is None or draft.state is not ReplyState.DRAFT:
            raise NotAllowed(f"that draft reply to case #{case.id} is no longer waiting")
        await self._open(body, modals.edit_modal(case, draft, pressed_in(body)))

    async def _open(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        trigger = body.get("trigger_id")
        if not isinstance(trigger, str) or not trigger:
            raise NotAllowed("Slack sent no trigger for a form; press the button again")
        await self.deps.surface.client.views_open(trigger_id=trigger, view=view)

    # --- submissions --------------------------------------------------------------------------
    async def submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A submitted modal: check, ack (errors keep it open), then act."""
        user = pressed_by(body)
        actor = Identity(SURFACE, user or "unknown")
        callback = view.get("callback_id")
        try:
            target = modals.ModalTarget.read(view)
            block, problem, work = await self._check(str(callback), target, view, actor)
        except TriagebotError as exc:
            await ack(response_action="errors", errors={_first_block(view): _short(str(exc))})
            return
        except Exception:
            error_id = logged_failure(log, "slack form %s", callback)
            message = f"Something went wrong; nothing was sent (error id {error_id})."
            await ack(response_action="errors", errors={_first_block(view): message})
            return
        if problem is not None:
            await ack(response_action="errors", errors={block: _short(problem)})
            return
        await ack()
        try:
            case = await work()
        except TriagebotError as exc:
            await self.clicks.tell_user(target.channel, user, mrkdwn.escape(str(exc)))
            return
        except Exception:
            error_id = logged_failure(log, "slack form %s on case %s", callback, target.case_id)
            await self.clicks.tell_user(
                target.channel, user, f"Something went wrong (error id {error_id})."
            )
            return
        await self.clicks.refresh(case)

    async def _check(
        self, callback: str, target: modals.ModalTarget, view: dict[str, Any], actor: Identity
    ) -> tuple[str, str | None, Callable[[], Awaitable[Case]]]:
        """(the block a problem belongs to, the problem or None, the work to do after the ack)."""
        answering = self.answering
        case = await self._case(target.case_id)
        if callback == modals.ANSWERED_MODAL:
            try:
                url = clean_url(modals.value_of(view, modals.URL_BLOCK, modals.URL_INPUT))
            except ValueError as exc:
                return modals.URL_BLOCK, str(exc), _nothing
            may_reply(case, actor, answering.policy)

            async def answered() -> Case:
                return await answering.mark_answered(case.id, actor, SURFACE, url)

            return modals.URL_BLOCK, None, answered
        text = modals.value_of(view, modals.TEXT_BLOCK, modals.TEXT_INPUT)
        problem = await answering.check_reply(case, text)
        if callback == modals.EDIT_MODAL:
            if not answering.policy.is_manager(actor):
                raise NotAllowed(MANAGERS_ONLY)
            reply_id = target.reply_id or ""
            draft = case.reply(reply_id)
            if draft is None or draft.state is not ReplyState.DRAFT:
                raise NotAllowed(f"that draft reply to case #{case.id} is no longer waiting")

            async def approve() -> Case:
                return (await answering.approve(case.id, reply_id, actor, SURFACE, text)).case

            return modals.TEXT_BLOCK, problem, approve
        if callback != modals.REPLY_MODAL:
            raise NotAllowed("this form is not one of triagebot's")
        if problem is None:
            may_reply(case, actor, answering.policy)

        async def reply() -> Case:
            return (await answering.reply(case.id, actor, SURFACE, text)).case

        return modals.TEXT_BLOCK, problem, reply


async def _nothing() -> Case:
    raise NotAllowed("nothing to do")


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def _first_block(view: dict[str, Any]) -> str:
    """The input block a general refusal is shown under."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return modals.TEXT_BLOCK


def register_answers(bolt: AsyncApp, deps: SlackDeps, clicks: ClickHandler) -> None:
    """The answer buttons (acked at once) and the three modals' submissions."""
    handler = AnswerHandler(deps, clicks)
    for action in AnswerAction:
        bolt.action(action.value)(_button_listener(handler, action))
    for callback in (modals.REPLY_MODAL, modals.EDIT_MODAL, modals.ANSWERED_MODAL):
        bolt.view(callback)(handler.submit)


def _button_listener(handler: AnswerHandler, which: AnswerAction) -> Listener:
    # Bolt passes arguments by name: the pressed element must be called ``action``.
    async def listener(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await handler.press(which, body, action)

    listener.__name__ = f"on_{which.name.lower()}"
    return listener
