"""When the board is on, who may log in, and the hash-password command."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.board.app import board_options
from integrations.board.auth import LoginLimiter, Signer, hash_password, verify_password
from integrations.board.views import segments
from tests.cli_helpers import run_cli
from triagebot.config.settings import Environment
from triagebot.errors import ConfigError

SECRET = "k3Jx9-QpW2vZr8LmT4yHn6BdF1sGc0AeU7iOoXjPqRw"  # as secrets.token_urlsafe(32) makes


def env(**values: str) -> Environment:
    return Environment.read(values)


def test_demo_board_needs_no_login_and_has_buttons() -> None:
    options = board_options(env(), demo=True)
    assert options is not None and options.writable and not options.login


def test_serve_without_users_has_no_board_on_heroku_or_elsewhere(ana_hash: str) -> None:
    assert board_options(env(DYNO="web.1"), demo=False) is None
    assert board_options(env(), demo=False) is None
    assert board_options(env(TRIAGEBOT_BOARD="off"), demo=True) is None


def test_serve_with_users_is_read_only_unless_configured(ana_hash: str) -> None:
    users = f"ana:{ana_hash}"
    options = board_options(env(DYNO="web.1", TRIAGEBOT_BOARD_USERS=users), demo=False)
    assert options is not None and options.login and not options.writable
    writable = board_options(
        env(TRIAGEBOT_BOARD_USERS=users, TRIAGEBOT_BOARD_WRITE="1", TRIAGEBOT_BOARD_SECRET=SECRET),
        demo=False,
    )
    assert writable is not None and writable.writable and writable.secret == SECRET.encode()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"TRIAGEBOT_BOARD_USERS": "ana=secret"}, "TRIAGEBOT_BOARD_USERS"),
        ({"TRIAGEBOT_BOARD_USERS": "Ana:scrypt$1"}, "TRIAGEBOT_BOARD_USERS"),
        ({"TRIAGEBOT_BOARD_WRITE": "maybe"}, "TRIAGEBOT_BOARD_WRITE"),
    ],
)
def test_bad_environment_names_the_variable(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"environment: {variable}: "):
        env(**values)


def test_a_malformed_hash_is_refused_at_startup() -> None:
    with pytest.raises(ConfigError, match="TRIAGEBOT_BOARD_USERS: ana: the hash is not"):
        board_options(env(TRIAGEBOT_BOARD_USERS="ana:scrypt$x$y"), demo=False)


def test_passwords_hash_and_verify(ana_hash: str) -> None:
    assert ana_hash.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery staple", ana_hash)
    assert not verify_password("correct horse", ana_hash)
    assert not verify_password("x", "scrypt$bad")
    assert hash_password("same", salt=b"0" * 16) == hash_password("same", salt=b"0" * 16)


def test_sessions_are_signed_and_expire() -> None:
    signer = Signer(b"key")
    session = signer.new_session("ana")
    cookie = signer.dump(session)
    assert signer.load(cookie) == session
    assert signer.load(cookie[:-1] + ("A" if cookie[-1] != "A" else "B")) is None
    assert Signer(b"other").load(cookie) is None
    assert signer.load(cookie, now=session.issued + 13 * 3600) is None
    assert signer.check_csrf(session, signer.csrf_token(session))
    assert not signer.check_csrf(signer.new_session("ana"), signer.csrf_token(session))
    assert not signer.check_csrf(None, "x")


def test_login_limiter_counts_per_user_and_per_address() -> None:
    limiter = LoginLimiter(limit=2, window=60)
    for _ in range(2):
        limiter.failed("ana", "10.0.0.1", now=0)
    assert limiter.blocked("ana", "10.0.0.9", now=1)
    assert limiter.blocked("ben", "10.0.0.1", now=1)
    assert not limiter.blocked("ben", "10.0.0.2", now=1)
    assert not limiter.blocked("ana", "10.0.0.1", now=61)


def test_only_http_links_become_links() -> None:
    parts = segments("see javascript:alert(1) and https://ok.example/a. or ftp://x.example/")
    links = [p.href for p in parts if p.href]
    assert links == ["https://ok.example/a"]
    assert "".join(p.text for p in parts) == (
        "see javascript:alert(1) and https://ok.example/a. or ftp://x.example/"
    )


def test_hash_password_command(tmp_path: Path) -> None:
    made = run_cli(["board", "hash-password", "--user", "ana"], tmp_path, stdin="a long secret\n")
    assert made.returncode == 0, made.stderr
    name, hashed = made.stdout.strip().split(":", 1)
    assert name == "ana" and verify_password("a long secret", hashed)
    short = run_cli(["board", "hash-password"], tmp_path, stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
