"""Each source type declares its extra keys: a misspelt or foreign key stops with file and field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.sources import build_specs
from tests.conftest import EXAMPLE_CONFIG, ROOT
from triagebot.config.settings import load_settings
from triagebot.errors import ConfigError


def config_with(folder: Path, block: str) -> Path:
    head = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("[[sources]]")[0]
    path = folder / "triagebot.toml"
    path.write_text(head + "[[sources]]\n" + block, encoding="utf-8")
    return path


def problems(folder: Path, block: str) -> list[str]:
    config = config_with(folder, block)
    with pytest.raises(ConfigError) as caught:
        build_specs(load_settings(config, {}))
    return [line.removeprefix(f"{config}: ") for line in caught.value.problems]


def test_a_misspelt_common_key_is_an_error_with_a_hint(tmp_path: Path) -> None:
    block = 'name = "feed"\ntype = "rss"\nbase_url = "https://f.example/rss"\nintervall = "5m"\n'
    (line,) = problems(tmp_path, block)
    assert line.startswith("sources[0] (feed).intervall: unknown key for type 'rss'")
    assert "did you mean 'interval'?" in line


def test_a_misspelt_adapter_key_is_an_error(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, 'name = "r"\ntype = "reddit"\nsubredit = "camping"\n')
    assert line.startswith("sources[0] (r).subredit: unknown key for type 'reddit'")
    assert "did you mean 'subreddit'?" in line


def test_a_key_of_another_source_type_is_refused(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, 'name = "r"\ntype = "reddit"\nsite = "outdoors"\n')
    assert line.startswith("sources[0] (r).site: unknown key for type 'reddit'")


def test_wrong_types_name_the_field(tmp_path: Path) -> None:
    block = 'name = "hn"\ntype = "hackernews"\nmax_pages = "5"\ntags = 3\n'
    assert sorted(problems(tmp_path, block)) == [
        "sources[0] (hn).max_pages: must be a whole number",
        "sources[0] (hn).tags: must be text (in quotes)",
    ]


def test_unknown_keys_are_reported_even_without_credentials(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, 'name = "x"\ntype = "x"\nbearer_token = "secret"\n')
    assert line.startswith("sources[0] (x).bearer_token: unknown key for type 'x'")
    assert "did you mean 'bearer_token_env'?" in line


def test_declared_keys_are_accepted(tmp_path: Path) -> None:
    block = (
        'name = "r"\ntype = "reddit"\nsubreddit = "camping"\n'
        'comments_subreddits = ["NorthwindOutfitters"]\npage_size = 25\nmax_text = 2000\n'
    )
    (spec,) = build_specs(load_settings(config_with(tmp_path, block), {}))
    assert spec.source is not None


def test_the_example_configuration_is_valid() -> None:
    specs = build_specs(load_settings(EXAMPLE_CONFIG, {}))
    assert specs


def test_the_command_exits_2_with_one_line(tmp_path: Path) -> None:
    config = config_with(tmp_path, 'name = "r"\ntype = "reddit"\nsubredit = "camping"\n')
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TRIAGEBOT_CONFIG": str(config),
        "TRIAGEBOT_DB": str(tmp_path / "db.json"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "triagebot", "sources"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"triagebot: {config}: sources[0] (r).subredit: unknown key")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
