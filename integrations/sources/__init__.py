"""Mention source adapters, one module per source type, and the factory the core is given.

``build_specs(settings)`` turns every ``[[sources]]`` block into a ``SourceSpec``: the adapter,
or the reason it cannot run (missing credentials name the variables to set; a bad option is
a ``ConfigError``). ``open_http()`` is the one HTTP client all sources share, with a timeout on
every request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from integrations.sources._base import BaseSource, utcnow
from integrations.sources.appstore import AppStoreSource
from integrations.sources.bluesky import BlueskySource
from integrations.sources.discourse import DiscourseSource
from integrations.sources.facebook import FacebookSource
from integrations.sources.googleplay import GooglePlaySource
from integrations.sources.hackernews import HackerNewsSource
from integrations.sources.instagram import InstagramSource
from integrations.sources.mastodon import MastodonSource
from integrations.sources.reddit import RedditSource
from integrations.sources.rss import RssSource
from integrations.sources.stackexchange import StackExchangeSource
from integrations.sources.x import XSource
from triagebot.config.settings import Settings, SourceConfig
from triagebot.errors import ConfigError, MissingCredentials
from triagebot.ingest.sources import SourceSpec

__all__ = ["ADAPTERS", "build_source", "build_specs", "open_http"]

ADAPTERS: dict[str, type[BaseSource]] = {
    "rss": RssSource,
    "reddit": RedditSource,
    "hackernews": HackerNewsSource,
    "mastodon": MastodonSource,
    "bluesky": BlueskySource,
    "x": XSource,
    "appstore": AppStoreSource,
    "stackexchange": StackExchangeSource,
    "googleplay": GooglePlaySource,
    "discourse": DiscourseSource,
    "facebook": FacebookSource,
    "instagram": InstagramSource,
}

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
