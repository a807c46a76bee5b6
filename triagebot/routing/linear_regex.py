r"""Rule regular expressions on RE2, a linear-time engine: no post can make a rule backtrack.

Python's ``re`` backtracks, so one expression like ``(a+)+$`` or ``^\W*…[\s,!]*`` meeting a
long run of punctuation takes seconds to minutes while holding the interpreter lock. RE2 scans
each post once, in time proportional to its length, whatever the expression. The price is
that it refuses what needs backtracking: look-ahead and look-behind, back-references,
possessive quantifiers and atomic groups; ``compile_rule_regex`` names the construct.

Rules are written in Python syntax and keep Python's meaning where RE2 would read them
differently: ``\w \W \d \D \s \S`` are Unicode classes (RE2's are ASCII; inside ``[...]``,
``\W`` and ``\S`` stay ASCII except in ``[^\W\d_]``, ``[^\W_]`` and ``[^\W]``), ``\Z`` is the
end of the text and ``x{,3}`` means ``x{0,3}``.
``\b`` stays RE2's ASCII word boundary, so an expression that puts it next to letters outside
A-Z (it would never match there) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

#: How RE2's errors are explained to the person who wrote the rule.
_EXPLAINED = (
    ("(?=", "look-ahead `(?=…)` is not supported"),
    ("(?!", "negative look-ahead `(?!…)` is not supported"),
    ("(?<=", "look-behind `(?<=…)` is not supported"),
    ("(?<!", "negative look-behind `(?<!…)` is not supported"),
    ("(?>", "atomic groups `(?>…)` are not supported"),
    ("(?P=", "back-references are not supported"),
    ("(?#", "comments `(?#…)` are not supported"),
    ("(?x", "verbose mode `(?x)` is not supported"),
    ("++", "possessive quantifiers (`++`, `*+`, `?+`) are not supported"),
    ("*+", "possessive quantifiers (`++`, `*+`, `?+`) are not supported"),
    ("?+", "possessive quantifiers (`++`, `*+`, `?+`) are not supported"),
    ("repetition size", "a repetition count above 1000 is not supported"),
    ("pattern too large", "the expression is too large (make its repetitions smaller)"),
)
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\s\p{Z}\x{85}"
#: Perl classes and anchors rewritten to keep Python's meaning: (outside a class, inside one).
_ESCAPES = {
    "w": (f"[{_WORD}]", _WORD),
    "W": (f"[^{_WORD}]", None),
    "d": (r"\p{Nd}", r"\p{Nd}"),
    "D": (r"\P{Nd}", r"\P{Nd}"),
    "s": (f"[{_SPACE}]", _SPACE),
    "S": (f"[^{_SPACE}]", None),
    "Z": (r"\z", None),
}
_BACKREF = re.compile(r"\\(?:[1-9]|g<)")
_OPEN_MIN = re.compile(r"\{,(\d+)\}")


class RegexRefused(ValueError):
    """An expression RE2 cannot run (or would run differently); the message says why."""


@dataclass(frozen=True)
class Hit:
    """Where an expression matched: the start (in characters) and the matched text."""

    start: int
    text: str


class RuleRegex:
    """One compiled rule expression; ``search`` takes time linear in the text's length."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern  # as written in the rule
        self._compiled = compiled

    def search(self, text: str) -> Hit | None:
        found = self._compiled.search(text)
        return None if found is None else Hit(found.start(), found.group(0))

    def __repr__(self) -> str:
        return f"RuleRegex({self.pattern!r})"


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


_OPTIONS = _options()


def _class_end(pattern: str, start: int) -> int:
    """Index just past the character class opening at ``start`` (``[``)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a ``]`` first in a class is a literal
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern.startswith("[:", i) and (close := pattern.find(":]", i + 2)) != -1:
            i = close + 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    return len(pattern)


#: Negated classes built on ``\W`` (which stays ASCII inside a class), as Unicode classes.
_NOT_NON_WORD = {
    r"[^\W\d_]": r"\p{L}",
    r"[^\W_\d]": r"\p{L}",
    r"[^\W_]": r"[\p{L}\p{N}]",
    r"[^\W]": f"[{_WORD}]",
}


def _rewrite_class(body: str) -> str:
    if body in _NOT_NON_WORD:
        return _NOT_NON_WORD[body]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            inside = _ESCAPES.get(body[i + 1], (None, None))[1]
            out.append(inside if inside is not None else body[i : i + 2])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def to_re2(pattern: str) -> str:
    """The pattern with Python's meaning of Perl classes, ``\\Z`` and ``{,n}`` kept for RE2."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            outside = _ESCAPES.get(pattern[i + 1], (None, None))[0]
            out.append(outside if outside is not None else pattern[i : i + 2])
            i += 2
        elif ch == "[":
            end = _class_end(pattern, i)
            out.append(_rewrite_class(pattern[i:end]))
            i = end
        elif ch == "{" and (braces := _OPEN_MIN.match(pattern, i)) is not None:
            out.append(f"{{0,{braces.group(1)}}}")
            i = braces.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _unsupported(pattern: str, error: str) -> str | None:
    """What construct RE2 refused, in words, or None for a plain syntax error."""
    if _BACKREF.search(pattern) or "(?P=" in pattern:
        return "back-references (`\\1`, `(?P=name)`) are not supported"
    for marker, message in _EXPLAINED:
        if marker in error:
            return message
    return None


def compile_rule_regex(pattern: str) -> RuleRegex:
    """Compile a rule's expression (case-insensitive); RegexRefused says what is wrong."""
    if ("\\b" in pattern or "\\B" in pattern) and any(
        ord(ch) > 127 and ch.isalpha() for ch in pattern
    ):
        raise RegexRefused(
            "\\b is a word boundary of A-Z letters only: next to other letters it never "
            "matches; use (?:^|[^\\w]) instead"
        )
    try:
        compiled = re2.compile(to_re2(pattern), _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        error = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        reason = _unsupported(pattern, error)
        if reason is None:
            raise RegexRefused(error) from None
        raise RegexRefused(
            f"{reason}: rule expressions run on RE2, which never backtracks "
            "(no look-around, back-references, atomic groups or possessive quantifiers)"
        ) from None
    return RuleRegex(pattern, compiled)
