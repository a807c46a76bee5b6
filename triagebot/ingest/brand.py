"""Is a post about the brand? Keywords on word boundaries, handles as whole tokens, exclusions by
context; the brand's own posts never count.

The text is read once into tokens: words, ``@handles``, ``#hashtags`` and single punctuation
marks (spaces only separate). A keyword matches whole words in sequence (``northwind`` in
"Northwind's tent" and "northwind-branded", never inside ``@NorthwindAir`` or
``northwindtraders``); a hashtag matches a keyword written without spaces
(``#NorthwindOutfitters``); a handle is the brand only when it is listed in ``brand.handles``.
An ``exclude`` entry is a token pattern that takes its words out of play where it occurs, with
its punctuation as context: ``Northwind.dbo`` (Microsoft's sample database), ``Northwind
database``, ``northwind airlines``, ``@NorthwindAir``.

A post is relevant when it names the brand outside every excluded context, or when nothing in
it looks like the brand at all (an App Store review or a comment on the brand's own page need
not name it); a post whose only brand-like words are excluded, foreign handles or longer words
(``NorthwindAir``) is not. Tokenising and matching are linear in the length of the text: one
pass of a regular expression without nested repetition, then a lookup per token.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from triagebot.cases.records import Mention
from triagebot.config.settings import BrandConfig

# One token: a handle, hashtag or word (an apostrophe joins "northwind's"), or one mark.
_TOKEN = re.compile(r"[@#]?\w+(?:['\u2019]\w+)*|[^\w\s]")
# Inside a word, Latin letters and digits are split from other scripts ("northwindのテント").
_LATIN = "0-9a-z\u00c0-\u024f\u1e00-\u1eff"
_RUN = re.compile(rf"[{_LATIN}]+|[^{_LATIN}]+")
_POSSESSIVE = ("'s", "\u2019s")


#: (text, kind): the text case-folded, without the leading @ or #; the kind "word", "handle",
#: "tag" or "mark". Plain tuples: a post of 10,000 characters makes a few thousand of them.
Token = tuple[str, str]
TEXT, KIND = 0, 1


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` in order (see the module docstring)."""
    return _split(normalise(text))


def _split(folded: str) -> list[Token]:
    found: list[Token] = []
    append = found.append
    for raw in _TOKEN.findall(folded):
        first = raw[0]
        if first == "@" and len(raw) > 1:
            append((raw[1:], "handle"))
        elif first == "#" and len(raw) > 1:
            append((raw[1:], "tag"))
        elif first.isalnum() or first == "_":
            word = raw.removesuffix(_POSSESSIVE[0]).removesuffix(_POSSESSIVE[1])
            if word.isascii():
                append((word, "word"))
            else:
                found.extend((run, "word") for run in _RUN.findall(word))
        else:
            append((raw, "mark"))
    return found


Pattern = tuple[str, ...] | list[Token]


def _pattern(text: str) -> list[Token]:
    return tokens(text)


class BrandFilter:
    """Drops the brand's own posts and posts about excluded look-alikes."""

    def __init__(self, brand: BrandConfig) -> None:
        self._own = {_handle(h) for h in brand.handles if _handle(h)}
        keywords = [tuple(t[TEXT] for t in tokens(k) if t[KIND] == "word") for k in brand.keywords]
        self._keywords = _by_first(k for k in keywords if k)
        self._joined = {"".join(k) for k in keywords if k}  # hashtags write them without spaces
        self._heads = {k[0] for k in keywords if k}
        self._exclude = _by_first(p for p in map(_pattern, brand.exclude) if p)

    def is_relevant(self, mention: Mention) -> bool:
        if _handle(mention.author.handle) in self._own:
            return False
        folded = normalise(mention.text)
        if not any(head in folded for head in self._heads):
            return True  # nothing brand-like at all: no need to read it word by word
        found = _split(folded)
        if not any(self._looks_like_brand(t) for t in found):
            return True  # nothing brand-like: a review or comment on the brand's own channel
        return self.names_brand(found)

    def names_brand(self, found: list[Token]) -> bool:
        """True if a keyword or one of the brand's handles occurs outside excluded contexts."""
        excluded = self._excluded(found)
        words = [i for i, t in enumerate(found) if t[KIND] == "word"]
        for n, i in enumerate(words):
            for keyword in () if excluded[i] else self._keywords.get(found[i][TEXT], ()):
                span = words[n : n + len(keyword)]
                texts = [found[j][TEXT] for j in span if not excluded[j]]
                if texts == list(keyword):
                    return True
        return any(
            self._names_brand_alone(token) for i, token in enumerate(found) if not excluded[i]
        )

    def _names_brand_alone(self, token: Token) -> bool:
        """One of the brand's handles, a hashtag of a keyword, or a keyword's plural."""
        text, kind = token
        if kind == "handle":
            return text in self._own
        if kind == "tag":
            return text in self._joined
        return kind == "word" and text[-1:] == "s" and text[:-1] in self._joined

    def _looks_like_brand(self, token: Token) -> bool:
        return token[KIND] != "mark" and any(head in token[TEXT] for head in self._heads)

    def _excluded(self, found: list[Token]) -> list[bool]:
        """Which tokens lie inside an occurrence of an ``exclude`` pattern."""
        excluded = [False] * len(found)
        for i, token in enumerate(found):
            for pattern in self._exclude.get(token[TEXT], ()):
                end = i + len(pattern)
                if found[i:end] == pattern:
                    excluded[i:end] = [True] * len(pattern)
        return excluded


def _handle(value: str) -> str:
    return normalise(value).strip().lstrip("@")


def _by_first(items: Iterable[Pattern]) -> dict[str, list[Pattern]]:
    """Patterns by the text of their first token (a lookup per token of a post)."""
    grouped: dict[str, list[Pattern]] = {}
    for item in items:
        first = item[0]
        grouped.setdefault(first[TEXT] if isinstance(first, tuple) else first, []).append(item)
    return grouped
