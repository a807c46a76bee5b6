"""The one write request every replying source makes (``_replies.send``), on a raw loopback
socket: a request that never left is a failure (send again), one that may have arrived is
uncertain (never sent again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from integrations.sources._replies import send
from triagebot.actions.public import ReplyFailed, ReplyUnknown

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by ``handler``."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self, handler: Handler) -> None:
        self.server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/posts.json"


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    fake = RawServer()
    yield fake
    if fake.server is not None:
        fake.server.close()
        await fake.server.wait_closed()


async def test_a_dropped_connection_after_the_request_is_uncertain(
    raw: RawServer, http: httpx.AsyncClient
) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.received.append(await _read_request(reader))
        writer.close()  # the platform got the request; its answer is lost

    await raw.start(drop)
    with pytest.raises(ReplyUnknown, match="connection lost"):
        await send(http, "forum", "POST", raw.url, json={"raw": "hello"})
    assert len(raw.received) == 1 and raw.received[0].endswith(b'{"raw":"hello"}')


async def test_a_5xx_is_uncertain_and_a_4xx_is_returned(
    raw: RawServer, http: httpx.AsyncClient
) -> None:
    statuses = [b"502 Bad Gateway", b"422 Unprocessable Entity"]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                raw.received.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                break
            status = statuses.pop(0)
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    await raw.start(answer)
    with pytest.raises(ReplyUnknown, match="HTTP 502"):
        await send(http, "forum", "POST", raw.url, json={})
    response = await send(http, "forum", "POST", raw.url, json={})
    assert response.status_code == 422


async def test_nothing_listening_is_a_failure_to_send_again(http: httpx.AsyncClient) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # the port is free again: a connection is refused
    with pytest.raises(ReplyFailed, match="nothing was posted"):
        await send(http, "forum", "POST", f"http://127.0.0.1:{port}/posts.json", json={})
    with pytest.raises(ReplyFailed, match="nothing was posted"):
        await send(http, "forum", "POST", "ftp://127.0.0.1/posts.json", json={})
