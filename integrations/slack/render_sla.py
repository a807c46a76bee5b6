"""SLA answers for ``/sla`` as Block Kit, pure: a summary table, breached cases, one person.

Department names come from the configuration and person ids from clicks; both are escaped
anyway. Tables are preformatted text inside one section each, cut to Slack's limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from integrations.slack import mrkdwn
from integrations.slack.render import md
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case
from triagebot.config.people import People
from triagebot.sla.figures import GroupStats, Summary
from triagebot.sla.status import (
    TARGET_WORDS,
    overdue,
    person_figures,
    share_text,
    status_text,
    time_text,
)

SECTION_LIMIT = 2_900
MAX_LISTED = 25


def _row(name: str, stats: GroupStats) -> str:
    waiting = stats.by_state["new"] + stats.by_state["open"]
    return (
        f"{name[:18]:<18} {stats.count:>5} {waiting:>4} {stats.by_state['claimed']:>4} "
        f"{stats.by_state['resolved']:>5} {time_text(stats.claim.median_business):>8} "
        f"{share_text(stats.claim):>5} {time_text(stats.respond.median_business):>8} "
        f"{share_text(stats.respond):>5} {time_text(stats.resolve.median_business):>8} "
        f"{share_text(stats.resolve):>5} {stats.breaches:>4}"
    )


_HEAD = (
    f"{'department':<18} {'cases':>5} {'wait':>4} {'held':>4} {'done':>5} "
    f"{'claim':>8} {'in':>5} {'answer':>8} {'in':>5} {'resolve':>8} {'in':>5} {'late':>4}"
)


def summary_blocks(summary: Summary, names: Mapping[str, str], title: str) -> list[Block]:
    """The summary per department with a total line, medians in business time."""
    heading = md(
        f"*SLA · {mrkdwn.one_line(title, 100)}* "
        f"({mrkdwn.date_token(summary.since, '{date_short}')} to "
        f"{mrkdwn.date_token(summary.until, '{date_short}')})"
    )
    if summary.total.count == 0:
        return [SectionBlock(text=md(f"{heading.text}\nNo cases in this period."))]
    rows = [_HEAD]
    for dept, stats in summary.by_department.items():
        rows.append(_row(mrkdwn.clean(names.get(dept, dept)), stats))
    if len(summary.by_department) > 1:
        rows.append(_row("all", summary.total))
    table = mrkdwn.escape_cut("\n".join(rows), SECTION_LIMIT - 10)[0]
    return [
        SectionBlock(text=heading),
        SectionBlock(text=md(f"```{table}```")),
        ContextBlock(
            elements=[
                md(
                    "wait: not claimed yet · held: claimed · claim/answer/resolve: median "
                    "business time to the claim, the first public answer, the resolve · in: "
                    "share within SLA · late: breaches"
                )
            ]
        ),
    ]


def breached_blocks(
    cases: Sequence[Case], names: Mapping[str, str], now: datetime, people: People | None = None
) -> list[Block]:
    """Active cases past a due time, most overdue first."""
    if not cases:
        return [SectionBlock(text=md("*SLA · breached now*\nNo active case is overdue."))]
    lines = []
    for case in list(cases)[:MAX_LISTED]:
        target, due = overdue(case, now) or ("resolve", case.resolve_due)
        target = TARGET_WORDS[target]
        holder = f" · held by {mrkdwn.person(case.claimed_by, people)}" if case.claimed_by else ""
        dept = mrkdwn.one_line(names.get(case.department, case.department), 60)
        lines.append(
            f"• #{mrkdwn.one_line(case.id, 40)} {case.priority} *{dept}* · {target} overdue "
            f"since {mrkdwn.date_token(due)}{holder} · _{mrkdwn.one_line(case.mention.text, 80)}_"
        )
    more = len(cases) - MAX_LISTED
    text = f"*SLA · breached now: {len(cases)} case(s)*\n" + "\n".join(lines)
    if more > 0:
        text += f"\n…and {more} more"
    return [SectionBlock(text=md(text[:SECTION_LIMIT]))]


def person_blocks(
    user: Identity,
    stats: GroupStats | None,
    holding: Sequence[Case],
    title: str,
    people: People | None = None,
    *,
    now: datetime | None = None,
) -> list[Block]:
    """One person's figures and the cases they hold now, each with its status (what is due
    next: the public answer, the resolve, or the wait on the customer)."""
    now = now or datetime.now(UTC)
    head = f"*SLA · {mrkdwn.person(user, people)} · {mrkdwn.one_line(title, 100)}*"
    figures = person_figures(stats)
    lines = [
        f"• #{mrkdwn.one_line(c.id, 40)} {c.priority} · "
        f"{status_text(c, now, mrkdwn.date_token, ':rotating_light:')} · "
        f"_{mrkdwn.one_line(c.mention.text, 80)}_"
        for c in list(holding)[:MAX_LISTED]
    ]
    held = "\n*Holding now:*\n" + "\n".join(lines) if lines else "\nHolding no case now."
    return [SectionBlock(text=md(f"{head}\n{figures}{held}"[:SECTION_LIMIT]))]


def text_blocks(text: str) -> list[Block]:
    """A plain answer (help, errors); ``text`` is triagebot's own mrkdwn."""
    return [SectionBlock(text=md(text[:SECTION_LIMIT]))]
