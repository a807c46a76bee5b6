"""YAML for rule files, with the line of every value kept for error messages.

``load_yaml`` composes the document with PyYAML's safe loader and converts the node tree
itself: mappings become ``LineDict`` (``line`` of the mapping, ``lines[key]`` of each value),
sequences become ``LineList`` (``line``, ``lines[i]``), scalars plain Python values. Syntax
errors, duplicate keys, aliases and nesting deeper than ``MAX_DEPTH`` raise ``RuleFileError``
with the 1-based line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class RuleFileError(Exception):
    """A problem at one line of one rules file."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(self.where + ": " + message)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each value."""

    line: int = 0
    lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that remembers the line of itself and of each item."""

    line: int = 0
    lines: list[int]


_SCALARS = yaml.SafeLoader("")
#: Deeper than any rule needs; a limit, so that a hostile file ends in a message.
MAX_DEPTH = 32


class _AliasFound(Exception):
    """A node was reached twice: the document uses an alias (``*name``)."""


class _Converter:
    """Node tree to LineDict/LineList/scalars, each node visited once, at most MAX_DEPTH deep.

    Aliases are refused: the composed tree shares one node between an anchor and its aliases,
    so ten nested aliases of ten items each would expand to ten billion values (a "billion
    laughs" file); rule files never need them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[int] = set()

    def convert(self, node: yaml.Node, depth: int = 0) -> Any:
        if id(node) in self.seen:
            raise _AliasFound
        self.seen.add(id(node))
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH and isinstance(node, yaml.CollectionNode):
            raise RuleFileError(self.path, line, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, line, depth)
        if isinstance(node, yaml.SequenceNode):
            items = LineList(self.convert(item, depth + 1) for item in node.value)
            items.line, items.lines = line, [item.start_mark.line + 1 for item in node.value]
            return items
        return _SCALARS.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, line: int, depth: int) -> LineDict:
        mapping = LineDict()
        mapping.line, mapping.lines = line, {}
        for key_node, value_node in node.value:
            key = self.convert(key_node, depth + 1)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool) or key is None:
                raise RuleFileError(self.path, key_line, "keys must be plain words")
            key = str(key)
            if key in mapping:
                raise RuleFileError(self.path, key_line, f"{key}: listed twice")
            mapping[key] = self.convert(value_node, depth + 1)
            mapping.lines[key] = value_node.start_mark.line + 1
        return mapping


def _alias_line(text: str) -> int | None:
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return int(event.start_mark.line) + 1
    return None


#: libyaml's parser when PyYAML was built with it (several times faster), else pure Python.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """The document of ``path`` with line numbers; raises RuleFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RuleFileError(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise RuleFileError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleFileError(path, line, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(path, None, f"invalid YAML: {exc}") from None
    if node is None:
        return None
    try:
        return _Converter(path).convert(node)
    except _AliasFound:
        message = "YAML aliases (*name) are not allowed in rule files: write the value out"
        raise RuleFileError(path, _alias_line(text), message) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleFileError(path, line, f"invalid YAML: {exc.problem}") from None
