"""Control characters in the fields that name a mention (id, source, kind, URL): refused.

These fields are copied as they are into CSV exports, logs, chat links and the board. A carriage
return there splits a CSV record (the next "row" can start with ``=cmd|…``), a line separator
forges a log line, a bidi override makes one link read as another. Post text and author names
are tidied instead (``caps``); a mention whose naming fields hold such characters is refused at
ingest: the JSON-lines reader stops at its line, the pipeline drops it from any source.
"""

from __future__ import annotations

import re

from triagebot.cases.records import Mention

#: C0 and C1 controls, DEL, zero-width and direction marks, line and paragraph separators, BOM.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
NAMING_FIELDS = ("id", "source", "kind", "url")


def has_control_character(value: str) -> bool:
    return _CONTROL.search(value) is not None


def control_character_field(mention: Mention) -> str | None:
    """The first naming field of ``mention`` that holds a control character, or None."""
    for name in NAMING_FIELDS:
        if has_control_character(getattr(mention, name)):
            return name
    return None
