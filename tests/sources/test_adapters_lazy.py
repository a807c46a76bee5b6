"""Source adapters are imported when a source of their type is built."""

from __future__ import annotations

import subprocess
import sys

from integrations.sources import ADAPTERS
from integrations.sources._base import BaseSource
from triagebot.config.file import SOURCE_TYPES


def test_every_source_type_has_its_adapter() -> None:
    assert set(ADAPTERS) == set(SOURCE_TYPES)
    for kind in ADAPTERS:
        adapter = ADAPTERS[kind]
        assert issubclass(adapter, BaseSource) and adapter.kind == kind


def test_a_mastodon_source_loads_no_feed_parser_signing_or_oauth() -> None:
    code = (
        "import sys; from integrations.sources import ADAPTERS; ADAPTERS['mastodon']; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for unused in ("feedparser", "jwt", "google", "oauthlib", "cryptography"):
        assert f"'{unused}'" not in out
    assert "'lxml'" in out  # what Mastodon's HTML needs is loaded
