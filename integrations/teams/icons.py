"""The Teams app icons, drawn in code so the package needs no image files or imaging library.

Teams wants a 192x192 full-colour icon and a 32x32 outline icon that is white on a
transparent background. Both show the same mark: three bars narrowing like a funnel (many
mentions in, one owner out). The PNGs are written with ``zlib`` and ``struct`` only and are
byte-for-byte the same on every run. ``png_info`` reads back size and colour type for checks.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

RGBA = tuple[int, int, int, int]
ACCENT = (0x2B, 0x57, 0x9A)  # also the manifest's accentColor
WHITE: RGBA = (255, 255, 255, 255)
CLEAR: RGBA = (0, 0, 0, 0)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE_RGBA = 6

# The mark on a 32-unit grid: (top row, bottom row, left column, right column) per bar.
_BARS = ((7, 11, 5, 27), (14, 18, 9, 23), (21, 25, 13, 19))


def _in_mark(x: float, y: float) -> bool:
    return any(top <= y < bottom and left <= x < right for top, bottom, left, right in _BARS)


def png(width: int, height: int, pixel: Callable[[int, int], RGBA]) -> bytes:
    """An 8-bit RGBA PNG whose pixel (x, y) is ``pixel(x, y)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE_RGBA, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def color_icon(size: int = 192) -> bytes:
    """The full-colour icon: the white mark on the accent colour, edge to edge."""
    scale = 32 / size
    background: RGBA = (*ACCENT, 255)

    def pixel(x: int, y: int) -> RGBA:
        return WHITE if _in_mark((x + 0.5) * scale, (y + 0.5) * scale) else background

    return png(size, size, pixel)


def outline_icon(size: int = 32) -> bytes:
    """The outline icon: the white mark on transparency (Teams tints it)."""
    scale = 32 / size

    def pixel(x: int, y: int) -> RGBA:
        return WHITE if _in_mark((x + 0.5) * scale, (y + 0.5) * scale) else CLEAR

    return png(size, size, pixel)


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    color_type: int

    @property
    def has_alpha(self) -> bool:
        return self.color_type in (4, _COLOR_TYPE_RGBA)


def png_info(data: bytes) -> PngInfo | None:
    """Width, height and colour type from a PNG's header; None when it is not a PNG."""
    if len(data) < 26 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return PngInfo(width=width, height=height, color_type=data[25])
