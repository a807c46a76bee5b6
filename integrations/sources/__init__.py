"""Mention source adapters, one module per source type, and the factory the core is given.

``build_specs(settings)`` turns every ``[[sources]]`` block into a ``SourceSpec``: the adapter,
or the reason it cannot run (missing credentials name the variables to set; a bad option is
a ``ConfigError``). ``open_http()`` is the one HTTP client all sources share, with a timeout on
every request.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

import httpx

from integrations.sources._base import BaseSource, utcnow
from triagebot.config.settings import Settings, SourceConfig
from triagebot.errors import ConfigError, MissingCredentials
from triagebot.ingest.sources import SourceSpec

__all__ = ["ADAPTERS", "build_source", "build_specs", "open_http"]

#: Source type -> the module and class of its adapter, imported when a source of that type is
#: built (feed parsing, Google's and App Store's signing, OAuth stay unloaded where unused).
_ADAPTER_CLASSES = {
    "rss": ("rss", "RssSource"),
    "reddit": ("reddit", "RedditSource"),
    "hackernews": ("hackernews", "HackerNewsSource"),
    "mastodon": ("mastodon", "MastodonSource"),
    "bluesky": ("bluesky", "BlueskySource"),
    "x": ("x", "XSource"),
    "appstore": ("appstore", "AppStoreSource"),
    "stackexchange": ("stackexchange", "StackExchangeSource"),
    "googleplay": ("googleplay", "GooglePlaySource"),
    "discourse": ("discourse", "DiscourseSource"),
    "facebook": ("facebook", "FacebookSource"),
    "instagram": ("instagram", "InstagramSource"),
}


class _Adapters(Mapping[str, type[BaseSource]]):
    """Adapter class by source type, each imported on first use."""

    def __getitem__(self, kind: str) -> type[BaseSource]:
        module, name = _ADAPTER_CLASSES[kind]
        found: type[BaseSource] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(_ADAPTER_CLASSES)

    def __len__(self) -> int:
        return len(_ADAPTER_CLASSES)


ADAPTERS: Mapping[str, type[BaseSource]] = _Adapters()

#: Seconds: to connect, and between bytes of an answer; the poller bounds a whole poll too.
REQUEST_TIMEOUT = httpx.Timeout(20.0, connect=10.0)


def build_source(
    config: SourceConfig, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> BaseSource:
    """The adapter for one block; raises MissingCredentials or ConfigError."""
    env = {name: value.get_secret_value() for name, value in settings.source_env.items()}
    return ADAPTERS[config.type](config, settings.config.brand, env, clock)


def build_specs(settings: Settings, clock: Callable[[], datetime] = utcnow) -> list[SourceSpec]:
    """Every configured source, built or with the reason it cannot run."""
    specs = []
    problems: list[str] = []
    for index, config in enumerate(settings.config.sources):
        try:
            specs.append(SourceSpec(config, build_source(config, settings, clock)))
        except MissingCredentials as exc:
            specs.append(SourceSpec(config, problem=str(exc), missing=tuple(exc.variables)))
        except ConfigError as exc:  # a bad adapter option: name the file and the block
            where = f"sources[{index}] ({config.name})"
            problems += [
                f"{settings.config_file}: {line.replace(f'sources ({config.name})', where, 1)}"
                for line in exc.problems
            ]
    if problems:
        raise ConfigError(problems)
    return specs


def open_http(timeout: httpx.Timeout = REQUEST_TIMEOUT) -> httpx.AsyncClient:
    """The HTTP client for polling: a timeout on every request, redirects followed."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=True)
