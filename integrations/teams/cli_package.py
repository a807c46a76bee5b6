"""``triagebot teams package``: write the Teams app zip to upload in Teams or the admin center.

The app id comes from ``--app-id`` or ``MICROSOFT_APP_ID`` (the Azure Bot's Microsoft App ID,
used as both the Teams app id and the bot id); ``--host`` is where the bot is served, e.g.
``triagebot-acme.herokuapp.com``. Problems are listed one per line, each naming its field,
with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from integrations.teams.package import TEMPLATE, build_package
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError

DEFAULT_OUT = Path("triagebot-teams.zip")


def add_package_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    package = sub.add_parser(
        "package", help="write the Teams app package (manifest.json and icons in a zip)"
    )
    package.add_argument(
        "--app-id",
        metavar="ID",
        help="the Azure Bot's Microsoft App ID (default MICROSOFT_APP_ID)",
    )
    package.add_argument(
        "--host", metavar="HOST", help="host name serving /api/messages, e.g. APP.herokuapp.com"
    )
    package.add_argument(
        "--out", metavar="FILE", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}"
    )
    package.add_argument(
        "--manifest",
        metavar="FILE",
        type=Path,
        default=TEMPLATE,
        help="manifest template with {{APP_ID}}, {{HOST}} and {{VERSION}} (default: built in)",
    )


def cmd_package(args: argparse.Namespace) -> int:
    app_id = args.app_id or Environment.read().microsoft_app_id or ""
    missing = []
    if not app_id.strip():
        missing.append("--app-id: required (or set MICROSOFT_APP_ID)")
    if not (args.host or "").strip():
        missing.append("--host: required, e.g. --host APP.herokuapp.com")
    if missing:
        raise ConfigError(missing)
    data = build_package(app_id, args.host, args.manifest)
    out: Path = args.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"--out: {out}: {exc.strerror}") from None
    print(f"Wrote {out} ({len(data)} bytes) for app {app_id.strip()} at {args.host.strip()}.")
    print("Upload it in Teams: Apps > Manage your apps > Upload an app (see docs/teams.md).")
    return 0
