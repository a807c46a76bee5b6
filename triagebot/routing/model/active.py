"""Which model routes: the one this deployment learned (kept in its store), else the shipped one.

A learned model (its head and its first pass) is kept in the store under one key, so every
process and dyno of a deployment routes with the same model and a restart keeps it. A model
stored before learning reached the first pass has a head only: it routes behind the shipped
first pass. A stored model that cannot be read, or that was trained on another embedder, is
ignored with one log line and the shipped model routes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from triagebot.routing.model.classifier import DepartmentModel
from triagebot.routing.model.embedder import MODEL_NAME
from triagebot.routing.model.first_pass import FirstPass
from triagebot.routing.model.head import LinearHead

log = logging.getLogger(__name__)

#: The store key of the active learned model.
ACTIVE_KEY = "routing:model:active"
#: The store key of its version alone: what running processes compare to notice a new model.
VERSION_KEY = "routing:model:version"


class KeyValues(Protocol):
    """The part of a store that keeps small named values."""

    def get_cursor(self, source: str) -> str | None: ...

    def set_cursor(self, source: str, cursor: str | None) -> None: ...


@dataclass(frozen=True)
class StoredModel:
    """A learned head and first pass, with when and from how many labels they were trained
    (``first_pass`` is None in a model stored before learning reached it)."""

    version: str
    head: LinearHead
    trained_at: str
    labels_used: int
    report: dict[str, Any]
    first_pass: FirstPass | None = None
    #: Shipped rules the team's corrections overruled (``routing.overruled``).
    overruled: tuple[str, ...] = ()

    def to_text(self) -> str:
        data: dict[str, Any] = {
            "version": self.version,
            "trained_at": self.trained_at,
            "labels_used": self.labels_used,
            "report": self.report,
            "head": base64.b64encode(self.head.to_bytes()).decode("ascii"),
        }
        if self.first_pass is not None:
            packed = self.first_pass.to_bytes(small=True)
            data["first_pass"] = base64.b64encode(packed).decode("ascii")
        if self.overruled:
            data["overruled_rules"] = list(self.overruled)
        return json.dumps(data)

    @classmethod
    def from_text(cls, text: str) -> StoredModel:
        """ValueError when ``text`` is not a stored model."""
        try:
            data = json.loads(text)
            head = LinearHead.from_bytes(base64.b64decode(data["head"], validate=True))
            first_pass = None
            if data.get("first_pass") is not None:
                saved = base64.b64decode(data["first_pass"], validate=True)
                first_pass = FirstPass.from_bytes(saved)
                if first_pass.labels != head.labels:
                    raise ValueError("its first pass and head have different labels")
            overruled = data.get("overruled_rules") or []
            if not isinstance(overruled, list) or not all(isinstance(r, str) for r in overruled):
                raise ValueError("overruled_rules is not a list of rule ids")
            return cls(
                str(data["version"]),
                head,
                str(data["trained_at"]),
                int(data["labels_used"]),
                dict(data.get("report") or {}),
                first_pass,
                tuple(overruled),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"stored routing model unreadable: {exc}") from exc


def read_stored(store: KeyValues) -> StoredModel | None:
    """The active learned model of ``store``; None when there is none or it is unusable."""
    text = store.get_cursor(ACTIVE_KEY)
    if not text:
        log.info("no learned routing model in the store: routing with the shipped model")
        return None
    try:
        stored = StoredModel.from_text(text)
    except ValueError as exc:
        log.error("routing model in the store ignored (%s); routing with the shipped model", exc)
        return None
    if stored.head.embedder != MODEL_NAME:
        log.error(
            "routing model %s was trained on %s, not %s; routing with the shipped model",
            stored.version,
            stored.head.embedder,
            MODEL_NAME,
        )
        return None
    return stored


def save_stored(store: KeyValues, model: StoredModel) -> None:
    """Make ``model`` the active one (the model first, then the version others watch)."""
    store.set_cursor(ACTIVE_KEY, model.to_text())
    store.set_cursor(VERSION_KEY, model.version)


def stored_version(store: KeyValues) -> str:
    """The version of the active learned model, ``shipped`` when there is none (cheap)."""
    version = store.get_cursor(VERSION_KEY)
    if version:
        return version
    return "shipped" if not store.get_cursor(ACTIVE_KEY) else "unknown"


def load_active(store: KeyValues | None, departments: Iterable[str]) -> DepartmentModel:
    """The learned model of ``store`` if there is a usable one, else the shipped model."""
    stored = read_stored(store) if store is not None else None
    if stored is not None:
        return DepartmentModel.learned(
            stored.head, departments, stored.version, stored.first_pass, stored.overruled
        )
    return DepartmentModel.shipped(departments)
