"""Rules compiled once into one Aho-Corasick automaton: one scan per post, whatever the rule count.

The scanned string is the post's folded text, then its stems joined by ``SEP``, then (only
when some term is written ``=exact``) its words joined by ``EXACT_SEP``. Every term is a
pattern ``SEP stem SEP stem SEP``, so it can only match whole words of the stem stream. A
regular expression is tried only when the post contains its longest literal (found by the
same automaton), so thousands of rules cost a single pass plus the few rules the post
touches. Rules are then checked in dependency order: ``unless`` terms, ``with`` terms and
``when`` conditions (source, language, followers, other rules).
"""

from __future__ import annotations

import importlib
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from triagebot.cases.caps import TEXT_CEILING
from triagebot.cases.records import Mention
from triagebot.routing.linear_regex import RuleRegex
from triagebot.routing.rules.spec import (
    EXACT_SEP,
    SEP,
    Conditions,
    RuleSpec,
    Term,
    evaluation_order,
)
from triagebot.routing.textnorm import fold, stems, tokens

_sre: Any = importlib.import_module("re._parser")
POSITIVE, WITH, UNLESS, LITERAL = 0, 1, 2, 3
MIN_LITERAL = 3


def _literal(chars: list[int]) -> str | None:
    text = "".join(map(chr, chars))
    folded = fold(text)
    return folded if len(folded) >= MIN_LITERAL and folded == text.casefold() else None


def _leading(items: list[tuple[Any, Any]]) -> list[int]:
    run = []
    for op, arg in items:
        if op != _sre.LITERAL:
            break
        run.append(arg)
    return run


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Literals of which every match contains at least one (3+ characters each), if known.

    The longest run of plain characters at the top level, else the alternatives of the
    first top-level group whose every branch starts with such a run. Read with Python's
    parser; an expression it cannot read (RE2-only syntax) is tried on every post.
    """
    try:
        items = list(_sre.parse(pattern, re.IGNORECASE))
    except (re.error, RecursionError, OverflowError):
        return None
    best: list[int] = []
    run: list[int] = []
    for op, arg in [*items, (None, None)]:
        if op == _sre.LITERAL:
            run.append(arg)
            continue
        best, run = (run if len(run) > len(best) else best), []
    if (literal := _literal(best)) is not None:
        return (literal,)
    for item in items:
        op, arg = item[1][3][0] if item[0] == _sre.SUBPATTERN and len(item[1][3]) == 1 else item
        if op == _sre.BRANCH:
            found = [_literal(_leading(list(alt))) for alt in arg[1]]
            if all(found):
                return tuple(f for f in found if f)
    return None


@dataclass
class Scan:
    """What one post touched: per rule, the terms and regex hits found, and where."""

    found: dict[int, list[str]] = field(default_factory=dict)
    first_at: dict[int, float] = field(default_factory=dict)
    stems: list[str] = field(default_factory=list)
    with_ok: set[int] = field(default_factory=set)
    blocked: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """The rules that fired for a post, with the words that made them fire."""

    fired: list[RuleSpec]
    words: dict[str, list[str]]
    first_at: dict[str, float]
    blocked: dict[str, str]
    stems: list[str] = field(default_factory=list)  # the post's stems, for the classifier


class CompiledRules:
    """The automaton and the per-rule tables; immutable once built."""

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules = evaluation_order(list(rules))
        index = {rule.id: i for i, rule in enumerate(self.rules)}
        self.requires = [
            tuple(index[r] for r in rule.when.matched if r in index) for rule in self.rules
        ]
        self.forbids = [
            tuple(index[r] for r in rule.when.not_matched if r in index) for rule in self.rules
        ]
        self.always = frozenset(i for i, rule in enumerate(self.rules) if not rule.has_matchers)
        self.plain = [not rule.with_terms and _unconditional(rule.when) for rule in self.rules]
        self.regexes: list[tuple[int, int, RuleRegex]] = []
        self.unfiltered: list[int] = []  # regexes without a literal: tried on every post
        self.has_exact = False
        table: dict[str, list[tuple[int, int, int]]] = {}
        for i, rule in enumerate(self.rules):
            self._add_terms(table, i, POSITIVE, rule.terms)
            self._add_terms(table, i, WITH, rule.with_terms)
            self._add_terms(table, i, UNLESS, rule.unless)
            for role, patterns in ((POSITIVE, rule.regexes), (UNLESS, rule.unless_regexes)):
                for pattern in patterns:
                    self._add_regex(table, i, role, pattern.regex)
        self.automaton: Any = ahocorasick.Automaton()
        for key, entries in table.items():
            self.automaton.add_word(key, tuple(entries))
        if table:
            self.automaton.make_automaton()
        self.size = len(table)

    def _add_terms(
        self,
        table: dict[str, list[tuple[int, int, int]]],
        i: int,
        role: int,
        terms: tuple[Term, ...],
    ) -> None:
        for n, term in enumerate(terms):
            sep = EXACT_SEP if term.exact else SEP
            self.has_exact = self.has_exact or term.exact
            table.setdefault(f"{sep}{term.key}{sep}", []).append((i, role, n))

    def _add_regex(
        self,
        table: dict[str, list[tuple[int, int, int]]],
        i: int,
        role: int,
        regex: RuleRegex,
    ) -> None:
        number = len(self.regexes)
        self.regexes.append((i, role, regex))
        literals = required_literals(regex.pattern)
        if literals is None:
            self.unfiltered.append(number)
        for literal in literals or ():
            table.setdefault(literal, []).append((i, LITERAL, number))

    # --- scanning -----------------------------------------------------------------------

    def scan(self, folded: str, words: list[str], *, explain: bool = False) -> Scan:
        scan = Scan(stems=stems(words))
        stemmed = SEP + SEP.join(scan.stems) + SEP
        haystack = folded + stemmed
        start, width = len(folded), max(len(stemmed), 1)
        exact_start, exact_width = len(haystack), 1
        if self.has_exact:
            exact = EXACT_SEP + EXACT_SEP.join(words) + EXACT_SEP
            haystack += exact
            exact_width = len(exact)
        first_at, found = scan.first_at, scan.found
        seps = [n for n, ch in enumerate(haystack) if ch == SEP] if explain else []
        regex_todo: list[int] = list(self.unfiltered)
        for end, entries in self.automaton.iter(haystack) if self.size else ():
            for rule_i, role, item in entries:
                if role == POSITIVE:
                    if rule_i not in first_at:
                        first_at[rule_i] = (
                            (end - start) / width
                            if end < exact_start
                            else (end - exact_start) / exact_width
                        )
                    if explain:
                        term = self.rules[rule_i].terms[item]
                        found.setdefault(rule_i, []).append(_words_at(term, end, seps, words))
                elif role == LITERAL:
                    regex_todo.append(item)
                elif role == WITH:
                    scan.with_ok.add(rule_i)
                else:
                    scan.blocked.setdefault(rule_i, self.rules[rule_i].unless[item].text)
        for number in dict.fromkeys(regex_todo):
            rule_i, role, regex = self.regexes[number]
            hit = regex.search(folded)
            if hit is None:
                continue
            if role == POSITIVE:
                at = hit.start / max(len(folded), 1)
                first_at[rule_i] = min(at, first_at.get(rule_i, 2.0))
                found.setdefault(rule_i, []).append(hit.text)
            else:
                scan.blocked.setdefault(rule_i, hit.text)
        return scan

    # --- deciding -----------------------------------------------------------------------

    def match(self, mention: Mention, *, explain: bool = False) -> Match:
        folded = fold(mention.text[:TEXT_CEILING])  # routing time is bounded, whatever the caller
        scan = self.scan(folded, tokens(folded), explain=explain)
        rules, plain, blocked_by = self.rules, self.plain, scan.blocked
        fired_i: set[int] = set()
        fired: list[RuleSpec] = []
        first: dict[str, float] = {}
        blocked: dict[str, str] = {}
        for rule_i in sorted(scan.first_at.keys() | self.always):
            rule = rules[rule_i]
            if plain[rule_i] and rule_i not in blocked_by:
                reason = None
            else:
                reason = self._refusal(rule_i, rule, scan, mention, fired_i)
            if reason is None:
                fired_i.add(rule_i)
                fired.append(rule)
                first[rule.id] = scan.first_at.get(rule_i, 1.0)
            elif explain and (rule_i in scan.first_at or rule_i in blocked_by):
                blocked[rule.id] = reason
        words = {}
        if explain:
            words = {rules[i].id: list(dict.fromkeys(scan.found.get(i, ()))) for i in fired_i}
        return Match(fired, words, first, blocked, scan.stems)

    def _refusal(
        self, rule_i: int, rule: RuleSpec, scan: Scan, mention: Mention, fired: set[int]
    ) -> str | None:
        """None if the rule fires, else why not (for --explain)."""
        if rule_i in scan.blocked:
            return f"unless {scan.blocked[rule_i]!r}"
        if rule.with_terms and rule_i not in scan.with_ok:
            return "none of its `with` terms"
        if not conditions_hold(rule.when, mention):
            return "its `when` conditions"
        if not all(r in fired for r in self.requires[rule_i]):
            return "when.matched: " + ", ".join(rule.when.matched)
        if any(r in fired for r in self.forbids[rule_i]):
            return "when.not_matched: " + ", ".join(rule.when.not_matched)
        return None


def _unconditional(when: Conditions) -> bool:
    return (
        when.sources is None
        and when.langs is None
        and when.min_followers is None
        and when.max_followers is None
        and not when.matched
        and not when.not_matched
    )


def _words_at(term: Term, end: int, seps: list[int], words: list[str]) -> str:
    """The post's own words for a term hit ending at ``end`` (for --explain)."""
    if term.exact:
        return term.text.removeprefix("=")
    last = bisect_left(seps, end) - 1  # separators before the closing one, minus the leading one
    count = term.key.count(SEP) + 1
    return " ".join(words[max(last - count + 1, 0) : last + 1])


def conditions_hold(when: Conditions, mention: Mention) -> bool:
    """Source, language and follower conditions (rule conditions are checked by the caller)."""
    if (
        when.sources is not None
        and not {mention.source.lower(), mention.kind.lower()} & when.sources
    ):
        return False
    if when.langs is not None:
        lang = (mention.lang or "").lower()
        if lang not in when.langs and lang.split("-")[0] not in when.langs:
            return False
    if when.min_followers is not None or when.max_followers is not None:
        followers = mention.author.followers
        if followers is None:
            return False
        if when.min_followers is not None and followers < when.min_followers:
            return False
        if when.max_followers is not None and followers >= when.max_followers:
            return False
    return True
