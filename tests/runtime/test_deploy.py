"""Running on Heroku: no embedded store on a dyno, one-line logs without secrets."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError
from triagebot.runtime.deploy import OneLineFormatter, check_durable, store_label
from triagebot.runtime.leadership import leadership_for


def test_dyno_without_database_url_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="wipes on every restart") as caught:
        check_durable(Environment.read({"DYNO": "web.1"}))
    assert "TRIAGEBOT_ALLOW_EPHEMERAL=1" in str(caught.value)
    check_durable(Environment.read({"DYNO": "web.1", "TRIAGEBOT_ALLOW_EPHEMERAL": "1"}))
    check_durable(Environment.read({"DYNO": "web.1", "DATABASE_URL": "postgres://u:p@h/d"}))
    check_durable(Environment.read({}))


def test_commands_on_a_dyno_without_database_exit_2(tmp_path: Path) -> None:
    config = {"TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG)}
    refused = run_cli(["serve"], tmp_path, env=config | {"DYNO": "web.1"})
    assert refused.returncode == 2
    assert "DATABASE_URL" in refused.stderr and "Traceback" not in refused.stderr
    assert run_cli(["migrate"], tmp_path, env=config | {"DYNO": "release.1"}).returncode == 2
    allowed = run_cli(
        ["cases", "--json"],
        tmp_path,
        env=config | {"DYNO": "run.1", "TRIAGEBOT_ALLOW_EPHEMERAL": "1"},
    )
    assert allowed.returncode == 0, allowed.stderr


def test_store_label_never_holds_the_url() -> None:
    env = Environment.read({"DATABASE_URL": "postgres://u:hunter2@db.example.com/d"})
    assert "hunter2" not in store_label(env) and "example" not in store_label(env)


def test_log_lines_are_one_line_key_value() -> None:
    formatter = OneLineFormatter()
    try:
        raise ValueError('bad\n"thing"')
    except ValueError:
        record = logging.LogRecord(
            "triagebot.x", logging.ERROR, __file__, 1, "job %s failed", ("poll",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line
    assert line.startswith("at=")
    assert ' level=error logger=triagebot.x msg="job poll failed exc=Traceback' in line
    assert '\\"thing\\"' in line


def test_heroku_files_describe_the_app() -> None:
    root = EXAMPLE_CONFIG.parent
    app = json.loads((root / "app.json").read_text(encoding="utf-8"))
    assert any("heroku-postgresql" in str(addon) for addon in app["addons"])
    assert app["formation"]["web"]["quantity"] >= 1
    assert all(spec["description"].strip() for spec in app["env"].values())
    read = {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "MICROSOFT_APP_ID",
        "MICROSOFT_APP_PASSWORD",
        "TRIAGEBOT_ALLOW_EPHEMERAL",
        "TRIAGEBOT_RUN_JOBS",
    }
    assert read <= set(app["env"])
    assert (root / ".python-version").read_text().strip() == "3.11"
    procfile = (root / "Procfile").read_text()
    assert "web: triagebot serve" in procfile and "release: triagebot migrate" in procfile


def test_run_jobs_off_means_never_leader() -> None:
    assert not Environment.read({"TRIAGEBOT_RUN_JOBS": "0"}).run_jobs
    assert Environment.read({}).run_jobs
    assert not leadership_for(object(), run_jobs=False).check()
    assert leadership_for(object()).check()  # no lock in the store: the one process leads
