"""``/sla``: SLA figures in Slack, acknowledged at once and answered in time.

``/sla`` (all departments, last 7 days), ``/sla <department>``, ``/sla breached``, ``/sla me``,
``/sla 30d`` (any number of hours, days or weeks), ``/sla help``; words combine
(``/sla shipping 30d``); ``triagebot.reports.query`` reads them (shared with Teams). Answers are
ephemeral unless ``share`` is among the words. The answer rides on the ack when it is ready
within ``ANSWER_IN_ACK`` seconds; otherwise the ack says so and the answer follows through
``response_url``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block

from integrations.slack import mrkdwn, render_sla
from integrations.slack.handlers import SlackDeps
from integrations.slack.render import as_dicts
from triagebot.cases.identities import Identity
from triagebot.errors import InputError
from triagebot.reports.query import SlaQuery, gather, parse_query
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

ANSWER_IN_ACK = 2.0
HELP = (
    "*/sla* shows SLA figures (only to you unless you add `share`):\n"
    "• `/sla` all departments, last 7 days\n"
    "• `/sla <department>` one department, e.g. `/sla {example}`\n"
    "• `/sla breached` active cases past a due time\n"
    "• `/sla me` your figures and the cases you hold\n"
    "• `/sla 30d` another period (hours `h`, days `d`, weeks `w`)\n"
    "• `/sla share` post the answer to the channel\n"
    "Words combine: `/sla {example} 30d share`."
)


def answer(runtime: Runtime, query: SlaQuery, user: Identity) -> list[Block]:
    """The blocks answering ``query`` (blocking: reads the store)."""
    found = gather(runtime, query, user)
    people = runtime.settings.people
    if query.view == "help":
        example = next(iter(sorted(found.names)), "shipping")
        return render_sla.text_blocks(HELP.format(example=example))
    if query.view == "breached":
        return render_sla.breached_blocks(found.late, found.names, found.now, people)
    assert found.summary is not None
    if query.view == "me":
        return render_sla.person_blocks(
            user, found.person, found.holding, found.label, people, now=found.now
        )
    return render_sla.summary_blocks(found.summary, found.names, found.label)


class SlaCommand:
    """The ``/sla`` listener's work: parse, check who asks, answer in the ack or later."""

    def __init__(self, deps: SlackDeps) -> None:
        self.deps = deps

    async def __call__(self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        runtime = self.deps.runtime
        user = Identity("slack", str(command.get("user_id") or "unknown"))
        names = {d: c.display_name for d, c in runtime.settings.departments.items()}
        managers = runtime.settings.config.managers
        if managers.sla_command_managers_only and not runtime.settings.is_manager(user):
            await ack(text="/sla is open to the managers listed in triagebot's configuration.")
            return
        try:
            query = parse_query(str(command.get("text") or ""), names)
        except InputError as exc:
            await ack(text=mrkdwn.escape(str(exc)))
            return
        kind = "in_channel" if query.share else "ephemeral"
        work = asyncio.ensure_future(asyncio.to_thread(answer, runtime, query, user))
        done, _ = await asyncio.wait({work}, timeout=ANSWER_IN_ACK)
        if done:
            blocks = self._blocks(work)
            await ack(response_type=kind, text="SLA figures", blocks=as_dicts(blocks))
            return
        await ack(response_type="ephemeral", text="Counting… the answer follows in a moment.")
        await asyncio.wait({work})
        blocks = self._blocks(work)
        await respond(response_type=kind, text="SLA figures", blocks=as_dicts(blocks))

    def _blocks(self, work: asyncio.Future[list[Block]]) -> list[Block]:
        try:
            return work.result()
        except Exception:
            log.exception("/sla failed")
            return render_sla.text_blocks("Sorry, the SLA figures could not be computed now.")
