"""The records rules are read into (``RuleSpec``, ``Options``, ``RuleSet``) and their helpers.

``rules_parse`` fills them from rules/*.yaml (the format is described in rules/README.md);
the matcher compiles them. A term's key is its stems joined by ``SEP`` (or its exact words
joined by ``EXACT_SEP`` for terms written ``=word``), the same way a post is scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.routing.linear_regex import RuleRegex
from triagebot.routing.textnorm import fold, stems, tokens

SEP = "\x1f"  # between stems of a term or a post
EXACT_SEP = "\x1e"  # between unstemmed words (terms written as "=word")
FILE_KEYS = frozenset({"department", "description", "rules", "options"})
RULE_KEYS = frozenset(
    {"name", "description", "department", "priority", "spam", "weight"}
    | {"terms", "with", "regex", "unless", "unless_regex", "when"}
)
WHEN_KEYS = frozenset({"source", "lang", "followers", "matched", "not_matched"})
OPTION_KEYS = frozenset(
    {
        "fallback",
        "cc_share",
        "cc_min",
        "max_cc",
        "spam_threshold",
        "classifier",
        "classifier_routes_at",
        "classifier_decides_below",
    }
)


@dataclass(frozen=True)
class Term:
    """A word or phrase as written, and the key it is matched by."""

    text: str
    key: str
    exact: bool
    line: int


@dataclass(frozen=True)
class Pattern:
    """A regular expression, matched against the folded text of a post (on RE2)."""

    text: str
    regex: RuleRegex
    line: int


@dataclass(frozen=True)
class Conditions:
    """What else must hold for a rule to fire. ``min_followers <= followers < max_followers``."""

    sources: frozenset[str] | None = None
    langs: frozenset[str] | None = None
    min_followers: int | None = None
    max_followers: int | None = None
    matched: tuple[str, ...] = ()
    not_matched: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class RuleSpec:
    """One rule: what it looks for, under which conditions, and what it decides."""

    id: str
    path: Path
    line: int
    department: str | None = None
    priority: Priority | None = None
    spam: bool = False
    weight: float = 1.0
    terms: tuple[Term, ...] = ()
    with_terms: tuple[Term, ...] = ()
    regexes: tuple[Pattern, ...] = ()
    unless: tuple[Term, ...] = ()
    unless_regexes: tuple[Pattern, ...] = ()
    when: Conditions = Conditions()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def has_matchers(self) -> bool:
        return bool(self.terms or self.regexes)


@dataclass(frozen=True)
class Options:
    """Rule-set wide settings (``options:`` in one rules file)."""

    fallback: str = FALLBACK_DEPARTMENT
    cc_share: float = 0.5
    cc_min: float = 2.0
    max_cc: int = 2
    spam_threshold: float = 1.0
    classifier: str | None = None  # examples file in the rules folder
    classifier_routes_at: float = 1.1  # above 1: the classifier only suggests
    classifier_decides_below: float = 0.0  # weak rule evidence: the classifier picks among matches


@dataclass
class RuleSet:
    """Every rule of a rules folder, in file and then file order."""

    rules: list[RuleSpec] = field(default_factory=list)
    options: Options = Options()
    files: list[Path] = field(default_factory=list)


def term_key(text: str) -> tuple[str, bool]:
    """The matching key of a term: its stems joined, or its exact words for "=word"."""
    exact = text.startswith("=")
    words = tokens(fold(text[1:] if exact else text))
    if exact:
        return EXACT_SEP.join(words), True
    return SEP.join(stems(words)), False


def evaluation_order(rules: list[RuleSpec]) -> list[RuleSpec]:
    """Rules ordered so that every rule comes after the rules its `when` names."""
    by_id = {r.id: r for r in rules}
    done: dict[str, bool] = {}
    order: list[RuleSpec] = []

    def visit(rule: RuleSpec) -> None:
        if done.get(rule.id) is not None:
            return
        done[rule.id] = False
        for ref in rule.when.matched + rule.when.not_matched:
            if ref in by_id and done.get(ref) is None:
                visit(by_id[ref])
        done[rule.id] = True
        order.append(rule)

    for rule in rules:
        visit(rule)
    return order


def dependency_cycles(rules: list[RuleSpec]) -> list[RuleSpec]:
    """Rules whose `when` names, directly or not, themselves."""
    by_id = {r.id: r for r in rules}
    in_cycle = []
    for rule in rules:
        seen: set[str] = set()
        stack = list(rule.when.matched + rule.when.not_matched)
        while stack:
            ref = stack.pop()
            if ref == rule.id:
                in_cycle.append(rule)
                break
            if ref in seen or ref not in by_id:
                continue
            seen.add(ref)
            stack.extend(by_id[ref].when.matched + by_id[ref].when.not_matched)
    return in_cycle
