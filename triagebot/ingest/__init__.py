"""From a source's answer to a stored case.

The ``Source`` protocol every adapter in ``integrations/sources`` implements, the poller and
the per-source state it keeps (cursors, backoff, last error), mention files for ``ingest``,
and the pipeline: brand relevance, dedupe, cross-post merging, routing, and the new case with
its SLA clocks and outbox items written in one commit.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triagebot.ingest.pipeline import IngestResult, Pipeline
    from triagebot.ingest.sources import Source

__all__ = ["IngestResult", "Pipeline", "Source"]
_HOME = {"IngestResult": "pipeline", "Pipeline": "pipeline", "Source": "sources"}


def __getattr__(name: str) -> Any:
    """The re-exported names, imported on first use: importing one module of the package
    (``mention_io`` for ``triagebot claim``) does not load the pipeline and the rules."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
