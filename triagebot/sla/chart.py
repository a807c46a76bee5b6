"""The SLA chart: time to claim, to the first public answer and to resolve per department
against the target, breaches per day.

Times are drawn as a share of each case's own target (business time from ingest to the claim,
the first public response or the resolve, divided by business time from ingest to its due
time), so cases of every priority share one scale and one target line at 100%. Cases without a
respond due time (ingested before the target existed) are left out of the answer panel; the
resolve of a case that waited on the customer is measured against the due time pushed by the
wait. ``chart_data`` computes the figures (tested on their
own); ``render_chart`` draws them with matplotlib's Agg canvas (no display, no pyplot state)
into a PNG, in the Okabe-Ito palette, which stays distinct for colour-blind readers. matplotlib
is imported only when a chart is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from triagebot.cases.records import ACTIVE_STATES, Case, CaseState
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import resolve_breached, resolve_due_at
from triagebot.sla.figures import percentile

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe-Ito colours: blue, orange, vermillion, sky blue, black, bluish green.
BLUE, ORANGE, VERMILLION, SKY, BLACK = "#0072B2", "#E69F00", "#D55E00", "#56B4E9", "#000000"
GREEN = "#009E73"
MAX_DEPARTMENTS = 12


@dataclass
class TargetShare:
    """Median and p90 of time used as a share of the target (1.0 = exactly on target)."""

    n: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class ChartData:
    since: datetime
    until: datetime
    claim: dict[str, TargetShare] = field(default_factory=dict)
    resolve: dict[str, TargetShare] = field(default_factory=dict)
    respond: dict[str, TargetShare] = field(default_factory=dict)
    #: day -> (claim, resolve, respond) breaches, by due date
    breaches: dict[date, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return (
            not self.claim
            and not self.resolve
            and not self.respond
            and not any(map(sum, self.breaches.values()))
        )

    def to_dict(self) -> dict[str, Any]:
        def shares(groups: dict[str, TargetShare]) -> dict[str, Any]:
            return {k: {"n": v.n, "median": v.median, "p90": v.p90} for k, v in groups.items()}

        return {
            "claim": shares(self.claim),
            "resolve": shares(self.resolve),
            "respond": shares(self.respond),
            "breaches": {d.isoformat(): list(v) for d, v in self.breaches.items()},
        }


def _share(start: float, done: float, due: float) -> float:
    total = due - start
    return (done - start) / total if total > 0 else (1.0 if done > start else 0.0)


@dataclass
class _Figures:
    """One department's shares of each target and the breaches of its cases."""

    claims: list[float] = field(default_factory=list)
    resolves: list[float] = field(default_factory=list)
    responds: list[float] = field(default_factory=list)
    breaches: list[tuple[int, datetime]] = field(default_factory=list)  # (slot, due time)


def _instants(cases: list[Case], now: datetime) -> list[datetime]:
    """``now``, then what each case is measured at, in the order ``_department_figures``
    reads them."""
    instants = [now]
    add = instants.append
    for case in cases:
        resolved_at = case.resolved_at if case.state is CaseState.RESOLVED else None
        add(case.ingested_at)
        add(case.first_claimed_at or case.ingested_at)
        add(case.claim_due)
        add(resolved_at or case.ingested_at)
        add(case.resolve_due)
        if case.first_response is not None and case.respond_due is not None:
            add(case.first_response.at)
            add(case.respond_due)
        if case.waiting_since is not None:
            add(case.waiting_since)
    return instants


def _department_figures(cases: list[Case], calendar: BusinessCalendar, now: datetime) -> _Figures:
    """Claim, resolve and respond shares and breaches of one department's (non-spam) cases, one
    calendar lookup per instant: five per case, two more for an answered case, one more for a
    wait on the customer. The resolve due time pushed by a wait is ``B(due) + B(end) -
    B(since)`` in business seconds (``resumed_resolve_due``); whether a waiting case is late
    follows from the same offsets, but for a wait that began in the closed time of its due
    time's day. The breaches are ``claim_breached``, ``resolve_breached`` and
    ``respond_breached`` written out (a case at a time, for 100,000 cases)."""
    offsets = calendar.offsets(_instants(cases, now))
    at_now = offsets[0]
    figures = _Figures()
    breaches = figures.breaches.append
    k = 1
    for case in cases:
        start, claimed_at, claim_due, resolved_b, resolve_due = offsets[k : k + 5]
        k += 5
        active = case.state in ACTIVE_STATES
        resolved_at = case.resolved_at if case.state is CaseState.RESOLVED else None
        first_claim = case.first_claimed_at
        if first_claim is not None:
            figures.claims.append(_share(start, claimed_at, claim_due))
            if first_claim > case.claim_due:
                breaches((0, case.claim_due))
        elif active and now > case.claim_due:
            breaches((0, case.claim_due))
        respond_due, first = case.respond_due, case.first_response
        if first is not None and respond_due is not None:
            figures.responds.append(_share(start, offsets[k], offsets[k + 1]))
            k += 2
        if respond_due is not None and (
            first.at > respond_due
            if first is not None
            else (now if active else resolved_at or respond_due) > respond_due
        ):
            breaches((2, respond_due))
        end = resolved_at or now
        if case.waiting_since is None:
            late = (resolved_at is not None or active) and end > case.resolve_due
            due = case.resolve_due
        else:
            since = offsets[k]
            k += 1
            waited = max(0.0, (resolved_b if resolved_at else at_now) - since)
            late = _late_after_wait(case, calendar, now, (since, resolve_due, waited))
            resolve_due += waited
            due = resolve_due_at(case, calendar, end) if late else case.resolve_due
        if resolved_at is not None:
            figures.resolves.append(_share(start, resolved_b, resolve_due))
        if late:
            breaches((1, due))
    return figures


def _late_after_wait(
    case: Case, calendar: BusinessCalendar, now: datetime, b: tuple[float, float, float]
) -> bool:
    """``resolve_breached`` of a case with a wait, from business offsets (since, due, waited):
    nothing waited is judged as without a wait, a wait that began past the due time stays
    late, one that began before it is not; the rest is left to the calendar."""
    since, due, waited = b
    if case.state is CaseState.SPAM or not (case.is_active or case.state is CaseState.RESOLVED):
        return False
    if waited > 0 and since != due:
        return since > due
    return resolve_breached(case, now, calendar)


def _summary(values: list[float]) -> TargetShare:
    values.sort()
    return TargetShare(len(values), percentile(values, 0.5), percentile(values, 0.9))


def chart_data(
    cases: Iterable[Case],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
) -> ChartData:
    """Figures for the cases ingested in ``since <= ingested_at < until`` (spam left out)."""
    data = ChartData(since, until)
    first = since.date()
    days = max(0, (until.date() - first).days) + 1
    daily = [[0, 0, 0] for _ in range(days)]
    by_department: dict[str, list[Case]] = {}
    for case in cases:
        if case.state is CaseState.SPAM or not since <= case.ingested_at < until:
            continue
        by_department.setdefault(case.department, []).append(case)
    ranked = sorted(by_department, key=lambda d: (-len(by_department[d]), d))[:MAX_DEPARTMENTS]
    for department in sorted(by_department):
        figures = _department_figures(by_department[department], calendar_for(department), now)
        for slot, due in figures.breaches:
            day = (due.date() - first).days
            if 0 <= day < days:
                daily[day][slot] += 1
        if department in ranked:
            data.claim[department] = _summary(figures.claims)
            data.resolve[department] = _summary(figures.resolves)
            data.respond[department] = _summary(figures.responds)
    data.breaches = {first + timedelta(days=i): (c, r, a) for i, (c, r, a) in enumerate(daily)}
    return data


# --- drawing --------------------------------------------------------------------------------
def _shares_panel(ax: Axes, title: str, groups: dict[str, TargetShare]) -> None:
    names = [f"{name} (n={share.n})" for name, share in groups.items()]
    medians = [100 * (s.median or 0.0) for s in groups.values()]
    p90s = [100 * (s.p90 or 0.0) for s in groups.values()]
    rows = list(range(len(names)))
    for offset, values, colour, label in (
        (0.2, medians, BLUE, "median"),
        (-0.2, p90s, ORANGE, "90th percentile"),
    ):
        bars = ax.barh([r + offset for r in rows], values, height=0.4, color=colour, label=label)
        ax.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8)
    ax.axvline(100, color=BLACK, linestyle="--", linewidth=1.5, label="SLA target (100%)")
    ax.set_yticks(rows, names)
    ax.invert_yaxis()
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_xlabel("% of the SLA target used (business time)")
    ax.set_xlim(0, max([120.0, *p90s, *medians]) * 1.15)
    if names:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no cases in this period", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    ax.grid(axis="x", alpha=0.3)


def _breaches_panel(ax: Axes, breaches: dict[date, tuple[int, int, int]]) -> None:
    days = list(breaches)
    claims = [breaches[d][0] for d in days]
    resolves = [breaches[d][1] for d in days]
    responds = [breaches[d][2] for d in days]
    x = list(range(len(days)))
    ax.bar(x, claims, color=VERMILLION, label="claim breaches", width=0.8)
    ax.bar(x, responds, bottom=claims, color=GREEN, label="public answer breaches", width=0.8)
    below = [c + a for c, a in zip(claims, responds, strict=True)]
    ax.bar(x, resolves, bottom=below, color=SKY, label="resolve breaches", width=0.8)
    step = max(1, len(days) // 15)
    ax.set_xticks(x[::step], [f"{d:%a %d %b}" for d in days[::step]])
    ax.set_title("Breaches per day (by due date, UTC)", loc="left", fontsize=11,
                 fontweight="bold")  # fmt: skip
    ax.set_ylabel("breached targets")
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    if any(claims) or any(resolves) or any(responds):
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no breaches in this period", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelrotation=30)


def build_figure(data: ChartData, title: str = "SLA") -> Figure:
    """The chart as a matplotlib figure (no pyplot: safe in a server thread)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    rows = max(len(data.claim), 1)
    figure = Figure(figsize=(17, 4 + 0.35 * rows + 3.5), layout="constrained")
    grid = figure.add_gridspec(2, 3, height_ratios=[1 + 0.12 * rows, 1])
    _shares_panel(figure.add_subplot(grid[0, 0]), "Time to claim per department", data.claim)
    _shares_panel(figure.add_subplot(grid[0, 1]), "Time to the first public answer", data.respond)
    _shares_panel(figure.add_subplot(grid[0, 2]), "Time to resolve per department", data.resolve)
    _breaches_panel(figure.add_subplot(grid[1, :]), data.breaches)
    figure.suptitle(
        f"{title}: {data.since:%Y-%m-%d} to {data.until:%Y-%m-%d} (UTC)",
        fontsize=13, fontweight="bold",
    )  # fmt: skip
    return figure


def render_chart(data: ChartData, title: str = "SLA") -> bytes:
    """The chart as PNG bytes, drawn with the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    figure = build_figure(data, title)
    FigureCanvasAgg(figure)  # attaches itself to the figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": "triagebot"})
    return buffer.getvalue()
