"""``triagebot board hash-password``: make a password hash for ``TRIAGEBOT_BOARD_USERS``.

The password is read from the terminal (asked twice) or, when stdin is not a terminal, from
its first line; it never appears in the arguments (and so never in the shell history).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

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

    password = _read_password()
    if len(password) < MIN_LENGTH:
        raise InputError(f"password: use at least {MIN_LENGTH} characters")
    hashed = hash_password(password)
    print(f"{args.user}:{hashed}" if args.user else hashed)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"board": cmd_board}
