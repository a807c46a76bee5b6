"""The board's routes: the page, its live fragment and event stream, and the case buttons.

Buttons post to ``/board/cases/{id}/{action}``; each becomes a lifecycle command executed by
``triagebot.actions.execute``, the compare-and-set path Slack and Teams take, so a lost race
gives the same "already claimed by …" answer. Scripts get JSON back; a plain form post is
redirected back to the board with the answer shown once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from urllib.parse import quote, unquote

from aiohttp import web

from integrations.board.views import PER_DEPARTMENT, Filters, columns
from integrations.board.web import (
    BOARD,
    FLASH,
    checked_action,
    checked_form,
    login_redirect,
    may_view,
    render,
    safe_next,
    set_session,
    viewer,
    wants_json,
)
from integrations.common.answers import reply_check
from integrations.common.failures import logged_failure
from triagebot.actions.executor import execute, note_for
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Command, MarkSpam, Reassign, Reopen, Resolve, Unclaim
from triagebot.cases.note_mentions import plain_mentions
from triagebot.cases.records import ACTIVE_STATES, Case
from triagebot.errors import TriagebotError

log = logging.getLogger(__name__)

SURFACE = "board"
PING_EVERY = 15.0
_NAME = re.compile(r"^[\w][\w .'-]{0,39}$")
_COMMANDS: dict[str, Callable[[str, Identity, Mapping[str, str]], Command]] = {
    "claim": lambda case_id, who, form: Claim(case_id, who, SURFACE),
    "unclaim": lambda case_id, who, form: Unclaim(case_id, who, SURFACE),
    "resolve": lambda case_id, who, form: Resolve(case_id, who, SURFACE),
    "reopen": lambda case_id, who, form: Reopen(case_id, who, SURFACE),
    "spam": lambda case_id, who, form: MarkSpam(case_id, who, SURFACE),
    "reassign": lambda case_id, who, form: Reassign(
        case_id, who, SURFACE, department=form.get("department", "")
    ),
}
_NEEDS_FRESH = {"unclaim", "resolve", "spam", "reassign"}


class StaleView(TriagebotError):
    """The button was drawn from an older version of the case."""


async def _board_context(request: web.Request) -> dict[str, object]:
    board = request.app[BOARD]
    settings, store = board.runtime.settings, board.runtime.store
    filters = Filters.parse(request.query, settings)
    now = board.runtime.clock()
    closed = not filters.states & ACTIVE_STATES
    cases: list[Case] = await asyncio.to_thread(
        store.list_cases,
        states=filters.states,
        department=filters.department or None,
        since=now - timedelta(days=30) if closed else None,
        limit=PER_DEPARTMENT * len(settings.departments) if closed else None,
    )
    sources = sorted({c.mention.source for c in cases} | {s.name for s in settings.config.sources})
    return {
        "filters": filters,
        "columns": columns(cases, settings, filters, now, reply_check(board.runtime)),
        "departments": settings.departments,
        "department_names": [(d.id, d.display_name) for d in settings.departments.values()],
        "sources": sources,
        "now": now,
        "writable": board.options.writable,
    }


async def board_page(request: web.Request) -> web.StreamResponse:
    session, fresh = viewer(request)
    if not may_view(request, session):
        raise login_redirect(request)
    context = await _board_context(request)
    flash = unquote(request.cookies.get(FLASH, ""))[:300]
    response = render(request, "board.html", {**context, "flash": flash}, session, fresh=fresh)
    if flash:
        response.del_cookie(FLASH, path="/")
    return response


async def columns_fragment(request: web.Request) -> web.StreamResponse:
    session, fresh = viewer(request)
    if fresh or not may_view(request, session):
        raise web.HTTPUnauthorized(text="log in again")
    return render(request, "_columns.html", await _board_context(request), session)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``data: <case id>`` line per change, a comment as keep-alive."""
    session, fresh = viewer(request)
    if fresh or not may_view(request, session):
        raise web.HTTPUnauthorized(text="log in again")
    hub = request.app[BOARD].hub
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(b"retry: 3000\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), PING_EVERY)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                break
            await response.write(f"data: {json.dumps(item)}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        hub.unsubscribe(queue)
    return response


async def set_name(request: web.Request) -> web.StreamResponse:
    """Demo only: remember the name the visitor acts as."""
    board = request.app[BOARD]
    _, form = await checked_form(request)
    if board.options.login:
        raise web.HTTPForbidden(text="log in instead")
    name = " ".join(form.get("name", "").split())
    target = safe_next(form.get("next"))
    response = web.HTTPSeeOther(target)
    if not _NAME.match(name):
        _flash(response, "Type a name of up to 40 letters, digits, spaces, '.', '-' or '_'.")
        raise response
    set_session(request, response, board.signer.new_session(name))
    raise response


def _flash(response: web.StreamResponse, text: str) -> None:
    response.set_cookie(
        FLASH, quote(text[:300]), max_age=60, path="/", httponly=True, samesite="Strict"
    )


async def act(request: web.Request) -> web.StreamResponse:
    """A button: check the caller, run the command, answer."""
    session, form = await checked_action(request)
    action, case_id = request.match_info["action"], request.match_info["case_id"]
    if action not in _COMMANDS:
        raise web.HTTPNotFound(text="no such action")
    ok, message = await _run(request, session.user, action, case_id, form)
    if wants_json(request):
        return web.json_response({"ok": ok, "message": message}, status=200 if ok else 409)
    response = web.HTTPSeeOther(safe_next(form.get("next")))
    _flash(response, message)
    raise response


async def _run(
    request: web.Request, who: str, action: str, case_id: str, form: Mapping[str, str]
) -> tuple[bool, str]:
    """(done, the answer to show); the board's open pages are told either way."""
    board = request.app[BOARD]
    runtime = board.runtime
    if not who:
        return False, "Type your name first (top of the page): it is recorded with each change."
    try:
        if action in _NEEDS_FRESH and form.get("version", "").isdigit():
            current = await asyncio.to_thread(runtime.store.get_case, case_id)
            if current.version != int(form["version"]):
                raise StaleView(
                    f"case #{current.id} changed after the board was drawn; it now shows the "
                    "case as it is: try again if you still mean to"
                )
        command = _COMMANDS[action](case_id, Identity(SURFACE, who), form)
        outcome = await asyncio.to_thread(
            execute, runtime.store, runtime.policy, command, runtime.clock()
        )
    except TriagebotError as exc:
        return False, str(exc)
    except Exception:
        error_id = logged_failure(log, "board %s on case %s", action, case_id)
        return False, f"Something went wrong; nothing was changed (error id {error_id})."
    finally:
        with contextlib.suppress(Exception):
            board.hub.notify(case_id)
    log.info("case %s: %s by %s from the board", outcome.case.id, action, who)
    note = plain_mentions(note_for(outcome.event), runtime.settings.people.name_of, at="")
    return True, f"Case #{outcome.case.id} {note}."
