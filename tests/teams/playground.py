"""Microsoft 365 Agents Playground as a test fixture: start it, read its websocket, drive it.

The playground is Microsoft's local Teams client (a mock tenant: user ``user-id-0`` "Alex
Wilber", team ``team-id`` "My Team" with channels "General" (``team-id``) and "Announcements").
It runs from a temporary directory with its browser off and its log in that directory; the
conversation websocket is read from before anything is done, so no frame is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

BOT_ID = "00000000-0000-0000-0000-00000000000011"
BOT_NAME = "Test Bot"
USER = "user-id-0"
USER_NAME = "Alex Wilber"
#: Alex Wilber's Azure AD object id, sent as ``from.aadObjectId`` with every activity.
USER_AAD = "00000000-0000-0000-0000-0000000000020"
TEAM = "team-id"
GENERAL = "team-id"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Playground:
    """A running playground: its base URL, an HTTP session and the frames seen so far."""

    url: str
    session: aiohttp.ClientSession
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.url + path, json=body) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:
                return response.status, text

    async def install(self, conversation: str) -> None:
        status, _ = await self.post(f"/_debug/conversation/{conversation}/installation", {})
        assert status == 200

    async def say(self, conversation: str, text: str, *, mention: bool = True) -> Any:
        body: dict[str, Any] = {"from": {"id": USER}, "text": text, "textFormat": "plain"}
        if mention:
            at = f"<at>{BOT_NAME}</at>"
            body["text"] = f"{at} {text}"
            body["mentions"] = [{"mentioned": {"id": BOT_ID}, "text": at}]
        status, answer = await self.post(
            f"/_conversation/v1/conversations/{conversation}/messages", body
        )
        assert status == 200, answer
        return answer

    async def press(
        self, conversation: str, message_id: str, verb: str, data: dict[str, Any], user: str = USER
    ) -> tuple[int, Any]:
        body = {
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}},
            "from": {"id": user},
            "conversation": {"id": conversation},
            "replyToId": message_id,
        }
        return await self.post("/_conversation/v1/invoke", body)

    async def frame(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first frame seen (so far or within ``timeout``) that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames:
                if predicate(frame):
                    return frame
            if time.monotonic() > deadline:
                actions = [(f.get("action"), card_text(f)[:80]) for f in self.frames]
                raise AssertionError(f"no such frame; seen: {actions}")
            await asyncio.sleep(0.05)


def card_text(frame: dict[str, Any]) -> str:
    """Every text of a websocket frame's message (its text and its cards' TextBlocks)."""
    message = frame.get("message") or {}
    texts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or []:
        texts.append(json.dumps(attachment.get("content"), ensure_ascii=False))
    return "\n".join(texts)


@contextlib.asynccontextmanager
async def playground(
    node: str, cli: Path, bot_url: str, workdir: Path
) -> AsyncIterator[Playground]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "TEAMSAPPTESTER"))}
    env |= {
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / "playground.log"),
    }
    command = [node, str(cli), "-e", bot_url, "-c", "msteams", "-p", str(port), "--dt",
               "--conversation-id", "personal-test",
               "--service-url", f"http://127.0.0.1:{port}/_connector"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        listening = await asyncio.wait_for(
            asyncio.to_thread(_listening_port, process), START_TIMEOUT
        )
        assert listening == port, f"the playground took port {listening}, not {port}"
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await _ping(session, url)
            pg = Playground(url, session)
            async with session.ws_connect(url + "/_ws_conversation/v1/conversations/stream") as ws:
                reader = asyncio.ensure_future(_read(ws, pg.frames))
                try:
                    yield pg
                finally:
                    reader.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _listening_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").strip()
        if line.startswith("Listening on "):
            return int(line.removeprefix("Listening on ").strip())
    raise AssertionError(f"the playground exited ({process.wait()}) without listening")


async def _ping(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            async with session.get(url + "/_debug/ping") as response:
                if response.status == 200 and (await response.text()).strip() == "pong":
                    return
        except aiohttp.ClientError:
            pass
        assert time.monotonic() < deadline, "the playground does not answer /_debug/ping"
        await asyncio.sleep(0.05)


async def _read(ws: aiohttp.ClientWebSocketResponse, frames: list[dict[str, Any]]) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            with contextlib.suppress(ValueError):
                frames.append(json.loads(message.data))
