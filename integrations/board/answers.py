"""The board's answer forms: reply in public, mark answered, approve, edit or discard a draft,
close a case whose post was deleted.

Each form posts to ``/board/cases/{id}/replies/{action}`` with the session's CSRF token, like
the case buttons, and acts as the board's user through ``Answering`` (the path Slack and
Teams take). A reply is checked before anything is recorded (empty, too long for the
platform, a source that cannot post, claim first), and a "Mark answered" link must be
http(s). Scripts get JSON (``ok``, ``message``) and show a refusal under the form, keeping
what was typed; a plain form post is redirected back with the answer shown once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from integrations.board.web import (
    BOARD,
    FLASH,
    checked_action,
    may_view,
    render,
    safe_next,
    viewer,
    wants_json,
)
from integrations.common.answers import answering_of, clean_url
from integrations.common.failures import logged_failure
from triagebot.cases.answers import ReplyState
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseEvent
from triagebot.errors import CaseNotFound, InputError, NotAllowed, TriagebotError
from triagebot.runtime.answering import Answering
from triagebot.runtime.console import safe_text
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

SURFACE = "board"
ACTIONS = ("send", "answered", "approve", "discard", "close-deleted")
#: The events of the public thread a card's "Thread" lists, in words.
THREAD_WORDS = {
    "follow_up": "the customer replied in the thread",
    "public_response": "the brand answered in the thread",
    "reply_started": "a reply is being posted",
    "reply": "a public reply was posted",
    "reply_failed": "a reply was not posted",
    "reply_uncertain": "a reply may have been posted",
    "reply_drafted": "a draft reply was written",
    "reply_approved": "a draft reply was approved",
    "reply_discarded": "a draft reply was discarded",
    "answered": "marked answered in public",
    "source_deleted": "the post was deleted at the source",
}
THREAD_SHOWN = 20
NOTE_LIMIT = 600


async def thread_fragment(request: web.Request) -> web.StreamResponse:
    """The public thread of one case as the card's "Thread" shows it: the latest events of
    the answer, each note the text a customer or a replier wrote (escaped by the template,
    never read for mention tokens). One case's events, read by its id."""
    session, fresh = viewer(request)
    if fresh or not may_view(request, session):
        raise web.HTTPUnauthorized(text="log in again")
    runtime = request.app[BOARD].runtime
    try:
        events: list[CaseEvent] = await asyncio.to_thread(
            runtime.store.events, request.match_info["case_id"]
        )
    except CaseNotFound:
        raise web.HTTPNotFound(text="no such case") from None
    name_of = runtime.settings.people.name_of
    rows = [
        {
            "at": e.at,
            "who": "triagebot" if e.actor.is_system else safe_text(name_of(e.actor), 80),
            "words": THREAD_WORDS[e.action],
            "note": safe_text(e.note, NOTE_LIMIT) if e.note else "",
        }
        for e in events
        if e.action in THREAD_WORDS
    ][-THREAD_SHOWN:]
    return render(request, "_thread.html", {"rows": rows}, session)


async def answer_act(request: web.Request) -> web.StreamResponse:
    """One answer form: check the caller, act, answer."""
    board = request.app[BOARD]
    session, form = await checked_action(request)
    action, case_id = request.match_info["action"], request.match_info["case_id"]
    if action not in ACTIONS:
        raise web.HTTPNotFound(text="no such action")
    ok, message = await _run(board.runtime, session.user, action, case_id, form)
    with contextlib.suppress(Exception):
        board.hub.notify(case_id)
    if wants_json(request):
        return web.json_response({"ok": ok, "message": message}, status=200 if ok else 409)
    response = web.HTTPSeeOther(safe_next(form.get("next")))
    response.set_cookie(
        FLASH, quote(message[:300]), max_age=60, path="/", httponly=True, samesite="Strict"
    )
    raise response


async def _run(
    runtime: Runtime, who: str, action: str, case_id: str, form: Mapping[str, str]
) -> tuple[bool, str]:
    if not who:
        return False, "Type your name first (top of the page): it is recorded with each change."
    actor = Identity(SURFACE, who)
    answering = answering_of(runtime)
    try:
        message = await _act(answering, action, case_id, actor, form)
    except TriagebotError as exc:
        return False, str(exc)
    except Exception:
        error_id = logged_failure(log, "board %s on case %s", action, case_id)
        return False, f"Something went wrong; nothing was sent (error id {error_id})."
    log.info("case %s: reply %s by %s from the board", case_id, action, who)
    return True, message


async def _act(
    answering: Answering, action: str, case_id: str, actor: Identity, form: Mapping[str, str]
) -> str:
    reply_id = form.get("reply", "")
    if action == "approve":
        text = form.get("text")  # checked by ``approve`` before anything is recorded
        await answering.approve(case_id, reply_id, actor, SURFACE, text)
        edited = " as edited" if text is not None else ""
        return f"Case #{case_id}: the draft reply is approved{edited} and being posted."
    if action == "discard":
        await answering.discard(case_id, reply_id, actor, SURFACE)
        return f"Case #{case_id}: the draft reply is discarded."
    if action == "close-deleted":
        await answering.close_deleted(case_id, actor, SURFACE)
        return f"Case #{case_id} is closed: its post was deleted by its author."
    if action == "answered":
        try:
            url = clean_url(form.get("url", ""))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        await answering.mark_answered(case_id, actor, SURFACE, url)  # claim first, or a manager
        return f"Case #{case_id} is marked answered in public."
    # checked (the platform's length, claim first) before anything is recorded
    started = await answering.reply(case_id, actor, SURFACE, form.get("text", ""))
    if started.reply.state is ReplyState.DRAFT:
        return f"Case #{case_id}: your reply is saved as a draft; a manager approves it."
    if started.needs_sending:
        return f"Case #{case_id}: your reply is being posted on {started.case.mention.source}."
    raise NotAllowed(f"case #{case_id}: the reply was not started")
