"""Links from strangers: keep only absolute http(s) URLs, and reduce a URL to a canonical form.

``canonical_url`` makes two links to the same post compare equal: it unwraps Google's
``/url?url=`` redirects, drops tracking parameters and fragments, lower-cases the host, folds
mobile and legacy hosts (``m.``, ``old.``, ``mobile.``, ``www.``) and spells a few well-known
post URLs one way (a Reddit thread by its id, an X post by its id). It is for comparing, not
for showing: links shown to people keep what the source gave.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_HOST_PREFIXES = ("www.", "m.", "mobile.", "old.", "new.", "np.", "amp.")
_HOST_ALIASES = {"twitter.com": "x.com"}
_TRACKING = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|si|ref|ref_src|ref_url|"
    r"share_id|s|t|context|feature|rcm|_ga|yclid|spm|cmpid|cid)$",
    re.IGNORECASE,
)
_REDDIT_THREAD = re.compile(r"^(?:/r/[^/]+)?/comments/([a-z0-9]+)", re.IGNORECASE)
_X_STATUS = re.compile(r"^/(?:[^/]+|i(?:/web)?)/status(?:es)?/(\d+)", re.IGNORECASE)
_GOOGLE_HOSTS = re.compile(r"^(?:www\.)?google\.[a-z.]+$")


def safe_http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return text


def unwrap_redirect(url: str) -> str:
    """The target of a ``google.com/url?url=...`` (or ``q=``) redirect; other URLs unchanged.

    The target must itself be an http(s) URL, otherwise the redirect is kept as it is.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not _GOOGLE_HOSTS.match((parts.hostname or "").lower()) or parts.path != "/url":
        return url
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    target = query.get("url") or query.get("q")
    return target if target and safe_http_url(target) else url


@lru_cache(maxsize=8192)
def canonical_url(url: str) -> str:
    """A comparison key for ``url``: the same post through different links gives one key."""
    target = unwrap_redirect(url.strip())
    try:
        parts = urlsplit(target)
    except ValueError:
        return target
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    host = _HOST_ALIASES.get(host, host)
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if host == "redd.it" and re.fullmatch(r"/[a-z0-9]+/?", path, re.IGNORECASE):
        host, path = "reddit.com", f"/comments{path}"
    special = _special_path(host, path)
    if special is not None:
        return f"https://{host}{special}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    )
    path = path.rstrip("/") or "/"
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def _special_path(host: str, path: str) -> str | None:
    if host == "reddit.com" and (match := _REDDIT_THREAD.match(path)):
        return f"/comments/{match.group(1).lower()}"
    if host == "x.com" and (match := _X_STATUS.match(path)):
        return f"/i/status/{match.group(1)}"
    return None
