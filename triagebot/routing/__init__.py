"""Which department owns a post, how urgent it is, and whether it is spam.

The rules language (``rules``: spec, YAML reading with line numbers, parsing, ``rules check``,
hot reload; expressions on RE2), text normalisation shared by rules and posts, the Aho-Corasick
matcher, and the ``Router``: spam and department rules are overrides, every other post goes to
the department model (``model``: multilingual embeddings and a linear head) when the confidence
gate (``gate``) lets it, else it waits in triage with the model's suggestions. Labels from the
team's corrections (``feedback``) retrain the model (``learning``); the backtest replays rule
edits against stored cases.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triagebot.routing.router import Router

__all__ = ["Router"]


def __getattr__(name: str) -> Any:
    """``Router``, imported on first use: a module of the package (``feedback``) can be
    imported without loading the rules stack."""
    if name != "Router":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return import_module(f"{__name__}.router").Router
