"""Wiring: the adapter, the bot and the surface, mounted at ``POST /api/messages``.

Teams is on when ``MICROSOFT_APP_ID`` is set (a SingleTenant bot; ``auth.create_adapter``
checks the other two variables) or, for Microsoft 365 Agents Playground on this machine, when
``TRIAGEBOT_TEAMS=1`` is set without an app id (local mode: unsigned requests, refused on
Heroku). ``add_teams(runtime, app)`` builds everything from the settings (nothing happens at
import) and adds the surface to the runtime, so the delivery worker posts and updates cards.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter

from integrations.common.answers import reply_check
from integrations.teams.auth import auth_settings, create_adapter, guard_messages
from integrations.teams.bot import TriagebotTeamsBot
from integrations.teams.gateway import TeamsGateway
from integrations.teams.surface import TeamsSurface, TeamsTargets
from triagebot.config.settings import Environment, Settings
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"


@dataclass
class TeamsIntegration:
    """The pieces built for one bot."""

    adapter: CloudAdapter
    bot: TriagebotTeamsBot
    surface: TeamsSurface


def is_enabled(env: Environment) -> bool:
    """True when ``MICROSOFT_APP_ID`` or ``TRIAGEBOT_TEAMS=1`` is set."""
    return bool(env.microsoft_app_id) or env.teams_local


def teams_targets(settings: Settings) -> TeamsTargets:
    """Department channels (names or ids), names, escalation and digest channels."""
    departments = settings.departments
    return TeamsTargets(
        channels={d: c.teams_channel for d, c in departments.items() if c.teams_channel},
        departments={d: c.display_name for d, c in departments.items()},
        escalation=settings.config.escalation.teams_channel,
        digest=settings.config.managers.teams_channel,
        people=settings.people,
    )


def build_teams(runtime: Runtime, adapter: CloudAdapter | None = None) -> TeamsIntegration:
    """The bot and surface for ``runtime``; raises ``ConfigError`` on incomplete settings."""
    env = runtime.settings.env
    app_id = auth_settings(env).app_id
    adapter = adapter or create_adapter(env)
    surface = TeamsSurface(
        TeamsGateway(adapter, app_id),
        teams_targets(runtime.settings),
        runtime.store,
        runtime.clock,
        reply_check(runtime),
    )
    surface.load()
    return TeamsIntegration(adapter, TriagebotTeamsBot(runtime, surface), surface)


def mount(web_app: web.Application, teams: TeamsIntegration) -> None:
    """Serve the bot at ``POST /api/messages`` on the one aiohttp application."""
    adapter, bot = teams.adapter, teams.bot

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    web_app.router.add_post(MESSAGES_PATH, guard_messages(messages))

    reloading: list[asyncio.Task[None]] = []

    async def start(_: web.Application) -> None:
        reloading.append(asyncio.ensure_future(teams.surface.keep_loading()))

    async def finish(_: web.Application) -> None:
        for task in reloading:
            task.cancel()
        await bot.drain()

    web_app.on_startup.append(start)
    web_app.on_shutdown.append(finish)


def add_teams(runtime: Runtime, app: web.Application) -> TeamsIntegration | None:
    """Show cases in Teams and serve ``POST /api/messages`` when Teams is enabled."""
    if not is_enabled(runtime.settings.env):
        return None
    teams = build_teams(runtime)
    runtime.surfaces.append(teams.surface)
    mount(app, teams)
    known = len([p for p in teams.surface.known_places() if p.kind == "channel"])
    log.info("event=teams_enabled departments=%d known_channels=%d",
             len(teams.surface.targets.channels), known)  # fmt: skip
    return teams
