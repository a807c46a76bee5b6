"""Case -> Slack Block Kit, pure: the case message, its notification text and its metadata.

Everything a stranger wrote (post text, author handle and name, URL) goes through
``mrkdwn`` escaping into ``verbatim`` mrkdwn, so it cannot ping, link or format a channel.
The message stays far below Slack's limits (3,000 characters a section, 50 blocks); a long
post is cut with a link to the original. Buttons carry only ``CasePayload`` values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.metadata import Metadata

from integrations.common.answers import never
from integrations.common.labels import STATE_LABELS, author_label
from integrations.common.suggested import offers
from integrations.slack import mrkdwn
from integrations.slack.payload import ActionId, CasePayload, option_value, suggest_action_id
from integrations.slack.render_answers import answer_blocks
from triagebot.cases.records import Case, CaseState, Priority
from triagebot.config.people import People
from triagebot.sla.status import status_text

METADATA_EVENT = "triagebot_case"
ACTIONS_BLOCK = "case-actions"
SUGGESTIONS_BLOCK = "case-suggestions"
POST_LIMIT = 2_000  # characters of post text in the message (a section holds 3,000)
POST_LINES = 30
URL_LIMIT = 800
_PRIORITY = {Priority.P1: ":red_circle: P1", Priority.P2: ":large_orange_circle: P2",
             Priority.P3: ":large_green_circle: P3"}  # fmt: skip


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs besides the case: department names, the current time, and
    whether a reply typed in Slack can be posted to the case's source."""

    departments: Mapping[str, str]  # id -> display name
    now: datetime
    people: People = field(default_factory=People)
    can_reply: Callable[[Case], bool] = never


def md(text: str) -> MarkdownTextObject:
    """mrkdwn that Slack will not auto-link or parse further (``verbatim``)."""
    return MarkdownTextObject(text=text, verbatim=True)


def department_name(ctx: RenderContext, department: str) -> str:
    return mrkdwn.one_line(ctx.departments.get(department, department), 80)


def fallback_text(case: Case, ctx: RenderContext) -> str:
    """The notification text (shown where blocks are not): escaped and short."""
    excerpt = mrkdwn.one_line(case.mention.text, 150)
    return f"{case.priority} case #{case.id} for {department_name(ctx, case.department)}: {excerpt}"


def metadata(case: Case) -> Metadata:
    """Message metadata naming the case, used to find the message again after a crash."""
    return Metadata(METADATA_EVENT, {"case_id": case.id, "version": case.version})


def _header(case: Case, ctx: RenderContext) -> SectionBlock:
    m = case.mention
    who = author_label(m.author, mrkdwn.one_line)
    cc = ""
    if case.cc:
        cc = " · cc " + ", ".join(department_name(ctx, d) for d in case.cc[:5])
    return SectionBlock(
        block_id="case-header",
        text=md(
            f"{_PRIORITY[case.priority]} · *{department_name(ctx, case.department)}*{cc} · "
            f"case #{mrkdwn.one_line(case.id, 40)}\n"
            f"*{mrkdwn.one_line(m.source, 40)}* · {who}"
        ),
    )


def _post(case: Case) -> SectionBlock:
    body, cut = mrkdwn.escape_cut(case.mention.text.strip() or "(no text)", POST_LIMIT)
    lines = body.split("\n")
    if len(lines) > POST_LINES:
        lines, cut = [*lines[:POST_LINES], mrkdwn.ELLIPSIS], True
    quoted = "\n".join(f">{line}" for line in lines)
    target = mrkdwn.safe_url(case.mention.url)
    if target is None or len(target) > URL_LIMIT:
        tail = "_the original post's address is not a short http(s) link, so it is not shown_"
    elif cut:
        tail = f"<{target}|Read the whole post>"
    else:
        tail = f"<{target}|Open the original post>"
    return SectionBlock(block_id="case-post", text=md(f"{quoted}\n{tail}"))


def _status(case: Case, ctx: RenderContext) -> SectionBlock:
    state = f"*{STATE_LABELS[case.state]}*"
    if case.state is CaseState.CLAIMED and case.claimed_at is not None:
        who = mrkdwn.person(case.claimed_by, ctx.people)
        state += f" by {who} {mrkdwn.date_token(case.claimed_at)}"
    elif case.state.is_closed and case.resolved_at is not None:
        who = mrkdwn.person(case.resolved_by, ctx.people)
        state += f" by {who} {mrkdwn.date_token(case.resolved_at)}"
    sla = status_text(case, ctx.now, mrkdwn.date_token, ":rotating_light:")
    return SectionBlock(block_id="case-status", text=md(state + (f" · {sla}" if sla else "")))


def _details(case: Case) -> ContextBlock:
    parts = [
        f"claim due {mrkdwn.date_token(case.claim_due)}",
        f"resolve due {mrkdwn.date_token(case.resolve_due)}",
    ]
    if case.rules:
        parts.append("rules: " + mrkdwn.one_line(", ".join(case.rules), 600))
    if case.also_on:
        parts.append(f"also posted in {len(case.also_on)} other place(s)")
    return ContextBlock(block_id="case-details", elements=[md(" · ".join(parts))])


def _button(action: ActionId, label: str, case: Case, style: str | None = None) -> ButtonElement:
    value = CasePayload(case.id, case.version).to_value()
    return ButtonElement(action_id=action.value, text=label, value=value, style=style)


def _reassign(case: Case, ctx: RenderContext) -> StaticSelectElement | None:
    options = [
        Option(
            value=option_value(case.id, case.version, dept_id),
            text=PlainTextObject(text=mrkdwn.clean(name)[:75] or dept_id[:75]),
        )
        for dept_id, name in ctx.departments.items()
        if dept_id != case.department
    ][:100]
    if not options:
        return None
    return StaticSelectElement(
        action_id=ActionId.REASSIGN.value, placeholder="Reassign…", options=options
    )


def _suggestions(case: Case, ctx: RenderContext) -> list[Block]:
    """The suggested departments of a case waiting in triage, one button each (none else)."""
    buttons = [
        ButtonElement(
            action_id=suggest_action_id(n),
            text=offer.label(mrkdwn.clean),
            value=option_value(case.id, case.version, offer.department),
        )
        for n, offer in enumerate(offers(case, ctx.departments), start=1)
    ]
    if not buttons:
        return []
    return [
        ContextBlock(
            block_id="case-suggestions-note",
            elements=[md("Not sure where this belongs; the likeliest departments:")],
        ),
        ActionsBlock(block_id=SUGGESTIONS_BLOCK, elements=buttons),
    ]


def _actions(case: Case, ctx: RenderContext) -> ActionsBlock:
    elements: list[Any] = []
    if case.state in (CaseState.NEW, CaseState.OPEN):
        elements += [
            _button(ActionId.CLAIM, "Claim", case, "primary"),
            _button(ActionId.RESOLVE, "Resolve", case),
        ]
    elif case.state is CaseState.CLAIMED:
        elements += [
            _button(ActionId.RESOLVE, "Resolve", case, "primary"),
            _button(ActionId.UNCLAIM, "Unclaim", case),
        ]
    else:
        elements.append(_button(ActionId.REOPEN, "Reopen", case))
    if not case.state.is_closed:
        select = _reassign(case, ctx)
        if select is not None:
            elements.append(select)
        elements.append(_button(ActionId.SPAM, "Spam", case, "danger"))
    return ActionsBlock(block_id=ACTIONS_BLOCK, elements=elements)


def case_blocks(case: Case, ctx: RenderContext) -> list[Block]:
    """The whole case message: header, quoted post, status, due times and rules, the public
    answer (replies, drafts and their buttons), suggested departments (a case waiting in
    triage), buttons."""
    return [
        _header(case, ctx),
        _post(case),
        _status(case, ctx),
        _details(case),
        *answer_blocks(case, ctx),
        *_suggestions(case, ctx),
        _actions(case, ctx),
    ]


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks as the JSON Slack receives (validated by the models on the way)."""
    return [block.to_dict() for block in blocks]


def note_blocks(text: str) -> list[Block]:
    """A thread note or an escalation: one verbatim section (``text`` already escaped)."""
    return [SectionBlock(text=md(text[:2_900]))]
