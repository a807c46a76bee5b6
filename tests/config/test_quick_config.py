"""The configuration cache of quick commands: the same answers as the validated file, kept by
the file's contents, validated again (with the same errors) when the file changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config.test_config import MINIMAL
from tests.config.test_people import ANA_ROW, MARIA_ROW
from tests.conftest import EXAMPLE_CONFIG
from triagebot.cases.identities import Identity
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config import quick
from triagebot.config.case_rules import CaseRules
from triagebot.config.quick import cache_path, load_quick_settings
from triagebot.config.settings import load_settings
from triagebot.errors import ConfigError


def _environ(config: Path, cache: Path) -> dict[str, str]:
    return {"TRIAGEBOT_CONFIG": str(config), "TRIAGEBOT_CACHE_DIR": str(cache)}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRIAGEBOT_CACHE_DIR", str(folder))
    return folder


def test_the_cached_rules_answer_as_the_validated_file(cache: Path) -> None:
    settings = load_settings(EXAMPLE_CONFIG, {})
    quick = load_quick_settings(_environ(EXAMPLE_CONFIG, cache))
    assert quick.rules == settings.rules
    (file,) = cache.glob("config-*.json")
    assert file == cache_path(EXAMPLE_CONFIG.read_bytes())
    cached = load_quick_settings(_environ(EXAMPLE_CONFIG, cache)).rules
    departments = [*settings.departments, "no-such-department"]
    assert cached.department_ids == list(settings.departments)
    for department in departments:
        assert cached.has_department(department) == (department in settings.departments)
        assert repr(cached.calendar_for(department)) == repr(settings.calendar_for(department))
        for priority in Priority:
            assert cached.sla_policy(priority, department) == settings.sla_policy(
                priority, department
            )
    assert cached.reopen_within == settings.reopen_within
    assert FALLBACK_DEPARTMENT in cached.department_ids


def test_the_cache_is_what_a_quick_command_reads(tmp_path: Path, cache: Path) -> None:
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL + ANA_ROW + MARIA_ROW, encoding="utf-8")
    load_quick_settings(_environ(config, cache))
    path = cache_path(config.read_bytes())
    data = json.loads(path.read_text())
    data["persons"][0][0] = "Ana from the cache"
    path.write_text(json.dumps(data))
    rules = load_quick_settings(_environ(config, cache)).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana from the cache"
    assert rules.is_manager(Identity("slack", "U0MARIA"))
    path.write_text('{"format": 1, "calendars": [')  # damaged: validated and written again
    rules = load_quick_settings(_environ(config, cache)).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana Lopez"
    assert CaseRules.from_json(json.loads(path.read_text())) == rules


def test_a_changed_file_is_validated_again(tmp_path: Path, cache: Path) -> None:
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL, encoding="utf-8")
    load_quick_settings(_environ(config, cache))
    config.write_text(MINIMAL + ANA_ROW, encoding="utf-8")
    rules = load_quick_settings(_environ(config, cache)).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana Lopez"
    config.write_text(MINIMAL + ANA_ROW.replace('"U0ANA"', '"nobody"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_quick_settings(_environ(config, cache))
    (line,) = caught.value.problems
    assert line.startswith(f"{config}: people[0] (Ana Lopez).slack_user_id: ")
    assert len(list(cache.glob("config-*.json"))) == 2  # the bad file left nothing


def test_a_missing_file_is_the_same_error(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_quick_settings(_environ(tmp_path / "nowhere.toml", cache))


def test_departments_with_one_calendar_share_it(tmp_path: Path) -> None:
    config = tmp_path / "triagebot.toml"
    berlin = '\n[[departments]]\nid = "berlin"\ntimezone = "Europe/Berlin"\n'
    config.write_text(MINIMAL + '\n[[departments]]\nid = "sales"\n' + berlin, encoding="utf-8")
    rules = load_settings(config, {}).rules
    assert rules.calendar_for("support") is rules.calendar_for("sales")
    assert rules.calendar_for("support") is rules.calendar_for("no-such-department")
    assert rules.calendar_for("berlin").timezone == "Europe/Berlin"


def test_changed_code_misses_the_cache(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults of a missing field come from the code: an edited or upgraded triagebot
    validates the file again."""
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL, encoding="utf-8")
    load_quick_settings(_environ(config, cache))
    before = cache_path(config.read_bytes())
    monkeypatch.setattr(quick, "code_stamp", lambda: "another release")
    assert cache_path(config.read_bytes()) != before
    load_quick_settings(_environ(config, cache))
    assert len(list(cache.glob("config-*.json"))) == 2


@pytest.mark.parametrize("damage", ['{"format": 1, "calendars": []}', "[]", '"text"', "null"])
def test_a_cache_of_the_wrong_shape_is_validated_again(
    tmp_path: Path, cache: Path, damage: str
) -> None:
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL + ANA_ROW, encoding="utf-8")
    path = cache_path(config.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(damage)
    rules = load_quick_settings(_environ(config, cache)).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana Lopez"


def test_no_home_folder_still_finds_a_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIAGEBOT_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL + ANA_ROW, encoding="utf-8")
    rules = load_quick_settings({"TRIAGEBOT_CONFIG": str(config)}).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana Lopez"


def test_a_cache_with_a_list_for_a_table_is_validated_again(tmp_path: Path, cache: Path) -> None:
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL + ANA_ROW, encoding="utf-8")
    load_quick_settings(_environ(config, cache))
    path = cache_path(config.read_bytes())
    data = json.loads(path.read_text())
    data["calendars"] = list(data["calendars"].items())
    path.write_text(json.dumps(data))
    rules = load_quick_settings(_environ(config, cache)).rules
    assert rules.people.name_of(Identity("cli", "ana")) == "Ana Lopez"
