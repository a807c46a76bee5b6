"""Login, logout and the report page (the SLA summary and its chart, routing accuracy)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from integrations.board.auth import verify_password
from integrations.board.web import (
    BOARD,
    checked_form,
    login_redirect,
    may_view,
    remote_address,
    render,
    safe_next,
    set_session,
    viewer,
)
from triagebot.durations import format_seconds, parse_duration
from triagebot.reports.summary import summary_for
from triagebot.routing.feedback_report import RoutingReport, routing_report
from triagebot.sla.figures import GroupStats, TargetStats

if TYPE_CHECKING:  # the model loads numpy
    from triagebot.routing.model.classifier import DepartmentModel

log = logging.getLogger(__name__)

PERIODS = ("24h", "7d", "30d", "90d")
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


async def login_page(request: web.Request) -> web.StreamResponse:
    board = request.app[BOARD]
    if not board.options.login:
        raise web.HTTPSeeOther("/")
    session, fresh = viewer(request)
    context = {"next": safe_next(request.query.get("next")), "error": ""}
    return render(request, "login.html", context, session, fresh=fresh)


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; a success starts a new session (new nonce, new CSRF token)."""
    board = request.app[BOARD]
    if not board.options.login:
        raise web.HTTPSeeOther("/")
    session, form = await checked_form(request)
    name, password = form.get("user", "").strip().lower()[:40], form.get("password", "")
    address = remote_address(request)
    target = safe_next(form.get("next"))
    if board.limiter.blocked(name, address):
        log.warning("event=board_login_blocked user=%s address=%s", name, address)
        error = "Too many failed attempts: wait a few minutes and try again."
        context = {"next": target, "error": error}
        return render(request, "login.html", context, session, status=429)
    hashed = board.options.users.get(name)
    # Unknown names cost the same scrypt as known ones.
    good = await asyncio.to_thread(verify_password, password, hashed or _DUMMY_HASH)
    if not good or hashed is None:
        board.limiter.failed(name, address)
        log.info("event=board_login_failed user=%s address=%s", name, address)
        context = {"next": target, "error": "Wrong name or password."}
        return render(request, "login.html", context, session, status=401)
    log.info("event=board_login user=%s", name)
    response = web.HTTPSeeOther(target)
    set_session(request, response, board.signer.new_session(name))
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session here and everywhere its cookie was copied to; start a blank one."""
    board = request.app[BOARD]
    session, _ = await checked_form(request)
    if session.user:
        await asyncio.to_thread(board.ended.end, session)
        log.info("event=board_logout user=%s", session.user)
    response = web.HTTPSeeOther("/login" if board.options.login else "/")
    set_session(request, response, board.signer.new_session())
    raise response


@dataclass(frozen=True)
class Row:
    name: str
    stats: GroupStats

    @property
    def waiting(self) -> int:
        return self.stats.by_state["new"] + self.stats.by_state["open"]

    @staticmethod
    def _time(value: float | None) -> str:
        return "-" if value is None else format_seconds(value)

    def times(self, target: TargetStats) -> str:
        return f"{self._time(target.median_business)} / {self._time(target.p90_business)}"

    @staticmethod
    def share(target: TargetStats) -> str:
        share = target.within_sla
        return "-" if share is None else f"{share:.0%} ({target.met}/{target.decided})"


@dataclass(frozen=True)
class RoutingView:
    """The routing figures of the period as the page shows them."""

    report: RoutingReport

    @staticmethod
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    @property
    def weeks(self) -> list[tuple[str, int, str]]:
        return [
            (f"{w.start:%Y-%m-%d}", w.labels, self.share(w.accuracy)) for w in self.report.weeks
        ]


@dataclass(frozen=True)
class ModelView:
    """Which department model routes now, and the shipped rules it overrules here."""

    version: str
    overruled: tuple[str, ...]

    @classmethod
    def of(cls, model: DepartmentModel | None) -> ModelView | None:
        if model is None:
            return None
        return cls(model.version, tuple(sorted(model.overruled)))


def _period(request: web.Request) -> tuple[str, timedelta]:
    label = request.query.get("since", "7d")
    try:
        period = parse_duration(label)
    except ValueError:
        return "7d", timedelta(days=7)
    if not timedelta(hours=1) <= period <= timedelta(days=366):
        return "7d", timedelta(days=7)
    return label, period


def _department(request: web.Request) -> str:
    department = request.query.get("department", "")
    return department if department in request.app[BOARD].runtime.settings.departments else ""


async def report_page(request: web.Request) -> web.StreamResponse:
    session, fresh = viewer(request)
    if not may_view(request, session):
        raise login_redirect(request)
    runtime = request.app[BOARD].runtime
    label, period = _period(request)
    department = _department(request)
    summary = await asyncio.to_thread(summary_for, runtime, period, department or None)
    fallback = runtime.router.options.fallback
    routing = await asyncio.to_thread(
        routing_report, runtime.store, runtime.clock(), period, fallback
    )
    tables = [
        (title, [Row(name, stats) for name, stats in groups.items()])
        for title, groups in (
            ("Department", summary.by_department),
            ("Priority", summary.by_priority),
            ("Person", summary.by_person),
            ("Source", summary.by_source),
        )
        if groups
    ]
    query = f"since={label}" + (f"&department={department}" if department else "")
    context = {
        "summary": summary,
        "total": Row("all", summary.total),
        "tables": tables,
        "since": label,
        "periods": PERIODS if label in PERIODS else (*PERIODS, label),
        "department": department,
        "departments": runtime.settings.departments,
        "chart_query": query,
        "routing": RoutingView(routing),
        "model": ModelView.of(runtime.router.model),
    }
    return render(request, "report.html", context, session, fresh=fresh)


async def chart(request: web.Request) -> web.StreamResponse:
    session, fresh = viewer(request)
    if fresh or not may_view(request, session):
        raise web.HTTPUnauthorized(text="log in again")
    runtime = request.app[BOARD].runtime
    _, period = _period(request)
    department = _department(request) or None

    def draw() -> bytes:
        from triagebot.sla.chart import chart_data, render_chart  # noqa: PLC0415 (matplotlib)

        now = runtime.clock()
        until = now + timedelta(seconds=1)
        cases = runtime.store.list_cases(since=now - period, until=until, department=department)
        data = chart_data(cases, runtime.settings.calendar_for, now, now - period, until)
        return render_chart(data, f"SLA, {department}" if department else "SLA")

    png = await asyncio.to_thread(draw)
    return web.Response(body=png, content_type="image/png")
