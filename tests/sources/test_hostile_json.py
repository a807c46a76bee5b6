"""A source API answer nested thousands of levels deep is a source error, not a crash."""

from __future__ import annotations

import httpx
import pytest

from integrations.sources._http import json_body
from triagebot.errors import SourceError


@pytest.mark.parametrize("depth", [100_000, 1_000_000])
def test_deeply_nested_json_is_a_source_error(depth: int) -> None:
    response = httpx.Response(200, content=b"[" * depth + b"]" * depth)
    with pytest.raises(SourceError, match=r"^forum: malformed JSON \(nested too deeply\)$"):
        json_body(response, "forum")


def test_ordinary_json_still_decodes() -> None:
    assert json_body(httpx.Response(200, content=b'{"a": [[1]]}'), "forum") == {"a": [[1]]}
