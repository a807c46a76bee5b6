"""From a source's answer to a stored case.

The ``Source`` protocol every adapter in ``integrations/sources`` implements, the poller and
the per-source state it keeps (cursors, backoff, last error), mention files for ``ingest``,
and the pipeline: brand relevance, dedupe, cross-post merging, routing, and the new case with
its SLA clocks and outbox items written in one commit.
"""

from triagebot.ingest.pipeline import IngestResult, Pipeline
from triagebot.ingest.sources import Source

__all__ = ["IngestResult", "Pipeline", "Source"]
