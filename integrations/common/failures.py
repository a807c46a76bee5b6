"""An unexpected failure behind a press or a form: logged with a short id the presser is told."""

from __future__ import annotations

import logging
import uuid


def logged_failure(log: logging.Logger, what: str, *args: object) -> str:
    """Log the exception being handled as ``what`` (%-style over ``args``) "failed", with a
    fresh error id; the id, for the words shown to the presser."""
    error_id = uuid.uuid4().hex[:8]
    log.exception(what + " failed (error id %s)", *args, error_id)
    return error_id
