"""The public-answer fields of a case on every store: a reply recorded before it is sent, the
thread read that settles it, the first response and the wait on the customer survive a
reopen of the store (TinyDB and PostgreSQL alike)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.store.builders import make_case, make_mention
from tests.store.conftest import Opener
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.actions.public import ThreadRead
from triagebot.actions.reply import request_reply
from triagebot.cases.answers import ReplyState, ResponseVia, ThreadPost
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.records import CaseState, NewCase
from triagebot.config.settings import Settings
from triagebot.ingest.threads import record_read

ANA = Identity("slack", "U0ANA")


def test_a_reply_and_its_settling_survive_on_every_store(
    open_store: Opener, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    store = open_store()
    mention = make_mention("x:501", created_at=now - timedelta(hours=1), handle="jo")
    case = replace(make_case("1", state=CaseState.OPEN, ingested_at=now), mention=mention)
    store.add_cases([NewCase(replace(case, respond_due=now + timedelta(hours=4)))])
    policy = SettingsPolicy(settings)
    execute(store, policy, Claim("1", ANA, "slack"), now)
    started = request_reply(
        store, policy, case_id="1", actor=ANA, surface="slack", text="Sorry, refund sent", now=now
    )
    assert store.get_case("1").reply(started.reply.id).state is ReplyState.SENDING  # type: ignore[union-attr]

    ours = ThreadPost("b1", "@northwind", "@jo Sorry, refund sent", now + timedelta(seconds=5))
    later = now + timedelta(minutes=1)
    record_read(store, settings, "1", ThreadRead([ours]), later)

    reopened = open_store()  # another connection, as another process would see it
    stored = reopened.get_case("1")
    reply = stored.reply(started.reply.id)
    assert reply is not None and reply.state is ReplyState.SENT and reply.external_id == "b1"
    assert stored.first_response is not None
    assert stored.first_response.via is ResponseVia.REPLY
    assert stored.waiting_since is not None and stored.thread_seen_at == ours.created_at
    assert stored.respond_due == now + timedelta(hours=4)
    actions = [e.action for e in reopened.events("1")]
    assert actions[-2:] == ["reply_started", "reply"]
    facts = {f.id: f for f in reopened.sla_facts()}
    assert facts["1"].first_response_us is not None  # the respond target is measured

    follow = ThreadPost("c1", "jo", "still nothing arrived", later + timedelta(minutes=5))
    record_read(reopened, settings, "1", ThreadRead([ours, follow]), later + timedelta(minutes=6))
    assert open_store().get_case("1").waiting_since is None  # the customer wrote: clock resumes
