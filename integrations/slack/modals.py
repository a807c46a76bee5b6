"""The modals of the public answer: write a reply, edit a draft, mark a case answered. Pure.

Each modal names its case (and the draft) in ``private_metadata`` along with the channel the
button was pressed in, so the submission can answer the presser there. The post is quoted
escaped, like on the card. Slack's limits: a title of 24 characters, a plain-text input of
at most 3,000 characters (platforms allow far less; ``Answering.reply_problem`` says so
before the modal closes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from integrations.slack import mrkdwn
from triagebot.cases.answers import PublicReply
from triagebot.cases.records import Case
from triagebot.errors import InputError

REPLY_MODAL = "case-reply-modal"
EDIT_MODAL = "case-draft-edit-modal"
ANSWERED_MODAL = "case-answered-modal"
TEXT_BLOCK = "reply-text"
TEXT_INPUT = "text"
URL_BLOCK = "answer-url"
URL_INPUT = "url"
INPUT_LIMIT = 3_000  # Slack's most for a plain_text_input
QUOTE_LIMIT = 600


@dataclass(frozen=True)
class ModalTarget:
    """What a submitted modal acts on, read back from its ``private_metadata``."""

    case_id: str
    channel: str | None = None
    reply_id: str | None = None

    def to_metadata(self) -> str:
        data = {"case": self.case_id, "ch": self.channel, "reply": self.reply_id}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def read(cls, view: dict[str, Any]) -> ModalTarget:
        try:
            data = json.loads(str(view.get("private_metadata") or ""))
        except ValueError:
            raise InputError("this form is not one of triagebot's") from None
        case_id = data.get("case") if isinstance(data, dict) else None
        if not isinstance(case_id, str) or not case_id:
            raise InputError("this form names no case")
        channel, reply_id = data.get("ch"), data.get("reply")
        return cls(
            case_id,
            channel if isinstance(channel, str) else None,
            reply_id if isinstance(reply_id, str) else None,
        )


def value_of(view: dict[str, Any], block: str, action: str) -> str:
    """What the person typed in one input of a submitted view ("" when left empty)."""
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    value = (values.get(action) or {}).get("value")
    return value if isinstance(value, str) else ""


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _post(case: Case) -> dict[str, Any]:
    body = mrkdwn.escape_cut(case.mention.text.strip() or "(no text)", QUOTE_LIMIT)[0]
    quoted = "\n".join(f">{line}" for line in body.split("\n")[:12])
    who = mrkdwn.one_line(case.mention.author.handle, 60)
    source = mrkdwn.one_line(case.mention.source, 40)
    return {
        "type": "section",
        "block_id": "case-post",
        "text": {"type": "mrkdwn", "verbatim": True, "text": f"*@{who}* on {source}:\n{quoted}"},
    }


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _text_input(label: str, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": TEXT_INPUT,
        "multiline": True,
        "max_length": INPUT_LIMIT,
        "focus_on_load": True,
    }
    if initial:
        element["initial_value"] = initial[:INPUT_LIMIT]
    return {"type": "input", "block_id": TEXT_BLOCK, "label": _plain(label), "element": element}


def _modal(
    callback: str, title: str, submit: str, target: ModalTarget, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback,
        "title": _plain(title[:24]),
        "submit": _plain(submit[:24]),
        "close": _plain("Cancel"),
        "private_metadata": target.to_metadata(),
        "blocks": blocks,
    }


def reply_modal(case: Case, channel: str | None, *, draft: bool) -> dict[str, Any]:
    """Write a public reply to the case's post (``draft``: a manager approves it first)."""
    who = mrkdwn.one_line(case.mention.author.handle, 60)
    note = (
        "Your reply is kept as a draft: a manager approves it before it is posted."
        if draft
        else f"Posted in public under @{who}'s post as the brand's account, exactly as typed."
    )
    blocks = [_post(case), _text_input("Your public reply"), _note(note)]
    submit = "Save draft" if draft else "Post reply"
    return _modal(REPLY_MODAL, f"Reply · case #{case.id}", submit, ModalTarget(case.id, channel),
                  blocks)  # fmt: skip


def edit_modal(case: Case, draft: PublicReply, channel: str | None) -> dict[str, Any]:
    """A manager edits a draft reply; submitting approves the edited text."""
    blocks = [
        _post(case),
        _text_input("The reply, as it will be posted", draft.text),
        _note("Submitting approves the reply and posts it in public."),
    ]
    target = ModalTarget(case.id, channel, draft.id)
    return _modal(EDIT_MODAL, "Edit the draft reply", "Approve and post", target, blocks)


def answered_modal(case: Case, channel: str | None) -> dict[str, Any]:
    """The customer was answered on the platform: an optional link to the answer."""
    url_input = {
        "type": "input",
        "block_id": URL_BLOCK,
        "optional": True,
        "label": _plain("Link to the answer (optional)"),
        "hint": _plain("An http(s) address of the brand's public answer."),
        "element": {"type": "plain_text_input", "action_id": URL_INPUT, "max_length": 2_000},
    }
    blocks = [_post(case), url_input]
    target = ModalTarget(case.id, channel)
    return _modal(ANSWERED_MODAL, "Mark answered", "Mark answered", target, blocks)
