"""Narrow projections of a case that stores keep beside it and read without decoding it.

``SlaFacts`` is what the SLA summary needs of one case: its group keys (state, department,
priority, source, the person it counts for) and its instants as integer microseconds since the
Unix epoch (UTC). ``sla_facts`` derives them from a ``Case``; ``sla_facts_of_doc`` derives the
same from the stored JSON document without building the ``Case`` (the embedded store scans
thousands of documents per summary). ``crosspost_keys`` gives what the cross-post check looks a
case up by: the canonical form of each of its links and its author key. Stores write these
projections in the same step that writes the case, so they always describe the stored version.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from triagebot.cases.identities import SURFACES, read_stored
from triagebot.cases.links import canonical_url
from triagebot.cases.records import Case
from triagebot.cases.time_fields import utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HANDLE_SUFFIX = re.compile(r"(\.bsky\.social|@.*)$")
_UNKNOWN_AUTHORS = {"", "deleted", "unknown", "anonymous", "removed"}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Facts of a month of cases are ~100,000 tuples; each generation-2 collection their
    allocation triggers walks all of them, which costs more than building them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware (or UTC naive) datetime."""
    return (utc(value) - _EPOCH) // _US


def _doc_us(value: str) -> int:
    return (utc(datetime.fromisoformat(value)) - _EPOCH) // _US


def _doc_us_or_none(value: str | None) -> int | None:
    return None if value is None else _doc_us(value)


class SlaFacts(NamedTuple):
    """What the SLA summary reads of one case; instants in µs since the epoch (UTC)."""

    id: str
    state: str
    department: str
    priority: str
    source: str
    #: Who the case counts for: its claimer (or resolver) if it was ever claimed, else None.
    person: str | None
    ingested_us: int
    posted_us: int  # the post's own time (mention.created_at)
    first_claimed_us: int | None
    resolved_us: int | None
    claim_due_us: int
    resolve_due_us: int
    respond_due_us: int | None  # None on cases ingested before the respond target
    first_response_us: int | None
    #: Set while the case waits on the customer (the resolve clock pauses), and on a case
    #: closed while waiting.
    waiting_since_us: int | None


def person_of(case: Case) -> str | None:
    """Who the case counts for: its claimer (or resolver), if it was ever claimed."""
    if case.first_claimed_at is None:
        return None
    who = case.claimed_by or case.resolved_by
    return None if who is None else str(who)


def sla_facts(case: Case) -> SlaFacts:
    """The SLA facts of a case."""
    return SlaFacts(
        case.id,
        case.state.value,
        case.department,
        case.priority.value,
        case.mention.source,
        person_of(case),
        to_us(case.ingested_at),
        to_us(case.mention.created_at),
        None if case.first_claimed_at is None else to_us(case.first_claimed_at),
        None if case.resolved_at is None else to_us(case.resolved_at),
        to_us(case.claim_due),
        to_us(case.resolve_due),
        None if case.respond_due is None else to_us(case.respond_due),
        None if case.first_response is None else to_us(case.first_response.at),
        None if case.waiting_since is None else to_us(case.waiting_since),
    )


def sla_facts_of_doc(doc: Mapping[str, Any]) -> SlaFacts:
    """``sla_facts(Case.from_dict(doc))`` without building the case."""
    first_claimed = doc.get("first_claimed_at")
    mention = doc["mention"]
    first_response = doc.get("first_response")
    return SlaFacts(
        doc["id"],
        doc["state"],
        doc["department"],
        doc["priority"],
        mention["source"],
        None if first_claimed is None else _person(doc.get("claimed_by") or doc.get("resolved_by")),
        _doc_us(doc["ingested_at"]),
        _doc_us(mention["created_at"]),
        _doc_us_or_none(first_claimed),
        _doc_us_or_none(doc.get("resolved_at")),
        _doc_us(doc["claim_due"]),
        _doc_us(doc["resolve_due"]),
        _doc_us_or_none(doc.get("respond_due")),
        _doc_us(first_response["at"]) if first_response else None,
        _doc_us_or_none(doc.get("waiting_since")),
    )


def _person(stored: str | None) -> str | None:
    """A stored actor as its qualified text (an older, bare one read as ``read_optional``)."""
    if stored is None or stored == "":
        return None
    surface, sep, _ = stored.partition(":")
    return stored if sep and surface in SURFACES else str(read_stored(stored))


def author_key(handle: str) -> str:
    """A handle reduced for comparing across platforms (case, ``@``, domains, separators)."""
    text = unicodedata.normalize("NFKC", handle).casefold().strip().lstrip("@")
    text = _HANDLE_SUFFIX.sub("", text)
    if "." in text:  # a domain stands in for the author (news sites, feeds): not a person
        return ""
    text = re.sub(r"[^0-9a-z]", "", text)
    return "" if text in _UNKNOWN_AUTHORS else text


class CrossPostKeys(NamedTuple):
    """What the cross-post check finds a case by: canonical links and the author key."""

    urls: frozenset[str]
    author: str  # "" when the author says nothing (unknown, or a site)


def crosspost_keys(case: Case) -> CrossPostKeys:
    """The canonical links (the post's and those it was also seen at) and the author key."""
    urls = frozenset(canonical_url(u) for u in (case.mention.url, *case.also_on))
    return CrossPostKeys(urls, author_key(case.mention.author.handle))
