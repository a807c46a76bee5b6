"""Configuration: the example is valid; every mistake is one line naming file and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config.settings import Environment, load_settings
from triagebot.durations import Span
from triagebot.errors import ConfigError

MINIMAL = """
[brand]
name = "Acme"
keywords = ["acme"]

[[departments]]
id = "support"
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "triagebot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    return info.value.problems


def test_example_configuration_is_valid() -> None:
    settings = load_settings(EXAMPLE_CONFIG, {})
    assert settings.config.brand.name == "Northwind Outfitters"
    assert FALLBACK_DEPARTMENT in settings.departments
    assert settings.rules_dir == EXAMPLE_CONFIG.parent / "rules"
    pr_policy = settings.sla_policy(Priority.P1, "pr")
    assert pr_policy.claim_within == Span(seconds=600)
    assert settings.sla_policy(Priority.P1, "shipping").claim_within == Span(seconds=900)
    assert settings.sla_policy(Priority.P3, "shipping").reminder_at == 0.9
    assert settings.calendar_for("hr").is_open is not None


def test_minimal_configuration_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    settings = load_settings(path, {})
    assert set(settings.departments) == {"support", FALLBACK_DEPARTMENT}
    assert settings.reopen_within == timedelta(days=7)
    assert settings.sla_policy(Priority.P2, "support").resolve_within == Span(days=1)


def test_respond_within_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.toml"
    path.write_text(
        MINIMAL
        + '[sla.P2]\nclaim_within = "30m"\nresolve_within = "8h"\n'
        + '[sla.P3]\nclaim_within = "1h"\nresolve_within = "2d"\nrespond_within = "6h"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, {})
    # Defaults: P1 1h, P2 4h, P3 one business day; an [sla.P…] value wins.
    assert settings.sla_policy(Priority.P1, "support").respond_within == Span(seconds=3600)
    assert settings.sla_policy(Priority.P2, "support").respond_within == Span(seconds=4 * 3600)
    assert settings.sla_policy(Priority.P3, "support").respond_within == Span(seconds=6 * 3600)
    example = load_settings(EXAMPLE_CONFIG, {})
    assert example.sla_policy(Priority.P3, "support").respond_within == Span(days=1)
    # A department's [departments.sla.P1] sets its own, else takes [sla.P1]'s.
    assert example.sla_policy(Priority.P1, "pr").respond_within == Span(seconds=1800)
    assert example.sla_policy(Priority.P1, "shipping").respond_within == Span(seconds=3600)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere.toml: file not found"):
        load_settings(tmp_path / "nothere.toml", {})


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[brand]\nname = \n")
    assert line.startswith(f"{tmp_path / 'triagebot.toml'}: invalid TOML")
    assert "line 2" in line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'timezone = "Mars/Olympus"',
            "departments[0] (support).timezone: unknown time zone 'Mars/Olympus'",
        ),
        ('hours = "Mon-Fri 17:00-09:00"', "departments[0] (support).hours"),
        ('holidays = "XX"', "departments[0] (support).holidays"),
        ('id2 = "x"', "departments[0] (support).id2: unknown field"),
    ],
)
def test_bad_department_fields(tmp_path: Path, extra: str, expected: str) -> None:
    lines = problems(tmp_path, MINIMAL + extra + "\n")
    assert any(expected in line for line in lines), lines


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            '[sla.P1]\nclaim_within = "-5m"\nresolve_within = "1h"',
            "sla.P1.claim_within: '-5m' is not a duration",
        ),
        (
            '[sla.P1]\nclaim_within = "0m"\nresolve_within = "1h"',
            "sla.P1.claim_within: must be more than zero",
        ),
        ('[sla.P1]\nclaim_within = "15m"', "sla.P1.resolve_within: is required"),
        (
            '[sla.P1]\nclaim_within = "15m"\nresolve_within = "1h"\nrespond_within = "soon"',
            "sla.P1.respond_within: 'soon' is not a duration",
        ),
        ("[sla]\nreminder_at = 1.5", "sla.reminder_at"),
        ('[[sources]]\nname = "r"\ntype = "myspace"', "sources[0] (r).type"),
        (
            '[[sources]]\nname = "r"\ntype = "reddit"\ninterval = "1s"',
            "sources[0] (r).interval: must be at least 10s",
        ),
        (
            '[[sources]]\nname = "r"\ntype = "rss"\nbase_url = "file:///etc/passwd"',
            "sources[0] (r).base_url",
        ),
    ],
)
def test_bad_sla_and_sources(tmp_path: Path, section: str, expected: str) -> None:
    lines = problems(tmp_path, MINIMAL + section + "\n")
    assert any(expected in line for line in lines), lines


def test_every_problem_is_reported_each_on_one_line(tmp_path: Path) -> None:
    text = (
        '[brand]\nname = ""\n\n[[departments]]\nid = "Bad Id"\n\n[[departments]]\nid = "Bad Id"\n'
    )
    lines = problems(tmp_path, text)
    assert len(lines) >= 3
    assert all("\n" not in line and line.startswith(str(tmp_path)) for line in lines)
    assert any("brand.keywords: is required" in line for line in lines)
    assert any("departments[0] (Bad Id).id" in line for line in lines)


def test_duplicate_department_ids(tmp_path: Path) -> None:
    lines = problems(tmp_path, MINIMAL + '\n[[departments]]\nid = "support"\n')
    assert any("departments[1]: 'support' is listed twice" in line for line in lines)


def test_environment_is_read_once_with_secrets_hidden() -> None:
    env = Environment.read(
        {"SLACK_BOT_TOKEN": "xoxb-secret", "PORT": "8080", "TRIAGEBOT_DB": "/tmp/x.json"}
    )
    assert env.port == 8080
    assert env.slack_bot_token is not None and "xoxb-secret" not in repr(env)
    assert env.db_path == Path("/tmp/x.json")


def test_bad_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PORT: 'eighty' is not a TCP port"):
        Environment.read({"PORT": "eighty"})
