"""Plain tables for the terminal: what ``triagebot sla`` prints, cheap to import and to draw.

A ``TextTable`` lays out left-aligned columns two spaces apart under a title and a header
(the layout of a borderless table), measuring cells in terminal columns (East Asian wide
characters take two, combining marks none). Control characters in cells are dropped, so a
post's text or a name cannot move the cursor or restyle the terminal. ``Terminal`` writes
lines and makes text bold only when the stream is a terminal that wants styles.
"""

from __future__ import annotations

import os
import unicodedata
from typing import TextIO

_BOLD, _ITALIC, _RESET = "\x1b[1m", "\x1b[3m", "\x1b[0m"
_GAP = "  "


def clean(text: str) -> str:
    """``text`` without control, format (zero-width, bidi) or private characters; tabs and line
    breaks become spaces."""
    if text.isprintable():
        return text
    kept = []
    for ch in text:
        kind = unicodedata.category(ch)
        if ch in "\t\n\r" or kind in ("Zl", "Zp"):
            kept.append(" ")
        elif kind not in ("Cc", "Cf", "Cs", "Co"):
            kept.append(ch)
    return "".join(kept)


def one_line(text: str, limit: int) -> str:
    """``clean`` text on one line, spaces collapsed, at most ``limit`` characters."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


class TextTable:
    """A table of text cells under a header row, and a title line if given."""

    def __init__(self, *headers: str, title: str | None = None) -> None:
        self.title = None if title is None else clean(title)
        self.headers = [clean(h) for h in headers]
        self.rows: list[tuple[list[str], bool]] = []

    def add_row(self, *cells: str, bold: bool = False) -> None:
        self.rows.append(([clean(c) for c in cells], bold))

    def lines(self, styled: bool = False) -> list[str]:
        """The title, the header and the rows, one line each (the header and bold rows in
        bold when ``styled``)."""
        rows = [(self.headers, True), *self.rows]
        widths = [0] * len(self.headers)
        for cells, _ in rows:
            for n, cell in enumerate(cells):
                widths[n] = max(widths[n], cell_width(cell))
        out = []
        if self.title is not None:
            out.append(f"{_ITALIC}{self.title}{_RESET}" if styled else self.title)
        for cells, bold in rows:
            padded = [c + " " * (w - cell_width(c)) for c, w in zip(cells, widths, strict=False)]
            line = (" " + _GAP.join(padded)).rstrip()
            out.append(f"{_BOLD}{line}{_RESET}" if styled and bold else line)
        return out


class Terminal:
    """Where a report is printed: lines, bold text, tables."""

    def __init__(self, stream: TextIO, styled: bool | None = None) -> None:
        self.stream = stream
        self.styled = wants_style(stream) if styled is None else styled

    def bold(self, text: str) -> str:
        return f"{_BOLD}{clean(text)}{_RESET}" if self.styled else clean(text)

    def print(self, text: str = "") -> None:
        """Print a line made of ``clean`` text (and ``bold`` parts)."""
        self.stream.write(text + "\n")

    def table(self, table: TextTable) -> None:
        self.stream.write("\n".join(table.lines(self.styled)) + "\n")


def wants_style(stream: TextIO) -> bool:
    """True for a terminal that accepts styles (not with NO_COLOR, nor TERM=dumb)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
