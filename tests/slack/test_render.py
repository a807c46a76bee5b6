"""Rendering a case for Slack: hostile posts come out inert, limits hold, payloads round-trip."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.slack import mrkdwn
from integrations.slack.payload import (
    ActionId,
    BadPayload,
    CasePayload,
    option_value,
    parse_option,
    parse_value,
)
from integrations.slack.render import RenderContext, as_dicts, case_blocks, fallback_text
from tests.fakes.slack import check_blocks
from triagebot.cases.identities import Identity
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
URL = "https://x.example/1"
CTX = RenderContext({"shipping": "Shipping", "billing": "Billing & Refunds"}, T0)
HOSTILE = (
    "<!channel> <!here> <!everyone> <@U0123ABCD> <#C0SECRET> <!subteam^S0ADMINS> "
    "<https://evil.example|bank.example> <javascript:alert(1)|click> &amp; *bold* "
    "\u202eevil\u202c zero\u200bwidth\x1b[31m"
)
#: Slack control sequences: anything inside unescaped angle brackets.
LIVE = re.compile(r"<[!@#]|<(?:https?|javascript|mailto):", re.IGNORECASE)


def make_case(
    text: str = "where is my parcel", url: str = "https://x.example/1", **kw: Any
) -> Case:
    mention = Mention("x:1", "x", "post", url, Author("sam", "Sam", 1500), text, T0)
    claim_due, resolve_due = T0 + timedelta(hours=1), T0 + timedelta(hours=4)
    case = Case("7", mention, "shipping", Priority.P1, CaseState.OPEN, T0, claim_due, resolve_due)
    case = replace(case, rules=("parcel late",))
    return replace(case, **kw)


def all_text(blocks: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def customer_parts(texts: list[str]) -> str:
    """The texts without triagebot's own date tokens and link to the original."""
    joined = "\n".join(texts)
    joined = re.sub(r"<!date\^\d+\^[^|>]*\|[^>]*>", "", joined)
    return re.sub(r"<https://x\.example/1\|[^>]*>", "", joined)


def test_hostile_text_is_inert() -> None:
    case = make_case(HOSTILE)
    case = replace(case, mention=replace(case.mention, author=Author("<!here>", "<@U0X1>", 3)))
    blocks = as_dicts(case_blocks(case, CTX))
    texts = all_text(blocks)
    assert not LIVE.search(customer_parts(texts)), customer_parts(texts)
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;https://evil.example|bank.example&gt;" in joined
    assert "&amp;amp;" in joined  # the customer's own "&amp;" stays visible as typed
    assert "\u202e" not in joined and "\x1b" not in joined and "\u200b" not in joined
    assert all(b["text"].get("verbatim") for b in blocks if b["type"] == "section")
    assert not LIVE.search(fallback_text(case, CTX).replace("<!date", ""))


def test_ten_thousand_characters_are_cut_with_a_link() -> None:
    long = ("northwind " + "<" * 3 + "& ") * 800 + "END"
    blocks = as_dicts(case_blocks(make_case(long), CTX))
    assert check_blocks(blocks) == []
    post = next(b for b in blocks if b["block_id"] == "case-post")["text"]["text"]
    assert len(post) <= 3000 and "END" not in post
    assert post.endswith("<https://x.example/1|Read the whole post>")
    assert not re.search(r"&[a-z]*…", post)  # no entity cut in half
    many_lines = "\n".join(["line"] * 500)
    assert check_blocks(as_dicts(case_blocks(make_case(many_lines), CTX))) == []


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "ftp://x.example/a",
     "https:///nohost", " javascript:alert(1)"],
)  # fmt: skip
def test_only_http_links_are_made(url: str) -> None:
    blocks = as_dicts(case_blocks(make_case(url=url), CTX))
    joined = "\n".join(all_text(blocks))
    assert "alert" not in joined and "data:" not in joined and "ftp:" not in joined
    assert "not a short http(s) link" in joined


def test_link_syntax_cannot_be_broken_by_the_url() -> None:
    url = "https://x.example/a|<!channel>>b"
    target = mrkdwn.safe_url(url)
    assert target == "https://x.example/a%7C%3C!channel%3E%3Eb"
    assert mrkdwn.safe_url("https://x.example/a b") is None  # not a URL: no link at all


def test_buttons_follow_the_state() -> None:
    def ids(case: Case) -> list[str]:
        actions = as_dicts(case_blocks(case, CTX))[-1]
        return [e["action_id"] for e in actions["elements"]]

    assert ids(make_case()) == ["case-claim", "case-resolve", "case-reassign", "case-spam"]
    claimed = make_case(
        state=CaseState.CLAIMED, claimed_by=Identity("slack", "U0ANA"), claimed_at=T0
    )
    assert ids(claimed) == ["case-resolve", "case-unclaim", "case-reassign", "case-spam"]
    assert ids(make_case(state=CaseState.RESOLVED, resolved_at=T0)) == ["case-reopen"]
    select = as_dicts(case_blocks(make_case(), CTX))[-1]["elements"][2]
    assert [parse_option(o["value"])[1] for o in select["options"]] == ["billing"]


def test_due_times_are_date_tokens_and_overdue_is_flagged() -> None:
    late = RenderContext(CTX.departments, T0 + timedelta(hours=2))
    status = as_dicts(case_blocks(make_case(), late))[2]["text"]["text"]
    stamp = int((T0 + timedelta(hours=1)).timestamp())
    assert f"claim overdue since <!date^{stamp}^" in status


def test_every_block_fits_slacks_limits() -> None:
    case = make_case(HOSTILE * 50, rules=tuple(f"rule {n}" for n in range(300)),
                     cc=("billing",), also_on=("https://a.example",))  # fmt: skip
    assert check_blocks(as_dicts(case_blocks(case, CTX))) == []


def test_payload_round_trip_and_forgeries() -> None:
    value = CasePayload("7", 3).to_value()
    assert parse_value(value) == CasePayload("7", 3)
    assert len(value) < 100
    for forged in ["7", "", None, "{}", '{"v":2,"case":"7","ver":1}', '{"v":1,"case":"7"}',
                   '{"v":1,"case":"../../x y","ver":1}', '{"v":1,"case":"7","ver":true}',
                   "x" * 3000]:  # fmt: skip
        with pytest.raises(BadPayload):
            parse_value(forged)
    with pytest.raises(BadPayload):
        parse_option(json.dumps({"v": 1, "case": "7", "ver": 1}))
    assert parse_option(option_value("7", 2, "billing")) == (CasePayload("7", 2), "billing")
    assert all(a.value.startswith("case-") for a in ActionId)
