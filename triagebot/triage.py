"""A keyword router: rules/*.yaml compiled once into one regular expression per department.

Rule files (see rules/README.md) are small YAML maps. A department file names its
``department`` and ``keywords``; ``priority`` maps P1/P3 to terms that raise or lower urgency;
``spam`` lists terms that mark noise. Terms match case-insensitively on whole words, with
simple English endings (parcel, parcels; refund, refunded, refunding).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from triagebot.errors import ConfigError
from triagebot.models import FALLBACK_DEPARTMENT, Mention, Priority, Routing

_MAX_CC = 2
_ENDINGS = r"(?:s|es|ed|d|ing)?"


def normalise(text: str) -> str:
    """Unicode-normalised, case-folded text for matching."""
    return unicodedata.normalize("NFKC", text).casefold()


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({normalise(t).strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives}){_ENDINGS}(?!\w)")


@dataclass
class _DepartmentRule:
    department: str
    source: str
    pattern: re.Pattern[str]


@dataclass
class Router:
    """Routes mentions with compiled rules; build it with ``Router.load``."""

    departments: list[_DepartmentRule] = field(default_factory=list)
    priority: dict[Priority, re.Pattern[str]] = field(default_factory=dict)
    spam: re.Pattern[str] | None = None
    default_priority: Priority = Priority.P2

    @classmethod
    def load(
        cls, rules_dir: Path, known_departments: Iterable[str], default_priority: Priority = Priority.P2
    ) -> Router:
        known = set(known_departments)
        router = cls(default_priority=default_priority)
        if not rules_dir.is_dir():
            raise ConfigError(f"{rules_dir}: rules folder not found (set TRIAGEBOT_RULES)")
        priority_terms: dict[Priority, list[str]] = {}
        spam_terms: list[str] = []
        for path in sorted(rules_dir.glob("*.y*ml")):
            data = _read_yaml(path)
            router._add_department(path, data, known)
            for level, terms in _mapping(path, data, "priority").items():
                try:
                    prio = Priority(str(level))
                except ValueError:
                    raise ConfigError(f"{path}: priority.{level}: must be P1, P2 or P3") from None
                priority_terms.setdefault(prio, []).extend(_terms(path, f"priority.{level}", terms))
            spam_terms.extend(_terms(path, "spam", data.get("spam", [])))
        for prio, terms in priority_terms.items():
            if (compiled := _pattern(terms)) is not None:
                router.priority[prio] = compiled
        router.spam = _pattern(spam_terms)
        return router

    def _add_department(self, path: Path, data: Mapping[str, Any], known: set[str]) -> None:
        if "department" not in data:
            return
        department = str(data["department"])
        if department not in known:
            raise ConfigError(
                f"{path}: department: unknown department {department!r} "
                f"(known: {', '.join(sorted(known))})"
            )
        pattern = _pattern(_terms(path, "keywords", data.get("keywords", [])))
        if pattern is None:
            raise ConfigError(f"{path}: keywords: a department rule needs at least one keyword")
        self.departments.append(_DepartmentRule(department, path.name, pattern))

    def route(self, mention: Mention) -> Routing:
        text = normalise(mention.text)
        matched: list[str] = []
        if self.spam is not None and (hit := self.spam.search(text)):
            return Routing(FALLBACK_DEPARTMENT, Priority.P3, spam=True, rules=(f"spam:{hit.group(0)}",))
        scores: dict[str, int] = {}
        for rule in self.departments:
            hits = [m.group(0) for m in rule.pattern.finditer(text)]
            if hits:
                scores[rule.department] = scores.get(rule.department, 0) + len(hits)
                matched.append(f"{rule.source}:{', '.join(dict.fromkeys(hits))}")
        ranked = sorted(scores, key=lambda d: -scores[d])
        department = ranked[0] if ranked else FALLBACK_DEPARTMENT
        priority = self.default_priority
        for level in (Priority.P1, Priority.P3):
            pattern = self.priority.get(level)
            if pattern is not None and (hit := pattern.search(text)):
                priority = level
                matched.append(f"priority {level}:{hit.group(0)}")
                break
        return Routing(department, priority, cc=tuple(ranked[1 : 1 + _MAX_CC]), rules=tuple(matched))


def _read_yaml(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a rules file must be a mapping of fields")
    return data


def _mapping(path: Path, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: must be a mapping like {{P1: [lawsuit]}}")
    return value


def _terms(path: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
        raise ConfigError(f"{path}: {key}: must be a list of words or phrases")
    return [str(t) for t in value]
