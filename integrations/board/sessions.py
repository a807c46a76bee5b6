"""What the board knows about a visitor beyond the signed cookie: ended sessions and addresses.

- ``EndedSessions``: a session cookie is signed, so it stays valid until it expires wherever it
  was copied to; logging out therefore records the session's nonce in the store (a small
  keyed value per user, so every process of a deployment sees it) and a cookie naming a
  recorded nonce is refused. Entries older than a session's lifetime are dropped on write.
- ``client_address``: the address failed logins are counted against. Behind Heroku's router
  (``DYNO`` set) every request comes from the router, and the router *appends* the address it
  saw to ``X-Forwarded-For``, so the right-most entry is the client's and any entries before
  it are whatever the client claimed. Elsewhere the header is ignored (anyone can send it).
- ``is_loopback_host``: whether a ``Host`` header names this machine (the demo board refuses
  any other, so a web page on a rebinding DNS name cannot drive it from a browser).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable

from integrations.board.auth import SESSION_MAX_AGE, Session
from triagebot.store.base import Store

KEY_PREFIX = "board-ended-sessions:"
_WRITE_ATTEMPTS = 3


class EndedSessions:
    """Nonces of sessions that were logged out, per user, shared through the store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def end(self, session: Session) -> None:
        """Record ``session`` as ended; re-read and write again if another process raced us."""
        key = KEY_PREFIX + session.user
        for _ in range(_WRITE_ATTEMPTS):
            ended = self._read(key)
            ended[session.nonce] = session.issued
            now = self._clock()
            live = {n: t for n, t in ended.items() if now - t <= SESSION_MAX_AGE}
            self._store.set_cursor(key, json.dumps(live, sort_keys=True))
            if session.nonce in self._read(key):
                return

    def is_ended(self, session: Session) -> bool:
        return session.nonce in self._read(KEY_PREFIX + session.user)

    def _read(self, key: str) -> dict[str, int]:
        text = self._store.get_cursor(key)
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(n): t for n, t in data.items() if isinstance(t, int)}


def client_address(remote: str | None, forwarded_for: list[str], behind_router: bool) -> str:
    """The address to count a failed login against (see the module docstring)."""
    if behind_router:
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        if hops and _is_ip(hops[-1]):
            return hops[-1]
    return remote or "?"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``*.localhost``, 127.0.0.0/8 and ``[::1]``, with any port."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
