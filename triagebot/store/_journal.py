"""The journal of the TinyDB store: one appended, fsynced record per committed change.

The root file is a snapshot; its meta document names the journal that continues it
(``triagebot.journal-000007``). Each commit appends one line, ``<crc32 hex> <json>\\n``, whose
JSON holds the documents the transaction changed, by table and document id (``null`` for a
removed one), so a write costs the size of the change, not of the store. The line is the
commit point: written with ``pwrite`` and made durable with ``fdatasync`` before the commit
returns. A reader replays the lines after the snapshot in order; a last line without its
newline or with a wrong checksum is a write cut short by a crash and is ignored (the next
writer cuts it off before appending), one that is followed by others is damage.

Compaction (``_engine``) ends a journal with a ``{"next": n}`` line, after which writers append
to journal ``n``, then writes a snapshot of the state up to that line naming journal ``n`` and
removes the journals it covers. Replay follows the chain of ``next`` lines.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triagebot.errors import StoreError
from triagebot.store._atomic import dump_json, fsync_dir, parse_json

#: Table name -> document id -> the document, or None when it was removed.
Changes = dict[str, dict[str, Any]]

JOURNAL_MARK = ".journal-"

#: ``fdatasync`` where the platform has it (it skips the inode's times), else ``fsync``.
_datasync = getattr(os, "fdatasync", os.fsync)


def journal_path(root: Path, number: int) -> Path:
    """The file of journal ``number`` beside the root file ``root``."""
    stem = root.name.removesuffix(".json")
    return root.with_name(f"{stem}{JOURNAL_MARK}{number:06d}")


def journal_number(root: Path, file: Path) -> int | None:
    """The number of a journal file of ``root``, or None if ``file`` is not one."""
    prefix = root.name.removesuffix(".json") + JOURNAL_MARK
    tail = file.name.removeprefix(prefix)
    return int(tail) if tail != file.name and tail.isdecimal() else None


def encode_record(payload: dict[str, Any]) -> bytes:
    """One journal line: checksum, a space, compact JSON (which has no raw newline), newline."""
    body = dump_json(payload)
    return b"%08x %s\n" % (zlib.crc32(body), body)


@dataclass(frozen=True)
class Record:
    """One complete journal line: its payload and the offset just after it."""

    payload: dict[str, Any]
    end: int


def decode_records(data: bytes, start: int, path: Path) -> Iterator[Record]:
    """The complete records of ``data`` (the file's bytes from offset ``start``); stops before
    a torn last line, raises ``StoreError`` for a damaged line that others follow."""
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        if newline < 0:
            return  # the last line is being written, or was cut short by a crash
        line = data[pos:newline]
        body = line[9:]
        good = len(line) > 9 and line[8:9] == b" " and _crc_ok(line[:8], body)
        if not good:
            if data.find(b"\n", newline + 1) < 0:
                return  # the last line, cut short by a crash: ignored, cut off by the next writer
            raise StoreError(
                f"{path}: damaged journal record at byte {start + pos}; restore the store from "
                "a backup or move the file away (changes after that point are lost)"
            )
        payload = parse_json(body, path)
        if not isinstance(payload, dict):
            raise StoreError(f"{path}: journal record at byte {start + pos} is not an object")
        pos = newline + 1
        yield Record(payload, start + pos)


def _crc_ok(digest: bytes, body: bytes) -> bool:
    try:
        return int(digest, 16) == zlib.crc32(body)
    except ValueError:
        return False


def read_from(path: Path, offset: int) -> bytes | None:
    """The bytes of the journal file from ``offset`` to its end; None if there is no file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        size = os.fstat(fd).st_size
        chunks: list[bytes] = []
        while offset < size:
            chunk = os.pread(fd, size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from exc
    finally:
        os.close(fd)


def append(path: Path, offset: int, record: bytes) -> None:
    """Write ``record`` at ``offset`` (the end of the last complete record) and make it
    durable; bytes beyond ``offset`` (a record torn by a crash) are cut off first. The caller
    holds the store's file lock."""
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY)
            created = False
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the journal ({exc.strerror})") from exc
    try:
        size = os.fstat(fd).st_size
        if size < offset:
            raise StoreError(f"{path}: the journal is shorter than what was read from it")
        if size > offset:
            os.ftruncate(fd, offset)
        view = memoryview(record)
        at = offset
        while view:
            written = os.pwrite(fd, view, at)
            view, at = view[written:], at + written
        _datasync(fd)
        if created:
            fsync_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the journal ({exc.strerror})") from exc
    finally:
        os.close(fd)
