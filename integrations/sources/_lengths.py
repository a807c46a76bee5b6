"""How long a reply is in each platform's own count, with plain string scans (no regex).

* X weighs each character (twitter-text "v3" configuration): code points in the ranges
  U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and U+2032-U+2037 count 1, every other one 2;
  an emoji sequence (skin tone, ZWJ family, flag, keycap) counts 2 as a whole; a link counts
  23 whatever its length. Text is NFC-normalised first, as X does. A bare domain
  (``northwind.com/help``), or a link whose host has no real top-level domain
  (``https://shop.example/…``), may or may not be a link to X: it counts the larger of its
  own count and 23, so the count never comes out below X's.
* Mastodon counts grapheme clusters, a link as 23 and a mention ``@user@domain`` as ``@user``.
* Bluesky counts grapheme clusters (300) and UTF-8 bytes (3000) of the text as it is.

``twitter-text-parser`` on PyPI does X's count with backtracking regular expressions: a
10,000-character reply of ``@a.a.a.…`` took 207 s there, so it is not used.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import grapheme

#: What X counts for any link (``transformed_url_length``).
X_LINK = 23
X_LIMIT = 280
_X_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_TRAILING = ".,:;!?'\")]}>…"
_LEADING = "(\"'[{<"
_SCHEMES = ("http://", "https://")
_RESERVED = {"example", "test", "invalid", "localhost", "local"}


def link_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where ``http(s)://`` links are in ``text`` (start, end), trailing punctuation left out."""
    lower = text.lower()
    for start, end in _tokens(text):
        found = min(
            (i for i in (lower.find(s, start, end) for s in _SCHEMES) if i >= 0), default=-1
        )
        if found < 0:
            continue
        stop = end
        while stop > found and text[stop - 1] in _TRAILING:
            stop -= 1
        if stop - found > len("https://"):
            yield found, stop


def x_weighted_length(text: str) -> int:
    """The length X gives ``text`` (limit 280)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end, kind in _x_pieces(text):
        total += _x_chars(text[position:start])
        sure = kind == "link" and _real_tld(text[start:end])
        total += X_LINK if sure else max(_x_chars(text[start:end]), X_LINK)
        position = end
    return total + _x_chars(text[position:])


def _x_pieces(text: str) -> Iterator[tuple[int, int, str]]:
    """Links (``"link"``) and bare domains (``"bare"``) in ``text``, in order."""
    links = list(link_spans(text))
    for start, end in _tokens(text):
        inside = [s for s in links if start <= s[0] < end]
        if inside:
            yield inside[0][0], inside[0][1], "link"
            continue
        lo, hi = start, end
        while lo < hi and text[lo] in _LEADING:
            lo += 1
        while hi > lo and text[hi - 1] in _TRAILING:
            hi -= 1
        if _bare_domain(text[lo:hi]):
            yield lo, hi, "bare"


def _real_tld(link: str) -> bool:
    """False when X would not take ``link`` for a link: its host has no top-level domain of
    letters, or a reserved one (``.example``, ``.test``, ``.invalid``, ``.localhost``)."""
    host = link.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".").lower()
    labels = host.split(".")
    return len(labels) >= 2 and labels[-1].isalpha() and labels[-1] not in _RESERVED


def _bare_domain(word: str) -> bool:
    host = word.split("/", 1)[0].split("?", 1)[0]
    labels = host.split(".")
    if len(labels) < 2 or not all(labels):
        return False
    if not all(c.isascii() and (c.isalnum() or c == "-") for label in labels for c in label):
        return False
    return labels[-1].isalpha() and len(labels[-1]) >= 2


def _x_chars(text: str) -> int:
    total = 0
    i = 0
    while i < len(text):
        end = _emoji_end(text, i)
        if end > i:
            total += 2
            i = end
            continue
        code = ord(text[i])
        total += 1 if any(lo <= code <= hi for lo, hi in _X_LIGHT) else 2
        i += 1
    return total


def _is_pictograph(code: int) -> bool:
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or 0x2300 <= code <= 0x23FF
        or 0x2190 <= code <= 0x21FF
        or code in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D)
    )


def _is_modifier(code: int) -> bool:
    return (
        code in (0xFE0F, 0xFE0E, 0x20E3) or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F
    )


def _emoji_end(text: str, i: int) -> int:
    """Where the emoji sequence starting at ``i`` ends; ``i`` when none starts there."""
    code = ord(text[i])
    if 0x1F1E6 <= code <= 0x1F1FF:  # a flag is a pair of regional indicators
        if i + 1 < len(text) and 0x1F1E6 <= ord(text[i + 1]) <= 0x1F1FF:
            return i + 2
        return i + 1
    keycap = text[i] in "#*0123456789"
    if keycap:
        j = i + 1
        if j < len(text) and text[j] == "\ufe0f":
            j += 1
        return j + 1 if j < len(text) and text[j] == "\u20e3" else i
    if not _is_pictograph(code):
        return i
    j = i + 1
    while j < len(text):
        here = ord(text[j])
        if _is_modifier(here):
            j += 1
        elif here == 0x200D and j + 1 < len(text) and _is_pictograph(ord(text[j + 1])):
            j += 2
        else:
            break
    return j


def graphemes(text: str) -> int:
    """User-perceived characters (Unicode grapheme clusters, UAX #29)."""
    return int(grapheme.length(text))


def mastodon_length(text: str, link_length: int = X_LINK) -> int:
    """The length Mastodon gives a status: graphemes, a link as ``link_length``, a mention
    ``@user@domain`` as ``@user``."""
    total = 0
    position = 0
    for start, end in link_spans(text):
        total += _without_mention_domains(text[position:start]) + link_length
        position = end
    return total + _without_mention_domains(text[position:])


def _without_mention_domains(text: str) -> int:
    kept: list[str] = []
    position = 0
    for start, end in _tokens(text):
        word = text[start:end]
        if word.startswith("@") and word.count("@") == 2:
            user, _, domain = word[1:].partition("@")
            if user and "." in domain:
                kept.append(text[position:start] + "@" + user)
                position = end
    kept.append(text[position:])
    return graphemes("".join(kept))


def _tokens(text: str) -> Iterator[tuple[int, int]]:
    """Runs of non-space characters (start, end)."""
    start = -1
    for i, char in enumerate(text):
        if char.isspace():
            if start >= 0:
                yield start, i
                start = -1
        elif start < 0:
            start = i
    if start >= 0:
        yield start, len(text)
