"""Rule files (rules/*.yaml) read into ``RuleSpec`` records, every problem with file:line.

``parse_rules`` never stops at the first problem: it returns the rules it could read and a
list of ``RuleFileError`` so that ``triagebot rules check`` can show all of them at once;
``Router.load`` refuses any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.routing.linear_regex import RegexRefused, compile_rule_regex
from triagebot.routing.rules.loading import LineDict, LineList, RuleFileError, load_yaml
from triagebot.routing.rules.spec import (
    FILE_KEYS,
    OPTION_KEYS,
    RULE_KEYS,
    WHEN_KEYS,
    Conditions,
    Options,
    Pattern,
    RuleSet,
    RuleSpec,
    Term,
    dependency_cycles,
    term_key,
)

_NUMBER_OPTIONS = frozenset(
    {"cc_share", "cc_min", "spam_threshold", "classifier_routes_at", "classifier_decides_below"}
)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FOLLOWERS = re.compile(r"^\s*(>=|>|<=|<)?\s*(\d[\d_,]*)\s*$")


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(p for p in rules_dir.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


class _FileReader:
    """Reads one file's rules; problems are collected, not raised."""

    def __init__(self, path: Path, known: set[str], problems: list[RuleFileError]) -> None:
        self.path = path
        self.known = known
        self.problems = problems

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(RuleFileError(self.path, line, message))

    def read(self, data: Any) -> tuple[list[RuleSpec], LineDict | None]:
        if data is None:
            return [], None
        if not isinstance(data, LineDict):
            self.problem(1, "a rules file must be a mapping with `rules:` (see rules/README.md)")
            return [], None
        for key in data:
            if key not in FILE_KEYS:
                self.problem(
                    data.lines[key], f"{key}: unknown field (known: {', '.join(sorted(FILE_KEYS))})"
                )
        default_dept = self.department(data, "department") if "department" in data else None
        raw_rules = data.get("rules")
        if raw_rules is None:
            raw_rules = LineList()
            raw_rules.lines = []
        if not isinstance(raw_rules, LineList):
            self.problem(data.lines.get("rules"), "rules: must be a list of rules")
            return [], data.get("options")
        rules = []
        for item, line in zip(raw_rules, raw_rules.lines, strict=True):
            rule = self.rule(item, line, default_dept)
            if rule is not None:
                rules.append(rule)
        options = data.get("options")
        if options is not None and not isinstance(options, LineDict):
            self.problem(data.lines["options"], "options: must be a mapping")
            return rules, None
        return rules, options

    def department(self, data: LineDict, key: str) -> str | None:
        value = data[key]
        if not isinstance(value, str) or value not in self.known:
            known = ", ".join(sorted(self.known))
            self.problem(data.lines[key], f"{key}: unknown department {value!r} (known: {known})")
            return None
        return value

    def rule(self, item: Any, line: int, default_dept: str | None) -> RuleSpec | None:
        if not isinstance(item, LineDict):
            self.problem(line, "each rule must be a mapping with a name")
            return None
        before = len(self.problems)
        for key in item:
            if key not in RULE_KEYS:
                self.problem(
                    item.lines[key],
                    f"{key}: unknown rule field (known: {', '.join(sorted(RULE_KEYS))})",
                )
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            self.problem(
                item.lines.get("name", line),
                "name: each rule needs a name (letters, digits, _ or -)",
            )
            return None
        spec = RuleSpec(
            id=f"{self.path.stem}.{name}",
            path=self.path,
            line=line,
            department=self.department(item, "department")
            if "department" in item
            else default_dept,
            priority=self.priority(item),
            spam=self.flag(item, "spam"),
            weight=self.weight(item),
            terms=self.terms(item, "terms"),
            with_terms=self.terms(item, "with"),
            regexes=self.patterns(item, "regex"),
            unless=self.terms(item, "unless"),
            unless_regexes=self.patterns(item, "unless_regex"),
            when=self.conditions(item),
        )
        if len(self.problems) > before:
            return None
        self.check_shape(spec, item)
        return spec if len(self.problems) == before else None

    def check_shape(self, spec: RuleSpec, item: LineDict) -> None:
        no_outcome = spec.department is None and spec.priority is None and not spec.spam
        if no_outcome and "department" not in item:
            self.problem(spec.line, f"{spec.id}: needs a department, a priority or spam: true")
        if spec.spam and spec.department is not None:
            self.problem(spec.line, f"{spec.id}: a spam rule cannot also route to a department")
        if spec.with_terms and not spec.has_matchers:
            self.problem(item.lines["with"], f"{spec.id}: with: needs terms or regex to go with")
        when = spec.when
        conditional = (
            when.sources is not None
            or when.langs is not None
            or when.min_followers is not None
            or when.max_followers is not None
            or when.matched
        )
        if not spec.has_matchers and not conditional:
            self.problem(
                spec.line,
                f"{spec.id}: needs terms, regex or a `when` condition (it would match every post)",
            )

    def flag(self, item: LineDict, key: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            self.problem(item.lines[key], f"{key}: must be true or false")
            return False
        return value

    def priority(self, item: LineDict) -> Priority | None:
        if "priority" not in item:
            return None
        try:
            return Priority(str(item["priority"]).upper())
        except ValueError:
            self.problem(
                item.lines["priority"], f"priority: {item['priority']!r} must be P1, P2 or P3"
            )
            return None

    def weight(self, item: LineDict) -> float:
        value = item.get("weight", 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1000:
            self.problem(
                item.lines.get("weight"),
                f"weight: {value!r} must be a number above 0 (at most 1000)",
            )
            return 1.0
        return float(value)

    def strings(self, item: LineDict, key: str) -> list[tuple[str, int]]:
        value = item.get(key)
        if value is None:
            return []
        if isinstance(value, str | int) and not isinstance(value, bool):
            return [(str(value), item.lines[key])]
        if not isinstance(value, LineList) or not all(isinstance(v, str | int) for v in value):
            self.problem(item.lines[key], f"{key}: must be a list of words or phrases")
            return []
        return [(str(v), line) for v, line in zip(value, value.lines, strict=True)]

    def terms(self, item: LineDict, key: str) -> tuple[Term, ...]:
        found = []
        for text, line in self.strings(item, key):
            term, exact = term_key(text)
            if not term:
                self.problem(line, f"{key}: {text!r} has no letters, digits or emoji to match")
                continue
            found.append(Term(text, term, exact, line))
        return tuple(found)

    def patterns(self, item: LineDict, key: str) -> tuple[Pattern, ...]:
        found = []
        for text, line in self.strings(item, key):
            try:
                found.append(Pattern(text, compile_rule_regex(text), line))
            except RegexRefused as exc:
                self.problem(line, f"{key}: invalid regular expression {text!r}: {exc}")
        return tuple(found)

    def conditions(self, item: LineDict) -> Conditions:
        when = item.get("when")
        if when is None:
            return Conditions()
        if not isinstance(when, LineDict):
            self.problem(
                item.lines["when"],
                "when: must be a mapping (source, lang, followers, matched, not_matched)",
            )
            return Conditions()
        for key in when:
            if key not in WHEN_KEYS:
                self.problem(
                    when.lines[key],
                    f"when.{key}: unknown condition (known: {', '.join(sorted(WHEN_KEYS))})",
                )
        low, high = self.followers(when)
        sources = [s.lower() for s, _ in self.strings(when, "source")]
        langs = [s.lower() for s, _ in self.strings(when, "lang")]
        return Conditions(
            sources=frozenset(sources) if "source" in when else None,
            langs=frozenset(langs) if "lang" in when else None,
            min_followers=low,
            max_followers=high,
            matched=tuple(s for s, _ in self.strings(when, "matched")),
            not_matched=tuple(s for s, _ in self.strings(when, "not_matched")),
            line=when.line,
        )

    def followers(self, when: LineDict) -> tuple[int | None, int | None]:
        if "followers" not in when:
            return None, None
        value = when["followers"]
        match = _FOLLOWERS.match(str(value)) if not isinstance(value, bool) else None
        if match is None:
            self.problem(
                when.lines["followers"],
                f"when.followers: {value!r} must look like '>= 10000' or '< 500'",
            )
            return None, None
        op, number = match.group(1) or ">=", int(match.group(2).replace("_", "").replace(",", ""))
        return {
            ">=": (number, None),
            ">": (number + 1, None),
            "<": (None, number),
            "<=": (None, number + 1),
        }[op]


def _options(path: Path, data: LineDict, known: set[str], problems: list[RuleFileError]) -> Options:
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = data.lines[key]
        if key not in OPTION_KEYS:
            problems.append(
                RuleFileError(
                    path,
                    line,
                    f"options.{key}: unknown option (known: {', '.join(sorted(OPTION_KEYS))})",
                )
            )
        elif key == "fallback" and value not in known:
            problems.append(
                RuleFileError(path, line, f"options.fallback: unknown department {value!r}")
            )
        elif key == "classifier" and (not isinstance(value, str) or "/" in value or "\\" in value):
            problems.append(
                RuleFileError(path, line, "options.classifier: a file name in this folder")
            )
        elif key == "max_cc" and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            problems.append(
                RuleFileError(path, line, "options.max_cc: must be a whole number >= 0")
            )
        elif key in _NUMBER_OPTIONS and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            problems.append(RuleFileError(path, line, f"options.{key}: must be a number >= 0"))
        else:
            values[key] = float(value) if key in _NUMBER_OPTIONS else value
    return Options(**values)


def parse_rules(
    rules_dir: Path, known_departments: Iterable[str]
) -> tuple[RuleSet, list[RuleFileError]]:
    """Every rule under ``rules_dir`` and every problem found on the way."""
    known = set(known_departments) | {FALLBACK_DEPARTMENT}
    problems: list[RuleFileError] = []
    ruleset = RuleSet()
    if not rules_dir.is_dir():
        problems.append(
            RuleFileError(rules_dir, None, "rules folder not found (set TRIAGEBOT_RULES)")
        )
        return ruleset, problems
    options_from: Path | None = None
    for path in rule_files(rules_dir):
        ruleset.files.append(path)
        reader = _FileReader(path, known, problems)
        try:
            rules, options = reader.read(load_yaml(path))
        except RuleFileError as exc:
            problems.append(exc)
            continue
        ruleset.rules.extend(rules)
        if options is not None:
            if options_from is not None:
                problems.append(
                    RuleFileError(
                        path, options.line, f"options: already set in {options_from.name}"
                    )
                )
                continue
            options_from = path
            ruleset.options = _options(path, options, known, problems)
    _link(ruleset, problems)
    return ruleset, problems


def _link(ruleset: RuleSet, problems: list[RuleFileError]) -> None:
    """Unique ids; `matched` names existing rules (a short name means the same file); no cycles."""
    ids: set[str] = set()
    for rule in ruleset.rules:
        if rule.id in ids:
            problems.append(
                RuleFileError(rule.path, rule.line, f"{rule.id}: this rule name is used twice")
            )
        ids.add(rule.id)
    for index, rule in enumerate(ruleset.rules):
        refs = []
        for listed in (rule.when.matched, rule.when.not_matched):
            full = tuple(ref if "." in ref else f"{rule.path.stem}.{ref}" for ref in listed)
            for ref in full:
                if ref not in ids:
                    message = f"{rule.id}: when: no rule named {ref!r}"
                    problems.append(RuleFileError(rule.path, rule.when.line, message))
            refs.append(full)
        when = replace(rule.when, matched=refs[0], not_matched=refs[1])
        ruleset.rules[index] = replace(rule, when=when)
    for rule in dependency_cycles(ruleset.rules):
        message = f"{rule.id}: when: rules depend on each other in a circle"
        problems.append(RuleFileError(rule.path, rule.when.line, message))
