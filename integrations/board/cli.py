"""``triagebot board hash-password``: make a password hash for ``TRIAGEBOT_BOARD_USERS``.

The password is read from the terminal (asked twice) or, when stdin is not a terminal, from
its first line; it never appears in the arguments (and so never in the shell history).
``--user Bob`` prints ``bob:…``: the login form trims and lower-cases the name it is given, and
a name no login can match (spaces, other characters) is refused before the password is asked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from triagebot.config.environment import board_login
from triagebot.errors import InputError

MIN_LENGTH = 8


def add_board_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``board`` with its subcommands on the top-level parser."""
    board = sub.add_parser("board", help="the web board: make a password hash for a login")
    board_sub = board.add_subparsers(dest="board_command", required=True, metavar="SUBCOMMAND")
    hashing = board_sub.add_parser(
        "hash-password", help="read a password (terminal or stdin) and print its hash"
    )
    hashing.add_argument(
        "--user", metavar="NAME", help="print NAME:hash, ready for TRIAGEBOT_BOARD_USERS"
    )


def _read_password() -> str:
    import getpass  # noqa: PLC0415 (only this command needs it)

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ; nothing was printed")
    return first


def cmd_board(args: argparse.Namespace) -> int:
    from integrations.board.auth import hash_password  # noqa: PLC0415 (kept off `triagebot --help`)

    user = _login(args.user) if args.user is not None else None  # before asking the password
    password = _read_password()
    if len(password) < MIN_LENGTH:
        raise InputError(f"password: use at least {MIN_LENGTH} characters")
    hashed = hash_password(password)
    print(f"{user}:{hashed}" if user else hashed)
    return 0


def _login(name: str) -> str:
    """The name as the login form compares it (``Bob`` signs in as ``bob``), or InputError."""
    try:
        login = board_login(name)
    except ValueError as exc:
        raise InputError(f"--user: {exc}") from None
    if login != name:
        print(f"login name: {login} (names are trimmed and lower case)", file=sys.stderr)
    return login


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"board": cmd_board}
