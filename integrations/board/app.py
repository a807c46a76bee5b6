"""Wiring: ``add_board`` mounts the board on the one aiohttp app and makes it a surface.

``triagebot demo`` runs it with no login and working buttons. ``triagebot serve`` needs users
(``TRIAGEBOT_BOARD_USERS``) and is read-only unless ``TRIAGEBOT_BOARD_WRITE=1``; without users
the board is off (on Heroku and anywhere else), and ``TRIAGEBOT_BOARD=off`` turns it off always.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from aiohttp import web

from integrations.board import answers, handlers, pages
from integrations.board.auth import Signer, check_hash, check_secret
from integrations.board.live import BoardSurface, Hub
from integrations.board.sessions import EndedSessions
from integrations.board.web import (
    BOARD,
    Board,
    BoardOptions,
    add_security_headers,
    guard,
    templates,
)
from triagebot.config.settings import Environment
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def board_options(env: Environment, *, demo: bool) -> BoardOptions | None:
    """The board's options from the environment, or None when it is off."""
    if env.board_off:
        return None
    for name, hashed in env.board_users.items():
        check_hash(name, hashed)
    if env.board_secret is not None:
        check_secret(env.board_secret.get_secret_value())
        secret = env.board_secret.get_secret_value().encode()
    else:
        secret = secrets.token_bytes(32)
    if demo:
        return BoardOptions(env.board_users, True, secret, demo=True)
    if not env.board_users:
        return None
    return BoardOptions(env.board_users, env.board_write, secret, behind_router=bool(env.dyno))


def add_board(runtime: Runtime, app: web.Application, options: BoardOptions | None) -> Board | None:
    """Serve the board at ``/`` (and ``/report``) and show every change on it live."""
    if options is None:
        log.info("event=board_disabled (set TRIAGEBOT_BOARD_USERS to turn it on)")
        return None
    hub = Hub()
    ended = EndedSessions(runtime.store)
    board = Board(runtime, options, hub, templates(), Signer(options.secret), ended)
    app[BOARD] = board
    runtime.surfaces.append(BoardSurface(hub))
    routes = app.router
    routes.add_get("/", handlers.board_page)
    routes.add_get("/board/columns", handlers.columns_fragment)
    routes.add_get("/board/events", handlers.events)
    routes.add_post("/board/name", handlers.set_name)
    routes.add_post("/board/cases/{case_id}/replies/{action}", answers.answer_act)
    routes.add_get("/board/cases/{case_id}/thread", answers.thread_fragment)
    routes.add_post("/board/cases/{case_id}/{action}", handlers.act)
    routes.add_get("/report", pages.report_page)
    routes.add_get("/report/chart.png", pages.chart)
    routes.add_get("/login", pages.login_page)
    routes.add_post("/login", pages.login)
    routes.add_post("/logout", pages.logout)
    routes.add_static("/board/static", STATIC, append_version=False)
    app.on_response_prepare.append(add_security_headers)
    app.middlewares.append(guard)

    async def close_streams(app: web.Application) -> None:
        hub.close()

    app.on_shutdown.insert(0, close_streams)
    log.info(
        "event=board_enabled login=%s writable=%s users=%d",
        options.login, options.writable, len(options.users),
    )  # fmt: skip
    return board
