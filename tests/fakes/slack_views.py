"""The fake Slack with modals: ``views.open`` checked the way Slack checks it.

``trigger()`` hands out a trigger id the way a button press does; ``views.open`` answers
``expired_trigger_id`` when it comes more than 3 s later and ``invalid_trigger_id`` for an id
it never issued. The view is checked for Slack's limits (title, submit and close of 24
characters, callback_id 255, private_metadata 3,000, 100 blocks, unique block ids, a submit
button when the view has inputs, plain-text inputs of at most 3,000 characters with an
initial value within their own limit); opened views are kept in ``views``.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.slack import FakeSlack, check_blocks

TRIGGER_LIFE = 3.0


@dataclass
class ModalSlack(FakeSlack):
    """``FakeSlack`` that also opens modals."""

    views: list[dict[str, Any]] = field(default_factory=list)
    view_problems: list[str] = field(default_factory=list)
    _triggers: dict[str, float] = field(default_factory=dict)
    _trigger_n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def trigger(self) -> str:
        """A fresh trigger id, as Slack puts in a button press."""
        trigger = f"{next(self._trigger_n)}.{int(time.time())}.abcdef"
        self._triggers[trigger] = time.monotonic()
        return trigger

    def _views_open(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        trigger = str(args.get("trigger_id") or "")
        if not trigger:
            return 200, {"ok": False, "error": "missing_argument: trigger_id"}
        issued = self._triggers.get(trigger)
        if issued is None:
            return 200, {"ok": False, "error": "invalid_trigger_id"}
        if time.monotonic() - issued > TRIGGER_LIFE:
            return 200, {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        problems = check_view(view)
        if problems:
            self.view_problems.extend(problems)
            return 200, {"ok": False, "error": "invalid_arguments", "errors": problems}
        assert isinstance(view, dict)
        self.views.append(view)
        opened = {**view, "id": f"V{len(self.views):08d}", "state": {"values": {}}}
        return 200, {"ok": True, "view": opened}


def _plain(obj: Any, limit: int, name: str) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return [f"{name} must be plain_text"]
    text = obj.get("text") or ""
    return [f"{name} over {limit} characters"] if not text or len(text) > limit else []


def check_view(view: Any) -> list[str]:
    """Modal structure and limit problems, one line each (empty: Slack would open it)."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return ["view must be a modal"]
    problems = _plain(view.get("title"), 24, "title")
    blocks = view.get("blocks") or []
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 100:
        return [*problems, "a view needs 1 to 100 blocks"]
    inputs = [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
    if inputs:
        problems += _plain(view.get("submit"), 24, "submit")
    if "close" in view:
        problems += _plain(view.get("close"), 24, "close")
    if len(str(view.get("callback_id") or "")) > 255:
        problems.append("callback_id over 255 characters")
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("private_metadata over 3000 characters")
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(ids) != len(set(ids)):
        problems.append("block_id values must be unique within a view")
    for block in inputs:
        problems += _check_input(block)
    others = [b for b in blocks if not (isinstance(b, dict) and b.get("type") == "input")]
    return problems + check_blocks(others)


def _check_input(block: dict[str, Any]) -> list[str]:
    problems = _plain(block.get("label"), 2000, "input label")
    element = block.get("element") or {}
    if element.get("type") not in ("plain_text_input", "url_text_input"):
        return [*problems, f"unsupported input element {element.get('type')!r}"]
    if not element.get("action_id"):
        problems.append("input element without action_id")
    limit = element.get("max_length", 3000)
    if not isinstance(limit, int) or not 1 <= limit <= 3000:
        problems.append("max_length must be 1 to 3000")
        limit = 3000
    if len(element.get("initial_value") or "") > limit:
        problems.append("initial_value longer than max_length")
    return problems
