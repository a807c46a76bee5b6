"""The public answer's card presses in Teams: Reply, Mark answered, drafts, deleted posts.

An ``Action.Execute`` from the answer part of the card carries the case payload and the
values of its inputs (the reply's text, the answer's link). The text is checked before
anything is recorded (the platform's length, claim first, not empty): a refusal answers with
the card, the reason on top and the text kept in its box. Otherwise ``Answering`` records the
reply and sends it in the background; the card answered shows it sending, and the outbox
redraws it when the outcome is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from integrations.common.answers import (
    AnswerAction,
    answering_of,
    clean_url,
    parse_reply_value,
)
from integrations.common.payload import BadPayload, parse_payload
from integrations.teams.places import SURFACE
from integrations.teams.render_answers import REPLY_INPUT, URL_INPUT
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case
from triagebot.errors import TriagebotError
from triagebot.runtime.answering import Answering
from triagebot.runtime.wiring import Runtime

TYPED_LIMIT = 10_000


@dataclass(frozen=True)
class AnswerOutcome:
    """The case to draw, why nothing changed (``notice``), the reply text to keep."""

    case: Case
    notice: str | None = None
    typed: str | None = None


def answer_action(verb: object, data: object) -> AnswerAction | None:
    """The answer action a press names (the Execute verb, or ``data.verb``), else None."""
    if not isinstance(verb, str) and isinstance(data, dict):
        verb = data.get("verb")
    try:
        return AnswerAction(str(verb))
    except ValueError:
        return None


def _input(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value[:TYPED_LIMIT] if isinstance(value, str) else ""


async def press_answer(
    runtime: Runtime, action: AnswerAction, data: dict[str, Any], actor: Identity
) -> AnswerOutcome:
    """Run one answer press through ``Answering``; refusals come back as the notice."""
    answering: Answering = answering_of(runtime)
    store = runtime.store
    if action in (AnswerAction.APPROVE, AnswerAction.EDIT, AnswerAction.DISCARD):
        payload, reply_id = parse_reply_value(data)
    else:
        payload, reply_id = parse_payload(data), ""
    typed = _input(data, REPLY_INPUT)
    try:
        press = _Press(action, payload.case_id, reply_id, typed, _input(data, URL_INPUT), actor)
        changed = await _run(answering, press)
    except (TriagebotError, ValueError) as exc:
        fresh = await asyncio.to_thread(store.get_case, payload.case_id)
        keep = typed if action in (AnswerAction.REPLY, AnswerAction.EDIT) else None
        return AnswerOutcome(fresh, str(exc), keep)
    return AnswerOutcome(changed)


@dataclass(frozen=True)
class _Press:
    action: AnswerAction
    case_id: str
    reply_id: str
    typed: str
    url: str
    actor: Identity


async def _run(answering: Answering, press: _Press) -> Case:
    case_id, actor = press.case_id, press.actor  # a reply's text is checked by Answering
    if press.action is AnswerAction.REPLY:
        return (await answering.reply(case_id, actor, SURFACE, press.typed)).case
    if press.action is AnswerAction.ANSWERED:
        url = clean_url(press.url)
        return await answering.mark_answered(case_id, actor, SURFACE, url)
    if press.action is AnswerAction.APPROVE:
        return (await answering.approve(case_id, press.reply_id, actor, SURFACE)).case
    if press.action is AnswerAction.EDIT:
        approved = await answering.approve(case_id, press.reply_id, actor, SURFACE, press.typed)
        return approved.case
    if press.action is AnswerAction.DISCARD:
        return await answering.discard(case_id, press.reply_id, actor, SURFACE)
    if press.action is AnswerAction.CLOSE_DELETED:
        return await answering.close_deleted(case_id, actor, SURFACE)
    raise BadPayload("this button is not one of triagebot's")
