"""Lookups over the TinyDB store's active cases: by case id, mention id, link and author.

Each active case document in the root carries its cross-post keys (``crosspost``: the version
they were computed for, the canonical links and the author key), written in the same commit
as the case, so a new process does not derive them again. ``ActiveIndex`` is built from the
root's cases table when the root is loaded and changed by each transaction together with the
table, so "is this mention known", "where is case N" and "which active cases share a link or
an author with this batch" cost the same whatever the number of active cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from triagebot.cases.facts import CrossPostKeys, author_key, gc_paused
from triagebot.cases.links import canonical_url
from triagebot.cases.records import JSON

if TYPE_CHECKING:
    from triagebot.store._packed import Packed

KEYS_FIELD = "crosspost"


def keys_of_doc(doc: JSON) -> CrossPostKeys:
    """``crosspost_keys`` of the case a stored document holds, without decoding it."""
    mention = doc["mention"]
    urls = frozenset(canonical_url(u) for u in (mention["url"], *(doc.get("also_on") or ())))
    return CrossPostKeys(urls, author_key(mention["author"]["handle"]))


def stored_keys(doc: JSON) -> CrossPostKeys | None:
    """The keys kept beside the document, if they are of its current version."""
    kept = doc.get(KEYS_FIELD)
    if not isinstance(kept, dict) or kept.get("v") != doc.get("version"):
        return None
    urls, author = kept.get("urls"), kept.get("author")
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        return None
    return CrossPostKeys(frozenset(urls), author) if isinstance(author, str) else None


def with_keys(doc: JSON, keys: CrossPostKeys) -> JSON:
    """``doc`` carrying ``keys`` for its version (the document is changed in place)."""
    doc[KEYS_FIELD] = {"v": doc["version"], "urls": sorted(keys.urls), "author": keys.author}
    return doc


class ActiveIndex:
    """Case id -> slot (the document's id in the root's cases table), mention id -> case id,
    canonical link -> case ids and author key -> case ids, of the active (packed) cases.

    Every map is built when first asked for, from the packed heads of ``table``, the root's
    cases table that every change goes through with the index (a command listing the active
    cases needs none of them, one claiming a case only the slots)."""

    def __init__(self, table: Mapping[str, Packed]) -> None:
        self._table = table
        self._slots: dict[str, str] | None = None
        self._last_slot: int | None = None
        self._mentions: dict[str, str] | None = None
        self._by_url: dict[str, _Ids] = {}
        self._by_author: dict[str, _Ids] = {}
        self._keyed = False

    @property
    def slots(self) -> dict[str, str]:
        """Case id -> slot."""
        if self._slots is None:
            self._slots = {packed.head[1][0]: slot for slot, packed in self._table.items()}
        return self._slots

    @property
    def last_slot(self) -> int:
        """The highest numbered slot in the table when first asked for (0 for none), raised by
        each slot added since: a new case takes the next one."""
        if self._last_slot is None:
            self._last_slot = max(map(int, filter(str.isdecimal, self._table)), default=0)
        return self._last_slot

    @property
    def mentions(self) -> dict[str, str]:
        """Mention id -> case id."""
        if self._mentions is None:
            self._mentions = {p.mention_id: p.id for p in self._table.values()}
        return self._mentions

    def add(self, slot: str, packed: Packed) -> None:
        """Note ``packed`` put in ``slot`` (the table holds it already, or will before a map
        not built yet is built from it)."""
        case_id = packed.id
        if self._slots is not None:
            self._slots[case_id] = slot
        if self._mentions is not None:
            self._mentions[packed.mention_id] = case_id
        if self._keyed:
            self._key(case_id, packed.keys)
        if self._last_slot is not None and slot.isdecimal():
            self._last_slot = max(self._last_slot, int(slot))

    def remove(self, packed: Packed) -> None:
        case_id = packed.id
        if self._slots is not None:
            self._slots.pop(case_id, None)
        if self._mentions is not None and self._mentions.get(packed.mention_id) == case_id:
            del self._mentions[packed.mention_id]
        if self._keyed:
            keys = packed.keys
            for url in keys.urls:
                _discard(self._by_url, url, case_id)
            if keys.author:
                _discard(self._by_author, keys.author, case_id)

    def _key(self, case_id: str, keys: CrossPostKeys) -> None:
        for url in keys.urls:
            _put(self._by_url, url, case_id)
        if keys.author:
            _put(self._by_author, keys.author, case_id)

    def sharing(self, urls: Iterable[str], authors: Iterable[str]) -> set[str]:
        """Ids of the active cases with one of these links or (non-empty) author keys."""
        if not self._keyed:
            with gc_paused():  # many small sets
                for packed in self._table.values():
                    self._key(packed.id, packed.keys)
            self._keyed = True
        found: set[str] = set()
        for url in urls:
            _gather(found, self._by_url.get(url))
        for author in authors:
            if author:
                _gather(found, self._by_author.get(author))
        return found


#: The case ids under one key: most links and authors belong to one case, kept as its id
#: alone (a set per key took ~200 bytes, ~20 MB at 50,000 active cases).
_Ids = str | set[str]


def _put(index: dict[str, _Ids], key: str, case_id: str) -> None:
    ids = index.get(key)
    if ids is None:
        index[key] = case_id
    elif isinstance(ids, str):
        if ids != case_id:
            index[key] = {ids, case_id}
    else:
        ids.add(case_id)


def _gather(found: set[str], ids: _Ids | None) -> None:
    if isinstance(ids, str):
        found.add(ids)
    elif ids:
        found |= ids


def _discard(index: dict[str, _Ids], key: str, case_id: str) -> None:
    ids = index.get(key)
    if ids is None:
        return
    if isinstance(ids, str):
        if ids == case_id:
            del index[key]
        return
    ids.discard(case_id)
    if len(ids) == 1:
        index[key] = next(iter(ids))
    elif not ids:
        del index[key]
