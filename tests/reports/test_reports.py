"""Manager reports: period comparison, worst open cases, the export round trip and the chart."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from tests.sla_helpers import make_case, ny, store_cases
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import Case, CaseState, Priority
from triagebot.cases.time_fields import iso
from triagebot.config.settings import Settings
from triagebot.reports.comparison import report, worst_open
from triagebot.runtime.wiring import Runtime
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.chart import build_figure, chart_data, render_chart
from triagebot.sla.clocks import (
    claim_breached,
    resolve_breached,
    resolve_due_at,
    respond_breached,
)
from triagebot.sla.export import COLUMNS, export_rows, read_export, write_export

PNG = b"\x89PNG\r\n\x1a\n"
NOW = ny(17, 12)
ANA = Identity("cli", "ana")


def resolved(settings: Settings, case_id: str, at: datetime, claim: int, resolve: int) -> Case:
    """A billing case claimed ``claim`` and resolved ``resolve`` minutes after ``at``."""
    return make_case(
        settings, case_id, at, state=CaseState.RESOLVED,
        first_claimed_at=at + timedelta(minutes=claim), claimed_at=at + timedelta(minutes=claim),
        claimed_by=ANA, resolved_at=at + timedelta(minutes=resolve), resolved_by=ANA,
    )  # fmt: skip


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = Runtime.build(settings, routing=False, clock=lambda: NOW)
    yield built
    built.close()


def test_offsets_agree_with_elapsed() -> None:
    calendar = BusinessCalendar("America/New_York", "Mon-Fri 09:00-12:00,13:00-17:30", "US")
    rng = random.Random(4)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(minutes=rng.randint(0, 600_000)) for _ in range(300)]
    offsets = calendar.offsets(instants)
    for _ in range(300):
        i, j = rng.randrange(300), rng.randrange(300)
        if instants[i] <= instants[j]:
            elapsed = calendar.elapsed(instants[i], instants[j]).total_seconds()
            assert offsets[j] - offsets[i] == pytest.approx(elapsed)
    assert calendar.offsets([]) == []


def test_this_period_is_compared_with_the_one_before(runtime: Runtime) -> None:
    s = runtime.settings
    store_cases(
        runtime.store,
        [
            resolved(s, "1", ny(16, 10), 10, 60),  # this week
            resolved(s, "2", ny(9, 10), 30, 90),  # last week
            resolved(s, "3", ny(9, 11), 90, 120),  # last week, claim breached (1h target)
            make_case(s, "4", ny(1, 10)),  # older than both
        ],
    )
    weekly = report(runtime, timedelta(days=7))
    assert weekly.summary is weekly.current
    current, previous = weekly.current, weekly.previous
    assert current.total.count == 1 and previous.total.count == 2
    assert current.total.claim.median_business == 600
    assert previous.total.claim.breaches == 1
    assert previous.total.claim.within_sla == 0.5
    monthly = report(runtime, timedelta(days=30))  # the last week against the week before
    assert monthly.summary.total.count == 4 and monthly.current.total.count == 1
    assert monthly.previous.total.count == 2
    daily = report(runtime, timedelta(days=1))  # a shorter period against the one before
    assert daily.current.total.count == 0 and daily.previous.total.count == 1


def test_worst_open_cases_rank_by_share_of_target_used(settings: Settings) -> None:
    cases = [
        make_case(settings, "1", ny(17, 11, 30)),  # claim: 50% of 1h used
        make_case(settings, "2", ny(17, 10)),  # claim: 200% (breached)
        make_case(settings, "3", ny(17, 9), priority=Priority.P3),  # claim: 3h of 4h = 75%
        make_case(settings, "4", ny(17, 9), state=CaseState.RESOLVED, resolved_at=ny(17, 9)),
    ]
    worst = worst_open(cases, settings.calendar_for, NOW)
    assert [(w.case.id, w.target, round(w.used, 2)) for w in worst] == [
        ("2", "claim", 2.0), ("3", "claim", 0.75), ("1", "claim", 0.5),
    ]  # fmt: skip
    assert worst[0].to_dict()["url"] == "https://example.test/reddit/2"


def test_worst_open_cases_count_the_public_answer_and_pause_while_waiting(
    settings: Settings,
) -> None:
    # Billing P2 from Tue 09:00: claimed at once; answer due 13:00, resolve due 17:00.
    claimed: dict[str, Any] = {
        "state": CaseState.CLAIMED, "first_claimed_at": ny(17, 9, 1), "claimed_by": ANA,
    }  # fmt: skip
    unanswered = make_case(settings, "1", ny(17, 9), answer_due=True, **claimed)
    answer = FirstResponse(ny(17, 9, 30), "@northwind", ResponseVia.REPLY)
    waiting = make_case(settings, "2", ny(17, 9), answer_due=True, first_response=answer,
                        waiting_since=ny(17, 9, 30), **claimed)  # fmt: skip
    worst = worst_open([unanswered, waiting], settings.calendar_for, NOW)
    assert [(w.case.id, w.target, round(w.used, 3)) for w in worst] == [
        ("1", "respond", 0.75),  # 3h of 4h at noon
        ("2", "resolve", 0.062),  # 30m of 8h: the resolve clock paused at 09:30
    ]  # fmt: skip


def test_export_round_trip(settings: Settings) -> None:
    cases = [
        resolved(settings, "1", ny(16, 10), 10, 60),
        make_case(settings, "2", ny(17, 10), department="shipping"),
        make_case(settings, "3", ny(17, 10), state=CaseState.SPAM, resolved_at=ny(17, 10, 5)),
        replace(
            make_case(settings, "4", ny(17, 9), department="sales", source="x"),
            claimed_by=Identity("cli", 'o"brien, "ana"'), sla_marks=("sales:claim:note",),
        ),
    ]  # fmt: skip
    rows = list(export_rows(cases, settings.calendar_for, NOW))
    assert rows[0]["claim_s"] == 600.0 and rows[0]["resolve_s"] == 3600.0
    assert rows[0]["claim_met"] is True and rows[0]["resolve_met"] is True
    assert rows[1]["claim_met"] is False and rows[1]["resolve_met"] is None  # 2h of 1h used
    assert rows[2]["claim_met"] is None  # spam is never breached
    assert rows[0]["source_lag_s"] == 180.0
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        assert write_export(rows, fmt, out) == 4
        assert read_export(io.StringIO(out.getvalue()), fmt) == rows
    header = next(csv.reader(io.StringIO(_csv(rows))))
    assert tuple(header) == COLUMNS


def test_export_has_the_first_public_response_and_the_wait(settings: Settings) -> None:
    # Billing (New York 09:00-17:00), P2 from Mon 16th 16:00: answer by Tue 12:00, resolve
    # by Tue 16:00; answered Tue 10:00 (2 business hours) in the thread, then waiting.
    start = ny(16, 16)
    answer = FirstResponse(ny(17, 10), "@northwind", ResponseVia.THREAD, "=https://x.test/1")
    waited = replace(
        resolved(settings, "1", start, 5, 22 * 60 + 30), respond_due=ny(17, 12),
        first_response=answer, waiting_since=ny(17, 10),
    )  # fmt: skip
    silent = make_case(settings, "2", ny(17, 8), answer_due=True, department="billing")
    older = make_case(settings, "3", ny(17, 9))
    rows = list(export_rows([waited, silent, older], settings.calendar_for, NOW))
    first = rows[0]
    assert first["respond_due"] == iso(ny(17, 12))
    assert first["first_response_at"] == iso(ny(17, 10))
    assert (first["first_response_by"], first["first_response_via"]) == ("@northwind", "thread")
    assert first["respond_s"] == 2 * 3600.0 and first["respond_wall_s"] == 18 * 3600.0
    assert first["respond_met"] is True and first["waiting_since"] == iso(ny(17, 10))
    assert first["resolve_met"] is True  # resolved Tue 14:30, due Tue 16:00
    # Resolved Tue 16:30 while waiting since 10:00: the due time moved by 6h30m to Wed 14:30.
    [late, no_wait] = export_rows(
        [replace(waited, resolved_at=ny(17, 16, 30)),
         replace(waited, resolved_at=ny(17, 16, 30), waiting_since=None)],
        settings.calendar_for, NOW,
    )  # fmt: skip
    assert (late["resolve_met"], no_wait["resolve_met"]) == (True, False)
    assert rows[1]["respond_met"] is None and rows[1]["first_response_at"] is None
    assert rows[2]["respond_due"] is None and rows[2]["respond_met"] is None
    assert rows[1]["respond_due"] is not None
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        write_export(rows, fmt, out)
        assert read_export(io.StringIO(out.getvalue()), fmt) == rows
    assert ",'=https://x.test/1," in _csv(rows)  # a link is a stranger's text too
    assert COLUMNS[-9:] == (
        "respond_due", "first_response_at", "first_response_by", "first_response_via",
        "first_response_url", "respond_s", "respond_wall_s", "respond_met", "waiting_since",
    )  # fmt: skip


def test_export_csv_cells_never_run_as_formulas(settings: Settings) -> None:
    # Names are ids typed with --by or display names from [[people]]: both reach the sheet.
    names = ['=HYPERLINK("https://evil.example","x")', "+1", "-2", "@SUM(A1)", "'=quoted"]
    cases = [
        replace(make_case(settings, str(n), ny(17, 9)), claimed_by=Identity("cli", name))
        for n, name in enumerate(names, start=1)
    ]
    rows = list(export_rows(cases, settings.calendar_for, NOW))
    lines = list(csv.DictReader(io.StringIO(_csv(rows))))
    # --by names are compared without regard to case, so they are kept in lower case.
    assert [line["claimed_by_name"] for line in lines] == ["'" + n.casefold() for n in names]
    assert [line["claimed_by"] for line in lines] == ["cli:" + n.casefold() for n in names]
    assert read_export(io.StringIO(_csv(rows)), "csv") == rows


def _csv(rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    write_export(rows, "csv", out)
    return out.getvalue()


# --- chart ----------------------------------------------------------------------------------
def test_chart_of_an_empty_history_says_so(settings: Settings) -> None:
    data = chart_data([], settings.calendar_for, NOW, NOW - timedelta(days=7), NOW)
    assert data.empty and data.claim == {} and len(data.breaches) == 8
    png = render_chart(data)
    assert png.startswith(PNG)
    figure = build_figure(data)
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts.count("no cases in this period") == 3 and "no breaches in this period" in texts


def test_chart_of_one_case(settings: Settings) -> None:
    case = resolved(settings, "1", ny(16, 10), 30, 6 * 60)  # 50% of claim, 75% of resolve
    data = chart_data([case], settings.calendar_for, NOW, NOW - timedelta(days=7), NOW)
    assert data.to_dict()["claim"] == {"billing": {"n": 1, "median": 0.5, "p90": 0.5}}
    assert data.to_dict()["resolve"] == {"billing": {"n": 1, "median": 0.75, "p90": 0.75}}
    assert sum(map(sum, data.breaches.values())) == 0
    figure = build_figure(data, "SLA, billing")
    claim_axes = figure.axes[0]
    widths = sorted(patch.get_width() for patch in claim_axes.patches)  # type: ignore[attr-defined]
    assert widths == [50.0, 50.0]  # median and p90, in % of the target
    assert claim_axes.get_title(loc="left") == "Time to claim per department"
    assert "% of the SLA target" in claim_axes.get_xlabel()
    [target] = claim_axes.lines
    assert target.get_label() == "SLA target (100%)"
    assert target.get_xydata()[0][0] == 100  # type: ignore[index]
    assert render_chart(data).startswith(PNG)


def test_chart_of_the_first_public_answer(settings: Settings) -> None:
    # Billing P2 from Mon 16th 10:00: answer due 14:00 (4h), resolve due Tue 10:00.
    answered = replace(
        resolved(settings, "1", ny(16, 10), 30, 6 * 60), respond_due=ny(16, 14),
        first_response=FirstResponse(ny(16, 11), "@northwind", ResponseVia.REPLY),
    )  # fmt: skip
    silent = make_case(settings, "2", ny(16, 10), answer_due=True, state=CaseState.CLAIMED,
                       first_claimed_at=ny(16, 10, 5), claimed_by=ANA)  # fmt: skip
    data = chart_data([answered, silent], settings.calendar_for, NOW, NOW - timedelta(days=7),
                      NOW)  # fmt: skip
    assert data.to_dict()["respond"] == {"billing": {"n": 1, "median": 0.25, "p90": 0.25}}
    assert data.breaches[ny(16, 14).date()] == (0, 0, 1)  # the silent one, on its due day
    figure = build_figure(data)
    assert figure.axes[1].get_title(loc="left") == "Time to the first public answer"
    labels = figure.axes[3].get_legend_handles_labels()[1]
    assert "public answer breaches" in labels
    assert render_chart(data).startswith(PNG)


def test_chart_breaches_and_shares_equal_the_per_case_clocks(settings: Settings) -> None:
    """Waits on the customer that begin before, at and after the resolve due time, in and out
    of business hours: the chart's breaches per day and resolve shares are the clocks'."""
    rng = random.Random(12)
    start = ny(2, 0)
    cases = []
    for n in range(600):
        at = start + timedelta(minutes=rng.randint(0, 10 * 24 * 60))
        case = make_case(
            settings,
            str(n),
            at,
            answer_due=True,
            department=rng.choice(["billing", "shipping", "customer_service"]),
        )
        claim = at + timedelta(minutes=rng.randint(1, 300))
        done = claim + timedelta(minutes=rng.randint(10, 5000))
        answer = claim + timedelta(minutes=rng.randint(-30, 600))
        since = [answer, case.resolve_due, case.resolve_due + timedelta(hours=3)][n % 3]
        state = rng.choice([CaseState.RESOLVED, CaseState.CLAIMED])
        cases.append(replace(
            case, state=state, first_claimed_at=claim, claimed_by=ANA,
            resolved_at=done if state is CaseState.RESOLVED else None,
            first_response=(
                FirstResponse(answer, "@northwind", ResponseVia.THREAD) if n % 5 else None
            ),
            waiting_since=since if n % 5 and n % 4 else None,
        ))  # fmt: skip
    now = start + timedelta(days=12)
    data = chart_data(cases, settings.calendar_for, now, start, now)
    expected: dict[tuple[int, object], int] = {}
    for case in cases:
        calendar = settings.calendar_for(case.department)
        end = case.resolved_at or now
        for slot, due, late in (
            (0, case.claim_due, claim_breached(case, now)),
            (1, resolve_due_at(case, calendar, end), resolve_breached(case, now, calendar)),
            (2, case.respond_due, respond_breached(case, now)),
        ):
            if late and due is not None:
                key = (slot, due.date())
                expected[key] = expected.get(key, 0) + 1
    found = {(slot, day): n for day, counts in data.breaches.items()
             for slot, n in enumerate(counts) if n}  # fmt: skip
    assert found == expected
    assert sum(n for (slot, _), n in found.items() if slot == 1)  # some resolves are late
    for department, share in data.resolve.items():
        calendar = settings.calendar_for(department)
        used = [
            _used(
                calendar, c.ingested_at, c.resolved_at, resolve_due_at(c, calendar, c.resolved_at)
            )
            for c in cases
            if c.department == department and c.resolved_at is not None
        ]
        assert share.n == len(used)
        assert share.median == pytest.approx(statistics.median(used))


def _used(calendar: BusinessCalendar, start: datetime, done: datetime, due: datetime) -> float:
    return calendar.elapsed(start, done) / calendar.elapsed(start, due)


def test_chart_of_a_hundred_thousand_cases(settings: Settings) -> None:
    rng = random.Random(7)
    departments = ["billing", "shipping", "sales", "customer_service", "pr", "hr"]
    start = datetime(2026, 8, 1, tzinfo=UTC)
    templates = [make_case(settings, "0", start, department=d) for d in departments]
    cases = []
    for n in range(100_000):
        at = start + timedelta(minutes=rng.randint(0, 90 * 24 * 60))
        claim = at + timedelta(minutes=rng.randint(1, 600))
        done = claim + timedelta(minutes=rng.randint(1, 3000))
        cases.append(
            replace(
                templates[n % len(departments)], id=str(n), state=CaseState.RESOLVED,
                ingested_at=at, claim_due=at + timedelta(hours=2),
                resolve_due=at + timedelta(days=1),
                first_claimed_at=claim, claimed_at=claim, claimed_by=ANA, resolved_at=done,
                resolved_by=ANA,
            )
        )  # fmt: skip
    end = start + timedelta(days=91)
    data = chart_data(cases, settings.calendar_for, end, start, end)
    assert set(data.claim) == set(departments)
    assert sum(share.n for share in data.claim.values()) == 100_000
    breaches = sum(c for c, _, _ in data.breaches.values())
    assert breaches == sum(
        1 for c in cases if c.first_claimed_at and c.first_claimed_at > c.claim_due
    )
    assert render_chart(data).startswith(PNG)


# --- command line ---------------------------------------------------------------------------
@pytest.fixture
def cli_store(tmp_path: Path) -> Path:
    from triagebot.config.settings import load_settings  # noqa: PLC0415
    from triagebot.store import open_store  # noqa: PLC0415

    settings = load_settings(EXAMPLE_CONFIG, {})
    now = datetime.now(UTC)
    store = open_store(tmp_path / "data" / "triagebot.json")
    try:
        store_cases(
            store,
            [
                replace(
                    resolved(settings, "1", now - timedelta(days=2), 10, 60),
                    respond_due=now - timedelta(days=2, minutes=-240),
                    first_response=FirstResponse(
                        now - timedelta(days=2, minutes=-30), "@northwind", ResponseVia.REPLY
                    ),
                ),
                make_case(settings, "2", now - timedelta(days=20), department="shipping"),
                resolved(settings, "3", now - timedelta(days=9), 10, 60),
            ],
        )
    finally:
        store.close()
    return tmp_path


def test_cli_summary_compares_periods_and_lists_worst_open(cli_store: Path) -> None:
    result = run_cli(["sla", "--json"], cli_store)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"]["count"] == 1
    assert data["comparison"]["previous"]["total"]["count"] == 1
    assert [w["case_id"] for w in data["worst_open"]] == ["2"]
    respond = data["total"]["respond"]  # answered in public 30 minutes (wall) after ingest
    assert (respond["n"], respond["met"], respond["breaches"]) == (1, 1, 0)
    assert respond["median_wall"] == 1800.0
    table = run_cli(["sla", "summary"], cli_store)
    assert "answer med/p90" in table.stdout and "public answer in SLA" in table.stdout
    assert "the last 7d against the 7d before" in table.stdout
    assert "worst open cases" in table.stdout and "#2" in table.stdout


def test_cli_export_csv_and_jsonl(cli_store: Path) -> None:
    result = run_cli(["sla", "export", "--since", "30d", "--format", "jsonl"], cli_store)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["case_id"] for r in rows] == ["2", "3", "1"]  # oldest first
    out = cli_store / "cases.csv"
    written = run_cli(["sla", "export", "--since", "30d", "-o", str(out)], cli_store)
    assert written.returncode == 0 and "wrote 3 cases" in written.stderr
    with out.open(encoding="utf-8", newline="") as stream:
        back = read_export(stream, "csv")
    # Two runs, two clocks: only the time an open case has been held may differ.
    for got, want in zip(back, rows, strict=True):
        assert {k: v for k, v in got.items() if k != "held"} == {
            k: v for k, v in want.items() if k != "held"
        }


def test_cli_chart_writes_a_png(cli_store: Path) -> None:
    out = cli_store / "report.png"
    result = run_cli(["sla", "chart", "-o", str(out), "--since", "30d"], cli_store)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG) and "3 cases" in result.stderr
    bad = run_cli(["sla", "chart", "--since", "soon"], cli_store)
    assert bad.returncode == 2 and "--since" in bad.stderr
