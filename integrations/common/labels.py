"""Labels that Slack and Teams cards write the same way, each escaping with its own markup."""

from __future__ import annotations

from collections.abc import Callable

from triagebot.cases.records import Author, CaseState

STATE_LABELS = {
    CaseState.NEW: "New",
    CaseState.OPEN: "Open",
    CaseState.CLAIMED: "Claimed",
    CaseState.RESOLVED: "Resolved",
    CaseState.SPAM: "Spam",
}

OneLine = Callable[[str, int], str]  # escape for the surface, fold to one line, cut to a length


def author_label(author: Author, one_line: OneLine) -> str:
    """``@handle (Name) · 1,234 followers``, with the stranger's handle and name escaped."""
    who = f"@{one_line(author.handle, 60)}"
    if author.name:
        who += f" ({one_line(author.name, 60)})"
    if author.followers is not None:
        who += f" · {author.followers:,} followers"
    return who
