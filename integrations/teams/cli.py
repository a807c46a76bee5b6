"""``triagebot teams SUBCOMMAND``: the Teams side of the command line.

``teams channels`` lists the teams, channels and chats the bot has seen (it learns them when it
is added to a team and from every message) and the departments whose ``teams_channel`` matches
none of them yet. More subcommands register in ``SUBCOMMANDS`` below: a function adding the
subparser and the function running it. Nothing here imports botbuilder.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime

from integrations.teams.cli_package import add_package_parser, cmd_package
from integrations.teams.places import SURFACE, Place, find_channel, load_places
from triagebot.config.settings import Settings, load_settings

Runner = Callable[[argparse.Namespace], int]
Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


# --- teams channels -------------------------------------------------------------------


def _add_channels(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    channels = sub.add_parser(
        "channels", help="the teams and channels the bot knows, and departments not reachable yet"
    )
    channels.add_argument("--json", action="store_true", help="JSON out")


def targets(settings: Settings) -> dict[str, str]:
    """What must be reachable in Teams: ``department id`` (or ``[escalation]``) -> channel."""
    wanted = {d.id: d.teams_channel for d in settings.departments.values() if d.teams_channel}
    if settings.config.escalation.teams_channel:
        wanted["[escalation]"] = settings.config.escalation.teams_channel
    if settings.config.managers.teams_channel:
        wanted["[managers]"] = settings.config.managers.teams_channel
    return wanted


def cmd_channels(args: argparse.Namespace) -> int:
    # Imported here: `triagebot teams --help` needs no store.
    from triagebot.runtime.wiring import Runtime  # noqa: PLC0415

    settings = load_settings(fallback_to_example=True)
    runtime = Runtime.build(settings, routing=False)
    try:
        places = load_places(runtime.store.places(SURFACE))
        now = runtime.clock()
    finally:
        runtime.close()
    routes = {
        who: (channel, find_channel(places, channel)) for who, channel in targets(settings).items()
    }
    if args.json:
        print(json.dumps(_as_json(places, routes), ensure_ascii=False, indent=2))
        return 0
    _print(places, routes, now)
    return 0


def _as_json(places: list[Place], routes: dict[str, tuple[str, Place | None]]) -> dict[str, object]:
    return {
        "places": [
            {"id": p.id, **{k: v for k, v in p.to_json().items() if k != "reference"}}
            for p in places
        ],
        "departments": {
            who: {"teams_channel": channel, "place": place.id if place else None}
            for who, (channel, place) in routes.items()
        },
    }


def _print(places: list[Place], routes: dict[str, tuple[str, Place | None]], now: datetime) -> None:
    from triagebot.ingest.source_state import format_age  # noqa: PLC0415

    if not places:
        print("The bot has not been added to any team or chat yet.")
        print("Add the app to a team in Teams (Apps > Manage your apps > Add to a team).")
    else:
        print("Known to the bot:")
        for place in places:
            print(f"  {place.label:<40} {place.id:<40} seen {format_age(now, place.seen_at)}")
    reached = [(w, c, p) for w, (c, p) in routes.items() if p is not None]
    missing = [(w, c) for w, (c, p) in routes.items() if p is None]
    if reached:
        print("Departments and where their cases go:")
        for who, channel, place in reached:
            assert place is not None
            print(f"  {who:<16} {channel!r:<24} -> {place.label}")
    if missing:
        print("Not reachable yet (no known channel matches teams_channel):")
        for who, channel in missing:
            print(f"  {who:<16} {channel!r}")
    elif not routes:
        print("No department has a teams_channel in the configuration.")


# --- registration ---------------------------------------------------------------------

#: Subcommand name -> (add its parser, run it). Add new ``teams`` subcommands here.
SUBCOMMANDS: dict[str, tuple[Register, Runner]] = {
    "channels": (_add_channels, cmd_channels),
    "package": (add_package_parser, cmd_package),
}


def add_teams_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``teams`` with its subcommands on the top-level parser."""
    teams = sub.add_parser("teams", help="Microsoft Teams: known channels, app package")
    teams_sub = teams.add_subparsers(dest="teams_command", required=True, metavar="SUBCOMMAND")
    for add, _ in SUBCOMMANDS.values():
        add(teams_sub)


def cmd_teams(args: argparse.Namespace) -> int:
    return SUBCOMMANDS[args.teams_command][1](args)


COMMANDS: dict[str, Runner] = {"teams": cmd_teams}
