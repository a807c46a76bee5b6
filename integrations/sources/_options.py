"""The keys of a ``[[sources]]`` block beyond the common ones: one pydantic model per source type.

``SourceConfig`` (the core) reads the keys every source has (``name``, ``type``, ``base_url``,
``query``, ``interval``, ``enabled``, ``backfill``) and keeps the rest for the adapter. Each
adapter names a subclass of ``SourceOptions`` as its ``options_model`` and declares there every
extra key it reads, with its type and default; an undeclared key (``intervall``, ``subredit``)
is a ``ConfigError`` naming the source and the key, with the nearest known key as a hint.

Example (a new adapter)::

    class ForumOptions(SourceOptions):
        api_key_env: Text | None = None
        category: Text | None = None

    class ForumSource(BaseSource):
        kind = "forum"
        options_model = ForumOptions
        options: ForumOptions
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from triagebot.cases.caps import MAX_TEXT
from triagebot.config.settings import SourceConfig
from triagebot.errors import ConfigError

#: A whole number above zero, written as a number (``"5"`` and ``true`` are refused).
Positive = Annotated[StrictInt, Field(gt=0)]
#: Text that is not empty.
Text = Annotated[StrictStr, Field(min_length=1)]


class SourceOptions(BaseModel):
    """Extra keys every source type accepts; adapters subclass it to declare their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_size: Positive | None = None  # None: the adapter's default
    max_pages: Positive = 5
    overlap_seconds: Positive = 300
    #: Characters of a post's text that are kept (the rest is cut, marked with "…").
    max_text: Annotated[StrictInt, Field(ge=200, le=40_000)] = MAX_TEXT


def read_options(model: type[SourceOptions], config: SourceConfig, kind: str) -> SourceOptions:
    """The block's extra keys validated by ``model``; every problem named in a ConfigError."""
    extra = dict(config.model_extra or {})
    try:
        return model.model_validate(extra)
    except ValidationError as exc:
        known = sorted(set(SourceConfig.model_fields) | set(model.model_fields))
        problems = [
            f"sources ({config.name}).{_key(error['loc'])}: {_problem(error, kind, known)}"
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError(problems) from None


def _key(loc: Iterable[Any]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc]
    return "".join(parts).lstrip(".")


def _problem(error: Mapping[str, Any], kind: str, known: list[str]) -> str:
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][0])
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        return f"unknown key for type {kind!r}{hint} (known keys: {', '.join(known)})"
    if error["type"] == "int_type":
        return "must be a whole number"
    if error["type"] == "string_type":
        return "must be text (in quotes)"
    return str(error["msg"]).removeprefix("Value error, ")
