"""Case -> Adaptive Card for Teams, pure: the case card, its notification summary, notes.

Everything a stranger wrote (post text, author handle and name, source) goes through ``tmd``
into inert markdown; the post is cut to ``POST_LIMIT`` characters and ``POST_LINES`` lines with
an ``Action.OpenUrl`` to the whole post, made only from an http(s) URL. Actions are
``Action.Execute`` (Universal Actions) with an ``Action.Submit`` fallback; both carry only the
``CasePayload`` (plus the verb, which ``Action.Submit`` cannot send otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrations.common.answers import never
from integrations.common.labels import STATE_LABELS, author_label
from integrations.common.payload import ActionId, CasePayload
from integrations.common.suggested import offers
from integrations.teams import tmd
from integrations.teams.render_answers import answer_section
from integrations.teams.tmd import when
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case, CaseState, Priority
from triagebot.config.people import People
from triagebot.sla.status import status_text

CARD_CONTENT_TYPE = "application/vnd.adaptivecard.adaptive"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
POST_LIMIT = 1_500  # characters of post text on the card
POST_LINES = 25
URL_LIMIT = 800
REASSIGN_INPUT = "dept"
MAX_CHOICES = 50
_PRIORITY = {Priority.P1: "🔴 P1", Priority.P2: "🟠 P2", Priority.P3: "🟢 P3"}

Card = dict[str, Any]


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs besides the case: names of departments and people, the time."""

    departments: Mapping[str, str]  # id -> display name
    now: datetime
    people: Mapping[str, str] = field(default_factory=dict)  # Teams user id -> display name
    directory: People = field(default_factory=People)  # [[people]]: names across surfaces
    can_reply: Callable[[Case], bool] = never  # the case's source can post a reply


def text(value: str, **props: Any) -> dict[str, Any]:
    """A wrapping TextBlock; ``value`` must already be escaped (or be triagebot's own)."""
    return {"type": "TextBlock", "text": value, "wrap": True, **props}


def department_name(ctx: RenderContext, department: str) -> str:
    return tmd.one_line(ctx.departments.get(department, department), 80)


def person(ctx: RenderContext, actor: Identity | None) -> str:
    """A person's name from the people directory, else the display name Teams told us for a
    Teams user, else the id; escaped."""
    if actor is None:
        return "nobody"
    supplied = ctx.people if actor.surface == "teams" else None
    return tmd.one_line(ctx.directory.name_of(actor, supplied), 80)


def summary(case: Case, ctx: RenderContext) -> str:
    """The notification text (activity summary): plain, short."""
    excerpt = tmd.plain_line(case.mention.text, 150)
    dept = tmd.plain_line(ctx.departments.get(case.department, case.department), 80)
    return f"{case.priority} case #{case.id} for {dept}: {excerpt}"


def _header(case: Case, ctx: RenderContext) -> list[dict[str, Any]]:
    m = case.mention
    who = author_label(m.author, tmd.one_line)
    cc = ""
    if case.cc:
        cc = " · cc " + ", ".join(department_name(ctx, d) for d in case.cc[:5])
    return [
        text(
            f"{_PRIORITY[case.priority]} · **{department_name(ctx, case.department)}**{cc} · "
            f"case #{tmd.one_line(case.id, 40)}",
            weight="Bolder",
        ),
        text(f"**{tmd.one_line(m.source, 40)}** · {who}", isSubtle=True, spacing="None"),
    ]


def post_text(case: Case) -> tuple[str, bool]:
    """The quoted post, escaped and cut; and whether it was cut."""
    short, cut = tmd.cut(case.mention.text.strip() or "(no text)", POST_LIMIT)
    lines = short.split("\n")
    if len(lines) > POST_LINES:
        lines, cut = [*lines[:POST_LINES], tmd.ELLIPSIS], True
    # Markdown needs a blank line to keep line breaks; escape each line on its own.
    return "\n\n".join(tmd.escape(line) for line in lines if line.strip()), cut


def _post(case: Case) -> dict[str, Any]:
    body, cut = post_text(case)
    items = [text(body)]
    if original_url(case) is None:
        items.append(
            text(
                "_The original post's address is not a short http(s) link, so it is not shown._",
                isSubtle=True,
                size="Small",
            )
        )
    elif cut:
        items.append(text("_The post is cut here: open it to read it whole._", size="Small"))
    return {"type": "Container", "style": "emphasis", "items": items, "id": "case-post"}


def original_url(case: Case) -> str | None:
    target = tmd.safe_url(case.mention.url)
    return target if target is not None and len(target) <= URL_LIMIT else None


def status_line(case: Case, ctx: RenderContext) -> str:
    state = f"**{STATE_LABELS[case.state]}**"
    if case.state is CaseState.CLAIMED and case.claimed_at is not None:
        state += f" by {person(ctx, case.claimed_by)} {when(case.claimed_at)}"
    elif case.state.is_closed and case.resolved_at is not None:
        state += f" by {person(ctx, case.resolved_by)} {when(case.resolved_at)}"
    sla = status_text(case, ctx.now, when, "🚨")
    return state + (f" · {sla}" if sla else "")


def _details(case: Case) -> dict[str, Any]:
    parts = [f"claim due {when(case.claim_due)}", f"resolve due {when(case.resolve_due)}"]
    if case.rules:
        parts.append("rules: " + tmd.one_line(", ".join(case.rules), 600))
    if case.also_on:
        parts.append(f"also posted in {len(case.also_on)} other place(s)")
    return text(" · ".join(parts), isSubtle=True, size="Small")


def action_data(case: Case, action: ActionId) -> dict[str, Any]:
    """What an action carries: the case payload, plus the verb for the Submit fallback."""
    return CasePayload(case.id, case.version).to_dict() | {"verb": action.value}


def _execute(case: Case, action: ActionId, title: str, style: str | None = None) -> Card:
    data = action_data(case, action)
    button: Card = {"type": "Action.Execute", "title": title, "verb": action.value, "data": data}
    fallback: Card = {"type": "Action.Submit", "title": title, "data": data}
    if style:
        button["style"] = fallback["style"] = style
    return button | {"fallback": fallback}


def _reassign(case: Case, ctx: RenderContext) -> Card | None:
    choices = [
        {"title": tmd.plain_line(name, 75) or dept_id[:75], "value": dept_id}
        for dept_id, name in ctx.departments.items()
        if dept_id != case.department
    ][:MAX_CHOICES]
    if not choices:
        return None
    return {
        "type": "Action.ShowCard",
        "title": "Reassign…",
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.ChoiceSet",
                    "id": REASSIGN_INPUT,
                    "label": "Hand the case to",
                    "isRequired": True,
                    "errorMessage": "Choose a department",
                    "choices": choices,
                }
            ],
            "actions": [_execute(case, ActionId.REASSIGN, "Reassign")],
        },
    }


def _suggestions(case: Case, ctx: RenderContext) -> list[Card]:
    """The suggested departments of a case waiting in triage, one button each (none else).

    Each press names its department in ``data`` and sends no inputs, so a department chosen
    in the open Reassign card cannot stand in for the suggestion's."""
    buttons = []
    for offer in offers(case, ctx.departments):
        data = action_data(case, ActionId.SUGGEST) | {REASSIGN_INPUT: offer.department}
        title = offer.label(tmd.clean)
        common: Card = {"title": title, "data": data, "associatedInputs": "none"}
        fallback: Card = {"type": "Action.Submit", **common}
        buttons.append(
            {"type": "Action.Execute", "verb": ActionId.SUGGEST.value, **common}
            | {"fallback": fallback}
        )
    if not buttons:
        return []
    return [
        text(
            "Not sure where this belongs; the likeliest departments:",
            isSubtle=True,
            size="Small",
        ),
        {"type": "ActionSet", "id": "case-suggestions", "actions": buttons, "spacing": "None"},
    ]


def _actions(case: Case, ctx: RenderContext) -> list[Card]:
    actions: list[Card] = []
    if case.state in (CaseState.NEW, CaseState.OPEN):
        actions += [
            _execute(case, ActionId.CLAIM, "Claim", "positive"),
            _execute(case, ActionId.RESOLVE, "Resolve"),
        ]
    elif case.state is CaseState.CLAIMED:
        actions += [
            _execute(case, ActionId.RESOLVE, "Resolve", "positive"),
            _execute(case, ActionId.UNCLAIM, "Unclaim"),
        ]
    else:
        actions.append(_execute(case, ActionId.REOPEN, "Reopen"))
    if not case.state.is_closed:
        reassign = _reassign(case, ctx)
        if reassign is not None:
            actions.append(reassign)
        actions.append(_execute(case, ActionId.SPAM, "Spam", "destructive"))
    target = original_url(case)
    if target is not None:
        actions.append({"type": "Action.OpenUrl", "title": "Open the original post", "url": target})
    return actions


def case_card(
    case: Case, ctx: RenderContext, notice: str | None = None, typed: str | None = None
) -> Card:
    """The whole case card; ``notice`` (triagebot's own words, escaped here) tops it;
    ``typed``: a refused reply kept in its box."""
    body: list[dict[str, Any]] = []
    if notice:
        body.append(text(tmd.escape(notice), color="Attention", weight="Bolder", id="notice"))
    body += [
        *_header(case, ctx),
        _post(case),
        text(status_line(case, ctx), id="case-status"),
        _details(case),
        *answer_section(case, ctx, typed),
        *_suggestions(case, ctx),
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": _actions(case, ctx),
    }


def note_card(markdown: str) -> Card:
    """A thread note, escalation or answer: one TextBlock of triagebot's own (escaped) text."""
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "body": [text(markdown[:4_000])],
    }
