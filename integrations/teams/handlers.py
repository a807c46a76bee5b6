"""Card actions -> core commands, without botbuilder: what a Claim or Resolve press does.

An ``Action.Execute`` (or its ``Action.Submit`` fallback) names a verb and carries the case
payload; the presser's Teams id is the actor and ``triagebot.actions.execute`` decides, exactly
as for Slack. The answer is the case card drawn from the stored case: refreshed after a
change, or with a notice on top when the press was refused or made on an older card. The card
everyone sees is updated too, right away and again by the outbox (``update_activity`` is
idempotent). Presses that name no case get a short message instead of a card.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from integrations.common import clicks
from integrations.common.answers import AnswerAction
from integrations.common.failures import logged_failure
from integrations.common.payload import ActionId, BadPayload, parse_department, parse_payload
from integrations.teams import render
from integrations.teams.answers import answer_action, press_answer
from integrations.teams.places import SURFACE
from integrations.teams.surface import TeamsSurface
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case
from triagebot.errors import CaseNotFound, DeliveryError, TriagebotError
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardAnswer:
    """What the presser gets: the case to draw (with a notice why nothing changed), or a
    short message when the press names no case."""

    case: Case | None = None
    notice: str | None = None
    message: str | None = None
    typed: str | None = None  # a refused reply, kept in its box


def read_action(verb: object, data: object) -> ActionId:
    """The action a press names: the Execute verb, or ``data.verb`` for a Submit."""
    if not isinstance(verb, str) and isinstance(data, dict):
        verb = data.get("verb")
    try:
        return ActionId(str(verb))
    except ValueError:
        raise BadPayload("this button is not one of triagebot's") from None


class CardActions:
    """Applies card presses through the core and draws the answer."""

    def __init__(self, runtime: Runtime, surface: TeamsSurface) -> None:
        self.runtime = runtime
        self.surface = surface
        self._refreshes: set[asyncio.Task[None]] = set()

    async def handle(self, verb: object, data: object, actor: Identity) -> CardAnswer:
        """Everything a press does; never raises."""
        answer = answer_action(verb, data)
        if answer is not None and isinstance(data, dict):
            return await self._answer(answer, data, actor)
        try:
            action = read_action(verb, data)
            payload = parse_payload(data)
            department = parse_department(data) if action in clicks.TAKES_DEPARTMENT else ""
        except BadPayload as exc:
            return CardAnswer(message=str(exc))
        store = self.runtime.store
        try:
            current = await asyncio.to_thread(store.get_case, payload.case_id)
            clicks.check_fresh(action, payload, current)
            command = clicks.build_command(action, payload, actor, SURFACE, department)
            outcome = await asyncio.to_thread(
                execute, store, self.runtime.policy, command, self.runtime.clock()
            )
        except CaseNotFound as exc:
            return CardAnswer(message=str(exc))
        except TriagebotError as exc:
            # Refused (already claimed, not allowed, stale): show the case as it is, and why.
            case = await asyncio.to_thread(store.get_case, payload.case_id)
            self.refresh_later(case)
            return CardAnswer(case, notice=self._words(str(exc)))
        except Exception:
            error_id = logged_failure(log, "teams press %s on case %s", action, payload.case_id)
            return CardAnswer(
                message=f"Something went wrong; nothing was changed (error id {error_id})."
            )
        log.info("case %s: %s by %s from teams", outcome.case.id, command.action, actor)
        self.refresh_later(outcome.case)
        return CardAnswer(outcome.case)

    async def _answer(
        self, action: AnswerAction, data: dict[str, Any], actor: Identity
    ) -> CardAnswer:
        try:
            outcome = await press_answer(self.runtime, action, data, actor)
        except (BadPayload, CaseNotFound) as exc:
            return CardAnswer(message=str(exc))
        except Exception:
            error_id = logged_failure(log, "teams answer press %s", action)
            return CardAnswer(
                message=f"Something went wrong; nothing was changed (error id {error_id})."
            )
        if outcome.notice is None:
            log.info("case %s: %s by %s from teams", outcome.case.id, action, actor)
        self.refresh_later(outcome.case)
        notice = self._words(outcome.notice) if outcome.notice else None
        return CardAnswer(outcome.case, notice=notice, typed=outcome.typed)

    def card(self, case: Case, notice: str | None = None, typed: str | None = None) -> render.Card:
        return render.case_card(case, self.surface.context(), notice, typed)

    def _words(self, text: str) -> str:
        """A core message with Teams user ids shown as the names Teams told us."""
        for user_id, name in self.surface.people.items():
            text = text.replace(user_id, name)
        return text

    def refresh_later(self, case: Case) -> None:
        """Redraw the shared card now, in the background (the press's answer only changes the
        presser's view)."""
        task = asyncio.ensure_future(self._refresh(case))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh(self, case: Case) -> None:
        refs = await asyncio.to_thread(self.runtime.store.message_refs, case.id)
        ref = refs.get(SURFACE)
        if ref is None:
            return
        try:
            await self.surface.update(case, ref)
        except DeliveryError as exc:
            log.warning("immediate update of case %s failed (the outbox retries): %s", case.id, exc)

    async def drain(self) -> None:
        """Wait for the background redraws (tests, shutdown)."""
        if self._refreshes:
            await asyncio.wait(set(self._refreshes))


def invoke_value(value: Any) -> tuple[object, object]:
    """(verb, data) of an ``adaptiveCard/action`` invoke's value."""
    action = (value or {}).get("action") if isinstance(value, dict) else None
    if not isinstance(action, dict):
        return None, None
    return action.get("verb"), action.get("data")
