"""YAML for rule files, with the line of every value kept for error messages.

``load_yaml`` composes the document with PyYAML's safe loader and converts the node tree
itself: mappings become ``LineDict`` (``line`` of the mapping, ``lines[key]`` of each value),
sequences become ``LineList`` (``line``, ``lines[i]``), scalars plain Python values. Syntax
errors and duplicate keys raise ``RuleFileError`` with the 1-based line.
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


def _convert(path: Path, node: yaml.Node) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping = LineDict()
        mapping.line, mapping.lines = line, {}
        for key_node, value_node in node.value:
            key = _convert(path, key_node)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise RuleFileError(path, key_node.start_mark.line + 1, "keys must be plain words")
            key = str(key)
            if key in mapping:
                raise RuleFileError(path, key_node.start_mark.line + 1, f"{key}: listed twice")
            mapping[key] = _convert(path, value_node)
            mapping.lines[key] = value_node.start_mark.line + 1
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = LineList(_convert(path, item) for item in node.value)
        items.line, items.lines = line, [item.start_mark.line + 1 for item in node.value]
        return items
    return _SCALARS.construct_object(node, deep=True)


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
        return _convert(path, node)
    except RecursionError:
        raise RuleFileError(path, None, "invalid YAML: an alias refers to itself") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleFileError(path, line, f"invalid YAML: {exc.problem}") from None
