"""Wiring: the Web API client, the Bolt app with its listeners, the surface, the HTTP route.

``build_slack(runtime)`` makes everything from the settings (nothing happens at import);
``mount(web_app, slack)`` adds ``POST /slack/events`` (events, interactivity and slash commands
on one URL) to the one aiohttp application, or starts Socket Mode when ``SLACK_APP_TOKEN`` is
set. The client points at ``SLACK_API_URL`` when given (tests use a fake Slack) and retries a
429 after its Retry-After, which Slack's client does not do by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from integrations.common.answers import reply_check
from integrations.slack.answers import register_answers
from integrations.slack.handlers import ClickHandler, SlackDeps, action_listener
from integrations.slack.lanes import ChannelLanes
from integrations.slack.payload import ActionId, listens_to
from integrations.slack.sla_command import SlaCommand
from integrations.slack.surface import SlackSurface, SlackTargets
from integrations.slack.verify import check_signed
from triagebot.config.settings import Settings
from triagebot.errors import ConfigError
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK_APP = web.AppKey("slack_app", AsyncApp)


@dataclass
class SlackIntegration:
    """The pieces built for one workspace."""

    bolt: AsyncApp
    surface: SlackSurface
    client: AsyncWebClient
    signing_secret: str
    app_token: str | None = None


def is_configured(settings: Settings) -> bool:
    """True when both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set."""
    return bool(settings.env.slack_bot_token and settings.env.slack_signing_secret)


def slack_targets(settings: Settings) -> SlackTargets:
    """Department channels, names, on-call groups and the escalation channel from the config."""
    departments = settings.departments
    return SlackTargets(
        channels={d: c.slack_channel for d, c in departments.items() if c.slack_channel},
        departments={d: c.display_name for d, c in departments.items()},
        escalation=settings.config.escalation.slack_channel,
        oncall={d: c.oncall_slack_group for d, c in departments.items() if c.oncall_slack_group},
        people=settings.people,
    )


#: Web API methods that create something each time they are called.
CREATING_METHODS = frozenset({"chat.postMessage"})


class CreateOnceRetry(AsyncConnectionErrorRetryHandler):
    """Retry a call whose connection failed, except where that could create twice.

    A ``chat.postMessage`` whose connection broke after the request went out (the server
    disconnected, the connection was reset) may have posted: it is not sent again here. The
    surface then takes the post as uncertain and searches the channel before posting again.
    Only a connection that was never made is retried.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.rsplit("/", 1)[-1] in CREATING_METHODS:
            return isinstance(error, aiohttp.ClientConnectorError)
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


def web_client(token: str, base_url: str | None = None, max_retries: int = 3) -> AsyncWebClient:
    """A Web API client that also waits out and retries 429 answers."""
    handlers: list[Any] = [
        CreateOnceRetry(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
    ]
    kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
    return AsyncWebClient(token=token, retry_handlers=handlers, timeout=15, **kwargs)


def register_listeners(bolt: AsyncApp, deps: SlackDeps) -> None:
    """Every button and select of the case message, ``/sla`` and mentions of the bot."""
    clicks = ClickHandler(deps)
    for action_id in ActionId:
        bolt.action(listens_to(action_id))(action_listener(clicks, action_id))
    register_answers(bolt, deps, clicks)
    bolt.command("/sla")(SlaCommand(deps).__call__)
    bolt.event("app_mention")(on_mention)


MENTION_HELP = (
    "I post public posts about the brand in each department's channel, with Claim and Resolve "
    "buttons and SLA due times. `/sla help` shows what the SLA command can tell you."
)


async def on_mention(event: dict[str, Any], say: AsyncSay) -> None:
    """``@triagebot`` in a channel: a short note, in the thread of the mention."""
    await say(text=MENTION_HELP, thread_ts=event.get("thread_ts") or event.get("ts"))


def build_slack(
    runtime: Runtime, *, lanes: ChannelLanes | None = None, client: AsyncWebClient | None = None
) -> SlackIntegration:
    """The Slack app and surface for ``runtime``; raises ``ConfigError`` when not configured."""
    env = runtime.settings.env
    if env.slack_bot_token is None or env.slack_signing_secret is None:
        raise ConfigError("environment: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must both be set")
    client = client or web_client(env.slack_bot_token.get_secret_value(), env.slack_api_url)
    surface = SlackSurface(
        client,
        slack_targets(runtime.settings),
        runtime.clock,
        lanes=lanes,
        can_reply=reply_check(runtime),
    )
    secret = env.slack_signing_secret.get_secret_value()
    bolt = AsyncApp(client=client, signing_secret=secret, process_before_response=False)
    register_listeners(bolt, SlackDeps(runtime, surface))
    app_token = env.slack_app_token.get_secret_value() if env.slack_app_token else None
    return SlackIntegration(bolt, surface, client, secret, app_token)


def mount(web_app: web.Application, slack: SlackIntegration) -> None:
    """Serve Slack on ``web_app``: ``POST /slack/events``, plus Socket Mode if it has a token."""
    web_app[SLACK_APP] = slack.bolt
    bolt = slack.bolt

    async def events(request: web.Request) -> web.Response:
        # The raw body goes to Bolt untouched: it checks the signature over those bytes again.
        body = await request.read()
        refusal = check_signed(request.headers, body, slack.signing_secret)
        if refusal is not None:
            log.info("slack: refused a request to %s: %s", EVENTS_PATH, refusal.reason)
            return web.json_response({"error": refusal.reason}, status=refusal.status)
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"), query=request.query_string, headers=dict(request.headers)
            )
        except (ValueError, RecursionError, AttributeError, TypeError) as exc:
            log.warning("slack: a signed request with an unreadable body: %s", type(exc).__name__)
            return web.json_response({"error": "the body cannot be read"}, status=400)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    web_app.router.add_post(EVENTS_PATH, events)
    web_app.on_startup.append(partial(_open_session, slack.client))
    web_app.on_cleanup.append(partial(_close_session, slack.client))
    if slack.app_token:
        _socket_mode(web_app, bolt, slack.app_token)


async def _open_session(client: AsyncWebClient, _: web.Application) -> None:
    """One HTTP session for every Web API call while the server runs: its connections to Slack
    are kept open and reused. Without it the SDK opens a session, a connection (and its TLS
    handshake) for each call and closes them after, on the event loop."""
    if client.session is None or client.session.closed:
        client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=client.timeout),
            trust_env=client.trust_env_in_session,
        )


async def _close_session(client: AsyncWebClient, _: web.Application) -> None:
    """Close the shared session (a call made after this opens a session of its own, as the SDK
    does without one)."""
    session, client.session = client.session, None
    if session is not None:
        await session.close()


def _socket_mode(web_app: web.Application, bolt: AsyncApp, app_token: str) -> None:
    # Imported only when used: Socket Mode pulls in the websocket client.
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler  # noqa: PLC0415

    handler = AsyncSocketModeHandler(bolt, app_token)

    async def connect(_: web.Application) -> None:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("slack: connected in Socket Mode")

    async def close(_: web.Application) -> None:
        await handler.close_async()  # type: ignore[no-untyped-call]

    web_app.on_startup.append(connect)
    web_app.on_cleanup.append(close)
