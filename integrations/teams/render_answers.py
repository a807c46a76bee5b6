"""The public answer on the Teams case card: what was answered, replies, drafts, buttons.

Pure, like ``render``: every word a stranger or a replier wrote (a reply's text, a platform's
error, a brand handle) goes through ``tmd`` into inert markdown, so a reply reading
``<at>Alex</at>``, ``[x](javascript:…)`` or ``{@user:teams:…}`` stays those characters.
The buttons are ``Action.ShowCard``s holding the input (the reply's ``Input.Text``, the link
of an answer given elsewhere, a draft to edit) and an ``Action.Execute`` that sends it with
the case payload; Approve, Discard and Close are plain ``Action.Execute``s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from integrations.common.answers import (
    STATE_WORDS,
    VIA_WORDS,
    AnswerAction,
    AnswerView,
    quoted,
    responder,
)
from integrations.common.payload import CasePayload
from integrations.teams import tmd
from integrations.teams.tmd import when
from triagebot.cases.answers import MAX_REPLY_TEXT, PublicReply, ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case

if TYPE_CHECKING:
    from integrations.teams.render import Card, RenderContext

#: Input ids: the reply's text and the link to an answer given elsewhere.
REPLY_INPUT = "reply_text"
URL_INPUT = "answer_url"
URL_LIMIT = 800


def _text(value: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **props}


def _open(url: str | None, title: str) -> Card | None:
    """A button to a link, made only from a short http(s) URL (never markdown in text)."""
    target = tmd.safe_url(url) if url else None
    if target is None or len(target) > URL_LIMIT:
        return None
    return {"type": "Action.OpenUrl", "title": title, "url": target}


def _name_of(ctx: RenderContext) -> Callable[[Identity], str]:
    return lambda who: ctx.directory.name_of(who, ctx.people if who.surface == "teams" else None)


def _reply_line(reply: PublicReply, ctx: RenderContext) -> str:
    state = f"**{STATE_WORDS[reply.state]}**"
    if reply.state is ReplyState.SENT:
        state += f" {when(reply.sent_at)}" if reply.sent_at else ""
    elif reply.state is ReplyState.FAILED and reply.error:
        state += f": {tmd.one_line(reply.error, 300)}"
    who = tmd.one_line(_name_of(ctx)(reply.by), 80)
    return f"Reply by {who}: {state} — “{tmd.one_line(quoted(reply.text), 400)}”"


def answer_summary(view: AnswerView, ctx: RenderContext) -> list[dict[str, Any]]:
    """TextBlocks: the first public response, the latest replies, waiting, deleted."""
    lines: list[str] = []
    first = view.first
    if first is not None:
        who = tmd.one_line(responder(first, _name_of(ctx)), 80)
        lines.append(
            f"💬 **Answered in public** {when(first.at)} by {who} · {VIA_WORDS[first.via]}"
        )
    lines += [_reply_line(r, ctx) for r in view.replies]
    if view.waiting_since is not None:
        lines.append(
            f"⏳ **Waiting on the customer** since {when(view.waiting_since)} "
            "(the resolve clock is paused)"
        )
    if view.gone_at is not None:
        lines.append(f"🗑️ **Post deleted by its author** {when(view.gone_at)}")
    return [_text(line, id=f"case-answer-{n}", spacing="Small") for n, line in enumerate(lines)]


def _execute(verb: AnswerAction, title: str, data: dict[str, Any], **props: Any) -> Card:
    button: Card = {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data}
    fallback: Card = {"type": "Action.Submit", "title": title, "data": data}
    return button | props | {"fallback": fallback | props}


def _data(view: AnswerView, verb: AnswerAction, reply: PublicReply | None = None) -> dict[str, Any]:
    case = view.case
    data = CasePayload(case.id, case.version).to_dict() | {"verb": verb.value}
    return data | ({"reply": reply.id} if reply is not None else {})


def _show_card(title: str, body: list[dict[str, Any]], action: Card) -> Card:
    card = {"type": "AdaptiveCard", "body": body, "actions": [action]}
    return {"type": "Action.ShowCard", "title": title, "card": card}


def _reply_input(value: str = "", label: str = "Your public reply, posted as written") -> Card:
    return {
        "type": "Input.Text",
        "id": REPLY_INPUT,
        "label": label,
        "isMultiline": True,
        "isRequired": True,
        "errorMessage": "Write the reply first",
        "maxLength": MAX_REPLY_TEXT,
        "value": value[:MAX_REPLY_TEXT],
    }


def draft_blocks(view: AnswerView, ctx: RenderContext) -> list[dict[str, Any]]:
    """Each draft waiting for a manager, with Approve, Edit and Discard."""
    blocks: list[dict[str, Any]] = []
    for n, draft in enumerate(view.drafts, start=1):
        who = tmd.one_line(_name_of(ctx)(draft.by), 80)
        text = tmd.escape_cut(quoted(draft.text, 1_500), 2_000)[0]
        blocks.append(
            _text(
                f"📝 **Draft reply** by {who} {when(draft.created_at)}, "
                f"waiting for a manager:\n\n{text}",
                id=f"case-draft-{n}",
            )
        )
        edit = _show_card(
            "Edit…",
            [_reply_input(draft.text, "The reply as it will be posted")],
            _execute(AnswerAction.EDIT, "Approve as edited", _data(view, AnswerAction.EDIT, draft)),
        )
        actions = [
            _execute(AnswerAction.APPROVE, "Approve", _data(view, AnswerAction.APPROVE, draft),
                     style="positive", associatedInputs="none"),
            edit,
            _execute(AnswerAction.DISCARD, "Discard", _data(view, AnswerAction.DISCARD, draft),
                     style="destructive", associatedInputs="none"),
        ]  # fmt: skip
        blocks.append({"type": "ActionSet", "id": f"case-draft-actions-{n}", "actions": actions})
    return blocks


def answer_actions(view: AnswerView, typed: str | None = None) -> list[Card]:
    """Reply (or Mark answered where triagebot cannot post), Close: post deleted, and links to
    the public answer and the latest reply. ``typed``: the reply kept in its box after a
    refusal."""
    actions: list[Card] = []
    if view.offers_reply:
        send = _execute(AnswerAction.REPLY, "Send reply", _data(view, AnswerAction.REPLY))
        actions.append(_show_card("Reply…", [_reply_input(typed or "")], send))
    if view.offers_answered:
        url_input = {
            "type": "Input.Text",
            "id": URL_INPUT,
            "label": "Link to the public answer (optional, http or https)",
            "style": "Url",
            "maxLength": 2_000,
        }
        mark = _execute(AnswerAction.ANSWERED, "Mark answered", _data(view, AnswerAction.ANSWERED))
        actions.append(_show_card("Mark answered…", [url_input], mark))
    if view.offers_close_deleted:
        data = _data(view, AnswerAction.CLOSE_DELETED)
        actions.append(
            _execute(
                AnswerAction.CLOSE_DELETED, "Close: post deleted", data, associatedInputs="none"
            )
        )
    sent = [r for r in view.replies if r.state is ReplyState.SENT and r.url]
    links = [
        _open(view.first.url if view.first else None, "See the public answer"),
        _open(sent[-1].url if sent else None, "Open the reply"),
    ]
    shown: set[str] = set()
    for link in links:
        if link is not None and link["url"] not in shown:
            shown.add(link["url"])
            actions.append(link)
    return actions


def answer_section(
    case: Case, ctx: RenderContext, typed: str | None = None
) -> list[dict[str, Any]]:
    """The card's answer part: summary lines, drafts, and an ActionSet of its own buttons
    (a set of their own: Teams shows at most six actions in a row)."""
    view = AnswerView.of(case, ctx.can_reply(case))
    body = [*answer_summary(view, ctx), *draft_blocks(view, ctx)]
    actions = answer_actions(view, typed)
    if actions:
        body.append({"type": "ActionSet", "id": "case-answer-actions", "actions": actions})
    return body
