"""Active case documents kept as their compressed JSON, with the few fields read without
decoding.

The root holds every active case. Parsed, a case document is ~7 kB of Python objects for
~1.6 kB of JSON: 50,000 active cases took ~350 MB, and parsing them ~1.4 s at each cold open.
``Packed`` keeps the document's JSON compressed (``_squeeze``: ~400 bytes) and a head (the
case's ``SlaFacts``, version, mention id and cross-post keys) that the indexes, the SLA summary
and the filters of ``list_cases`` read; the document is expanded and decoded when a case is
read or changed (~7 µs, then ~3 µs for its JSON).

The snapshot stores, after its first line, one line of every case's head, then each case's
compressed document followed by a newline (format 4; format 3 wrote the plain JSON there), so
a cold open parses the heads in one call and reads each document, by its size, into bytes of
its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from triagebot.cases.facts import CrossPostKeys, SlaFacts, sla_facts_of_doc
from triagebot.cases.records import JSON
from triagebot.errors import StoreError
from triagebot.store._atomic import Encoded, dump_json, parse_json
from triagebot.store._index import keys_of_doc, stored_keys, with_keys
from triagebot.store._squeeze import expand_doc, squeeze, unsqueeze


class Stream(Protocol):
    """What reading a snapshot needs of a buffered binary file."""

    def readline(self, size: int | None = -1, /) -> bytes: ...

    def read(self, size: int | None = -1, /) -> bytes: ...

    def peek(self, size: int = 0, /) -> bytes: ...


#: Head: slot, SLA facts (as a list), version, mention id, canonical links, author key.
_HEAD_SIZE = 6
_FACTS_SIZE = len(SlaFacts._fields)
#: Positions in the head's facts, for the filters that read a few of them for every case.
ID, STATE, DEPARTMENT, PRIORITY, INGESTED = (
    SlaFacts._fields.index(name)
    for name in ("id", "state", "department", "priority", "ingested_us")
)
#: Bytes of documents read from the snapshot at a time.
_BLOCK = 1 << 20
_SHARED = tuple(SlaFacts._fields.index(n) for n in ("state", "department", "priority", "source"))


@dataclass(slots=True)
class Packed(Encoded):
    """One active case document as compressed JSON (``data``; ``raw`` is its JSON, keys
    included) and its head (a list as the snapshot line has it, so that reading a line builds
    nothing more). Never changed once made (not frozen: a frozen dataclass's constructor
    costs three times as much, at every cold open once per active case)."""

    data: bytes
    head: list[Any]

    @property
    def raw(self) -> bytes:
        try:
            return unsqueeze(self.data)
        except ValueError as exc:
            raise StoreError(f"case {self.id!r}: {exc}") from None

    @property
    def id(self) -> str:
        return str(self.head[1][0])

    @property
    def facts(self) -> SlaFacts:
        return SlaFacts(*self.head[1])

    @property
    def version(self) -> int:
        return int(self.head[2])

    @property
    def mention_id(self) -> str:
        return str(self.head[3])

    @property
    def keys(self) -> CrossPostKeys:
        return CrossPostKeys(frozenset(self.head[4]), self.head[5])

    def doc(self, path: Path) -> JSON:
        """The document, decoded afresh (the caller's own copy)."""
        return expand_doc(self.data, path, f"case {self.id!r}")


def pack(slot: str, doc: JSON) -> Packed:
    """``doc``, the active case document in ``slot``, packed (its cross-post keys are put in
    the document first)."""
    keys = stored_keys(doc) or keys_of_doc(doc)
    with_keys(doc, keys)
    facts = list(sla_facts_of_doc(doc))
    for at in _SHARED:  # a few values repeated by every case: one string each
        value = facts[at]
        if isinstance(value, str):
            facts[at] = sys.intern(value)
    head = [slot, facts, int(doc["version"]), doc["mention"]["id"], sorted(keys.urls), keys.author]
    # Compressed into bytes of exactly their size (orjson's output keeps the buffer it grew:
    # 16 kB for a 2 kB document), as a packed document lives as long as its case is active.
    return Packed(squeeze(dump_json(doc)), head)


def encode_cases(cases: Iterable[Packed]) -> bytes:
    """The snapshot's part after its first line: a line of every case's head (each with the
    size of its document appended), then each document on a line of its own, in that order."""
    packed = list(cases)
    heads = dump_json([[*p.head, len(p.data)] for p in packed])
    return b"\n".join([heads, *(p.data for p in packed), b""])


def read_cases(stream: Stream, path: Path, *, plain: bool = False) -> dict[str, Packed]:
    """The cases ``encode_cases`` wrote, read from ``stream`` (at its start), by slot;
    ``StoreError`` naming ``path`` if they are malformed (a document itself is checked when it
    is decoded). The documents are read a block (``_BLOCK``) at a time and each is sliced into
    bytes of its own: no copy of the whole file is held beside them. ``plain``: the documents
    are plain JSON (format 3), compressed here."""
    line = stream.readline()
    if not line.endswith(b"\n"):
        raise StoreError(f"{path}: the active cases are malformed (their heads are cut short)")
    heads = parse_json(line, path)
    if type(heads) is not list:
        raise StoreError(f"{path}: the active cases are malformed (no list of heads)")
    cases: dict[str, Packed] = {}
    read = stream.read
    block, at = b"", 0
    try:
        for head in heads:
            size = head.pop()
            end = at + size
            if end >= len(block):  # the document and its newline are not all in this block
                block = block[at:] + read(max(_BLOCK, size + 1))
                at, end = 0, size
            raw = block[at:end]
            if (
                len(raw) != size
                or block[end] != 10  # b"\n"
                or len(head) != _HEAD_SIZE
                or type(head[0]) is not str
                or len(head[1]) != _FACTS_SIZE
            ):
                raise ValueError(head[:1])
            at = end + 1
            cases[head[0]] = Packed(squeeze(raw) if plain else raw, head)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: an active case is malformed ({exc!r})") from None
    if block[at:] or read(1):
        raise StoreError(f"{path}: the active cases are malformed (bytes after the last one)")
    return cases
