"""Where a TOML document nests arrays or inline tables too deeply, for a one-line error.

``tomllib`` reads nested values recursively, so ``key = [[[[…]]]]`` 600 levels deep ends in a
RecursionError instead of a message. ``too_deep`` walks the text once (strings and comments
skipped) and names the line and the key whose value goes deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Deeper than any real configuration needs; far below the interpreter's recursion limit.
MAX_DEPTH = 32
_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*([^=\[\]{}#]+?)\s*=")
_QUOTES = ('"""', "'''", '"', "'")


@dataclass(frozen=True)
class TooDeep:
    line: int
    field: str


def _skip_string(text: str, i: int, quote: str) -> int:
    """Index just past the string opening at ``i`` with ``quote``."""
    j = i + len(quote)
    while j < len(text):
        if text.startswith(quote, j):
            return j + len(quote)
        if quote[0] == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == "\n" and len(quote) == 1:
            return j  # an unclosed one-line string: tomllib reports it
        j += 1
    return j


def too_deep(text: str, limit: int = MAX_DEPTH) -> TooDeep | None:
    """The first value nested deeper than ``limit`` levels, or None."""
    depth, line, i = 0, 1, 0
    table, key = "", ""
    while i < len(text):
        ch = text[i]
        if depth == 0 and (i == 0 or text[i - 1] == "\n"):
            end = text.find("\n", i)
            row = text[i : end if end != -1 else len(text)]
            if header := _HEADER.match(row):
                table, key = header.group(1), ""
                i += len(row)
                continue
            if assignment := _KEY.match(row):
                key = assignment.group(1).strip("\"' ")
        if ch == "\n":
            line += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = end if end != -1 else len(text)
            continue
        elif quote := next((q for q in _QUOTES if text.startswith(q, i)), None):
            end = _skip_string(text, i, quote)
            line += text.count("\n", i, end)
            i = end
            continue
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return TooDeep(line, ".".join(p for p in (table, key) if p))
        elif ch in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return None
