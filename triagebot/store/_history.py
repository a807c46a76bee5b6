"""History segments of the TinyDB store: immutable files that hold the closed cases.

A segment (``seg-000042-1a2b3c4d.json``, TinyDB layout: ``{"cases": {"1": doc, ...}}``) holds
up to a few hundred resolved or spam cases, each with its events and message refs, and has a
companion index (``seg-000042-1a2b3c4d.idx.json``: case id -> mention id) and, since this
store kept SLA facts, a facts file (``seg-000042-1a2b3c4d.facts.json``: one ``SlaFacts`` row per
case, so that an SLA summary need not parse the cases; a segment written before has none and
is read whole instead). Segments are never
changed in place: a change writes a new file under a new name and the root file, which lists
the live segments, is the commit point. ``History`` is one process's view of them (an LRU of
parsed segments, and where each case id and mention id is, as compact hashes confirmed by the
segments' indexes: see ``_hashes``; loaded lazily); ``HistoryTx`` collects the changes
of one write transaction and turns them into new files when it commits.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from triagebot.cases.facts import SlaFacts, sla_facts_of_doc
from triagebot.cases.records import JSON
from triagebot.cases.time_fields import iso, parse_iso
from triagebot.errors import StoreError
from triagebot.store._atomic import dump_json, fsync_dir, read_json, write_new_file
from triagebot.store._hashes import SegmentHashes, give_back_memory, hashes

log = logging.getLogger(__name__)

SEGMENT_PREFIX = "seg-"
INDEX_SUFFIX = ".idx.json"
FACTS_SUFFIX = ".facts.json"
#: Parsed segment indexes kept for confirming lookups (a few hundred ids each).
_KEPT_INDEXES = 64
#: ``load_all`` reads this many indexes or fewer one at a time, more in one merge.
_ONE_BY_ONE = 8

#: A segment in memory: case id -> case document, in file order. Treated as immutable.
Segment = dict[str, JSON]


@dataclass(frozen=True)
class SegmentInfo:
    """One live segment as the root's meta lists it."""

    seq: int
    file: str
    index: str
    count: int
    min_ingested_at: datetime
    max_ingested_at: datetime
    #: Range of the case ids when all are decimal (else None): lets a lookup skip segments.
    min_id: int | None = None
    max_id: int | None = None
    #: The facts file (None for a segment written by a version that kept none).
    facts: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        kept = (self.file, self.index)
        return kept if self.facts is None else (*kept, self.facts)

    def to_dict(self) -> JSON:
        return {
            "seq": self.seq,
            "file": self.file,
            "index": self.index,
            "count": self.count,
            "min_ingested_at": iso(self.min_ingested_at),
            "max_ingested_at": iso(self.max_ingested_at),
            "min_id": self.min_id,
            "max_id": self.max_id,
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SegmentInfo:
        low, high = parse_iso(data["min_ingested_at"]), parse_iso(data["max_ingested_at"])
        if low is None or high is None:
            raise ValueError("segment without an ingested_at range")
        ids = (data.get("min_id"), data.get("max_id"))
        low_id, high_id = (None, None) if None in ids else (int(ids[0]), int(ids[1]))
        return cls(
            int(data["seq"]),
            str(data["file"]),
            str(data["index"]),
            int(data["count"]),
            low,
            high,
            low_id,
            high_id,
            None if data.get("facts") is None else str(data["facts"]),
        )

    def overlaps(self, since: datetime | None, until: datetime | None) -> bool:
        """Whether some case of the segment may have ``since <= ingested_at < until``."""
        return (since is None or self.max_ingested_at >= since) and (
            until is None or self.min_ingested_at < until
        )

    def may_hold(self, case_id: str) -> bool:
        """False when the id range rules ``case_id`` out."""
        if self.min_id is None or self.max_id is None:
            return True
        return case_id.isdecimal() and self.min_id <= int(case_id) <= self.max_id


def new_names(seq: int) -> tuple[str, str, str]:
    """Fresh, unique file names (segment, index, facts) for a version of segment ``seq``."""
    stem = f"{SEGMENT_PREFIX}{seq:06d}-{uuid.uuid4().hex[:8]}"
    return stem + ".json", stem + INDEX_SUFFIX, stem + FACTS_SUFFIX


def encode_segment(cases: Segment) -> bytes:
    return dump_json({"cases": {str(n): doc for n, doc in enumerate(cases.values(), 1)}})


def encode_index(file: str, cases: Segment) -> bytes:
    return dump_json(
        {"segment": file, "cases": {cid: d["mention"]["id"] for cid, d in cases.items()}}
    )


def encode_facts(file: str, cases: Segment) -> bytes:
    return dump_json({"segment": file, "facts": [sla_facts_of_doc(d) for d in cases.values()]})


class History:
    """This process's view of the history directory: segment LRU and the lazily loaded index."""

    def __init__(self, directory: Path, cache_size: int) -> None:
        self.directory = directory
        self._cache_size = max(1, cache_size)
        self._cache: OrderedDict[str, Segment] = OrderedDict()
        #: Live files whose keys the lookups below hold.
        self._loaded: set[str] = set()
        #: Case ids and mention ids -> the segments that may hold them (compact hashes).
        self._case_ids = SegmentHashes()
        self._mention_ids = SegmentHashes()
        #: Parsed segment indexes (case id -> mention id, and the mention ids), for confirming.
        self._indexes: OrderedDict[str, tuple[dict[str, str], frozenset[str]]] = OrderedDict()
        self.segments: list[SegmentInfo] = []
        self._by_file: dict[str, SegmentInfo] = {}
        self._by_seq: dict[int, SegmentInfo] = {}

    # --- index ---------------------------------------------------------------------------
    def sync(self, segments: Sequence[SegmentInfo]) -> None:
        """Take the segment list of the current root; forget files it no longer lists."""
        self.segments = list(segments)
        self._by_file = {info.file: info for info in segments}
        self._by_seq = {info.seq: info for info in segments}
        # A replaced file's keys stay in the lookups as hints of its segment (confirmed on use).
        self._loaded &= self._by_file.keys()
        for file in [f for f in self._indexes if f not in self._by_file]:
            del self._indexes[file]
        for file in [f for f in self._cache if f not in self._by_file]:
            del self._cache[file]

    def _learn(self, file: str, index: dict[str, str]) -> None:
        """Add a live file's case id -> mention id index to the lookups."""
        info = self._by_file.get(file)
        if info is not None:  # else no longer live (a scan that began before a commit)
            self._case_ids.add(info.seq, index)
            self._mention_ids.add(info.seq, index.values())
            self._loaded.add(file)

    def _read_index(self, info: SegmentInfo) -> dict[str, str]:
        path = self.directory / info.index
        data = read_json(path)
        cases = data.get("cases") if isinstance(data, dict) else None
        if not isinstance(cases, dict):
            raise StoreError(f"{path}: not a history index (no 'cases' object)")
        return cases  # case id -> mention id, as the segment's writer put them

    def _index(self, info: SegmentInfo) -> tuple[dict[str, str], frozenset[str]]:
        """The segment's index (case id -> mention id) and its mention ids, read if needed."""
        kept = self._indexes.get(info.file)
        if kept is not None:
            self._indexes.move_to_end(info.file)
            return kept
        index = self._read_index(info)
        if info.file not in self._loaded:
            self._learn(info.file, index)
        kept = (index, frozenset(index.values()))
        self._indexes[info.file] = kept
        while len(self._indexes) > _KEPT_INDEXES:
            self._indexes.popitem(last=False)
        return kept

    def _all_loaded(self) -> bool:
        return len(self._loaded) == len(self.segments)  # only live files stay loaded

    def load_all(self) -> None:
        """Add the index of every live segment not loaded yet to the lookups (the many of a
        fresh process in one merge, each index read once and dropped)."""
        if self._all_loaded():
            return
        missing = [info for info in self.segments if info.file not in self._loaded]
        if len(missing) <= _ONE_BY_ONE:
            for info in missing:
                self._index(info)
            return
        case_ids, mention_ids = [], []
        for info in missing:
            index = self._read_index(info)
            case_ids.append((info.seq, hashes(index)))
            mention_ids.append((info.seq, hashes(index.values())))
        self._case_ids.add_many(case_ids)
        self._mention_ids.add_many(mention_ids)
        self._loaded.update(info.file for info in missing)
        del case_ids, mention_ids
        give_back_memory()  # the indexes read, each segment's hashes and the merge's copies

    def locate(self, case_id: str) -> SegmentInfo | None:
        """The live segment that holds ``case_id``: the segments its hash names, confirmed by
        their index; then, until all are loaded, the indexes not loaded yet, newest first."""
        for seq in sorted(self._case_ids.segments_of(case_id), reverse=True):
            info = self._by_seq.get(seq)
            if info is not None and case_id in self._index(info)[0]:
                return info
        if not self._all_loaded():
            for info in reversed(self.segments):
                if (
                    info.file not in self._loaded
                    and info.may_hold(case_id)
                    and case_id in self._index(info)[0]
                ):
                    return info
        return None

    def has_mention(self, mention_id: str) -> bool:
        """Whether a live segment holds the mention id (a hash hit confirmed by its index)."""
        self.load_all()
        return self._holds(mention_id, self._mention_ids.segments_of(mention_id))

    def known_mentions(self, mention_ids: Sequence[str]) -> set[str]:
        """``has_mention`` of a batch: one search of the hashes for all, then each segment
        named by a hit reads its index once to confirm its hits."""
        if not mention_ids:
            return set()
        self.load_all()
        hits: dict[int, list[str]] = {}
        for mention_id, seqs in self._mention_ids.segments_of_many(mention_ids).items():
            for seq in seqs:
                hits.setdefault(seq, []).append(mention_id)
        known: set[str] = set()
        for seq, named in sorted(hits.items(), reverse=True):
            info = self._by_seq.get(seq)
            if info is not None:
                held = self._index(info)[1]
                known.update(mention_id for mention_id in named if mention_id in held)
        return known

    def _holds(self, mention_id: str, seqs: set[int]) -> bool:
        for seq in sorted(seqs, reverse=True):
            info = self._by_seq.get(seq)
            if info is not None and mention_id in self._index(info)[1]:
                return True
        return False

    # --- segments ------------------------------------------------------------------------
    def segment(self, info: SegmentInfo, keep: bool = True) -> Segment:
        """The parsed segment; ``keep`` puts it into the LRU (scans pass False)."""
        cached = self._cache.get(info.file)
        if cached is not None:
            self._cache.move_to_end(info.file)
            return cached
        path = self.directory / info.file
        data = read_json(path)
        try:
            cases: Segment = {doc["id"]: doc for doc in data["cases"].values()}
        except (KeyError, TypeError, AttributeError):
            raise StoreError(f"{path}: not a history segment (malformed 'cases')") from None
        if keep:
            self._put(info.file, cases)
        if info.file not in self._loaded:
            self._learn(info.file, {cid: doc["mention"]["id"] for cid, doc in cases.items()})
        return cases

    def facts(self, info: SegmentInfo) -> list[SlaFacts] | None:
        """The segment's facts file, or None when it has none (or it has just gone, or an
        earlier version wrote it with fewer facts per case)."""
        if info.facts is None:
            return None
        path = self.directory / info.facts
        try:
            data = read_json(path)
        except FileNotFoundError:
            return None
        try:
            rows = data["facts"]
            if any(len(row) != len(SlaFacts._fields) for row in rows):
                return None  # kept by an earlier version with fewer facts: read the cases
            return [SlaFacts._make(row) for row in rows]
        except (KeyError, TypeError, AttributeError):
            raise StoreError(f"{path}: not a facts file (malformed 'facts')") from None

    def write_facts(self, info: SegmentInfo) -> SegmentInfo:
        """Write the facts file of a segment that has none; ``info`` naming it."""
        name = new_names(info.seq)[2]
        write_new_file(self.directory / name, encode_facts(info.file, self.segment(info, False)))
        fsync_dir(self.directory)
        return replace(info, facts=name)

    def _put(self, file: str, cases: Segment) -> None:
        self._cache[file] = cases
        self._cache.move_to_end(file)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def install(self, file: str, cases: Segment) -> None:
        """Remember a segment this process has just committed."""
        self._put(file, cases)
        self._learn(file, {cid: doc["mention"]["id"] for cid, doc in cases.items()})


@dataclass
class HistoryChanges:
    """What a ``HistoryTx`` produced: files to write, the new segment list, files to drop."""

    files: list[tuple[str, bytes]]
    segments: list[SegmentInfo]
    installs: list[tuple[str, Segment]]
    replaced: list[str]


class HistoryTx:
    """The history side of one write transaction, applied by ``finish`` at commit."""

    def __init__(self, history: History, next_seq: int, capacity: int) -> None:
        self._history = history
        self._by_seq = {info.seq: info for info in history.segments}
        self._order = [info.seq for info in history.segments]
        self.next_seq = next_seq
        self._capacity = max(1, capacity)
        self._contents: dict[int, Segment] = {}
        self._moved: dict[str, int | None] = {}

    @property
    def changed(self) -> bool:
        return bool(self._contents)

    def has_mention(self, mention_id: str) -> bool:
        """Whether the committed history knows the mention (cases never leave the store)."""
        return self._history.has_mention(mention_id)

    def _locate(self, case_id: str) -> int | None:
        if case_id in self._moved:
            return self._moved[case_id]
        info = self._history.locate(case_id)
        return None if info is None else info.seq

    def _content(self, seq: int) -> Segment:
        content = self._contents.get(seq)
        if content is None:
            content = dict(self._history.segment(self._by_seq[seq]))
            self._contents[seq] = content
        return content

    def get(self, case_id: str) -> JSON | None:
        seq = self._locate(case_id)
        return None if seq is None else self._content(seq).get(case_id)

    def put(self, doc: JSON, *, new: bool = False) -> None:
        """Store a closed case: replace it where it is, or add it to the newest open segment.

        ``new`` says the case is known not to be in history (it comes from the root).
        """
        case_id = doc["id"]
        seq = None if new else self._locate(case_id)
        if seq is None:
            seq = self._target()
        self._content(seq)[case_id] = doc
        self._moved[case_id] = seq

    def remove(self, case_id: str) -> None:
        seq = self._locate(case_id)
        if seq is not None:
            self._content(seq).pop(case_id, None)
            self._moved[case_id] = None

    def _count(self, seq: int) -> int:
        content = self._contents.get(seq)
        return len(content) if content is not None else self._by_seq[seq].count

    def _target(self) -> int:
        if self._order and self._count(self._order[-1]) < self._capacity:
            return self._order[-1]
        seq = self.next_seq
        self.next_seq += 1
        self._order.append(seq)
        self._contents[seq] = {}
        return seq

    def finish(self) -> HistoryChanges:
        """New files for every changed segment and the segment list that references them."""
        changes = HistoryChanges([], [], [], [])
        for seq in self._order:
            old = self._by_seq.get(seq)
            content = self._contents.get(seq)
            if content is None:
                if old is not None:
                    changes.segments.append(old)
                continue
            if old is not None:
                changes.replaced += old.files
            if not content:
                continue
            file, index, facts = new_names(seq)
            times = [parse_iso(doc["ingested_at"]) for doc in content.values()]
            known = [t for t in times if t is not None]
            numbers = [int(cid) for cid in content if cid.isdecimal()]
            ids = (min(numbers), max(numbers)) if len(numbers) == len(content) else (None, None)
            changes.files += [
                (file, encode_segment(content)),
                (index, encode_index(file, content)),
                (facts, encode_facts(file, content)),
            ]
            info = SegmentInfo(seq, file, index, len(content), min(known), max(known), *ids)
            changes.segments.append(replace(info, facts=facts))
            changes.installs.append((file, content))
        log.debug("history commit: %d files written", len(changes.files))
        return changes
