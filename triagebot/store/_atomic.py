"""Durable file primitives for the TinyDB store: crash-safe writes, JSON reads, and locks.

A file is replaced by writing a temporary file in the same directory, fsyncing it, renaming it
over the old name and fsyncing the directory, so a reader or a crash sees either the old or the
new content, never a mix. Files that nothing references yet (history segments) are written in
place and fsynced; the directory is fsynced once before the root that names them is replaced.
Unreadable or malformed JSON becomes a ``StoreError`` that names the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from triagebot.errors import StoreError

#: Prefix of temporary files; a crash can leave them behind and garbage collection removes them.
TMP_MARK = ".tmp-"


#: orjson hands these to the fallback (which refuses them) instead of writing them itself.
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class Encoded:
    """A value already encoded as compact JSON (``raw``), written as those bytes."""

    __slots__ = ()

    @property
    def raw(self) -> bytes:
        raise NotImplementedError


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, Encoded):
        return orjson.Fragment(value.raw)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decoded(value: Any) -> Any:
    if isinstance(value, Encoded):
        return json.loads(value.raw)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_json(data: Any) -> bytes:
    """Compact JSON bytes: UTF-8 from orjson (many times faster on a large root); what orjson
    refuses (a lone surrogate, an int beyond 64 bits, a str subclass) is written ASCII-escaped
    by ``json``, so any str round-trips and a value ``json`` cannot write still raises.
    ``Encoded`` values are written as their bytes."""
    try:
        return orjson.dumps(data, default=_fragment, option=_PLAIN_ONLY)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":"), default=_decoded).encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(directory: Path) -> None:
    """Make renames and new names in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data`` and fsync it; not the directory."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create ({exc.strerror})") from exc
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write ({exc.strerror})") from exc
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> int:
    """Atomically and durably replace ``path`` with ``data``.

    Returns a read-only descriptor of the new file; holding it open keeps its inode number
    from being reused, so an inode comparison reliably tells whether ``path`` changed since.
    """
    tmp = path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        _write_all(fd, data)
        os.fsync(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write ({exc.strerror})") from exc
    return fd


def write_temp(path: Path, data: bytes) -> tuple[Path, int]:
    """Write ``data`` to a fresh temporary file beside ``path`` and fsync it; (its name, a
    read-only descriptor), for a rename over ``path`` later."""
    tmp = path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write ({exc.strerror})") from exc
    return tmp, fd


def parse_json(data: bytes, path: Path) -> Any:
    """Decode JSON bytes read from ``path``; errors name the file and the position."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # orjson refuses lone surrogates, which json writes escaped: let json decide
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "the file is damaged: restore it from a backup or move it away"
        ) from None
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path}: not valid UTF-8 text at byte {exc.start}") from None


def read_json(path: Path) -> Any:
    """Read and decode a JSON file; ``FileNotFoundError`` passes through, other errors name it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_json(data, path)


class FileLock:
    """An exclusive ``flock`` on a lock file, re-entrant within one owner.

    Not thread-safe by itself: the store takes its ``threading.RLock`` first.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        if self._depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot open lock file ({exc.strerror})") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        self._depth += 1

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; False at once otherwise."""
        if self._depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot open lock file ({exc.strerror})") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
