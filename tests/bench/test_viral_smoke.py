"""The viral-day benchmark in its smallest configuration, so that it keeps working.

200 mentions appear on the loopback Mastodon timelines within 0.12 s, before serve's first
poll; the real ``triagebot serve`` polls, stores and delivers them to the rate-limited fake
Slack while two people claim and resolve cards and a probe asks ``/healthz``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.bench_viral import Options, report, run_once

pytestmark = pytest.mark.slow


def test_smallest_viral_day_runs_and_loses_nothing(tmp_path: Path) -> None:
    options = Options(mentions=200, minutes=0.002, sources=2, staff=2, think=1.0, tail=10.0)
    result = asyncio.run(run_once(options, tmp_path / "run"))
    assert result["stored"]["cases"] == result["stored"]["mentions"] == 200
    assert result["stored_at_end"] == 200  # the poller's own count, read from /healthz
    assert result["cards_posted_twice"] == 0
    assert result["delivered_cards"] > 0
    assert result["closest_posts_in_a_channel_s"] >= 0.99  # the fake's limit held
    assert result["healthz"]["answers"] > 0 and result["healthz"]["errors"] == 0
    assert result["healthz"]["control_p50_ms"] > 0  # the idle server beside serve answered
    assert result["claims"]["count"] >= 1
    assert "| poller: mentions stored |" in report({"tinydb": result})
