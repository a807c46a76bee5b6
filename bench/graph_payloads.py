"""Generated Graph API answers for the poll benchmark: a Facebook Page and an Instagram account.

Each cycle, half of a source's new posts come from its mentions edge (``/tagged``, ``/tags``)
and half are comments on the newest post of the Page or account, in the shapes and date
format (``+0000``) Graph uses, with the usage headers it sends.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from bench.poll_payloads import at, text

PAGE = "112233445566778"
ACCOUNT = "17841405822304914"
_USAGE = {"x-app-usage": json.dumps({"call_count": 3, "total_cputime": 1, "total_time": 2})}
_PATHS = {
    f"/v22.0/{PAGE}/tagged",
    f"/v22.0/{PAGE}/feed",
    f"/v22.0/{PAGE}_9000/comments",
    f"/v22.0/{ACCOUNT}/tags",
    f"/v22.0/{ACCOUNT}/media",
    "/v22.0/18000000000009000/comments",
}


def _time(cycle: int, i: int) -> str:
    return at(cycle, i).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "paging": {"cursors": {"before": "b", "after": "a"}}}


def facebook(path: str, cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 10)
    half = count // 2
    if path.endswith("/feed"):
        post = {"id": f"{PAGE}_9000", "created_time": _time(cycle, 0), "permalink_url": None}
        return _page([{**post, "updated_time": _time(cycle, 0)}])
    if path.endswith("/tagged"):
        return _page(
            [
                {
                    "id": f"{100_000 + cycle}_{i}",
                    "created_time": _time(cycle, i),
                    "message": text(rng, cycle * 1000 + i),
                    "permalink_url": f"https://www.facebook.com/{100_000 + cycle}/posts/{i}",
                }
                for i in range(half)
            ]
        )
    return _page(
        [
            {
                "id": f"9000_{cycle * 1000 + i}",
                "created_time": _time(cycle, i),
                "message": text(rng, cycle * 1000 + i),
                "from": {"id": str(7_000_000 + i), "name": f"Camper {i}"},
            }
            for i in range(count - half)
        ]
    )


def instagram(path: str, cycle: int, count: int) -> dict[str, Any]:
    rng = random.Random(cycle + 11)
    half = count // 2
    if path.endswith("/media"):
        media = {
            "id": "18000000000009000",
            "permalink": "https://www.instagram.com/p/DHbench/",
            "timestamp": _time(cycle, 0),
            "username": "northwind.outfitters",
            "comments_count": count,
        }
        return _page([media])
    if path.endswith("/tags"):
        return _page(
            [
                {
                    "id": str(17_990_000_000_000_000 + cycle * 1000 + i),
                    "caption": text(rng, cycle * 1000 + i),
                    "timestamp": _time(cycle, i),
                    "permalink": f"https://www.instagram.com/p/B{cycle}x{i}/",
                    "username": f"camper_{i}",
                }
                for i in range(half)
            ]
        )
    return _page(
        [
            {
                "id": str(17_870_000_000_000_000 + cycle * 1000 + i),
                "text": text(rng, cycle * 1000 + i),
                "timestamp": _time(cycle, i),
                "username": f"hiker_{i}",
                "from": {"id": str(17_841_400_000_000_000 + i), "username": f"hiker_{i}"},
            }
            for i in range(count - half)
        ]
    )


def with_graph(
    others: Callable[[httpx.Request], httpx.Response], cycle: Callable[[], int], count: int
) -> Callable[[httpx.Request], httpx.Response]:
    """``others`` (``poll_payloads.handler``) with the Graph API paths answered too."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path not in _PATHS:
            return others(request)
        make = instagram if ACCOUNT in path or "/18000000000009000/" in path else facebook
        return httpx.Response(200, json=make(path, cycle(), count), headers=_USAGE)

    return answer


#: What each block of ``sources_toml`` stands for, in the same order.
LABELS = ["Facebook Page (Graph API)", "Instagram (Graph API)"]


def sources_toml(base: str) -> str:
    """``[[sources]]`` blocks for the facebook and instagram adapters at ``base``."""
    blocks = [
        ("facebook", "facebook", f'page_id = "{PAGE}"'),
        ("instagram", "instagram", f'account_id = "{ACCOUNT}"'),
    ]
    return "\n".join(
        f'[[sources]]\nname = "{n}"\ntype = "{t}"\nbase_url = "{base}"\n{extra}\n'
        'page_size = 100\nbackfill = "30d"\n'
        for n, t, extra in blocks
    )
