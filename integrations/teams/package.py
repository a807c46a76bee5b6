"""The Teams app package: manifest.json filled in and checked, two icons, one zip.

``build_package(app_id, host)`` fills ``{{APP_ID}}``, ``{{HOST}}`` and ``{{VERSION}}`` in the
template (``manifest/manifest.json``, or another one), checks the result against the rules
Teams enforces on upload (required fields, GUIDs, lengths, https URLs, scopes, icon sizes)
and returns the zip's bytes: ``manifest.json``, ``color.png`` and ``outline.png`` at its root.
Every problem is reported at once, each naming its field (``ConfigError``, exit 2).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from integrations.teams.icons import color_icon, outline_icon, png_info
from triagebot import __version__
from triagebot.errors import ConfigError

TEMPLATE = Path(__file__).with_name("manifest") / "manifest.json"
MANIFEST = "manifest.json"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_HOST = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SCOPES = {"team", "personal", "groupChat"}
#: Field -> longest text Teams accepts.
LIMITS = {
    "name.short": 30,
    "name.full": 100,
    "description.short": 80,
    "description.full": 4000,
    "developer.name": 32,
}
REQUIRED = (
    "$schema",
    "manifestVersion",
    "version",
    "id",
    "developer.name",
    "developer.websiteUrl",
    "developer.privacyUrl",
    "developer.termsOfUseUrl",
    "name.short",
    "description.short",
    "description.full",
    "icons.color",
    "icons.outline",
    "accentColor",
)
ICON_SIZES = {"color": 192, "outline": 32}


def render_manifest(app_id: str, host: str, template: Path = TEMPLATE) -> dict[str, Any]:
    """The template with its placeholders filled in (in JSON values, never in raw text)."""
    try:
        data = json.loads(template.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{template}: cannot read the manifest template: {exc}") from None
    values = {"{{APP_ID}}": app_id.strip(), "{{HOST}}": host.strip(), "{{VERSION}}": __version__}
    result: dict[str, Any] = _fill(data, values)
    return result


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        for placeholder, value in values.items():
            node = node.replace(placeholder, value)
        return node
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    return node


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def problems(manifest: dict[str, Any], icons: dict[str, bytes]) -> list[str]:
    """Everything Teams would refuse, one line per field; empty when the package is fine."""
    found = list(_check_fields(manifest))
    found += _check_bots(manifest.get("bots"))
    found += _check_icons(manifest, icons)
    return [f"{MANIFEST}: {p}" for p in found]


def _check_fields(m: dict[str, Any]) -> Iterator[str]:
    for field in REQUIRED:
        value = _get(m, field)
        if not isinstance(value, str) or not value.strip():
            yield f"{field}: required"
    for field, limit in LIMITS.items():
        value = _get(m, field)
        if isinstance(value, str) and len(value) > limit:
            yield f"{field}: {len(value)} characters, at most {limit}"
    app_id = m.get("id")
    if isinstance(app_id, str) and app_id and not _GUID.match(app_id):
        yield f"id: {app_id!r} is not a GUID (the Microsoft App ID of the Azure Bot)"
    version = m.get("version")
    if isinstance(version, str) and version and not _SEMVER.match(version):
        yield f"version: {version!r} is not major.minor.patch"
    color = m.get("accentColor")
    if isinstance(color, str) and color and not _COLOR.match(color):
        yield f"accentColor: {color!r} is not #RRGGBB"
    for field in ("developer.websiteUrl", "developer.privacyUrl", "developer.termsOfUseUrl"):
        url = _get(m, field)
        if isinstance(url, str) and url and not re.match(r"^https://[^/\s]+", url):
            yield f"{field}: {url!r} is not an https URL"
    domains = m.get("validDomains", [])
    if not isinstance(domains, list):
        yield "validDomains: must be a list of host names"
        domains = []
    for i, domain in enumerate(domains):
        if not isinstance(domain, str) or not _HOST.match(domain):
            yield f"validDomains[{i}]: {domain!r} is not a host name (no scheme, port or path)"


def _check_bots(bots: Any) -> Iterator[str]:
    if not isinstance(bots, list) or not bots:
        yield "bots: required (one bot)"
        return
    for i, bot in enumerate(bots):
        where = f"bots[{i}]"
        if not isinstance(bot, dict):
            yield f"{where}: must be an object"
            continue
        bot_id = bot.get("botId")
        if not isinstance(bot_id, str) or not _GUID.match(bot_id):
            yield f"{where}.botId: {bot_id!r} is not a GUID"
        yield from _check_scopes(f"{where}.scopes", bot.get("scopes"))
        lists = bot.get("commandLists", [])
        if not isinstance(lists, list) or len(lists) > 3:
            yield f"{where}.commandLists: at most 3 lists"
            continue
        for j, command_list in enumerate(lists):
            yield from _check_command_list(f"{where}.commandLists[{j}]", command_list)


def _check_scopes(where: str, scopes: Any) -> Iterator[str]:
    if not isinstance(scopes, list) or not scopes:
        yield f"{where}: required"
        return
    for scope in scopes:
        if scope not in _SCOPES:
            yield f"{where}: {scope!r} is not one of {', '.join(sorted(_SCOPES))}"


def _check_command_list(where: str, command_list: Any) -> Iterator[str]:
    if not isinstance(command_list, dict):
        yield f"{where}: must be an object"
        return
    yield from _check_scopes(f"{where}.scopes", command_list.get("scopes"))
    commands = command_list.get("commands")
    if not isinstance(commands, list) or not 1 <= len(commands) <= 10:
        yield f"{where}.commands: 1 to 10 commands"
        return
    for k, command in enumerate(commands):
        for field, limit in (("title", 32), ("description", 128)):
            value = command.get(field) if isinstance(command, dict) else None
            if not isinstance(value, str) or not value:
                yield f"{where}.commands[{k}].{field}: required"
            elif len(value) > limit:
                yield f"{where}.commands[{k}].{field}: {len(value)} characters, at most {limit}"


def _check_icons(manifest: dict[str, Any], icons: dict[str, bytes]) -> Iterator[str]:
    for kind, size in ICON_SIZES.items():
        name = _get(manifest, f"icons.{kind}")
        data = icons.get(name) if isinstance(name, str) else None
        if data is None:
            continue  # a missing name is reported with the required fields
        info = png_info(data)
        if info is None:
            yield f"icons.{kind}: {name} is not a PNG"
        elif (info.width, info.height) != (size, size):
            yield f"icons.{kind}: {name} is {info.width}x{info.height}, must be {size}x{size}"
        elif kind == "outline" and not info.has_alpha:
            yield f"icons.{kind}: {name} needs a transparent background (RGBA)"


def build_package(app_id: str, host: str, template: Path = TEMPLATE) -> bytes:
    """The zip to upload to Teams; raises ConfigError naming every field in the way."""
    manifest = render_manifest(app_id, host, template)
    icons = {"color.png": color_icon(), "outline.png": outline_icon()}
    for kind in ICON_SIZES:
        name = _get(manifest, f"icons.{kind}")
        if isinstance(name, str) and name not in icons:
            icons[name] = icons.pop(f"{kind}.png")
    found = problems(manifest, icons)
    if found:
        raise ConfigError(found)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(MANIFEST, _dump(manifest)), *sorted(icons.items())]:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _dump(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
