"""The console surface: prints each new case and each change to a terminal.

Customer text is untrusted: control characters (terminal escape sequences) are removed,
rich markup is escaped and the text is cut to a readable length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from triagebot.cases.identities import Identity
from triagebot.cases.note_mentions import plain_mentions
from triagebot.cases.records import Case, CaseState, MessageRef, Priority

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MAX_TEXT = 280
_PRIORITY_STYLE = {Priority.P1: "bold red", Priority.P2: "yellow", Priority.P3: "green"}


def safe_text(text: str, limit: int = _MAX_TEXT) -> str:
    """One line of untrusted text fit for a terminal: no control characters, at most ``limit``."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _local(at: datetime) -> str:
    return at.astimezone().strftime("%a %H:%M")


class ConsoleSurface:
    """Prints cases to a terminal; its message refs point at the case id."""

    name = "console"

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool | None = None,
        name_of: Callable[[Identity], str] | None = None,
    ) -> None:
        self._console = Console(
            file=stream, highlight=False, no_color=color is False, soft_wrap=True
        )
        self._name_of = name_of  # a person's name (the people directory), else their id

    def shows(self, case: Case) -> bool:
        return True

    async def post(self, case: Case) -> MessageRef:
        m = case.mention
        followers = f" ({m.author.followers:,} followers)" if m.author.followers is not None else ""
        style = _PRIORITY_STYLE[case.priority]
        cc = f" cc {', '.join(case.cc)}" if case.cc else ""
        self._console.print(
            f"[bold]#{case.id}[/] [{style}]{case.priority}[/] "
            f"[cyan]{escape(case.department)}[/]{escape(cc)}"
            f"  {escape(m.source)} · @{escape(safe_text(m.author.handle, 60))}{followers}"
        )
        self._console.print(f"    {escape(safe_text(m.text))}")
        rules = f"  rules: {escape(safe_text('; '.join(case.rules), 120))}" if case.rules else ""
        self._console.print(
            f"    [dim]{escape(safe_text(m.url, 200))}  claim by {_local(case.claim_due)}"
            f" · resolve by {_local(case.resolve_due)}{rules}[/]"
        )
        return MessageRef(self.name, "console", case.id)

    async def update(self, case: Case, ref: MessageRef) -> None:
        """Nothing to re-render on a terminal: every change also leaves a note, printed by reply."""

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        self._console.print(
            f"[bold red]escalation[/] [bold]#{case.id}[/] "
            f"{escape(safe_text(plain_mentions(text, self._name_of), 300))}"
        )

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        style = "green" if case.state is CaseState.RESOLVED else "magenta"
        self._console.print(
            f"[bold]#{case.id}[/] [{style}]↳ "
            f"{escape(safe_text(plain_mentions(text, self._name_of, at=''), 200))}[/]"
        )

    async def digest(self, department: str, text: str) -> None:
        """Print the daily SLA digest (see triagebot.runtime.digest)."""
        lines = [escape(safe_text(line, 200)) for line in text.splitlines()]
        self._console.print(f"[bold blue]digest[/] [cyan]{escape(department)}[/]")
        for line in lines:
            self._console.print(f"    {line}")
