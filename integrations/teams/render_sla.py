"""SLA answers for the Teams ``sla`` command as Adaptive Cards, pure.

The same figures as Slack's ``/sla`` (``triagebot.reports.query.gather``): a summary table per
department, the breached cases, or one person's figures and held cases. Names from the
configuration, people and post excerpts are escaped like any other card text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from integrations.teams import tmd
from integrations.teams.render import SCHEMA, Card, RenderContext, person, text
from integrations.teams.tmd import when
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case
from triagebot.reports.query import SlaAnswer
from triagebot.sla.figures import GroupStats, Summary
from triagebot.sla.status import (
    TARGET_WORDS,
    overdue,
    person_figures,
    share_text,
    status_text,
    time_text,
)

MAX_LISTED = 25
HELP = (
    "**sla** shows SLA figures. Mention me with one of these:\n\n"
    "- `sla`: all departments, last 7 days\n"
    "- `sla <department>`: one department, e.g. `sla {example}`\n"
    "- `sla breached`: active cases past a due time\n"
    "- `sla me`: your figures and the cases you hold\n"
    "- `sla 30d`: another period (hours `h`, days `d`, weeks `w`)\n\n"
    "Words combine: `sla {example} 30d`."
)
_COLUMNS = ("department", "cases", "waiting", "claim", "answer", "resolve", "late")


def card(body: list[dict[str, Any]]) -> Card:
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": body}


def _row(cells: Sequence[str], *, bold: bool = False) -> dict[str, Any]:
    columns = [
        {
            "type": "Column",
            "width": "stretch" if i == 0 else "auto",
            "items": [text(cell, weight="Bolder" if bold else "Default", spacing="None")],
        }
        for i, cell in enumerate(cells)
    ]
    return {"type": "ColumnSet", "columns": columns, "spacing": "Small"}


def _cells(name: str, stats: GroupStats) -> list[str]:
    waiting = stats.by_state["new"] + stats.by_state["open"]
    return [
        tmd.one_line(name, 40),
        str(stats.count),
        str(waiting),
        f"{time_text(stats.claim.median_business)} ({share_text(stats.claim)})",
        f"{time_text(stats.respond.median_business)} ({share_text(stats.respond)})",
        f"{time_text(stats.resolve.median_business)} ({share_text(stats.resolve)})",
        str(stats.breaches),
    ]


def summary_card(summary: Summary, names: Mapping[str, str], title: str) -> Card:
    heading = text(
        f"**SLA · {tmd.one_line(title, 100)}** ({when(summary.since)} to {when(summary.until)})",
        size="Medium",
    )
    if summary.total.count == 0:
        return card([heading, text("No cases in this period.")])
    rows = [_row(_COLUMNS, bold=True)]
    rows += [_row(_cells(names.get(d, d), s)) for d, s in summary.by_department.items()]
    if len(summary.by_department) > 1:
        rows.append(_row(_cells("all", summary.total), bold=True))
    legend = text(
        "waiting: not claimed yet · claim/answer/resolve: median business time to the claim, "
        "the first public answer, the resolve (share within SLA) · late: breaches",
        isSubtle=True,
        size="Small",
    )
    return card([heading, *rows, legend])


def breached_card(cases: Sequence[Case], ctx: RenderContext) -> Card:
    if not cases:
        return card([text("**SLA · breached now**\n\nNo active case is overdue.")])
    lines = []
    for case in list(cases)[:MAX_LISTED]:
        target, due = overdue(case, ctx.now) or ("resolve", case.resolve_due)
        target = TARGET_WORDS[target]
        holder = f" · held by {person(ctx, case.claimed_by)}" if case.claimed_by else ""
        dept = tmd.one_line(ctx.departments.get(case.department, case.department), 60)
        lines.append(
            f"- #{tmd.one_line(case.id, 40)} {case.priority} **{dept}** · {target} overdue since "
            f"{when(due)}{holder} · _{tmd.one_line(case.mention.text, 80)}_"
        )
    more = len(cases) - MAX_LISTED
    tail = f"\n\n…and {more} more" if more > 0 else ""
    heading = f"**SLA · breached now: {len(cases)} case(s)**"
    return card([text(heading), text("\n".join(lines) + tail)])


def person_card(found: SlaAnswer, user: Identity, ctx: RenderContext) -> Card:
    head = f"**SLA · {person(ctx, user)} · {tmd.one_line(found.label, 100)}**"
    stats = found.person
    figures = person_figures(stats)
    lines = [
        f"- #{tmd.one_line(c.id, 40)} {c.priority} · {status_text(c, ctx.now, when, '🚨')} · "
        f"_{tmd.one_line(c.mention.text, 80)}_"
        for c in found.holding[:MAX_LISTED]
    ]
    held = "**Holding now:**\n\n" + "\n".join(lines) if lines else "Holding no case now."
    return card([text(head), text(figures), text(held)])


def answer_card(found: SlaAnswer, user: Identity, ctx: RenderContext) -> Card:
    """The card answering an ``sla`` query (see ``triagebot.reports.query``)."""
    view = found.query.view
    if view == "help":
        example = next(iter(sorted(found.names)), "shipping")
        return card([text(HELP.format(example=example))])
    if view == "breached":
        return breached_card(found.late, ctx)
    if view == "me":
        return person_card(found, user, ctx)
    assert found.summary is not None
    return summary_card(found.summary, found.names, found.label)


def message_card(markdown: str) -> Card:
    """A short answer (errors, refusals) in triagebot's own, already escaped, words."""
    return card([text(markdown[:2_000])])
