"""Passwords, signed session cookies, CSRF tokens and a limit on failed logins.

Password hashes are self-describing: ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (base64url without
padding), made by ``hash_password`` (stdlib ``hashlib.scrypt``). A session is a small JSON
object signed with HMAC-SHA256; its random ``nonce`` keys the CSRF token that every form and
every script request must send back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import string
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from triagebot.errors import ConfigError

_N, _R, _P, _KEY_LEN = 2**14, 8, 1, 32
SESSION_MAX_AGE = 12 * 3600  # seconds a login lasts
#: What TRIAGEBOT_BOARD_SECRET must be worth: 32 random bytes.
MIN_SECRET_BITS = 256
MAKE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_ALPHABETS = (
    (frozenset(string.digits), 10),
    (frozenset(string.hexdigits), 16),
    (frozenset(string.ascii_lowercase + " "), 27),
    (frozenset(string.ascii_letters + string.digits + "-_+/="), 64),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_bits(secret: str) -> float:
    """A generous estimate of the randomness in ``secret``, in bits.

    The smaller of two bounds: each character counts for its alphabet (digits 10, hex 16,
    lower-case words 27, base64 64, anything else 95), and the whole for no more than it
    compresses to (DEFLATE), so ``token_hex(32)`` and ``token_urlsafe(32)`` reach 256 while
    a repeated word or character does not.
    """
    if not secret:
        return 0.0
    used = frozenset(secret)
    size = next((n for alphabet, n in _ALPHABETS if used <= alphabet), 95)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = len(packer.compress(secret.encode()) + packer.flush())
    return min(len(secret) * math.log2(size), (packed - 1) * 8.0)


def check_secret(secret: str) -> None:
    """Raise ``ConfigError`` unless ``secret`` is worth at least 32 random bytes."""
    bits = secret_bits(secret)
    if bits < MIN_SECRET_BITS:
        raise ConfigError(
            f"environment: TRIAGEBOT_BOARD_SECRET: too weak (about {bits:.0f} random bits, "
            f"at least {MIN_SECRET_BITS} needed); make one with {MAKE_SECRET}"
        )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A new self-describing scrypt hash of ``password``."""
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_LEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def check_hash(name: str, hashed: str) -> None:
    """Raise ``ConfigError`` naming the variable unless ``hashed`` is a hash we can verify."""
    parts = hashed.split("$")
    try:
        ok = len(parts) == 6 and parts[0] == "scrypt" and all(int(x) > 0 for x in parts[1:4])
        ok = ok and len(_unb64(parts[4])) >= 8 and len(_unb64(parts[5])) >= 16
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"environment: TRIAGEBOT_BOARD_USERS: {name}: the hash is not one made by "
            "`triagebot board hash-password`"
        )


def verify_password(password: str, hashed: str) -> bool:
    """True if ``password`` matches ``hashed`` (constant-time comparison)."""
    try:
        _, n, r, p, salt, key = hashed.split("$")
        expected = _unb64(key)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@dataclass(frozen=True)
class Session:
    """Who is looking at the board; ``user`` is empty until they log in (or, in the demo,
    type a name)."""

    nonce: str
    user: str = ""
    issued: int = 0


class Signer:
    """Signs and reads session cookies; derives CSRF tokens from a session's nonce."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"triagebot-board-session\0" + secret).digest()
        self._csrf_key = hashlib.sha256(b"triagebot-board-csrf\0" + secret).digest()

    def new_session(self, user: str = "") -> Session:
        return Session(secrets.token_urlsafe(18), user, int(time.time()))

    def dump(self, session: Session) -> str:
        body = _b64(
            json.dumps({"n": session.nonce, "u": session.user, "t": session.issued}).encode()
        )
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def load(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in ``cookie``; None when it is missing, forged or expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1000:
            return None
        body, signature = cookie.split(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            data = json.loads(_unb64(body))
            session = Session(str(data["n"]), str(data["u"]), int(data["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        if (now or time.time()) - session.issued > SESSION_MAX_AGE:
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.new(self._csrf_key, session.nonce.encode(), hashlib.sha256).digest())

    def check_csrf(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)


@dataclass
class LoginLimiter:
    """At most ``limit`` failed logins per user name and per client address in ``window`` s."""

    limit: int = 5
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, user: str, address: str, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        keys = (f"u:{user}", f"a:{address}")
        return any(len(self._recent(key, at)) >= self.limit for key in keys)

    def failed(self, user: str, address: str, now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for key in (f"u:{user}", f"a:{address}"):
            self._recent(key, at).append(at)
        if len(self._failures) > 10_000:  # forget idle keys so memory stays bounded
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]
