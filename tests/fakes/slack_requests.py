"""Requests as Slack sends them to an app: signed block_actions clicks and slash commands."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signed(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with ``body``: timestamp and v0 signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def block_action(
    action_id: str,
    value: str | None,
    *,
    user: str,
    channel: str,
    message_ts: str,
    response_url: str,
    selected: str | None = None,
    block_id: str = "case-actions",
    trigger_id: str = "111.222.333",
) -> str:
    """The form body of a block_actions request (as in Bolt's own tests)."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id,
                              "action_ts": f"{time.time():.6f}"}  # fmt: skip
    if selected is None:
        action.update(type="button", value=value)
    else:
        action.update(type="static_select", selected_option={"value": selected})
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "token": "legacy",
        "team": {"id": "T0TEST", "domain": "test"},
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "channel": {"id": channel, "name": channel.lower()},
        "message": {"type": "message", "ts": message_ts},
        "response_url": response_url,
        "trigger_id": trigger_id,
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)})


def slash(text: str, *, user: str, channel: str, response_url: str) -> str:
    """The form body of a ``/sla`` request."""
    return urlencode({"token": "legacy", "team_id": "T0TEST", "team_domain": "test",
                      "channel_id": channel, "channel_name": "x", "user_id": user,
                      "user_name": user.lower(), "command": "/sla", "text": text,
                      "api_app_id": "A0TEST", "response_url": response_url,
                      "trigger_id": "111.222.333"})  # fmt: skip


def view_submission(view: dict[str, Any], values: dict[str, dict[str, str]], *, user: str) -> str:
    """The form body of a ``view_submission``: ``view`` as opened, ``values`` typed in it
    (block id -> action id -> text)."""
    state = {
        block: {action: {"type": "plain_text_input", "value": text}}
        for block, typed in values.items()
        for action, text in typed.items()
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "token": "legacy",
        "trigger_id": "444.555.666",
        "view": {**view, "id": "V00000001", "team_id": "T0TEST", "state": {"values": state}},
        "response_urls": [],
    }
    return urlencode({"payload": json.dumps(payload)})
