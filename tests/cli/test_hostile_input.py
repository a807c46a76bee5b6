"""Hostile and careless input through the real command: exit 2 and one line, never a traceback.

Each case is one a stranger or a tired operator can produce: configuration and rule files
nested hundreds of levels deep or built as a YAML "billion laughs", mention files with dates at
the ends of the calendar or lines nested 100,000 levels deep, control characters, a look-back
of 800,000 days, empty names, negative limits, a login name the board would never match, and
half the Slack or Teams settings. Rule expressions that backtrack are in
``tests/routing/test_linear_regex.py``; control characters in ids and links in
``tests/ingest/test_control_chars.py``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from integrations.board.auth import verify_password
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from triagebot.config.settings import Environment

ROW = {
    "id": "reddit:t3_1",
    "source": "reddit",
    "url": "https://www.reddit.example/r/gear/comments/1",
    "text": "northwind charged me twice",
    "created_at": "2026-11-17T14:00:00Z",
}
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
department: pr
rules: *i
"""


def one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit 2, and stderr is exactly ``triagebot: <expected>`` (one line, no traceback)."""
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"triagebot: {expected}"], result.stderr


def write_config(folder: Path, brand_extra: str) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    path = folder / "triagebot.toml"
    path.write_text(text.replace("[brand]\n", "[brand]\n" + brand_extra + "\n", 1), "utf-8")
    return path


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [600, 100_000])
def test_config_with_an_array_nested_deep(tmp_path: Path, depth: int) -> None:
    config = write_config(tmp_path, "nested = " + "[" * depth + "]" * depth)
    line = config.read_text().splitlines().index("nested = " + "[" * depth + "]" * depth) + 1
    result = run_cli(["cases"], tmp_path)
    one_line(result, f"{config.name}:{line}: brand.nested: nested more than 32 levels deep")


def test_config_nesting_inside_strings_and_comments_is_text(tmp_path: Path) -> None:
    config = write_config(tmp_path, "# " + "[" * 100 + '\nx = "' + "[" * 100 + '"')
    result = run_cli(["cases"], tmp_path)
    one_line(
        result,
        f"{config.name}: brand.x: unknown field "
        "(check the spelling against triagebot.example.toml)",
    )


# --- rules --------------------------------------------------------------------------------


def test_rules_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pr.yaml").write_text(BOMB, encoding="utf-8")
    start = time.monotonic()
    result = run_cli(["rules", "check", "--dir", str(rules)], tmp_path)
    assert time.monotonic() - start < 30  # expanding it took minutes and 3.6 GB
    one_line(
        result,
        f"{rules / 'pr.yaml'}:2: YAML aliases (*name) are not allowed in rule files: "
        "write the value out",
    )


def test_rules_alias_to_itself_and_deep_nesting(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text(
        "department: pr\nrules: &r\n  - {name: a, terms: [x], more: *r}\n", encoding="utf-8"
    )
    deep = "department: pr\nrules:\n  - name: b\n    terms: " + "[" * 500 + "]" * 500 + "\n"
    (rules / "b.yaml").write_text(deep, encoding="utf-8")
    result = run_cli(["rules", "check", "--dir", str(rules)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"triagebot: {rules / 'a.yaml'}:3: YAML aliases (*name) are not allowed in rule files: "
        "write the value out",
        f"triagebot: {rules / 'b.yaml'}:4: nested more than 32 levels deep",
    ]


# --- mentions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("0001-01-01T00:00:00+14:00", "is outside the calendar in UTC"),
        ("9999-12-31T23:59:59-14:00", "is outside the calendar in UTC"),
        ("0001-01-01T00:00:00Z", "is before 1970: not a post's time"),
    ],
)
def test_ingest_dates_at_the_ends_of_the_calendar(tmp_path: Path, stamp: str, why: str) -> None:
    file = tmp_path / "in.jsonl"
    file.write_text(json.dumps({**ROW, "created_at": stamp}) + "\n", encoding="utf-8")
    one_line(run_cli(["ingest", str(file)], tmp_path), f"{file}:1: created_at: {stamp!r} {why}")
    assert not (tmp_path / "data").exists()


def test_ingest_line_nested_100000_deep(tmp_path: Path) -> None:
    file = tmp_path / "in.jsonl"
    deep = '{"raw": ' + "[" * 100_000 + "]" * 100_000 + "}"
    file.write_text(json.dumps(ROW) + "\n" + deep + "\n", encoding="utf-8")
    one_line(run_cli(["ingest", str(file)], tmp_path), f"{file}:2: invalid JSON: nested too deeply")


def test_triage_stdin_line_nested_100000_deep(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    result = run_cli(["triage"], tmp_path, stdin='{"text": "hello"}\n' + deep + "\n")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["triagebot: stdin:2: invalid JSON: nested too deeply"]


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["800000d", "99999999999999999999w", "36501d"])
def test_sla_since_beyond_a_century(tmp_path: Path, since: str) -> None:
    one_line(
        run_cli(["sla", "--since", since], tmp_path),
        f"--since: {since!r} is longer than 36500 days",
    )


@pytest.mark.parametrize("command", ["claim", "resolve", "spam"])
@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_an_empty_name_cannot_act(tmp_path: Path, command: str, name: str) -> None:
    one_line(
        run_cli([command, "1", "--by", name], tmp_path),
        "argument --by: a name is needed (it is empty or only spaces) "
        f"(see `triagebot {command} --help`)",
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_cases_limit_must_be_at_least_one(tmp_path: Path, limit: str) -> None:
    one_line(
        run_cli(["cases", "--limit", limit], tmp_path),
        f"argument --limit: {limit!r}: must be a whole number of at least 1 "
        "(see `triagebot cases --help`)",
    )


def test_cases_limit_says_when_more_match(tmp_path: Path) -> None:
    file = tmp_path / "in.jsonl"
    rows = [{**ROW, "id": f"reddit:t3_{n}"} for n in range(3)]
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run_cli(["ingest", str(file)], tmp_path).returncode == 0
    shown = run_cli(["cases", "--limit", "2", "--json"], tmp_path)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 2
    assert shown.stderr.strip() == "the newest 2 shown; more match (--limit N)"
    every = run_cli(["cases", "--limit", "3", "--json"], tmp_path)
    assert len(every.stdout.splitlines()) == 3 and every.stderr == ""


def test_cases_limit_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "--limit N" in readme and "default 50" in readme


# --- board logins -------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Bob", " bob ", "BOB"])
def test_hash_password_prints_the_login_the_board_accepts(tmp_path: Path, typed: str) -> None:
    result = run_cli(["board", "hash-password", "--user", typed], tmp_path, stdin="hunter2-42\n")
    assert result.returncode == 0, result.stderr
    pair = result.stdout.strip()
    assert pair.startswith("bob:scrypt$")
    users = Environment.read({"TRIAGEBOT_BOARD_USERS": pair}).board_users
    assert list(users) == ["bob"]  # the login form looks up " Bob " as "bob"
    assert verify_password("hunter2-42", users["bob"])
    if typed != "bob":
        assert "login name: bob" in result.stderr


@pytest.mark.parametrize("typed", ["bob smith", "", "9lives", "b" * 41, "bøb"])
def test_hash_password_refuses_a_name_no_login_can_match(tmp_path: Path, typed: str) -> None:
    result = run_cli(["board", "hash-password", "--user", typed], tmp_path, stdin="hunter2-42\n")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"triagebot: --user: {typed[:60]!r} cannot be a board login")
    assert len(result.stderr.splitlines()) == 1


# --- surfaces -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "environment: SLACK_SIGNING_SECRET: must be set too to use Slack",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s3cret"},
            "environment: SLACK_BOT_TOKEN: must be set too to use Slack",
        ),
    ],
)
def test_serve_with_half_the_slack_settings_leaves_no_data_folder(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    (tmp_path / "triagebot.toml").write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    for command in ("serve", "demo"):
        one_line(run_cli([command], tmp_path, env=env), expected)
        assert not (tmp_path / "data").exists()


def test_serve_with_half_the_teams_settings_leaves_no_data_folder(tmp_path: Path) -> None:
    (tmp_path / "triagebot.toml").write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    result = run_cli(["serve"], tmp_path, env={"MICROSOFT_APP_ID": "00000000-0000-0000-0000-1"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert all(line.startswith("triagebot: environment: ") for line in result.stderr.splitlines())
    assert not (tmp_path / "data").exists()


def test_classifier_examples_line_nested_deep(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pr.yaml").write_text(
        "department: pr\nrules:\n  - {name: a, terms: [praise]}\n"
        "options:\n  classifier: examples.jsonl\n",
        encoding="utf-8",
    )
    deep = "[" * 100_000 + "]" * 100_000
    (rules / "examples.jsonl").write_text(
        '{"text": "love it", "department": "pr"}\n' + deep + "\n", encoding="utf-8"
    )
    one_line(
        run_cli(["rules", "check", "--dir", str(rules)], tmp_path),
        f'{rules / "examples.jsonl"}:2: each line must be {{"text": ..., "department": ...}}',
    )
