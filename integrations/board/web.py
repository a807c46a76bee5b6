"""The board's shared request plumbing: options, sessions, security headers, rendering.

Every board response carries a strict Content-Security-Policy (scripts and styles only from
the package's static files), ``nosniff``, ``frame-ancestors 'none'`` and ``Referrer-Policy:
same-origin`` (with ``no-referrer`` browsers send ``Origin: null`` on form posts).
Every POST must carry the CSRF token of the caller's session and, when the browser sends an
Origin, come from the board's own origin. ``guard`` (a middleware on board paths) refuses a
demo request whose ``Host`` is not this machine's (DNS rebinding) and reads the session once
per request, refusing one that was logged out (``sessions.EndedSessions``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from integrations.board.auth import SESSION_MAX_AGE, LoginLimiter, Session, Signer
from integrations.board.live import Hub
from integrations.board.sessions import EndedSessions, client_address, is_loopback_host
from integrations.board.views import ACTIONS
from triagebot.runtime.wiring import Runtime

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
BOARD_PATHS = ("/board/", "/report", "/login", "/logout")
COOKIE = "triagebot_board"
FLASH = "triagebot_flash"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class BoardOptions:
    """How the board runs: ``users`` (name -> hash) empty means no login (the demo only).

    ``behind_router``: requests come through Heroku's router (``DYNO`` set), so the client's
    address is the last entry of ``X-Forwarded-For``.
    """

    users: Mapping[str, str] = field(default_factory=dict)
    writable: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    demo: bool = False
    behind_router: bool = False

    @property
    def login(self) -> bool:
        return bool(self.users)


@dataclass
class Board:
    """Everything the handlers need."""

    runtime: Runtime
    options: BoardOptions
    hub: Hub
    templates: jinja2.Environment
    signer: Signer
    ended: EndedSessions
    limiter: LoginLimiter = field(default_factory=LoginLimiter)


BOARD = web.AppKey("board", Board)
_SESSION = web.RequestKey("board_session", Session)  # what ``guard`` read (absent: none)
_GUARDED = web.RequestKey("board_guarded", bool)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("integrations.board", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: quote(str(value), safe="")
    env.globals["ACTIONS"] = ACTIONS
    return env


def is_board_path(path: str) -> bool:
    return path == "/" or path.startswith(BOARD_PATHS)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the board's headers on every board response (static files too)."""
    if is_board_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/board/static/"):
            response.headers.setdefault("Cache-Control", "no-cache")
        else:
            response.headers.setdefault("Cache-Control", "no-store")


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def session_of(request: web.Request) -> Session | None:
    """The caller's live session: signed, not expired, not logged out (read by ``guard``)."""
    if _GUARDED in request:
        return request.get(_SESSION)
    return request.app[BOARD].signer.load(request.cookies.get(COOKIE))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On board paths: the demo answers loopback hosts only; the session is read once."""
    if not is_board_path(request.path):
        return await handler(request)
    board = request.app[BOARD]
    if board.options.demo and not is_loopback_host(request.host):
        raise web.HTTPMisdirectedRequest(
            text="the demo board answers on localhost or 127.0.0.1 only"
        )
    session = board.signer.load(request.cookies.get(COOKIE))
    request[_GUARDED] = True
    if session is not None:
        ended = bool(session.user) and await asyncio.to_thread(board.ended.is_ended, session)
        if not ended:
            request[_SESSION] = session
    return await handler(request)


def remote_address(request: web.Request) -> str:
    """The client's address (through Heroku's router when behind it) for the login limit."""
    return client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", []),
        request.app[BOARD].options.behind_router,
    )


def set_session(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        request.app[BOARD].signer.dump(session),
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )


def viewer(request: web.Request) -> tuple[Session, bool]:
    """The caller's session (a new one when missing) and whether it was just made."""
    session = session_of(request)
    if session is not None:
        board = request.app[BOARD]
        if not board.options.login or session.user in board.options.users:
            return session, False
    return request.app[BOARD].signer.new_session(), True


def may_view(request: web.Request, session: Session) -> bool:
    options = request.app[BOARD].options
    return not options.login or session.user in options.users


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")


def safe_next(value: str | None) -> str:
    """A local path to go back to; anything else (another host, a scheme) becomes "/"."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in {"same-origin", "none"}
    scheme = "https" if is_https(request) else request.scheme
    return origin == f"{scheme}://{request.host}"


async def checked_form(request: web.Request) -> tuple[Session, Mapping[str, str]]:
    """The posted form, after the origin and CSRF checks (403 when either fails)."""
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin request refused")
    form = await request.post()
    session = session_of(request)
    token = request.headers.get("X-CSRF-Token") or form.get("csrf")
    if not request.app[BOARD].signer.check_csrf(session, token if isinstance(token, str) else None):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page and try again")
    assert session is not None
    return session, {k: v for k, v in form.items() if isinstance(v, str)}


async def checked_action(request: web.Request) -> tuple[Session, Mapping[str, str]]:
    """The posted form of a button or answer form: ``checked_form``, then 403 unless the
    board is writable and (with logins) the session's user is one of its users."""
    session, form = await checked_form(request)
    options = request.app[BOARD].options
    if not options.writable:
        raise web.HTTPForbidden(text="this board is read-only")
    if options.login and session.user not in options.users:
        raise web.HTTPForbidden(text="log in to act on cases")
    return session, form


def render(
    request: web.Request,
    name: str,
    context: dict[str, Any],
    session: Session,
    *,
    fresh: bool = False,
    status: int = 200,
) -> web.Response:
    board = request.app[BOARD]
    html = board.templates.get_template(name).render(
        csrf=board.signer.csrf_token(session),
        user=session.user,
        options=board.options,
        brand=board.runtime.settings.config.brand.name,
        next_url=safe_next(request.path_qs),
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if fresh:
        set_session(request, response, session)
    return response


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")
