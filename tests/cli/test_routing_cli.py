"""``triagebot routing``: what a user sees on an empty store and on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.test_cli import assert_one_clear_line
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG


def test_report_on_an_empty_store(tmp_path: Path) -> None:
    result = run_cli(["routing", "report", "--since", "7d"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 cases in the last 7d" in result.stdout
    assert "0 labels from the team" in result.stdout
    assert "routing model: shipped; shipped rules overruled: none" in result.stdout
    as_json = json.loads(run_cli(["routing", "report", "--json"], tmp_path).stdout)
    assert as_json["cases"] == 0 and as_json["accuracy"] is None and as_json["weeks"] == []
    assert as_json["model"] == {"version": "shipped", "overruled_rules": []}


def test_learn_with_nothing_to_learn_stores_nothing(tmp_path: Path) -> None:
    result = run_cli(["routing", "learn", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    learned = json.loads(result.stdout)
    assert learned["activated"] is False and learned["labels"] == 0
    assert "fewer than" in learned["reason"]


def test_a_bad_period_is_one_line(tmp_path: Path) -> None:
    assert_one_clear_line(run_cli(["routing", "report", "--since", "soon"], tmp_path), "--since")


def test_learning_needs_the_learned_model_setting(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    config = re.sub(r'(?m)^model = "learned"', 'model = "shipped"', example, count=1)
    assert config != example
    (tmp_path / "triagebot.toml").write_text(config, encoding="utf-8")
    result = run_cli(["routing", "learn"], tmp_path)
    assert_one_clear_line(result, "routing.model", '"learned"')
