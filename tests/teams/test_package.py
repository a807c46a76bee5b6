"""The Teams app package: zip contents, checks that name their field, the CLI end to end."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from integrations.teams.icons import color_icon, outline_icon, png_info
from integrations.teams.package import TEMPLATE, build_package, problems, render_manifest
from tests.cli_helpers import run_cli
from triagebot import __version__
from triagebot.errors import ConfigError

APP_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
HOST = "triagebot-acme.herokuapp.com"


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def icons() -> dict[str, bytes]:
    return {"color.png": color_icon(), "outline.png": outline_icon()}


def test_package_holds_the_filled_manifest_and_both_icons() -> None:
    files = unzip(build_package(APP_ID, HOST))

    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["id"] == APP_ID
    assert manifest["version"] == __version__
    assert manifest["manifestVersion"] == "1.30"
    assert manifest["validDomains"] == [HOST]
    assert manifest["developer"]["websiteUrl"] == f"https://{HOST}/"
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["team", "personal", "groupChat"]
    titles = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert titles[0] == "sla" and "sla breached" in titles and "sla help" in titles
    assert "{{" not in files["manifest.json"].decode()


def test_icons_have_the_sizes_teams_wants_and_are_the_same_every_time() -> None:
    files = unzip(build_package(APP_ID, HOST))
    color, outline = png_info(files["color.png"]), png_info(files["outline.png"])
    assert color is not None and (color.width, color.height) == (192, 192)
    assert outline is not None and (outline.width, outline.height) == (32, 32)
    assert outline.has_alpha
    assert build_package(APP_ID, HOST) == build_package(APP_ID, HOST)


def test_outline_icon_is_white_on_transparent() -> None:
    data = outline_icon()
    # One IDAT chunk right after the 25-byte IHDR chunk; rows start with filter byte 0.
    length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41 : 41 + length])
    rows = [raw[i * 129 : (i + 1) * 129] for i in range(32)]
    assert {row[0] for row in rows} == {0}
    pixels = {tuple(row[1 + 4 * x : 5 + 4 * x]) for row in rows for x in range(32)}
    assert pixels == {(255, 255, 255, 255), (0, 0, 0, 0)}


def manifest(**changes: Any) -> dict[str, Any]:
    data = render_manifest(APP_ID, HOST)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name__short": "x" * 31}, "manifest.json: name.short: 31 characters, at most 30"),
        ({"description__short": "x" * 81}, "description.short: 81 characters, at most 80"),
        ({"description__full": "x" * 4001}, "description.full: 4001 characters, at most 4000"),
        ({"id": "not-a-guid"}, "manifest.json: id: 'not-a-guid' is not a GUID"),
        ({"version": "1.0"}, "version: '1.0' is not major.minor.patch"),
        ({"accentColor": "blue"}, "accentColor: 'blue' is not #RRGGBB"),
        (
            {"developer__privacyUrl": "http://x.example/"},
            "developer.privacyUrl: 'http://x.example/'",
        ),
        ({"name__short": ""}, "manifest.json: name.short: required"),
        ({"validDomains": ["https://a.example/x"]}, "validDomains[0]: 'https://a.example/x'"),
    ],
)
def test_problems_name_the_field(changes: dict[str, Any], expected: str) -> None:
    found = problems(manifest(**changes), icons())
    assert len(found) == 1
    assert found[0].startswith("manifest.json: ")
    assert expected in found[0]


def test_bot_and_command_problems_name_their_path() -> None:
    data = manifest()
    bot = data["bots"][0]
    bot["scopes"] = ["team", "channel"]
    bot["commandLists"][0]["commands"][1]["title"] = "t" * 33
    assert problems(data, icons()) == [
        "manifest.json: bots[0].scopes: 'channel' is not one of groupChat, personal, team",
        "manifest.json: bots[0].commandLists[0].commands[1].title: 33 characters, at most 32",
    ]


def test_icon_of_the_wrong_size_is_refused() -> None:
    wrong = {"color.png": outline_icon(), "outline.png": outline_icon()}
    assert problems(manifest(), wrong) == [
        "manifest.json: icons.color: color.png is 32x32, must be 192x192"
    ]


def test_build_raises_one_config_error_listing_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        build_package("nope", "bad host")
    assert len(caught.value.problems) == 3  # id, validDomains[0], bots[0].botId


def test_cli_writes_the_zip(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "teams.zip"
    result = run_cli(
        ["teams", "package", "--host", HOST, "--out", str(out)],
        tmp_path,
        env={"MICROSOFT_APP_ID": APP_ID},
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert json.loads(unzip(out.read_bytes())["manifest.json"])["id"] == APP_ID


def test_cli_flag_wins_over_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "teams.zip"
    other = "11111111-2222-3333-4444-555555555555"
    result = run_cli(
        ["teams", "package", "--app-id", other, "--host", HOST, "--out", str(out)],
        tmp_path,
        env={"MICROSOFT_APP_ID": APP_ID},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(unzip(out.read_bytes())["manifest.json"])["id"] == other


def test_cli_reports_problems_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    template["name"]["short"] = "A name much too long for Teams to show"
    custom = tmp_path / "manifest.json"
    custom.write_text(json.dumps(template), encoding="utf-8")
    out = tmp_path / "teams.zip"

    args = ["teams", "package", "--app-id", "x", "--host", HOST, "--manifest", str(custom)]
    result = run_cli([*args, "--out", str(out)], tmp_path)
    assert result.returncode == 2
    assert "manifest.json: name.short: 38 characters, at most 30" in result.stderr
    assert "manifest.json: id: 'x' is not a GUID" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_needs_an_app_id_and_a_host(tmp_path: Path) -> None:
    result = run_cli(["teams", "package"], tmp_path)
    assert result.returncode == 2
    assert "--app-id: required (or set MICROSOFT_APP_ID)" in result.stderr
    assert "--host: required" in result.stderr
