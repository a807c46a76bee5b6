"""``triagebot reply`` and ``answered`` as a whole process, against a loopback Mastodon instance
that checks the write token, the fields and its length limit: a reply is posted once and
recorded with its link; a resolved case, a text too long for the instance and another
person's claim are each refused in one line, with nothing posted and no traceback."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLE_CONFIG
from tests.sources.conftest import MakeSource
from tests.sources.server import FakeServer, json_reply
from tests.sources.test_mastodon_replies import (
    ENV,
    INSTANCE,
    STATUSES,
    Instance,
    lena,
    masto,
    with_limit,
)
from tests.store.builders import make_case
from triagebot.cases.answers import ReplyState, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState, NewCase
from triagebot.store.tinydb_store import TinyDBStore

ANA = Identity("cli", "ana")


def _configure(folder: Path, server_url: str) -> dict[str, str]:
    """The example configuration with one Mastodon source on the loopback instance; the
    environment a command runs with."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    head, rest = text.split("[[sources]]")[0], text.split("# Where breaches are escalated.")[1]
    source = f"""
[[sources]]
name = "mastodon"
type = "mastodon"
base_url = "{server_url}"
hashtags = ["northwind"]
reply_token_env = "NW_MASTODON_WRITE"
"""
    config = folder / "triagebot.toml"
    config.write_text(head + source + "\n# Where breaches are escalated." + rest)
    return {
        "TRIAGEBOT_CONFIG": str(config),
        "TRIAGEBOT_RULES": str(EXAMPLE_CONFIG.parent / "rules"),
        **ENV,
    }


async def _cli(folder: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(run_cli, list(args), folder, env=env)
    return done.returncode, done.stdout.strip(), done.stderr.strip()


async def test_reply_and_answered_from_the_command_line(
    server: FakeServer, make_source: MakeSource, tmp_path: Path
) -> None:
    instance = Instance()
    server.add(STATUSES, instance)
    server.add(INSTANCE, with_limit(60))
    env = _configure(tmp_path, server.url)
    mention = lena(masto(make_source))
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        for case_id, state in (("1", CaseState.CLAIMED), ("2", CaseState.RESOLVED)):
            case = make_case(case_id, state=state, claimed_by=ANA)
            other = replace(mention, id=f"{mention.id}-{case_id}") if case_id == "2" else mention
            store.add_cases([NewCase(replace(case, mention=other))])

    code, out, err = await _cli(tmp_path, env, "reply", "1", "x" * 61, "--by", "ana")
    assert code != 0 and "Traceback" not in err, (out, err)
    assert "76 of 60 characters: shorten by 16 (counting “@lena_outdoors”" in err
    code, out, err = await _cli(tmp_path, env, "reply", "1", "Refund sent!", "--by", "bo")
    assert code != 0 and "only they or a manager may reply" in err and "Traceback" not in err
    code, out, err = await _cli(tmp_path, env, "reply", "2", "Refund sent!", "--by", "ana")
    assert code != 0 and "is resolved: reopen it before replying" in err, (out, err)
    assert server.seen(STATUSES) == []

    code, out, err = await _cli(tmp_path, env, "reply", "1", "Refund sent!", "--by", "ana")
    assert code == 0, (out, err)
    assert out.startswith("#1: replied in public https://social.northwind.example/@northwind/")
    assert len(server.seen(STATUSES)) == 1 and len(instance.posted) == 1

    link = "https://social.northwind.example/@northwind/1"
    code, out, err = await _cli(tmp_path, env, "answered", "2", "--by", "ana", "--url", link)
    assert code != 0 and "is resolved: reopen it" in err  # a closed case is reopened first

    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        case = store.get_case("1")
        [reply] = case.replies
        assert reply.state is ReplyState.SENT and reply.by == ANA
        assert case.first_response is not None and case.first_response.via is ResponseVia.REPLY
        assert store.get_case("2").first_response is None


async def test_a_refusal_in_the_platforms_words_reaches_the_terminal_inert(
    server: FakeServer, make_source: MakeSource, tmp_path: Path
) -> None:
    hostile = "\x1b]0;owned\x07Validation \x1b[31mfailed\x1b[0m \x9b2J: spam"
    server.add(STATUSES, json_reply({"error": hostile}, 422))
    server.add(INSTANCE, with_limit(60))
    env = _configure(tmp_path, server.url)
    mention = lena(masto(make_source))
    with TinyDBStore(tmp_path / "data" / "triagebot.json") as store:
        case = make_case("1", state=CaseState.CLAIMED, claimed_by=ANA)
        store.add_cases([NewCase(replace(case, mention=mention))])

    code, out, err = await _cli(tmp_path, env, "reply", "1", "Refund sent!", "--by", "ana")
    assert code == 1 and "Traceback" not in err, (out, err)
    assert out.startswith("#1: reply failed: ") and "Validation" in out and "spam" in out
    assert not any(ch in out for ch in "\x1b\x07\x9b"), repr(out)
    assert len(server.seen(STATUSES)) == 1
