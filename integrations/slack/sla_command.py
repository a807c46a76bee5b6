"""``/sla``: SLA figures in Slack, acknowledged at once and answered in time.

``/sla`` (all departments, last 7 days), ``/sla <department>``, ``/sla breached``, ``/sla me``,
``/sla 30d`` (any number of hours, days or weeks), ``/sla help``; words combine
(``/sla shipping 30d``). Answers are ephemeral unless ``share`` is among the words. The
answer rides on the ack when it is ready within ``ANSWER_IN_ACK`` seconds; otherwise the ack
says so and the answer follows through ``response_url``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block

from integrations.slack import mrkdwn, render_sla
from integrations.slack.handlers import SlackDeps
from integrations.slack.render import as_dicts
from triagebot.errors import InputError
from triagebot.models import ACTIVE_STATES, CaseState
from triagebot.report import summary_for
from triagebot.runtime import Runtime

log = logging.getLogger(__name__)

ANSWER_IN_ACK = 2.0
DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=366)
_PERIOD = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
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


@dataclass(frozen=True)
class SlaQuery:
    """What ``/sla`` was asked: one view, an optional department, a period, shared or not."""

    view: str = "summary"  # summary | breached | me | help
    department: str | None = None
    period: timedelta = DEFAULT_PERIOD
    share: bool = False


def parse_query(text: str, departments: dict[str, str]) -> SlaQuery:
    """Read the words after ``/sla``; raises ``InputError`` naming the word not understood."""
    view, department, period, share = "summary", None, DEFAULT_PERIOD, False
    by_name = {_key(name): dept for dept, name in departments.items()}
    by_name.update({_key(dept): dept for dept in departments})
    for word in text.split()[:10]:
        key = _key(word)
        if key in ("help", "breached", "me"):
            view = key
        elif key == "share":
            share = True
        elif match := _PERIOD.match(key):
            period = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
            if not timedelta(hours=1) <= period <= MAX_PERIOD:
                raise InputError(f"`{mrkdwn.one_line(word, 20)}`: choose between 1h and 366d")
        elif key in by_name:
            department = by_name[key]
        else:
            known = ", ".join(f"`{d}`" for d in sorted(departments))
            raise InputError(
                f"I don't know `{mrkdwn.one_line(word, 40)}`. Departments: {known}. "
                "Try `/sla help`."
            )
    return SlaQuery(view, department, period, share)


def _key(word: str) -> str:
    return re.sub(r"[\s_-]+", "-", word.strip().lower().lstrip("#"))


def answer(runtime: Runtime, query: SlaQuery, user: str) -> list[Block]:
    """The blocks answering ``query`` (blocking: reads the store)."""
    names = {d: c.display_name for d, c in runtime.settings.departments.items()}
    if query.view == "help":
        example = next(iter(sorted(names)), "shipping")
        return render_sla.text_blocks(HELP.format(example=example))
    now = runtime.clock()
    if query.view == "breached":
        active = runtime.store.list_cases(states=ACTIVE_STATES, department=query.department)
        late = [c for c in active if render_sla.overdue(c, now) is not None]
        late.sort(key=lambda c: (render_sla.overdue(c, now) or ("", now))[1])
        return render_sla.breached_blocks(late, names, now)
    label = render_sla.period_label(query.period)
    if query.department is not None:
        label = f"{names.get(query.department, query.department)}, {label}"
    summary = summary_for(runtime, query.period, query.department)
    if query.view == "me":
        holding = runtime.store.list_cases(states=[CaseState.CLAIMED], department=query.department)
        mine = [c for c in holding if c.claimed_by == user]
        return render_sla.person_blocks(user, summary.by_person.get(user), mine, label)
    return render_sla.summary_blocks(summary, names, label)


class SlaCommand:
    """The ``/sla`` listener's work: parse, check who asks, answer in the ack or later."""

    def __init__(self, deps: SlackDeps) -> None:
        self.deps = deps

    async def __call__(self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        runtime = self.deps.runtime
        user = str(command.get("user_id") or "")
        names = {d: c.display_name for d, c in runtime.settings.departments.items()}
        managers = runtime.settings.config.managers
        if managers.sla_command_managers_only and not runtime.settings.is_manager(user, "slack"):
            await ack(text="/sla is open to the managers listed in triagebot's configuration.")
            return
        try:
            query = parse_query(str(command.get("text") or ""), names)
        except InputError as exc:
            await ack(text=str(exc))
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
