"""The long-running commands: ``demo`` and ``serve``, and ``migrate`` (the release phase).

Kept apart from the quick commands so that ``triagebot claim`` does not pay for importing
the web server, the scheduler and the sources.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
from aiohttp import web

from integrations.board.app import add_board, board_options
from integrations.demo.forum import TOKEN, DemoForum, ForumSource
from triagebot.actions.public import ThreadBudget
from triagebot.cli.commands import output_console, settings_for_command
from triagebot.cli.sources import build_answering, build_poller
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError
from triagebot.runtime.answering import Answering
from triagebot.runtime.console import ConsoleSurface
from triagebot.runtime.demo import DemoOptions, DemoReplay
from triagebot.runtime.deploy import log_to_stdout, open_configured_store, store_label
from triagebot.runtime.heap import limit_arenas
from triagebot.runtime.scheduler import add_interval_job
from triagebot.runtime.server import SCHEDULER, create_app, run
from triagebot.runtime.wiring import Runtime

log = logging.getLogger(__name__)

#: The demo's platform: every demo source posts to one loopback forum, each with its
#: platform's own length limit; threads are read every few seconds.
DEMO_FORUM_LIMIT = 10_000
DEMO_REPLY_LIMITS = {
    "demo-x": 280,
    "demo-bluesky": 300,
    "demo-mastodon": 500,
    "demo-reddit": 10_000,
    "demo-appstore": 5_970,
    "demo-stackexchange": 600,
    "demo-hackernews": None,  # no write API: staff answer there and mark the case answered
}
DEMO_THREAD_EVERY = timedelta(seconds=5)
DEMO_THREAD_RUNS = timedelta(seconds=3)
DEMO_THREAD_BUDGET = ThreadBudget(requests=1200, per_seconds=60.0, batch=10)


def demo_answering(runtime: Runtime, forum_url: str) -> Answering:
    """Replies and thread reads of the demo sources through the loopback forum."""
    sources = {
        name: ForumSource(
            forum_url,
            name=name,
            token=TOKEN if limit else None,
            limit=limit or 0,
            thread_budget=DEMO_THREAD_BUDGET,
        )
        for name, limit in DEMO_REPLY_LIMITS.items()
    }
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    return Answering(runtime.store, runtime.settings, sources, http, runtime.clock)


def cmd_demo(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the loopback forum's every request
    settings = settings_for_command()
    check_surface_settings(settings.env)
    runtime = Runtime.build(settings, [ConsoleSurface(name_of=settings.people.name_of)])
    forum = DemoForum(limit=DEMO_FORUM_LIMIT)
    replay = DemoReplay(
        runtime, DemoOptions(args.pace, not args.no_staff, args.until_done, args.seed), forum
    )
    port = settings.env.port
    console = output_console()
    board = board_options(settings.env, demo=True)
    address = f"http://127.0.0.1:{port}/" if board else "off (TRIAGEBOT_BOARD=off)"
    console.print(
        f"[bold]triagebot demo[/] · {settings.config.brand.name} · store {settings.env.db_path}\n"
        f"board: [bold]{address}[/] (open it in a browser: every queue, claim and resolve)\n"
        f"health: http://127.0.0.1:{port}/healthz · from another terminal try: "
        "[bold]triagebot cases[/], [bold]triagebot claim ID --by you[/], [bold]triagebot sla[/]\n"
        "Ctrl-C stops.\n"
    )

    async def start_replay(app: web.Application) -> None:
        runtime.answering = demo_answering(runtime, await forum.start())
        checker = runtime.answering.thread_checker(every=DEMO_THREAD_EVERY)
        if checker is not None:
            add_interval_job(app[SCHEDULER], "threads", checker.run, DEMO_THREAD_RUNS)
        replay.start()

    async def stop_replay(app: web.Application) -> None:
        await replay.stop()

    async def stop_forum(app: web.Application) -> None:
        await forum.stop()

    app = create_app(runtime, extra_startup=start_replay)
    app.on_shutdown.append(stop_replay)  # before the store closes in the app's cleanup
    app.on_cleanup.append(stop_forum)  # after the app's cleanup has drained the replies
    add_slack(runtime, app)
    add_teams(runtime, app)
    add_board(runtime, app, board)
    try:
        asyncio.run(_serve_until(app, port, replay, args.until_done))
    except KeyboardInterrupt:
        console.print("\nstopped.")
    return 0


async def _serve_until(
    app: web.Application, port: int, replay: DemoReplay, until_done: bool
) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError as exc:
            message = (
                f"environment: PORT: cannot listen on {port} ({exc.strerror}); set another PORT"
            )
            raise ConfigError(message) from None
        if not until_done:
            await asyncio.Event().wait()
        await replay.done.wait()
        answering = replay.runtime.answering
        checker = answering.thread_checker() if answering is not None else None
        if checker is not None:  # the last answers and follow-ups on the platform
            await asyncio.sleep(DEMO_THREAD_EVERY.total_seconds())
            await checker.run()
        store = replay.runtime.store
        for _ in range(100):  # let the delivery job show the last changes
            if await asyncio.to_thread(store.pending_outbox) == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    limit_arenas()  # before any thread allocates
    log_to_stdout(logging.getLogger().level)
    settings = settings_for_command(fallback=False)
    check_surface_settings(settings.env)
    board = board_options(settings.env, demo=False)  # a weak secret stops before the store opens
    runtime = Runtime.build(settings, [ConsoleSurface(name_of=settings.people.name_of)])
    host = listen_host(settings.env)
    log.info(
        "event=serve_started host=%s port=%d store=%s dyno=%s",
        host,
        settings.env.port,
        store_label(settings.env),
        settings.env.dyno or "-",
    )
    poller = build_poller(runtime)
    runtime.answering = build_answering(runtime, poller)
    app = create_app(runtime, poller=poller)
    add_slack(runtime, app)
    add_teams(runtime, app)
    add_board(runtime, app, board)
    run(app, settings.env.port, host)
    return 0


def listen_host(env: Environment) -> str:
    """Every interface, except in Teams local mode: unsigned requests from this machine only."""
    teams_local_mode = env.teams_local and not env.microsoft_app_id
    return "127.0.0.1" if teams_local_mode else "0.0.0.0"


def check_surface_settings(env: Environment) -> None:
    """Half the Slack or Teams variables stop here, before the store (and data/) is created."""
    if (env.slack_bot_token is None) != (env.slack_signing_secret is None):
        missing = "SLACK_BOT_TOKEN" if env.slack_bot_token is None else "SLACK_SIGNING_SECRET"
        raise ConfigError(f"environment: {missing}: must be set too to use Slack")
    if env.microsoft_app_id or env.teams_local:
        from integrations.teams.auth import auth_settings  # noqa: PLC0415 (Teams is on)

        auth_settings(env)


def add_slack(runtime: Runtime, app: web.Application) -> None:
    """Show cases in Slack and serve POST /slack/events when the Slack secrets are set."""
    env = runtime.settings.env
    check_surface_settings(env)
    if env.slack_bot_token is None and env.slack_signing_secret is None:
        return
    # Imported only when Slack is configured: Bolt and the SDK are not part of the core.
    from integrations.slack.app import build_slack, mount  # noqa: PLC0415

    slack = build_slack(runtime)
    runtime.surfaces.append(slack.surface)
    mount(app, slack)
    log.info("event=slack_enabled channels=%d", len(slack.surface.targets.channels))


def add_teams(runtime: Runtime, app: web.Application) -> None:
    """Show cases in Teams and serve POST /api/messages when MICROSOFT_APP_ID or
    TRIAGEBOT_TEAMS=1 (local mode, for Microsoft 365 Agents Playground) is set."""
    env = runtime.settings.env
    if not (env.microsoft_app_id or env.teams_local):
        return
    # Imported only when Teams is on: botbuilder is not part of the core.
    from integrations.teams.app import add_teams as mount_teams  # noqa: PLC0415

    mount_teams(runtime, app)


def cmd_migrate(args: argparse.Namespace) -> int:
    env = settings_for_command(fallback=False).env
    store = open_configured_store(env, migrating=True)
    try:
        done = store.migrate()
    finally:
        store.close()
    print("\n".join(done) if done else "store is up to date")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
}
