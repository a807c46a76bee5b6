"""Benchmark of the commands a user runs against a year of history: 100,000 stored cases.

Run ``python -m bench.bench_cli`` (``--write`` puts the results into the "Commands" section of
``docs/benchmarks.md``). Uses the data set of ``bench.bench_store`` (generated once, cached
under ``bench/.work/``) and measures whole processes, interpreter start included:
``triagebot sla --since 30d``, ``triagebot ingest`` of 1,000 new mentions, ``triagebot claim``,
and the resident memory of ``triagebot serve`` holding the store while answering requests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_store import DEPARTMENTS, WORK, _machine, dataset, write_doc

TARGETS = {"sla_s": 1.0, "ingest_s": 2.0, "claim_ms": 50.0, "serve_rss_mb": 300.0}
RUNS = 5


#: Departments the shipped rules route to.
RULE_DEPARTMENTS = ["customer_service", "sales", "shipping", "billing", "hr", "pr", "product"]


def _config(folder: Path, hours: str = "Mon-Fri 09:00-17:00") -> Path:
    """A configuration with the data set's departments and those of the shipped rules, open
    ``hours`` (New York time)."""
    ids = dict.fromkeys([*DEPARTMENTS, *RULE_DEPARTMENTS])
    departments = "".join(f'\n[[departments]]\nid = "{d}"\n' for d in ids)
    path = folder / "triagebot.toml"
    path.write_text(
        '[brand]\nname = "Bench"\nkeywords = ["order", "parcel", "refund"]\n'
        f'\n[calendar]\ntimezone = "America/New_York"\nhours = "{hours}"\n'
        f'holidays = "US"\n{departments}'
    )
    return path


def _env(config: Path, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
    env.update(TRIAGEBOT_CONFIG=str(config), TRIAGEBOT_DB=str(db), **extra)
    return env | compiled()


def compiled() -> dict[str, str]:
    """Environment of a process that reads compiled bytecode, as an installed triagebot does
    (pip compiles it), kept under bench/.work even where PYTHONDONTWRITEBYTECODE is set."""
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(WORK / "pycache")}


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "triagebot", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def _mentions(path: Path, count: int) -> Path:
    now = datetime.now(UTC)
    with path.open("w") as out:
        for n in range(count):
            row = {
                "id": f"bench:{n}",
                "source": "bench",
                "url": f"https://example.com/posts/{n}",
                "author": {"handle": f"user{n}", "followers": n},
                "text": f"my order {n} arrived broken and the parcel was late, refund please",
                "created_at": (now - timedelta(minutes=5)).isoformat(),
            }
            out.write(json.dumps(row) + "\n")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_rss(
    config: Path, db: Path, requests: int = 200, settle: float = 0.0
) -> tuple[float, float]:
    """Start ``triagebot serve``, hit /healthz (``requests`` times, then once a second for
    ``settle`` seconds, so that the scheduled jobs run), return (seconds to answer, peak RSS
    in MB)."""
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "triagebot", "serve"],
        env=_env(config, db, PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = None
        while time.perf_counter() - started < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    r.read()
                ready = time.perf_counter() - started
                break
            except OSError:
                time.sleep(0.1)
        if ready is None:
            raise RuntimeError("serve did not answer /healthz within 60 s")
        for _ in range(requests):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                r.read()
        until = time.perf_counter() + settle
        while time.perf_counter() < until:
            time.sleep(1.0)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                r.read()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
        )
        return ready, peak_kb / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(data: Path) -> dict[str, float]:
    run = WORK / "cli-run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(data, run / "data")
    config = _config(run)
    db = run / "data" / "triagebot.json"
    env = _env(config, db)
    _timed(["sla", "--since", "30d"], env)  # compiles the bytecode, fills the holiday cache
    sla = [_timed(["sla", "--since", "30d"], env) for _ in range(RUNS)]
    sla_json = [_timed(["sla", "--since", "30d", "--json"], env) for _ in range(RUNS)]
    ingest = _timed(["ingest", str(_mentions(run / "in.jsonl", 1000))], env)
    active = subprocess.run(
        [sys.executable, "-m", "triagebot", "cases", "--json", "--state", "open", "--limit", "5"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    claims = [_timed(["claim", json.loads(line)["id"], "--by", "bench"], env) for line in active]
    ready, rss = _serve_rss(config, db)
    shutil.rmtree(run, ignore_errors=True)
    return {
        "load": os.getloadavg()[0],
        "sla_median": statistics.median(sla),
        "sla_max": max(sla),
        "sla_json_median": statistics.median(sla_json),
        "ingest": ingest,
        "claim_median_ms": statistics.median(claims) * 1000,
        "serve_ready": ready,
        "serve_rss_mb": rss,
    }


def report(r: dict[str, float]) -> str:
    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [
        (
            f"`triagebot sla --since 30d` (table), {RUNS} runs",
            f"median {r['sla_median']:.2f} s · max {r['sla_max']:.2f} s",
            f"≤ 1 s ({met(r['sla_max'] <= TARGETS['sla_s'])})",
        ),
        ("`triagebot sla --since 30d --json`", f"median {r['sla_json_median']:.2f} s", ""),
        (
            "`triagebot ingest` of 1,000 new mentions (checked, deduplicated, triaged, stored)",
            f"{r['ingest']:.2f} s",
            f"≤ 2 s ({met(r['ingest'] <= TARGETS['ingest_s'])})",
        ),
        (
            "`triagebot claim ID --by WHO`, whole process",
            f"median {r['claim_median_ms']:.0f} ms",
            "the claim itself: see Store",
        ),
        ("`triagebot serve`: start to first /healthz answer", f"{r['serve_ready']:.2f} s", ""),
        (
            "`triagebot serve`: peak resident memory after start and 200 /healthz requests",
            f"{r['serve_rss_mb']:.0f} MB",
            f"≤ 300 MB ({met(r['serve_rss_mb'] <= TARGETS['serve_rss_mb'])})",
        ),
    ]
    return "\n".join(
        [
            "## Commands",
            "",
            "`python -m bench.bench_cli --write`: whole processes (interpreter start included) "
            "against a copy of the Store data set (100,000 cases over the past year).",
            "",
            f"Machine: {_machine()}; load average {r['load']:.1f} when measured "
            "(other work on a 2-core machine slows whole-process timings).",
            "",
            "| Measure | Result | Target |",
            "| --- | --- | --- |",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    data, _ = dataset(100_000, 300, regenerate=False)
    section = report(measure(data))
    print(section)
    if args.write:
        write_doc(section, "## Commands")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
