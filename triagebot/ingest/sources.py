"""The mention-source contract, the core's side of it: ``Source``, ``PollResult``, ``SourceSpec``.

A source adapter (``integrations/sources/``) is built from its ``[[sources]]`` block and only
fetches and parses: ``await source.poll(http, cursor)`` returns the mentions it found, the
cursor to store once they are safely ingested, and how long the source asked us to wait.
The cursor is the adapter's own string (often JSON); the core stores it and hands it back.
Everything else (scheduling, backoff, dedupe, the first run's backfill window) is the core's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from triagebot.cases.records import Mention
from triagebot.config.settings import BrandConfig, SourceConfig

if TYPE_CHECKING:  # the core never imports httpx at run time
    import httpx


@dataclass(frozen=True)
class GonePost:
    """A post the source shows as deleted or removed: never a case; a note on its case if one
    was made before (``id`` is the mention id it had, ``why`` what the source says)."""

    id: str
    why: str


@dataclass(frozen=True)
class PollResult:
    """What one poll found. ``retry_after`` (seconds): the source asked for a pause, and
    ``pause_reason`` says why (shown by ``triagebot sources``). ``gone``: posts seen deleted.
    ``errors``: the parts of the poll that failed (one endpoint of several) while the mentions
    of the others are still ingested; a poll where everything failed raises instead."""

    mentions: Sequence[Mention] = ()
    cursor: str | None = None
    retry_after: float | None = None
    pause_reason: str | None = None
    gone: Sequence[GonePost] = ()
    errors: Sequence[str] = ()


class Source(Protocol):
    """A mention source adapter.

    Example::

        class Feed:
            name = "alerts"
            async def poll(self, http, cursor):
                response = await http.get(self.url)
                return PollResult(parse(response.text), cursor=None)
    """

    @property
    def name(self) -> str: ...

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult: ...


@dataclass(frozen=True)
class SourceSpec:
    """A configured source: its adapter, or why it cannot run (``problem``)."""

    config: SourceConfig
    source: Source | None = None
    problem: str | None = None
    missing: tuple[str, ...] = field(default=())  # environment variables to set

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def runnable(self) -> bool:
        return self.source is not None and self.config.enabled


def minimal_keywords(brand: BrandConfig) -> list[str]:
    """The brand's keywords without those that contain a shorter one ("northwind outfitters"
    is found by "northwind")."""
    words = sorted({k.strip().casefold() for k in brand.keywords if k.strip()}, key=len)
    kept: list[str] = []
    for word in words:
        if not any(shorter in word for shorter in kept):
            kept.append(word)
    return kept


def brand_handles(brand: BrandConfig) -> list[str]:
    """The brand's own handles without a leading ``@``."""
    return [h.strip().lstrip("@") for h in brand.handles if h.strip().lstrip("@")]
