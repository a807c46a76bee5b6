"""What every source adapter shares: options, credentials, cursors, watermarks, Mention building.

A cursor is a small JSON object the adapter writes and the core stores as a string. Sources
without a since-id keep a ``Watermark``: the newest publication time seen and the ids seen
within an overlap before it, so items that are indexed late or share a second are neither
missed nor repeated.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx

from integrations.sources._options import SourceOptions, read_options
from triagebot.cases.caps import MAX_URL, cap_followers, cap_mention
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Author, Mention
from triagebot.config.settings import BrandConfig, SourceConfig
from triagebot.errors import ConfigError, MissingCredentials, SourceError
from triagebot.ingest.sources import GonePost, PollResult, minimal_keywords

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SEEN_LIMIT = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_cursor(text: str | None, source: str) -> dict[str, Any]:
    """The adapter's cursor object; an unreadable cursor starts afresh (logged)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("source %s: unreadable cursor, starting afresh", source)
        return {}
    return data if isinstance(data, dict) else {}


def dump_cursor(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass
class Watermark:
    """Newest publication time seen, and the ids seen near it (epoch seconds)."""

    newest: float | None = None
    seen: dict[str, float] = field(default_factory=dict)
    overlap: float = 300.0

    @classmethod
    def load(cls, data: Mapping[str, Any], overlap: float) -> Watermark:
        newest = data.get("newest")
        seen = data.get("seen")
        return cls(
            newest=float(newest) if isinstance(newest, int | float) else None,
            seen={str(k): float(v) for k, v in seen.items()} if isinstance(seen, dict) else {},
            overlap=overlap,
        )

    @property
    def since(self) -> float | None:
        """Where the next request should start (inclusive)."""
        return None if self.newest is None else self.newest - self.overlap

    def is_new(self, item_id: str, at: float) -> bool:
        if item_id in self.seen:
            return False
        return self.since is None or at >= self.since

    def is_past(self, at: float) -> bool:
        """True when an item this old is behind the watermark (stop paging)."""
        return self.since is not None and at < self.since

    def add(self, item_id: str, at: float) -> None:
        self.seen[item_id] = at
        if self.newest is None or at > self.newest:
            self.newest = at

    def dump(self) -> dict[str, Any]:
        if self.newest is not None:
            floor = self.newest - self.overlap
            kept = sorted(((t, i) for i, t in self.seen.items() if t >= floor), reverse=True)
            self.seen = {i: t for t, i in kept[:SEEN_LIMIT]}
        return {"newest": self.newest, "seen": self.seen}


class Walk:
    """One poll's walk over pages, newest first: which items are new, when to stop paging.

    Items are judged against the watermark as it was before the poll and recorded in a
    copy, so the walk's own items never make later pages look old.
    """

    def __init__(self, mark: Watermark, floor: datetime) -> None:
        self.old = mark
        self.floor = floor.timestamp() if mark.newest is None else None
        self.mark = Watermark(mark.newest, dict(mark.seen), mark.overlap)
        self.ids: set[str] = set()
        self.reached_known = False

    def take(self, item_id: str, at: float) -> bool:
        """True if the item is new; an item behind the watermark ends the walk."""
        if self.old.is_past(at) or (self.floor is not None and at < self.floor):
            self.reached_known = True
            return False
        if item_id in self.ids or not self.old.is_new(item_id, at):
            return False
        self.ids.add(item_id)
        self.mark.add(item_id, at)
        return True

    def took(self, item_id: str) -> bool:
        """True if this walk already took the item (a second copy in the same poll)."""
        return item_id in self.ids

    def note_truncated(self, source: str, pages: int) -> None:
        if not self.reached_known:
            log.warning(
                "source %s: still new items after %d pages; older ones wait for max_pages "
                "to grow or the interval to shrink",
                source,
                pages,
            )


_T = TypeVar("_T")

#: Posts a poll converts (HTML to text, a mention built: ~0.1-0.3 ms each) between two turns
#: of the event loop, which answers clicks and health checks in between.
TURN = 25


async def in_turns(items: Iterable[_T]) -> AsyncIterator[_T]:
    """``items`` one by one, handing the event loop back after every ``TURN`` of them: a
    flood's poll of hundreds of posts otherwise converts them all in one step of the loop."""
    for n, item in enumerate(items, 1):
        yield item
        if n % TURN == 0:
            await asyncio.sleep(0)


class Latest:
    """One poll's mentions by id, in the order first seen. A second copy of an id in the same
    poll (an edited post listed twice) replaces the first unless its edit time is older; with
    no edit times the later copy wins. A post seen deleted is never a mention (``gone``)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Mention]] = {}
        self._gone: dict[str, GonePost] = {}

    def gone(self, post: GonePost) -> None:
        """The post is deleted or removed at the source: drop any copy of it from this poll."""
        self._items.pop(post.id, None)
        self._gone[post.id] = post

    def gone_posts(self) -> list[GonePost]:
        return list(self._gone.values())

    def offer(self, mention: Mention | None, edited: float | None = None) -> None:
        if mention is None or mention.id in self._gone:
            return
        version = edited if edited is not None else float("-inf")
        old = self._items.get(mention.id)
        if old is None or version >= old[0]:
            self._items[mention.id] = (version, mention)

    def mentions(self) -> list[Mention]:
        return [mention for _, mention in self._items.values()]


def partial_result(
    latest: Latest,
    cursor: str,
    pause: float | None,
    errors: list[tuple[str, SourceError]],
    parts: int,
    *,
    pause_reason: str | None = None,
) -> PollResult:
    """The result of a poll over several endpoints (``parts``) of which some failed (``errors``:
    the part's name and its error): what the others found is kept; when every part failed the
    first failure is raised instead. A pause asked for by a failed part (a 429) still counts."""
    if errors and len(errors) >= parts:
        raise errors[0][1]
    waits = [w for w in (pause, *(e.retry_after for _, e in errors)) if w]
    return PollResult(
        latest.mentions(),
        cursor,
        max(waits) if waits else None,
        pause_reason,
        gone=latest.gone_posts(),
        errors=[f"{part}: {error}" for part, error in errors],
    )


class BaseSource:
    """What every adapter shares: the block's options, credentials and how a Mention is built.

    An adapter sets ``kind``, ``options_model`` (its ``SourceOptions`` subclass, which declares
    every extra key it reads; see ``_options``) and implements ``poll``.
    """

    kind: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_page_size: ClassVar[int] = 50
    options_model: ClassVar[type[SourceOptions]] = SourceOptions
    options: SourceOptions

    def __init__(
        self,
        config: SourceConfig,
        brand: BrandConfig,
        env: Mapping[str, str],
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.brand = brand
        self.env = env
        self.clock = clock
        self.options = read_options(self.options_model, config, self.kind)
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.query = (config.query or "").strip() or self.default_query()
        self.page_size = self.options.page_size or self.default_page_size
        self.max_pages = self.options.max_pages
        self.overlap = float(self.options.overlap_seconds)
        self.every = config.interval.total_seconds()  # a rate limit is spread over polls

    @property
    def name(self) -> str:
        return self.config.name

    def default_query(self) -> str:
        return " ".join(minimal_keywords(self.brand)[:1])

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        """Fetch what is new since ``cursor``; each adapter implements it."""
        raise NotImplementedError

    # --- options ------------------------------------------------------------------------
    def bad_option(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"sources ({self.name}).{key}: {message}")

    def credential(self, key: str, default_var: str, *, required: bool = True) -> str | None:
        """The value of the environment variable named by option ``key`` (or ``default_var``)."""
        named = getattr(self.options, key, None)
        variable = named if isinstance(named, str) and named else default_var
        value = self.env.get(variable, "").strip()
        if not value and required:
            raise MissingCredentials(self.name, [variable])
        return value or None

    # --- building mentions ----------------------------------------------------------------
    def floor(self) -> datetime:
        """The oldest publication time the first poll imports."""
        return self.clock() - self.config.backfill

    def gone_post(self, external_id: str, why: str) -> GonePost:
        """A post the source shows as deleted or removed (never a case; see ``ingest.gone``)."""
        return GonePost(f"{self.name}:{external_id}", why)

    def mention(
        self,
        external_id: str,
        *,
        url: object,
        fallback_url: str,
        handle: str | None,
        text: str,
        created_at: datetime,
        name: str | None = None,
        followers: object = None,
        lang: str | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> Mention:
        """A Mention with a safe absolute link and a namespaced id, every field capped
        (``triagebot.cases.caps``): text length and links, author fields, the raw payload."""
        link = _link(url) or _link(fallback_url) or self.base_url
        mention = Mention(
            id=f"{self.name}:{external_id}",
            source=self.name,
            kind=self.kind,
            url=link,
            author=Author(handle or "unknown", name, cap_followers(followers)),
            text=text,
            created_at=created_at,
            lang=lang,
            raw=dict(raw or {}),
        )
        return cap_mention(mention, self.options.max_text)


def _link(value: object) -> str | None:
    link = safe_http_url(value)
    return link if link is not None and len(link) <= MAX_URL else None


def epoch(at: datetime) -> float:
    return at.timestamp()


def kept(raw: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The parts of a source's payload that a stored case keeps: ``fields`` are keys, or dotted
    paths into nested objects (``"reblog.account.acct"``). Each adapter declares them next to
    where it builds its Mention: the ids, URLs and whatever replies, thread reads and
    deleted-post checks read later. Absent keys stay absent, and a path through a value that
    is not an object (``"reblog": null``) keeps nothing."""
    out: dict[str, Any] = {}
    for field_path in fields:
        *parents, last = field_path.split(".")
        node: object = raw
        for key in parents:
            node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping) or last not in node:
            continue
        target = out
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = node[last]
    return out


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
