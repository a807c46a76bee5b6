"""The board against a hostile network: shared router addresses, copied cookies, weak secrets,
DNS rebinding. Over HTTP against the board mounted on an aiohttp app (``conftest``)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession

from integrations.board.app import board_options
from integrations.board.auth import secret_bits
from integrations.board.sessions import EndedSessions, client_address, is_loopback_host
from integrations.board.web import COOKIE, BoardOptions
from tests.board.conftest import PASSWORD, BoardWorld, start_board
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from triagebot.cli.run import listen_host
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def heroku(tmp_path: Path, now: datetime, ana_hash: str) -> AsyncIterator[BoardWorld]:
    """The served board as on Heroku: two users, every request through the router."""
    options = BoardOptions(users={"ana": ana_hash, "ben": ana_hash}, behind_router=True)
    world, runtime = await start_board(tmp_path, now, options)
    try:
        yield world
    finally:
        await world.client.close()
        runtime.close()


async def login(world: BoardWorld, user: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    page = await world.client.get("/login", headers=headers)
    token = (await page.text()).split('name="csrf" value="')[1].split('"')[0]
    response = await world.client.post(
        "/login",
        data={"csrf": token, "user": user, "password": password, "next": "/"},
        headers=headers,
        allow_redirects=False,
    )
    return response.status


# --- the login limit behind a router --------------------------------------------------------


async def test_one_guesser_behind_the_router_locks_out_only_itself_and_the_name(
    heroku: BoardWorld,
) -> None:
    for _ in range(5):
        assert await login(heroku, "mallory", "guess", forwarded="203.0.113.9") == 401
    assert await login(heroku, "ana", "guess", forwarded="203.0.113.9") == 429  # that address
    # Everyone else shares the router's address, and is not locked out by the guesser.
    assert await login(heroku, "ana", PASSWORD, forwarded="198.51.100.7") == 303


async def test_a_spoofed_forwarded_for_does_not_escape_the_limit(heroku: BoardWorld) -> None:
    # Heroku appends the address it saw; what the client claims comes before it.
    for n in range(5):
        claimed = f"10.0.0.{n}, 203.0.113.9"
        assert await login(heroku, "mallory", "guess", forwarded=claimed) == 401
    assert await login(heroku, "ben", "guess", forwarded="10.9.9.9, 203.0.113.9") == 429


async def test_failures_against_one_name_lock_that_name_from_any_address(
    heroku: BoardWorld,
) -> None:
    for n in range(5):
        assert await login(heroku, "ana", "guess", forwarded=f"203.0.113.{n}") == 401
    assert await login(heroku, "ana", PASSWORD, forwarded="198.51.100.7") == 429
    assert await login(heroku, "ben", PASSWORD, forwarded="198.51.100.7") == 303


async def test_without_a_router_forwarded_for_is_ignored(served: BoardWorld) -> None:
    for n in range(5):
        assert await login(served, f"user{n}", "guess", forwarded=f"203.0.113.{n}") == 401
    assert await login(served, "ana", PASSWORD, forwarded="198.51.100.7") == 429


def test_client_address_takes_the_last_hop_only_behind_the_router() -> None:
    assert client_address("10.1.1.1", ["1.2.3.4, 203.0.113.9"], behind_router=True) == (
        "203.0.113.9"
    )
    assert client_address("10.1.1.1", ["1.2.3.4", "203.0.113.9"], behind_router=True) == (
        "203.0.113.9"
    )
    assert client_address("10.1.1.1", ["1.2.3.4, not-an-ip"], behind_router=True) == "10.1.1.1"
    assert client_address("10.1.1.1", [], behind_router=True) == "10.1.1.1"
    assert client_address("10.1.1.1", ["203.0.113.9"], behind_router=False) == "10.1.1.1"
    assert client_address(None, [], behind_router=False) == "?"


def test_dyno_puts_the_served_board_behind_the_router(ana_hash: str) -> None:
    users = f"ana:{ana_hash}"
    on_heroku = board_options(
        Environment.read({"TRIAGEBOT_BOARD_USERS": users, "DYNO": "web.1"}), demo=False
    )
    elsewhere = board_options(Environment.read({"TRIAGEBOT_BOARD_USERS": users}), demo=False)
    assert on_heroku is not None and on_heroku.behind_router
    assert elsewhere is not None and not elsewhere.behind_router


# --- logging out ends the session everywhere ------------------------------------------------


async def test_a_copied_cookie_stops_working_after_logout(served: BoardWorld) -> None:
    assert await login(served, "ana", PASSWORD) == 303
    cookie = served.client.session.cookie_jar.filter_cookies(served.client.make_url("/"))
    copied = cookie[COOKIE].value
    assert "Signed in as <strong>ana</strong>" in await served.page()

    token = (await served.page()).split('name="csrf" value="')[1].split('"')[0]
    out = await served.client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303

    async with ClientSession(cookies={COOKIE: copied}) as thief:
        board = await thief.get(served.client.make_url("/"), allow_redirects=False)
        assert board.status == 303 and board.headers["Location"].startswith("/login")
        columns = await thief.get(served.client.make_url("/board/columns"))
        assert columns.status == 401


async def test_logout_ends_the_session_for_every_process(
    served: BoardWorld, tmp_path: Path
) -> None:
    # A second board on the same store (another dyno) refuses the logged-out cookie too.
    assert await login(served, "ana", PASSWORD) == 303
    cookie = served.client.session.cookie_jar.filter_cookies(served.client.make_url("/"))
    copied = cookie[COOKIE].value
    other_session = served.board.signer.load(copied)
    assert other_session is not None
    token = (await served.page()).split('name="csrf" value="')[1].split('"')[0]
    await served.client.post("/logout", data={"csrf": token}, allow_redirects=False)

    elsewhere = EndedSessions(served.runtime.store)
    assert elsewhere.is_ended(other_session)
    assert not elsewhere.is_ended(served.board.signer.new_session("ana"))


async def test_logging_in_again_after_logout_works(served: BoardWorld) -> None:
    assert await login(served, "ana", PASSWORD) == 303
    token = (await served.page()).split('name="csrf" value="')[1].split('"')[0]
    await served.client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert await login(served, "ana", PASSWORD) == 303
    assert "Signed in as <strong>ana</strong>" in await served.page()


# --- the signing secret -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    [
        "s3",
        "changeme",
        "a" * 100,
        "password" * 10,
        "ab" * 64,
        "0123456789" * 3,
        secrets.token_hex(16),
        secrets.token_urlsafe(16),
    ],
)
def test_a_weak_board_secret_is_refused(weak: str, ana_hash: str) -> None:
    env = Environment.read({"TRIAGEBOT_BOARD_USERS": f"ana:{ana_hash}",
                            "TRIAGEBOT_BOARD_SECRET": weak})  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        board_options(env, demo=False)
    [line] = caught.value.problems
    assert line.startswith("environment: TRIAGEBOT_BOARD_SECRET: too weak")
    assert "secrets.token_urlsafe(32)" in line


def test_generated_secrets_are_accepted(ana_hash: str) -> None:
    for _ in range(2000):
        assert secret_bits(secrets.token_urlsafe(32)) >= 256
        assert secret_bits(secrets.token_hex(32)) >= 256
    env = Environment.read({"TRIAGEBOT_BOARD_USERS": f"ana:{ana_hash}",
                            "TRIAGEBOT_BOARD_SECRET": secrets.token_urlsafe(32)})  # fmt: skip
    assert board_options(env, demo=False) is not None


def test_serve_with_a_weak_secret_exits_2_with_one_line(tmp_path: Path, ana_hash: str) -> None:
    done = run_cli(
        ["serve"], tmp_path,
        env={"TRIAGEBOT_BOARD_USERS": f"ana:{ana_hash}", "TRIAGEBOT_BOARD_SECRET": "hunter2",
             "TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG), "PORT": str(free_port())},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TRIAGEBOT_BOARD_SECRET: too weak" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


# --- the demo answers loopback hosts only ---------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "10.0.0.5:8000",
                                  "localhost.evil.example", "127.0.0.1.nip.io", ""])  # fmt: skip
async def test_the_demo_refuses_a_foreign_host(demo: BoardWorld, host: str) -> None:
    for path in ("/", "/report", "/board/columns"):
        response = await demo.client.get(path, headers={"Host": host})
        assert response.status == 421, (path, host)
    token = await demo.csrf()
    response = await demo.client.post(
        "/board/name", data={"csrf": token, "name": "mallory"}, headers={"Host": host}
    )
    assert response.status == 421


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000",
                                  "LOCALHOST", "app.localhost:8000", "127.0.0.2"])  # fmt: skip
async def test_the_demo_answers_loopback_hosts(demo: BoardWorld, host: str) -> None:
    response = await demo.client.get("/", headers={"Host": host})
    assert response.status == 200


async def test_the_served_board_answers_any_host(served: BoardWorld) -> None:
    response = await served.client.get(
        "/login", headers={"Host": "triagebot.example.com"}, allow_redirects=False
    )
    assert response.status == 200


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1:8000") and is_loopback_host("[::1]")
    assert not is_loopback_host(None) and not is_loopback_host("[::1")
    assert not is_loopback_host("0.0.0.0:8000") and not is_loopback_host("192.168.1.2")


# --- Teams local mode listens on this machine only -------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def serve_and_listen(tmp_path: Path, **env: str) -> set[str]:
    port = free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRIAGEBOT_", "SLACK_", "MICROSOFT_", "DATABASE_URL", "DYNO"))
    }
    environ |= {
        "TRIAGEBOT_DB": str(tmp_path / "data" / "db.json"),
        "PORT": str(port),
        "TRIAGEBOT_CONFIG": str(EXAMPLE_CONFIG),
        "TRIAGEBOT_RUN_JOBS": "0",
        **env,
    }
    command = [sys.executable, "-m", "triagebot", "serve"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(port):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve did not listen"
            time.sleep(0.1)
        return listening_addresses(port)
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()


LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
ANY = "00000000"


@pytest.mark.slow
def test_teams_local_mode_listens_on_loopback_only(tmp_path: Path) -> None:
    assert serve_and_listen(tmp_path, TRIAGEBOT_TEAMS="1") == {LOOPBACK}


@pytest.mark.slow
def test_serve_otherwise_listens_on_every_interface(tmp_path: Path) -> None:
    assert ANY in serve_and_listen(tmp_path)


def test_listen_host() -> None:
    assert listen_host(Environment.read({"TRIAGEBOT_TEAMS": "1"})) == "127.0.0.1"
    assert listen_host(Environment.read({})) == "0.0.0.0"
    signed = {"TRIAGEBOT_TEAMS": "1", "MICROSOFT_APP_ID": "app"}
    assert listen_host(Environment.read(signed)) == "0.0.0.0"
