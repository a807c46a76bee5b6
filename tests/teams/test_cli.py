"""``triagebot teams channels``: what the bot knows and which departments it cannot reach yet."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from integrations.teams.places import SURFACE, Place, find_channel, load_places
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from triagebot.store.tinydb_store import TinyDBStore

SEEN = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


def channel(cid: str, name: str | None, team: str = "Northwind") -> Place:
    return Place(id=cid, kind="channel", service_url="https://smba.example/", reference={},
                 team_id="19:team", team_name=team, name=name, seen_at=SEEN)  # fmt: skip


def test_channels_lists_known_places_and_unreachable_departments(tmp_path: Path) -> None:
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        for place in (channel("19:ship", "Shipping"), channel("19:support", "Support")):
            store.remember_place(SURFACE, place.id, place.to_json())
        store.remember_place(SURFACE, "person:29:a", {"kind": "person", "name": "Ana"})
    env = {"TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG)}
    done = run_cli(["teams", "channels"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Northwind / Shipping" in out and "Northwind / Support" in out
    assert "Ana" not in out
    reached, _, missing = out.partition("Not reachable yet")
    assert "shipping" in reached and "customer_service" in reached
    assert "billing" in missing and "'Billing'" in missing and "[escalation]" in missing
    done = run_cli(["teams", "channels", "--json"], tmp_path, env=env)
    data = json.loads(done.stdout)
    assert data["departments"]["shipping"] == {"teams_channel": "Shipping", "place": "19:ship"}
    assert data["departments"]["billing"]["place"] is None
    assert "reference" not in data["places"][0]


def test_channels_before_the_bot_was_added(tmp_path: Path) -> None:
    done = run_cli(["teams", "channels"], tmp_path, env={"TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG)})
    assert done.returncode == 0 and "has not been added to any team" in done.stdout
    help_text = run_cli(["teams", "--help"], tmp_path).stdout
    assert "channels" in help_text


def test_teams_cli_imports_no_botbuilder() -> None:
    import subprocess  # noqa: PLC0415

    code = "import sys, integrations.teams.cli; print('botbuilder' in str(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_channel_matching_by_id_name_and_team() -> None:
    places = load_places({
        "19:a": channel("19:a", "General", team="Sales").to_json(),
        "19:b": channel("19:b", "General", team="Support").to_json(),
        "19:c": channel("19:c", "Shipping").to_json(),
    })  # fmt: skip
    wanted = ("19:c", "#shipping", "Support/General")
    ids = {w: getattr(find_channel(places, w), "id", None) for w in wanted}
    assert ids == {"19:c": "19:c", "#shipping": "19:c", "Support/General": "19:b"}
    assert find_channel(places, "Managers") is None
    assert find_channel(places, None) is None
