"""Active case documents and queued outbox items kept compressed in memory and in the snapshot.

An active case's JSON (~1.6 kB) repeats what every case says: its keys, the shape of its
mention, events and message refs, timestamps that share their date. Deflate primed with a
typical case document (``DICTIONARY_V1``) keeps ~400 bytes of it, at ~20 µs to compress and
~7 µs to expand (a viral day's store: 1,611 bytes on average). An outbox item (~200 bytes of
JSON, most of it keys) keeps ~75 with its own dictionary (``ITEM_DICTIONARY_V1``).

A compressed document starts with the number of the dictionary that primed it (1: a case,
2: an outbox item); a document starting with ``{`` is plain JSON (snapshots of format 3 and
earlier), read as is. The dictionaries are part of the store format: a new one gets a new
number, and this module keeps reading every number it ever wrote.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from triagebot.cases.records import JSON
from triagebot.errors import StoreError
from triagebot.store._atomic import parse_json

#: A typical active case, written once (never change it: snapshots are compressed with it).
DICTIONARY_V1 = (
    b'{"case_id":"1","action":"reply","actor":"slack:T0:U0","surface":"slack",'
    b'"at":"2026-01-01T00:00:00.000000+00:00","version":4,"before":{"state":"claimed",'
    b'"department":"support","claimed_by":"slack:T0:U0","priority":"P2"},"after":{},'
    b'"note":null},{"case_id":"1","action":"claim","actor":"teams:T0:U0","surface":"teams",'
    b'"waiting_since":null,"first_response":null,"replies":[],"drafts":[],'
    b'"id":"1","mention":{"id":"mastodon:https://mastodon.social/users/customer/statuses/1",'
    b'"source":"mastodon","kind":"mastodon","url":"https://mastodon.social/@customer/1",'
    b'"author":{"handle":"customer","name":"Customer","followers":100},"text":"@brand my '
    b'order never arrived and nobody answers, I want a refund or help please #brand",'
    b'"created_at":"2026-01-01T00:00:00.000000+00:00","lang":"en","raw":{"id":"1","uri":'
    b'"https://mastodon.social/users/customer/statuses/1","url":"https://x.com/customer/status/1",'
    b'"account":{"acct":"customer"}}},"department":"customer_service","priority":"P2",'
    b'"state":"open","ingested_at":"2026-01-01T00:00:00.000000+00:00","claim_due":'
    b'"2026-01-01T00:00:00.000000+00:00","resolve_due":"2026-01-01T00:00:00.000000+00:00",'
    b'"cc":[],"rules":["customer_service.topic"],"version":2,"claimed_by":null,"claimed_at":'
    b'null,"first_claimed_at":null,"resolved_by":null,"resolved_at":null,"updated_at":'
    b'"2026-01-01T00:00:00.000000+00:00","assignments":[{"department":"customer_service",'
    b'"since":"2026-01-01T00:00:00.000000+00:00","until":null}],"also_on":[],"sla_marks":[],'
    b'"respond_due":"2026-01-01T00:00:00.000000+00:00","events":[{"case_id":"1","action":'
    b'"ingest","actor":"system:triagebot","surface":"pipeline","at":'
    b'"2026-01-01T00:00:00.000000+00:00","version":1,"before":{},"after":{"state":"new",'
    b'"department":"customer_service","priority":"P2"},"note":"customer_service.topic"},'
    b'{"case_id":"1","action":"publish","actor":"system:triagebot","surface":"delivery","at":'
    b'"2026-01-01T00:00:00.000000+00:00","version":2,"before":{"state":"new","department":'
    b'"customer_service","claimed_by":null,"priority":"P2"},"after":{"state":"open",'
    b'"department":"customer_service","claimed_by":null,"priority":"P2"},"note":null}],'
    b'"refs":{"console":{"surface":"console","channel":"console","message_id":"1","extra":{}},'
    b'"slack":{"surface":"slack","channel":"C0","message_id":"1767225600.000100","extra":{}}},'
    b'"crosspost":{"v":2,"urls":["https://mastodon.social/@customer/1"],"author":"customer"}}'
)

#: A typical outbox item, written once (never change it).
ITEM_DICTIONARY_V1 = (
    b'{"id":"0123456789abcdef0123456789abcdef","case_id":"1","kind":"post","created_at":'
    b'"2026-01-01T00:00:00.000000+00:00","text":null,"attempts":0,"next_attempt_at":null,'
    b'"last_error":null,"done":[],"surface":"slack"}'
)

CASE, ITEM = b"\x01", b"\x02"
_DICTIONARIES = {CASE: DICTIONARY_V1, ITEM: ITEM_DICTIONARY_V1}
_LEVEL = 1  # level 6 saves another 40 bytes a case at 1.3x the time
_WBITS = -15  # raw deflate: no header or checksum (the JSON parse checks what comes out)


def squeeze(data: bytes, kind: bytes = CASE) -> bytes:
    """``data`` (a case document's JSON, or an outbox item's with ``kind=ITEM``) compressed,
    as bytes of exactly their size."""
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, zdict=_DICTIONARIES[kind])
    return b"".join((kind, deflate.compress(data), deflate.flush()))


def unsqueeze(data: bytes) -> bytes:
    """The JSON of what ``squeeze`` made, or ``data`` itself if it is plain JSON;
    ``ValueError`` if it is neither."""
    kind = data[:1]
    dictionary = _DICTIONARIES.get(kind)
    if dictionary is not None:
        inflate = zlib.decompressobj(_WBITS, zdict=dictionary)
        try:
            out = inflate.decompress(data[1:]) + inflate.flush()
        except zlib.error as exc:
            raise ValueError(f"a compressed case document is damaged ({exc})") from None
        if not inflate.eof:
            raise ValueError("a compressed case document is cut short")
        return out
    if kind == b"{":
        return data
    raise ValueError(f"a case document of unknown encoding {kind!r}")


def expand_doc(data: bytes, path: Path, what: str) -> JSON:
    """The JSON object ``data`` holds (``squeeze``d or plain), decoded afresh; a
    ``StoreError`` naming ``path`` and ``what`` (e.g. "case '7'") if it is malformed."""
    try:
        text = unsqueeze(data)
    except ValueError as exc:
        raise StoreError(f"{path}: {what} is malformed ({exc})") from None
    doc = parse_json(text, path)
    if not isinstance(doc, dict):
        raise StoreError(f"{path}: {what} is malformed (not a JSON object)")
    return doc
