"""The public answer on the Slack case message: what was answered, replies, drafts, buttons.

Pure, like ``render``: every word a stranger or a replier wrote (a reply's text, a platform's
error, a brand handle, a link) is escaped mrkdwn in ``verbatim`` text, so a reply reading
``<!channel>`` or ``{@user:slack:U1}`` stays those characters. Each section stays under
Slack's 3,000 characters; at most ``SHOWN_DRAFTS`` drafts add two blocks each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    SectionBlock,
)

from integrations.common.answers import (
    STATE_WORDS,
    VIA_WORDS,
    AnswerAction,
    AnswerView,
    quoted,
    reply_value,
    responder_identity,
)
from integrations.common.payload import CasePayload
from integrations.slack import mrkdwn
from triagebot.cases.answers import FirstResponse, PublicReply, ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case

if TYPE_CHECKING:
    from integrations.slack.render import RenderContext

ANSWER_BLOCK = "case-answer"
ANSWER_ACTIONS = "case-answer-actions"
SECTION_LIMIT = 2_900
URL_LIMIT = 800


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _who(by: Identity, ctx: RenderContext) -> str:
    return mrkdwn.person(by, ctx.people)


def _link(url: str | None, label: str) -> str:
    target = mrkdwn.safe_url(url) if url else None
    return f" · <{target}|{label}>" if target and len(target) <= URL_LIMIT else ""


def _responder(first: FirstResponse, ctx: RenderContext) -> str:
    who = responder_identity(first)
    return _who(who, ctx) if who is not None else "@" + mrkdwn.one_line(first.by.lstrip("@"), 60)


def _first_line(first: FirstResponse, ctx: RenderContext) -> str:
    return (
        f":speech_balloon: *Answered in public* {mrkdwn.date_token(first.at)} by "
        f"{_responder(first, ctx)} · {VIA_WORDS[first.via]}{_link(first.url, 'see the answer')}"
    )


def _reply_line(reply: PublicReply, ctx: RenderContext) -> str:
    state = f"*{STATE_WORDS[reply.state]}*"
    if reply.state is ReplyState.SENT:
        when = mrkdwn.date_token(reply.sent_at) if reply.sent_at else ""
        state += f" {when}{_link(reply.url, 'open the reply')}"
    elif reply.state is ReplyState.FAILED and reply.error:
        state += f": {mrkdwn.one_line(reply.error, 300)}"
    text = mrkdwn.escape_cut(quoted(reply.text), 400)[0]
    return f"Reply by {_who(reply.by, ctx)}: {state}\n>{text}"


def _summary(view: AnswerView, ctx: RenderContext) -> str:
    """The answer's lines; the oldest replies give way when they would not fit a section."""
    replies = [_reply_line(r, ctx) for r in view.replies]
    while len(replies) > 1 and sum(len(line) + 1 for line in replies) > SECTION_LIMIT - 700:
        replies.pop(0)
    lines = []
    if view.first is not None:
        lines.append(_first_line(view.first, ctx))
    lines += replies
    if view.waiting_since is not None:
        lines.append(
            f":hourglass_flowing_sand: *Waiting on the customer* since "
            f"{mrkdwn.date_token(view.waiting_since)} (the resolve clock is paused)"
        )
    if view.gone_at is not None:
        lines.append(
            f":wastebasket: *Post deleted by its author* {mrkdwn.date_token(view.gone_at)}"
        )
    text = "\n".join(lines)
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + mrkdwn.ELLIPSIS


def _button(
    action: AnswerAction, label: str, value: str, style: str | None = None
) -> ButtonElement:
    return ButtonElement(action_id=action.value, text=label, value=value, style=style)


def _drafts(view: AnswerView, ctx: RenderContext) -> list[Block]:
    blocks: list[Block] = []
    for n, draft in enumerate(view.drafts, start=1):
        text = mrkdwn.escape_cut(quoted(draft.text, 1_500), 2_000)[0]
        blocks.append(
            SectionBlock(
                block_id=f"case-draft-{n}",
                text=_md(
                    f":memo: *Draft reply* by {_who(draft.by, ctx)} "
                    f"{mrkdwn.date_token(draft.created_at)}, waiting for a manager:\n>{text}"
                ),
            )
        )
        value = reply_value(view.case, draft)
        blocks.append(
            ActionsBlock(
                block_id=f"case-draft-actions-{n}",
                elements=[
                    _button(AnswerAction.APPROVE, "Approve", value, "primary"),
                    _button(AnswerAction.EDIT, "Edit", value),
                    _button(AnswerAction.DISCARD, "Discard", value, "danger"),
                ],
            )
        )
    return blocks


def _buttons(view: AnswerView) -> list[Block]:
    case: Case = view.case
    value = CasePayload(case.id, case.version).to_value()
    elements: list[ButtonElement] = []
    if view.offers_reply:
        elements.append(_button(AnswerAction.REPLY, "Reply", value, "primary"))
    if view.offers_answered:
        url = mrkdwn.safe_url(view.post_url) if view.post_url else None
        if url is not None and len(url) <= 3_000:
            elements.append(
                ButtonElement(action_id=AnswerAction.OPEN_POST.value, text="Open post", url=url)
            )
        elements.append(_button(AnswerAction.ANSWERED, "Mark answered", value))
    if view.offers_close_deleted:
        elements.append(_button(AnswerAction.CLOSE_DELETED, "Close: post deleted", value))
    return [ActionsBlock(block_id=ANSWER_ACTIONS, elements=elements)] if elements else []


def answer_blocks(case: Case, ctx: RenderContext) -> list[Block]:
    """What the case message says about the public answer, its drafts and its buttons."""
    view = AnswerView.of(case, ctx.can_reply(case))
    blocks: list[Block] = []
    if view.has_news:
        blocks.append(SectionBlock(block_id=ANSWER_BLOCK, text=_md(_summary(view, ctx))))
    return [*blocks, *_drafts(view, ctx), *_buttons(view)]
