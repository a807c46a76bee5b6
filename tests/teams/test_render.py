"""Case cards for Teams: hostile posts come out inert, long posts are cut, links are checked."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from integrations.common.payload import ActionId, parse_payload
from integrations.teams import render, tmd
from integrations.teams.render import RenderContext, case_card
from triagebot.cases.identities import Identity
from triagebot.cases.records import Author, Case, CaseState, Mention, Priority

NAMES = {"shipping": "Shipping", "billing": "Billing & Refunds", "triage": "Triage"}


def make_case(now: datetime, text: str = "Where is my parcel?", **changes: Any) -> Case:
    mention = Mention(
        id="x:1", source="x", kind="post", url=changes.pop("url", "https://x.example/s/1"),
        author=changes.pop("author", Author("sam", "Sam", 1234)), text=text,
        created_at=now - timedelta(minutes=3),
    )  # fmt: skip
    case = Case(
        id="42", mention=mention, department="shipping", priority=Priority.P1,
        state=CaseState.OPEN, ingested_at=now, claim_due=now + timedelta(minutes=15),
        resolve_due=now + timedelta(hours=4),
    )  # fmt: skip
    return replace(case, **changes)


def post_of(card: dict[str, Any]) -> str:
    post = next(item for item in card["body"] if item.get("id") == "case-post")
    text: str = post["items"][0]["text"]
    return text


@pytest.mark.parametrize(
    ("hostile", "absent"),
    [
        ("**bold** and __under__", ["**bold**", "__under__"]),
        ("_italic_ *star*", ["_italic_", "*star*"]),
        ("[bank login](https://evil.example/)", ["[bank login](", "https://evil"]),
        ("<at>Alex Wilber</at> please", ["<at>", "</at>"]),
        ("<b>bold</b><img src=x onerror=alert(1)>", ["<b>", "<img"]),
        ("visit www.evil.example or evil.com", ["www.evil", "evil.com"]),
        ("# Big heading", ["# Big"]),
        ("- list item\n+ other\n1. first", ["- list", "+ other", "1. first"]),
        ("> quoted", ["> quoted"]),
        ("`code` ~~strike~~", ["`code`", "~~strike~~"]),
        ("right\u202eleft\u200bzero\x00nul", ["\u202e", "\u200b", "\x00"]),
    ],
)
def test_hostile_post_text_is_inert(now: datetime, hostile: str, absent: list[str]) -> None:
    card = case_card(make_case(now, hostile), RenderContext(NAMES, now))
    text = post_of(card)
    for piece in absent:  # nowhere without a backslash in front of it
        assert re.search(r"(?<!\\)" + re.escape(piece), text) is None, (piece, text)


def test_escaped_text_still_reads_the_same_once_unescaped(now: datetime) -> None:
    hostile = "**Help** [me](https://evil.example) <at>Bot</at> # 1. done"
    text = tmd.escape(hostile)
    assert text.replace("\\", "") == "**Help** [me](https[:]//evil.example) <at>Bot</at> # 1. done"


def test_author_and_source_are_escaped_too(now: datetime) -> None:
    case = make_case(now, author=Author("[x](https://e.vil)", "<at>Boss</at>", 5))
    header = json.dumps(case_card(case, RenderContext(NAMES, now))["body"][:2])
    assert "[x](" not in header and "<at>" not in header


def test_a_long_post_is_cut_with_a_link_to_the_whole_post(now: datetime) -> None:
    card = case_card(make_case(now, "word " * 2_000), RenderContext(NAMES, now))
    text = post_of(card)
    assert len(text) <= render.POST_LIMIT + 10 and text.endswith("…")
    assert "open it to read it whole" in json.dumps(card["body"])
    [link] = [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert link["url"] == "https://x.example/s/1"


def test_many_lines_are_cut_too(now: datetime) -> None:
    text = post_of(case_card(make_case(now, "line\n" * 200), RenderContext(NAMES, now)))
    assert text.count("line") == render.POST_LINES


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://files.example/x", "https://",
     "https://x.example/" + "a" * 900, "https://x.example/a b"],
)  # fmt: skip
def test_only_short_http_links_become_buttons(now: datetime, url: str) -> None:
    card = case_card(make_case(now, url=url), RenderContext(NAMES, now))
    assert not [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert "is not a short http(s) link" in json.dumps(card["body"])
    assert "javascript:" not in json.dumps(card)


def test_actions_follow_the_state_and_carry_only_the_payload(now: datetime) -> None:
    ctx = RenderContext(NAMES, now)
    verbs = lambda card: [a.get("verb") for a in card["actions"] if "verb" in a]  # noqa: E731
    open_card = case_card(make_case(now), ctx)
    assert verbs(open_card) == ["case-claim", "case-resolve", "case-spam"]
    claimed = make_case(
        now, state=CaseState.CLAIMED, claimed_by=Identity("teams", "29:ana"), claimed_at=now
    )
    assert verbs(case_card(claimed, ctx)) == ["case-resolve", "case-unclaim", "case-spam"]
    resolved = make_case(
        now, state=CaseState.RESOLVED, resolved_by=Identity("teams", "29:ana"), resolved_at=now
    )
    assert verbs(case_card(resolved, ctx)) == ["case-reopen"]
    claim = open_card["actions"][0]
    assert claim["type"] == "Action.Execute" and claim["fallback"]["type"] == "Action.Submit"
    assert set(claim["data"]) == {"v", "case", "ver", "verb"}
    assert parse_payload(claim["fallback"]["data"]).case_id == "42"


def test_reassign_offers_the_other_departments(now: datetime) -> None:
    card = case_card(make_case(now), RenderContext(NAMES, now))
    [show] = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    choices = show["card"]["body"][0]["choices"]
    assert [c["value"] for c in choices] == ["billing", "triage"]
    assert show["card"]["actions"][0]["verb"] == ActionId.REASSIGN.value


def test_people_are_shown_by_name_and_times_in_the_viewers_zone(now: datetime) -> None:
    claimed = make_case(
        now, state=CaseState.CLAIMED, claimed_by=Identity("teams", "29:ana"), claimed_at=now
    )
    ctx = RenderContext(NAMES, now, people={"29:ana": "Ana **Lopez**"})
    status = next(i for i in case_card(claimed, ctx)["body"] if i.get("id") == "case-status")
    assert "**Claimed** by Ana \\*\\*Lopez\\*\\*" in status["text"]
    assert "{{DATE(" in status["text"] and "{{TIME(" in status["text"]


def test_notice_tops_the_card(now: datetime) -> None:
    card = case_card(make_case(now), RenderContext(NAMES, now), notice="already claimed by [x](y)")
    assert card["body"][0]["id"] == "notice" and "[x](" not in card["body"][0]["text"]


def test_summary_is_plain_and_short(now: datetime) -> None:
    summary = render.summary(make_case(now, "x" * 500), RenderContext(NAMES, now))
    assert summary.startswith("P1 case #42 for Shipping: ") and len(summary) < 200
