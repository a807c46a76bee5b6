"""``triagebot reply``, ``answered`` and ``threads``: answer a customer from the command line,
record an answer given elsewhere, read the threads of the followed cases once."""

from __future__ import annotations

import argparse
import asyncio

from triagebot.cases.answers import ReplyState
from triagebot.cli.commands import cli_actor, settings_for_command
from triagebot.cli.sources import build_answering, build_poller
from triagebot.errors import InputError
from triagebot.runtime.answering import Answering
from triagebot.runtime.console import safe_text
from triagebot.runtime.wiring import Runtime


def _answering(runtime: Runtime) -> Answering:
    return build_answering(runtime, build_poller(runtime))


def cmd_reply(args: argparse.Namespace) -> int:
    actor = cli_actor(args.by)
    runtime = Runtime.build(settings_for_command(), routing=False)
    answering = _answering(runtime)

    async def go() -> int:
        try:
            started = await answering.reply(args.case_id.lstrip("#"), actor, "cli", args.text)
            await answering.drain()
        finally:
            await answering.aclose()
        case = runtime.store.get_case(started.case.id)
        reply = case.reply(started.reply.id)
        assert reply is not None
        if reply.state is ReplyState.DRAFT:
            print(f"#{case.id}: draft saved; a manager approves it before it is posted")
            return 0
        if reply.state is ReplyState.SENT:  # the link and the error are the platform's words
            link = safe_text(reply.url or reply.external_id or "")
            print(f"#{case.id}: replied in public {link}")
            return 0
        print(f"#{case.id}: reply {reply.state}: {safe_text(reply.error or '')}")
        return 1

    try:
        return asyncio.run(go())
    finally:
        runtime.close()


def cmd_answered(args: argparse.Namespace) -> int:
    actor = cli_actor(args.by)
    runtime = Runtime.build(settings_for_command(), routing=False)
    answering = Answering(runtime.store, runtime.settings, {}, None, runtime.clock)
    try:
        case = asyncio.run(
            answering.mark_answered(args.case_id.lstrip("#"), actor, "cli", args.url)
        )
    finally:
        runtime.close()
    print(f"#{case.id}: answered in public" + (f" ({args.url})" if args.url else ""))
    return 0


def cmd_threads(args: argparse.Namespace) -> int:
    del args
    runtime = Runtime.build(settings_for_command(), routing=False)
    answering = _answering(runtime)

    async def go() -> int:
        try:
            checker = answering.thread_checker()
            if checker is None:
                raise InputError("no configured source can read threads")
            return await checker.run()
        finally:
            await answering.aclose()

    try:
        count = asyncio.run(go())
    finally:
        runtime.close()
    print(f"read {count} thread(s)")
    return 0


COMMANDS = {"reply": cmd_reply, "answered": cmd_answered, "threads": cmd_threads}
