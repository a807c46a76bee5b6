"""`triagebot demo` end to end: samples flow through the pipeline, commands share the store."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli_helpers import run_cli
from triagebot.config.settings import Settings
from triagebot.sla.chart import chart_data
from triagebot.store.tinydb_store import TinyDBStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRIAGEBOT_", "SLACK_", "MICROSOFT_"))
    }
    env.update({"PORT": str(port), "TRIAGEBOT_DB": str(tmp_path / "data" / "triagebot.json")})
    return subprocess.Popen(
        [sys.executable, "-m", "triagebot", "demo", "--seed", "7", *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_health(
    port: int, proc: subprocess.Popen[str], timeout: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return dict(json.load(response))
        except OSError:
            time.sleep(0.2)
    raise AssertionError("demo did not answer /healthz")


def assert_a_follow_up_reopened_a_case(out: str, tmp_path: Path) -> None:
    """A customer who writes after the resolve reopens the case."""
    reopened = re.findall(r"^#(\d+) ↳ reopened: the customer replied in the thread$", out, re.M)
    assert reopened
    shown = json.loads(run_cli(["show", reopened[0], "--json"], tmp_path).stdout)
    actions = [e["action"] for e in shown["events"]]
    assert actions.index("resolve") < actions.index("follow_up") <= actions.index("reopen")
    [reopen] = [e for e in shown["events"] if e["action"] == "reopen"]
    assert (reopen["before"]["state"], reopen["after"]["state"]) == ("resolved", "open")
    assert shown["case"]["state"] == "open" and shown["case"]["resolved_at"] is None


def assert_the_history_gives_the_reports_shapes(tmp_path: Path, settings: Settings) -> None:
    """The month of history gives the SLA summary and the chart shapes, not empty frames."""
    summary = json.loads(run_cli(["sla", "--since", "30d", "--json"], tmp_path).stdout)
    total = summary["total"]
    assert total["count"] > 300 and total["by_state"]["resolved"] > 300
    for target in ("claim", "respond", "resolve"):
        assert total[target]["n"] > 300
        assert total[target]["met"] > 0 and total[target]["breaches"] > 0
    assert sum(1 for d in summary["by_department"].values() if d["count"] > 0) >= 5
    store = TinyDBStore(tmp_path / "data" / "triagebot.json")
    try:
        now = datetime.now(UTC)
        cases_30d = store.list_cases(since=now - timedelta(days=30), until=now)
    finally:
        store.close()
    data = chart_data(cases_30d, settings.calendar_for, now, now - timedelta(days=30), now)
    for panel in (data.claim, data.respond, data.resolve):  # (triage holds only a few of
        assert sum(1 for share in panel.values() if share.n > 0) >= 5  # today's, maybe none done)
    assert sum(1 for day in data.breaches.values() if any(day)) >= 10  # breaches on many days


def test_demo_runs_every_sample_through_the_pipeline(tmp_path: Path, settings: Settings) -> None:
    port = free_port()
    proc = start_demo(tmp_path, port, "--pace", "0.05", "--until-done")
    health = wait_for_health(port, proc)
    assert health["status"] == "ok"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "↳ claimed by" in out
    # Staff answer from the board (posted through the loopback platform), the brand's answers
    # given on the platform are found in the thread, customers write again.
    assert "↳ public reply by" in out
    assert "↳ answered in public by @northwind_support" in out
    assert "↳ the customer replied in the thread" in out
    assert "was not posted" in out and "429" in out  # the platform's rate limit, told plainly
    # Hostile text is shown inert: no terminal escape sequence reaches the console.
    assert "\x1b[2J" not in out

    cases = [
        json.loads(line)
        for line in run_cli(
            ["cases", "--state", "all", "--json", "--limit", "5000"], tmp_path
        ).stdout.splitlines()
    ]
    history = [c for c in cases if c["mention"]["id"].startswith("demo-history:")]
    cases = [c for c in cases if not c["mention"]["id"].startswith("demo-history:")]
    assert len(cases) == 40  # 42 samples less the brand's own post and the airline look-alike
    assert len(history) > 300  # a month of handled cases on the first run
    days = {datetime.fromisoformat(c["ingested_at"]).date() for c in history}
    assert len(days) >= 25 and len({d.isocalendar()[:2] for d in days}) >= 4
    assert any(c.get("first_response") for c in cases)
    states = {c["state"] for c in cases}
    assert "spam" in states and "resolved" in states
    assert {c["department"] for c in cases} >= {
        "billing",
        "shipping",
        "customer_service",
        "hr",
        "pr",
    }

    assert_a_follow_up_reopened_a_case(out, tmp_path)
    assert_the_history_gives_the_reports_shapes(tmp_path, settings)

    # A second run finds every sample already stored and posts nothing twice.
    rerun = start_demo(tmp_path, port, "--pace", "0.01", "--until-done", "--no-staff")
    out2, err2 = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err2
    assert "↳" not in out2 and "already in the store" in err2


def test_demo_store_is_shared_with_other_commands_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc = start_demo(tmp_path, port, "--pace", "0.2", "--no-staff")
    try:
        wait_for_health(port, proc)
        deadline = time.monotonic() + 30
        listed: list[str] = []
        while time.monotonic() < deadline and not listed:
            result = run_cli(["cases", "--json"], tmp_path)
            listed = [json.loads(line)["id"] for line in result.stdout.splitlines()]
            time.sleep(0.2)
        assert listed, "no case appeared"
        case_id = listed[-1]
        claim = run_cli(["claim", case_id, "--by", "you"], tmp_path)
        assert claim.returncode == 0, claim.stderr
        assert run_cli(["claim", case_id, "--by", "ana"], tmp_path).returncode == 1
        deadline = time.monotonic() + 15
        claimed_at = datetime.now(UTC)
        while time.monotonic() < deadline:  # the demo's delivery job shows the change
            health = wait_for_health(port, proc)  # counts taken after the claim, all delivered
            counted_at = datetime.fromisoformat(str(health["counts_at"]))
            if counted_at > claimed_at and health["pending_outbox"] == 0:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"#{case_id} ↳ claimed by you" in out
