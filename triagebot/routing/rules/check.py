"""``triagebot rules check``: every problem of a rules folder, each as file:line.

Beyond what loading refuses (YAML errors, unknown departments or fields, invalid regular
expressions, unknown rule names, circular conditions) it finds terms claimed by two
departments with the same weight (the winner would depend on word order) and rules that
can never fire: every term cancelled by the rule's own ``unless``, conditions that exclude
each other, unknown sources or malformed language codes, or a rule that needs one that
never fires; and a classifier examples file that cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from triagebot.config.settings import SOURCE_TYPES
from triagebot.routing.rules.loading import RuleFileError
from triagebot.routing.rules.parse import parse_rules
from triagebot.routing.rules.spec import SEP, RuleSet, RuleSpec, Term
from triagebot.routing.suggest import Classifier

_LANG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")


def check_rules(
    rules_dir: Path, known_departments: Iterable[str], known_sources: Iterable[str] = ()
) -> list[RuleFileError]:
    """All problems, in file and line order; an empty list means the rules are fine."""
    known = list(known_departments)
    ruleset, problems = parse_rules(rules_dir, known)
    if ruleset.options.classifier:
        try:
            Classifier.from_file(rules_dir / ruleset.options.classifier, known)
        except RuleFileError as exc:
            problems.append(exc)
    problems += ambiguous_terms(ruleset)
    problems += dead_rules(ruleset, set(known_sources) | set(SOURCE_TYPES))
    return sorted(problems, key=lambda p: (str(p.path), p.line or 0, p.message))


def ambiguous_terms(ruleset: RuleSet) -> list[RuleFileError]:
    """A term in rules of two departments with the same weight."""
    first: dict[tuple[str, float], tuple[RuleSpec, Term]] = {}
    problems = []
    for rule in ruleset.rules:
        if rule.department is None or rule.spam:
            continue
        for term in rule.terms:
            key = (("=" if term.exact else "") + term.key, rule.weight)
            seen = first.setdefault(key, (rule, term))
            other, other_term = seen
            if other.department != rule.department:
                problems.append(
                    RuleFileError(
                        rule.path,
                        term.line,
                        f"{rule.id}: term {term.text!r} is also claimed by {other.department} "
                        f"({other.id}, {other.path.name}:{other_term.line}) with the same weight "
                        f"{rule.weight:g}; give one a higher weight or drop it",
                    )
                )
    return problems


def _covers(blocker: str, key: str) -> bool:
    """True if every post that contains ``key`` also contains ``blocker`` (word sequences)."""
    return f"{SEP}{blocker}{SEP}" in f"{SEP}{key}{SEP}"


def _all_cancelled(terms: tuple[Term, ...], unless: tuple[Term, ...]) -> bool:
    return bool(terms) and all(
        any(_covers(u.key, t.key) and u.exact == t.exact for u in unless) for t in terms
    )


def _own_reason(rule: RuleSpec, sources: set[str]) -> str | None:
    """Why the rule can never fire on its own, or None."""
    when = rule.when
    if _all_cancelled(rule.terms, rule.unless) and not rule.regexes:
        return "every term is cancelled by its own `unless`"
    if _all_cancelled(rule.with_terms, rule.unless):
        return "every `with` term is cancelled by its own `unless`"
    if set(when.matched) & set(when.not_matched):
        return "when: the same rule is both in `matched` and `not_matched`"
    if rule.id in when.matched:
        return "when.matched: a rule cannot need itself"
    if when.sources is not None and not when.sources & sources:
        return f"when.source: no configured source or source type is {sorted(when.sources)}"
    if when.langs is not None and not any(_LANG.match(code) for code in when.langs):
        return f"when.lang: {sorted(when.langs)} are not language codes (like en, es, pt-br)"
    low, high = when.min_followers, when.max_followers
    if (high is not None and high <= 0) or (low is not None and high is not None and low >= high):
        return "when.followers: no follower count is in that range"
    return None


def dead_rules(ruleset: RuleSet, sources: set[str]) -> list[RuleFileError]:
    """Rules that can never fire, directly or because a rule they need never fires."""
    reasons = {r.id: why for r in ruleset.rules if (why := _own_reason(r, sources)) is not None}
    changed = True
    while changed:
        changed = False
        for rule in ruleset.rules:
            if rule.id in reasons:
                continue
            needed = next((ref for ref in rule.when.matched if ref in reasons), None)
            if needed is not None:
                reasons[rule.id] = f"when.matched: {needed} can never fire"
                changed = True
    return [
        RuleFileError(rule.path, rule.line, f"{rule.id}: can never fire: {reasons[rule.id]}")
        for rule in ruleset.rules
        if rule.id in reasons
    ]
