"""One complaint, one case: the same post seen through two sources joins the first case.

Two mentions are the same post when their links agree after canonicalisation (a Google Alert
of a Reddit thread, a mobile link, a link with tracking parameters), or when the same author
(handles compared loosely: ``@hikes_with_mo``, ``hikes-with-mo.bsky.social``) wrote nearly
the same text (a cross-post on X and Reddit). A match against a recent active case adds the
new link to the case's ``also_on`` (compare-and-set, an ``also_seen`` event and an UPDATE for
the surfaces) instead of creating a case; a link already listed is a plain duplicate. Only
active cases are compared (closed ones live in the store's history and are not read here), and
only those the store finds by the batch's link and author keys (``Store.crosspost_candidates``):
a case that shares neither can never match.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache

from triagebot.actions.executor import outbox_item
from triagebot.cases.facts import author_key
from triagebot.cases.lifecycle import SYSTEM_ACTOR
from triagebot.cases.links import canonical_url
from triagebot.cases.records import (
    ACTIVE_STATES,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    NewCase,
    OutboxKind,
)
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.store.base import Store

log = logging.getLogger(__name__)

WINDOW = timedelta(days=3)
SIMILARITY = 0.9
MIN_TEXT = 24  # shorter texts ("thanks @brand!") are too generic to call the same post
_COMPARED_CHARS = 600
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.-]+")


@lru_cache(maxsize=8192)
def text_key(text: str) -> str:
    """Text reduced for comparing: no links, mentions, hashtags, punctuation or case."""
    flat = _NOISE.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(re.sub(r"[^\w]+", " ", flat).split())[:_COMPARED_CHARS]


def similar(a: str, b: str, threshold: float = SIMILARITY) -> bool:
    if min(len(a), len(b)) < MIN_TEXT:
        return False
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (  # the cheap upper bounds first: most pairs fail them
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


@dataclass
class _Entry:
    """A case, stored or about to be, with what it is known by."""

    case_id: str | None  # None for a mention of this batch that becomes a new case
    mention_id: str
    source: str
    author: str
    raw_text: str
    urls: set[str]
    active: bool

    @property
    def text(self) -> str:
        return text_key(self.raw_text)


@dataclass
class CrossPostPlan:
    """The outcome for one batch: what becomes new cases and what joins existing ones."""

    fresh: list[Mention] = field(default_factory=list)
    extra_urls: dict[str, list[str]] = field(default_factory=dict)  # new mention id -> also_on
    attach: dict[str, list[Mention]] = field(default_factory=dict)  # case id -> sightings
    duplicate_ids: list[str] = field(default_factory=list)  # mentions already on their case

    @property
    def duplicates(self) -> int:
        return len(self.duplicate_ids)

    def apply(self, entry: NewCase) -> NewCase:
        """``entry`` with the links of its cross-posts from the same batch in ``also_on``."""
        urls = self.extra_urls.get(entry.case.mention.id)
        if not urls:
            return entry
        return replace(entry, case=replace(entry.case, also_on=(*entry.case.also_on, *urls)))


class CrossPosts:
    """Finds cross-posts of a batch among the recent cases and records them."""

    def __init__(self, store: Store, window: timedelta = WINDOW) -> None:
        self.store = store
        self.window = window

    def plan(self, mentions: Sequence[Mention], now: datetime) -> CrossPostPlan:
        plan = CrossPostPlan()
        index = _Index()
        urls = [canonical_url(m.url) for m in mentions]
        authors = {author_key(m.author.handle) for m in mentions}
        for case in self.store.crosspost_candidates(set(urls), authors, now - self.window):
            index.add(_entry_of(case))
        for mention, url in zip(mentions, urls, strict=True):
            match = index.find(mention, url)
            if match is None:
                plan.fresh.append(mention)
                index.add(_new_entry(mention, url))
            elif url in match.urls or not match.active:
                plan.duplicate_ids.append(mention.id)
            else:
                index.add_url(match, url)
                if match.case_id is None:
                    plan.extra_urls.setdefault(match.mention_id, []).append(mention.url)
                else:
                    plan.attach.setdefault(match.case_id, []).append(mention)
        return plan

    def record(self, plan: CrossPostPlan, now: datetime) -> list[Case]:
        """Add the sightings to their cases; returns the cases changed."""
        changed = []
        for case_id, sightings in plan.attach.items():
            case = self._attach(case_id, sightings, now)
            if case is not None:
                changed.append(case)
        return changed

    def _attach(self, case_id: str, sightings: list[Mention], now: datetime) -> Case | None:
        for _ in range(5):
            try:
                case = self.store.get_case(case_id)
            except CaseNotFound:
                return None
            listed = {canonical_url(u) for u in (case.mention.url, *case.also_on)}
            new = [m for m in sightings if canonical_url(m.url) not in listed]
            if not new:
                return None
            updated = replace(
                case,
                also_on=case.also_on + tuple(dict.fromkeys(m.url for m in new)),
                version=case.version + 1,
                updated_at=now,
            )
            event = CaseEvent(
                case_id=case.id,
                action="also_seen",
                actor=SYSTEM_ACTOR,
                surface="pipeline",
                at=now,
                version=updated.version,
                before={"also_on": list(case.also_on)},
                after={"also_on": list(updated.also_on)},
                note="; ".join(f"{m.source}: {m.url}" for m in new),
            )
            outbox = (
                ()
                if case.state is CaseState.SPAM
                else (outbox_item(case.id, OutboxKind.UPDATE, now),)
            )
            try:
                self.store.save_case(updated, case.version, (event,), outbox)
            except VersionConflict:
                continue
            return updated
        log.warning("case %s changed too often to record a cross-post; skipped", case_id)
        return None


class _Index:
    """Recent cases by canonical link and by author.

    A link only joins posts of different sources: within one source the post's id is its
    identity, and some sources give many posts one link (every App Store review of an app).
    """

    def __init__(self) -> None:
        self.by_url: dict[str, list[_Entry]] = {}
        self.by_author: dict[str, list[_Entry]] = {}

    def add(self, entry: _Entry) -> None:
        for url in entry.urls:
            self.by_url.setdefault(url, []).append(entry)
        if entry.author and entry.active:
            self.by_author.setdefault(entry.author, []).append(entry)

    def add_url(self, entry: _Entry, url: str) -> None:
        entry.urls.add(url)
        self.by_url.setdefault(url, []).append(entry)

    def find(self, mention: Mention, url: str) -> _Entry | None:
        for entry in self.by_url.get(url, ()):
            if entry.source != mention.source:
                return entry
        author = author_key(mention.author.handle)
        if not author:
            return None
        text = text_key(mention.text)
        for entry in self.by_author.get(author, ()):
            if similar(entry.text, text):
                return entry
        return None


def _entry_of(case: Case) -> _Entry:
    return _Entry(
        case_id=case.id,
        mention_id=case.mention.id,
        source=case.mention.source,
        author=author_key(case.mention.author.handle),
        raw_text=case.mention.text,
        urls={canonical_url(u) for u in (case.mention.url, *case.also_on)},
        active=case.state in ACTIVE_STATES,
    )


def _new_entry(mention: Mention, url: str) -> _Entry:
    return _Entry(
        case_id=None,
        mention_id=mention.id,
        source=mention.source,
        author=author_key(mention.author.handle),
        raw_text=mention.text,
        urls={url},
        active=True,
    )
