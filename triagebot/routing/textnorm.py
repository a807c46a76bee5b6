"""Text folding, tokens and light stemming shared by rule terms and post texts.

Both sides go through the same steps, so a term matches whatever the post's spelling:
NFKC (fancy Unicode letters become plain ones), case folding, accents removed ("envío" is
"envio"), apostrophes dropped ("didn't" is "didnt"), words split on anything that is not a
letter or digit (so "double-charged" is "double charged"), a letter repeated for emphasis
counted once ("pleaseeee" is "please"), emoji kept as tokens of their own, and simple
inflections reduced to one stem ("refund", "Refunds", "REFUNDED" are all "refund"; "ship",
"shipped", "shipping" are all "ship").
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"
_CONTROL = {cp: " " for cp in range(32) if chr(cp) not in "\n\t"}


def _accent_table() -> dict[int, str]:
    table: dict[int, str] = dict.fromkeys(map(ord, _APOSTROPHES), "")
    for cp in range(0xC0, 0x250):
        base = unicodedata.normalize("NFKD", chr(cp))
        stripped = "".join(ch for ch in base if not unicodedata.combining(ch))
        if stripped and stripped != chr(cp):
            table[cp] = stripped
    table.update(_CONTROL)
    return table


_FOLD_TABLE = _accent_table()
_EMOJI = "\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2764"
TOKEN = re.compile(rf"[^\W_]+|[{_EMOJI}]")
_DOUBLE_OK = frozenset("lsz")
_VOWELS = frozenset("aeiouy")
_KEEP_WORDS = """news series species always perhaps its this was has does yes bus gas lens bias
chaos canvas atlas alias christmas ups gps ios sms dns aws thanks glasses jeans pants goods"""
_KEEP = frozenset(_KEEP_WORDS.split())  # words that look inflected but are not
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_CACHE_LIMIT = 200_000
_stems: dict[str, str] = {}
_plains: dict[str, str] = {}


def fold(text: str) -> str:
    """Case-folded, accent-free NFKC text; control characters become spaces."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_FOLD_TABLE)


def _plain(word: str) -> str:
    found = _REPEATS.sub(r"\1", word)
    if len(_plains) >= _CACHE_LIMIT:
        _plains.clear()
    _plains[word] = found
    return found


def tokens(folded: str) -> list[str]:
    """The words and emoji of already folded text, in order; a letter repeated three times
    or more counts once ("pleaseeee" is "please")."""
    get = _plains.get
    return [get(w) or _plain(w) for w in TOKEN.findall(folded)]


def _strip_suffix(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("ss", "x", "z", "ch", "sh")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if not any(ch in _VOWELS for ch in stem):
                return word
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS | _DOUBLE_OK:
                stem = stem[:-1]
            return stem
    return word


def stem(word: str) -> str:
    """One key for a word and its simple English inflections (plural, -ed, -ing, final e)."""
    found = _stems.get(word)
    if found is not None:
        return found
    result = word
    if len(word) > 3 and word.isalpha() and word not in _KEEP:
        result = _strip_suffix(word)
        if len(result) > 3 and result.endswith("e"):
            result = result[:-1]
    if len(_stems) >= _CACHE_LIMIT:
        _stems.clear()
    _stems[word] = result
    return result


def stems(words: list[str]) -> list[str]:
    get = _stems.get
    return [get(w) or stem(w) for w in words]
