"""The Slack surface: posts each case to its department's channel, updates it, replies in thread.

Posts are paced per channel (``ChannelLanes``: from when each post was sent and when Slack
says it arrived, so a channel carries one post a second whatever the latency). A post whose
outcome is unknown (a crash between Slack's answer and the store recording the message, or a
lost answer) is not repeated blindly: the channel's recent history is searched for a message
whose metadata names the case, and that message is used. Slack errors become
``DeliveryError``; the ones that retrying cannot fix (no such channel, bot not in channel, bad
token) are ``permanent``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from integrations.common.answers import never
from integrations.slack import mrkdwn, render
from integrations.slack.lanes import ChannelLanes
from triagebot.cases.note_mentions import mentioned, render_mentions
from triagebot.cases.records import Case, MessageRef
from triagebot.config.people import People
from triagebot.errors import DeliveryError

log = logging.getLogger(__name__)

SURFACE = "slack"
HISTORY_PAGES = 5
_HINTS = {
    "channel_not_found": "check the channel id in triagebot.toml (slack_channel)",
    "not_in_channel": "invite the bot to the channel, or give the app the chat:write.public scope",
    "is_archived": "the channel is archived; set another slack_channel",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "set SLACK_BOT_TOKEN",
    "token_revoked": "the app was uninstalled or its token revoked; reinstall it",
    "account_inactive": "the app was uninstalled or its token revoked; reinstall it",
    "missing_scope": "add the scope named in the error to the app (see manifest.yaml)",
    "message_not_found": "the case's message was deleted",
    "cant_update_message": "the case's message was not posted by this app",
}
_PERMANENT = set(_HINTS) | {"invalid_blocks", "msg_too_long", "msg_blocks_too_long"}


@dataclass(frozen=True)
class SlackTargets:
    """Where cases go: a channel per department, and the escalation channel."""

    channels: Mapping[str, str]  # department id -> channel id
    departments: Mapping[str, str]  # department id -> display name
    escalation: str | None = None
    oncall: Mapping[str, str] = field(default_factory=dict)  # department id -> user group id
    people: People = field(default_factory=People)  # who is who, for names and mentions


def translate(exc: Exception, method: str, channel: str) -> DeliveryError:
    """A Slack or HTTP failure as a ``DeliveryError`` that says what to do about it."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429:
            retry = float(exc.response.headers.get("retry-after", "1") or 1)
            return DeliveryError(f"{method} {channel}: rate limited", retry_after=retry)
        hint = _HINTS.get(error)
        message = f"{method} {channel}: {error}" + (f" ({hint})" if hint else "")
        return DeliveryError(message, permanent=error in _PERMANENT)
    return DeliveryError(f"{method} {channel}: {type(exc).__name__}: {exc}")


class SlackSurface:
    """Shows cases in Slack channels through the Web API client it is given."""

    name = SURFACE

    def __init__(
        self,
        client: AsyncWebClient,
        targets: SlackTargets,
        clock: Callable[[], datetime],
        *,
        lanes: ChannelLanes | None = None,
        recovery_window: timedelta = timedelta(days=7),
        can_reply: Callable[[Case], bool] | None = None,
    ) -> None:
        self.client = client
        self.can_reply = can_reply or never
        self.targets = targets
        self.clock = clock
        self.lanes = lanes or ChannelLanes()
        self.recovery_window = recovery_window
        self._scanned: dict[str, dict[str, str]] = {}  # channel -> case id -> ts
        self._uncertain: set[str] = set()  # case ids whose post may have gone through
        self._bot_user: str | None = None

    def context(self) -> render.RenderContext:
        return render.RenderContext(
            self.targets.departments, self.clock(), self.targets.people, self.can_reply
        )

    def shows(self, case: Case) -> bool:
        return case.department in self.targets.channels

    async def post(self, case: Case) -> MessageRef:
        channel = self.targets.channels[case.department]
        async with self.lanes.turn(channel) as turn:
            found = await self._find_posted(channel, case)
            if found is not None:
                log.info("case %s was already posted in %s (ts %s); not posting again",
                         case.id, channel, found)  # fmt: skip
                await self.update(case, MessageRef(SURFACE, channel, found))
                return MessageRef(SURFACE, channel, found)
            ctx = self.context()
            try:
                turn.sending()
                response = await self.client.chat_postMessage(
                    channel=channel,
                    text=render.fallback_text(case, ctx),
                    blocks=render.as_dicts(render.case_blocks(case, ctx)),
                    metadata=render.metadata(case),
                    unfurl_links=False,
                    unfurl_media=False,
                    link_names=False,
                )
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
                self._note_uncertain(case, exc)
                raise self._failed(exc, "chat.postMessage", channel) from exc
            turn.arrived(response.get("ts"))
        self._uncertain.discard(case.id)
        return MessageRef(SURFACE, str(response["channel"]), str(response["ts"]))

    async def update(self, case: Case, ref: MessageRef) -> None:
        ctx = self.context()
        try:
            await self.client.chat_update(
                channel=ref.channel,
                ts=ref.message_id,
                text=render.fallback_text(case, ctx),
                blocks=render.as_dicts(render.case_blocks(case, ctx)),
                metadata=render.metadata(case),
            )
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc, "chat.update", ref.channel) from exc

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        await self._say(ref.channel, self.note_text(text, 2_000), thread_ts=ref.message_id)

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        dept = render.department_name(self.context(), case.department)
        where = f" in <#{ref.channel}>" if ref is not None else ""
        excerpt = mrkdwn.one_line(case.mention.text, 300)
        message = (
            f":rotating_light: *Escalation* · {case.priority} case "
            f"#{mrkdwn.one_line(case.id, 40)} for *{dept}*{where}\n"
            f"{self.note_text(text, 1_000)}\n>{excerpt}"
        )
        if self.targets.escalation is not None:
            await self._say(self.targets.escalation, message)
        elif ref is not None:
            await self._say(ref.channel, message, thread_ts=ref.message_id)
        else:
            log.warning("escalation of case %s not shown: no escalation.slack_channel", case.id)

    def note_text(self, text: str, limit: int) -> str:
        """A core note as mrkdwn: escaped, mention tokens as mentions of the people Slack knows
        (only a token's Slack identity becomes ``<@U…>``: another surface's id never does)."""
        escaped = mrkdwn.escape_cut(text, limit)[0]
        return render_mentions(escaped, self._mention)

    def _mention(self, kind: str, value: str) -> str:
        if kind == "user":
            who = mentioned(value)
            if who is None:
                return f"@{value}"
            named = mrkdwn.person(who, self.targets.people)
            return named if named.startswith("<@") else f"@{named}"
        group = self.targets.oncall.get(value)
        if group is not None and mrkdwn.is_slack_group(group):
            return f"<!subteam^{group}>"
        return f"@on-call:{value}"

    async def _say(self, channel: str, body: str, thread_ts: str | None = None) -> None:
        """A short paced message (thread note or escalation); ``body`` is escaped mrkdwn."""
        async with self.lanes.turn(channel) as turn:
            try:
                turn.sending()
                response = await self.client.chat_postMessage(
                    channel=channel,
                    text=body[:3_000],
                    blocks=render.as_dicts(render.note_blocks(body)),
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    link_names=False,
                )
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
                raise self._failed(exc, "chat.postMessage", channel) from exc
            turn.arrived(response.get("ts"))

    def _failed(self, exc: Exception, method: str, channel: str) -> DeliveryError:
        """Translate; a 429 that outlasted the client's retries also quiets the channel."""
        error = translate(exc, method, channel)
        if error.retry_after is not None:
            self.lanes.hold(channel, error.retry_after)
        return error

    def _note_uncertain(self, case: Case, exc: Exception) -> None:
        """Remember a post that may have reached Slack even though no answer said so."""
        if isinstance(exc, SlackApiError) and exc.response.status_code < 500:
            return  # Slack answered with an error: nothing was posted
        self._uncertain.add(case.id)

    async def _find_posted(self, channel: str, case: Case) -> str | None:
        """The ts of an earlier message for ``case`` in ``channel``, if a post may have happened.

        The first post to a channel after a start searches its recent history once (the
        previous process may have died between posting and recording); a post whose answer was
        lost searches again.
        """
        if case.id in self._uncertain or channel not in self._scanned:
            try:
                self._scanned[channel] = await self._scan(channel)
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("cannot read %s history to find earlier posts: %s", channel, exc)
                self._scanned.setdefault(channel, {})
        return self._scanned[channel].pop(case.id, None)

    async def _scan(self, channel: str) -> dict[str, str]:
        if self._bot_user is None:
            self._bot_user = str((await self.client.auth_test()).get("user_id") or "")
        oldest = f"{(self.clock() - self.recovery_window).timestamp():.6f}"
        found: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = await self.client.conversations_history(
                channel=channel, oldest=oldest, limit=200, include_all_metadata=True,
                cursor=cursor,
            )  # fmt: skip
            for message in page.get("messages") or []:
                case_id = self._case_of(message)
                if case_id is not None:
                    found.setdefault(case_id, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        return found

    def _case_of(self, message: Mapping[str, Any]) -> str | None:
        meta = message.get("metadata") or {}
        if meta.get("event_type") != render.METADATA_EVENT:
            return None
        if not _top_level(message):
            return None  # a thread reply, not a case message
        if self._bot_user and message.get("user") not in (None, self._bot_user):
            return None
        case_id = (meta.get("event_payload") or {}).get("case_id")
        return case_id if isinstance(case_id, str) else None


def _top_level(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` starts a conversation: no thread, or the parent of its own thread.

    History may carry ``"thread_ts": null`` (or an empty string) on plain messages; only a
    ``thread_ts`` naming another message makes a reply.
    """
    thread_ts = message.get("thread_ts")
    return not thread_ts or thread_ts == message.get("ts")
