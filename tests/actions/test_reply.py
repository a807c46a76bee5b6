"""Public replies through a loopback forum that checks what a real write API checks: who may
reply, drafts, failures told apart, and never a second public post."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from integrations.common.answers import AnswerView
from tests.fakes.public_source import FakeForum, ForumSource
from tests.store.builders import make_case, make_mention
from triagebot.actions.executor import SettingsPolicy, execute
from triagebot.actions.reply import deliver_reply, request_reply
from triagebot.cases.answers import ReplyState, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Reopen, Resolve
from triagebot.cases.records import CaseState, NewCase
from triagebot.config.settings import Settings
from triagebot.errors import InputError, NotAllowed
from triagebot.runtime.answering import Answering
from triagebot.store.tinydb_store import TinyDBStore

ANA = Identity("cli", "ana")
BO = Identity("slack", "U0BO")
MARIA = Identity("cli", "maria")  # a manager in the example configuration


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyDBStore]:
    opened = TinyDBStore(tmp_path / "db.json")
    yield opened
    opened.close()


@pytest_asyncio.fixture
async def forum() -> AsyncIterator[FakeForum]:
    fake = FakeForum()
    await fake.start()
    yield fake
    await fake.stop()


def add_case(store: TinyDBStore, clock: Clock, case_id: str = "1") -> None:
    mention = make_mention(f"x:{100 + int(case_id)}", created_at=clock.now - timedelta(minutes=5))
    case = make_case(case_id, state=CaseState.OPEN, ingested_at=clock.now - timedelta(minutes=4))
    store.add_cases([NewCase(replace(case, mention=mention))])


def answering(
    store: TinyDBStore, settings: Settings, forum: FakeForum, clock: Clock, **source: object
) -> Answering:
    http = httpx.AsyncClient(timeout=httpx.Timeout(2.0))
    forum_source = ForumSource(forum.url, **source)  # type: ignore[arg-type]
    return Answering(store, settings, {"x": forum_source}, http, clock)


def claim(store: TinyDBStore, settings: Settings, who: Identity, clock: Clock) -> None:
    execute(store, SettingsPolicy(settings), Claim("1", who, "cli"), clock())


def ana_holds_a_case(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> tuple[Clock, Answering]:
    """Case #1, claimed by Ana, and the answering service over the forum."""
    clock = Clock()
    add_case(store, clock)
    claim(store, settings, ANA, clock)
    return clock, answering(store, settings, forum, clock)


async def test_a_reply_is_posted_once_and_is_the_first_public_response(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    _clock, service = ana_holds_a_case(store, settings, forum)
    started = await service.reply("1", ANA, "cli", "  Sorry! A new parcel left today.  ")
    await service.aclose()
    case = store.get_case("1")
    reply = case.reply(started.reply.id)
    assert reply is not None and reply.state is ReplyState.SENT
    assert reply.text == "Sorry! A new parcel left today."
    assert reply.url == forum.posts[0].url and reply.external_id == forum.posts[0].id
    assert len(forum.requests) == 1
    assert forum.requests[0]["headers"]["Idempotency-Key"] == reply.id
    assert case.first_response is not None and case.first_response.via is ResponseVia.REPLY
    assert case.waiting_since is not None
    actions = [e.action for e in store.events("1")]
    assert actions[-2:] == ["reply_started", "reply"]


async def test_only_the_holder_or_a_manager_may_reply(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock = Clock()
    add_case(store, clock)
    service = answering(store, settings, forum, clock)
    with pytest.raises(NotAllowed, match="claim case #1"):
        await service.reply("1", ANA, "cli", "hello")
    claim(store, settings, ANA, clock)
    with pytest.raises(NotAllowed, match="claimed by"):
        await service.reply("1", BO, "slack", "hello")
    await service.reply("1", MARIA, "cli", "A manager may answer")
    await service.aclose()
    assert len(forum.posts) == 1


async def test_too_long_for_the_platform_is_refused_before_anything_is_recorded(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    _clock, service = ana_holds_a_case(store, settings, forum)
    case = store.get_case("1")
    assert "shorten by 20" in (service.reply_problem(case, "x" * 300) or "")
    with pytest.raises(InputError, match="shorten by 20"):
        await service.reply("1", ANA, "cli", "x" * 300)
    with pytest.raises(InputError, match="empty"):
        await service.reply("1", ANA, "cli", " \n\t ")
    await service.aclose()
    assert forum.requests == [] and store.get_case("1").replies == ()


async def test_a_rate_limit_fails_clearly_and_posts_nothing(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock = Clock()
    add_case(store, clock)
    claim(store, settings, ANA, clock)
    forum.fail(429, retry_after=30)
    service = answering(store, settings, forum, clock)
    started = await service.reply("1", ANA, "cli", "On it")
    await service.drain()
    failed = store.get_case("1").reply(started.reply.id)
    assert failed is not None and failed.state is ReplyState.FAILED
    assert "429" in (failed.error or "") and "31 s" in (failed.error or "")
    assert forum.posts == []
    again = await service.reply("1", ANA, "cli", "On it")  # a failed reply may be sent again
    await service.aclose()
    assert store.get_case("1").reply(again.reply.id).state is ReplyState.SENT  # type: ignore[union-attr]
    assert len(forum.posts) == 1


async def test_a_server_error_is_never_sent_again_and_the_thread_settles_it(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock = Clock()
    add_case(store, clock)
    claim(store, settings, ANA, clock)
    forum.fail(500)  # the forum published it, then answered 500
    service = answering(store, settings, forum, clock)
    started = await service.reply("1", ANA, "cli", "We refunded you")
    await service.drain()
    assert store.get_case("1").reply(started.reply.id).state is ReplyState.UNCERTAIN  # type: ignore[union-attr]
    with pytest.raises(NotAllowed, match="still being sent"):
        await service.reply("1", ANA, "cli", "We refunded you")
    checker = service.thread_checker()
    assert checker is not None
    assert await checker.run() == 1
    await service.aclose()
    settled = store.get_case("1").reply(started.reply.id)
    assert settled is not None and settled.state is ReplyState.SENT
    assert settled.external_id == forum.posts[0].id
    assert len(forum.requests) == 1 and len(forum.posts) == 1


async def test_drafts_wait_for_a_manager(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    replies = settings.config.replies.model_copy(update={"approval": "managers"})
    config = settings.config.model_copy(update={"replies": replies})
    settings = Settings(config, settings.env, settings.config_file, settings.rules_dir)
    clock, service = ana_holds_a_case(store, settings, forum)
    draft = await service.reply("1", ANA, "cli", "Draft: sorry about that")
    assert draft.reply.state is ReplyState.DRAFT and not draft.needs_sending
    with pytest.raises(NotAllowed, match="only a manager"):
        await service.approve("1", draft.reply.id, ANA, "cli")
    await service.approve("1", draft.reply.id, MARIA, "cli", text="Sorry about that: refund sent")
    await service.aclose()
    sent = store.get_case("1").reply(draft.reply.id)
    assert sent is not None and sent.state is ReplyState.SENT and sent.approved_by == MARIA
    assert [p.text for p in forum.posts] == ["Sorry about that: refund sent"]
    second = await answering(store, settings, forum, clock).reply("1", ANA, "cli", "Another")
    discarded = await service.discard("1", second.reply.id, ANA, "cli")  # its author may
    assert discarded.reply(second.reply.id).state is ReplyState.DISCARDED  # type: ignore[union-attr]
    assert len(forum.posts) == 1


async def test_marked_answered_takes_only_web_links(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    _clock, service = ana_holds_a_case(store, settings, forum)
    with pytest.raises(InputError, match="http"):
        await service.mark_answered("1", ANA, "board", "javascript:alert(1)")
    case = await service.mark_answered("1", ANA, "board", "https://news.ycombinator.com/item?id=1")
    await service.aclose()
    assert case.first_response is not None and case.first_response.via is ResponseVia.MARKED
    assert case.first_response.url == "https://news.ycombinator.com/item?id=1"


async def test_the_link_of_an_answer_given_elsewhere_cannot_ping_anyone(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock, service = ana_holds_a_case(store, settings, forum)
    link = "https://x.example/status/9?via={@user:slack:U9}"
    case = await service.mark_answered("1", ANA, "board", link)
    await service.aclose()
    assert case.first_response is not None and case.first_response.url == link
    leased = store.lease_outbox(clock() + timedelta(hours=1), 50, timedelta(minutes=1))
    notes = [i.text for i in leased if i.text and "answered in public" in i.text]
    assert notes and all("{@user:slack:U9}" not in n and "x.example/status/9" in n for n in notes)


async def test_a_deleted_post_can_be_closed_as_such(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    _clock, service = ana_holds_a_case(store, settings, forum)
    with pytest.raises(NotAllowed, match="not known to be deleted"):
        await service.close_deleted("1", ANA, "cli")
    forum.delete("101")
    checker = service.thread_checker()
    assert checker is not None
    await checker.run()
    closed = await service.close_deleted("1", ANA, "cli")
    await service.aclose()
    assert closed.state is CaseState.RESOLVED and closed.closed_as == "deleted"


async def test_a_resolved_case_is_reopened_before_anyone_answers_it(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    replies = settings.config.replies.model_copy(update={"approval": "managers"})
    drafting = Settings(
        settings.config.model_copy(update={"replies": replies}),
        settings.env, settings.config_file, settings.rules_dir,
    )  # fmt: skip
    clock = Clock()
    add_case(store, clock)
    claim(store, settings, ANA, clock)
    draft = await answering(store, drafting, forum, clock).reply("1", ANA, "cli", "Draft")
    policy = SettingsPolicy(settings)
    execute(store, policy, Resolve("1", ANA, "cli"), clock())
    service = answering(store, settings, forum, clock)
    assert service.can_reply(store.get_case("1"))  # the source could: the case is closed
    for who in (ANA, MARIA):  # the holder and a manager alike
        with pytest.raises(NotAllowed, match="is resolved: reopen it before replying"):
            await service.reply("1", who, "cli", "Fixed now!")
    with pytest.raises(NotAllowed, match="is resolved: reopen it"):
        await service.mark_answered("1", MARIA, "cli", "https://x.example/status/9")
    with pytest.raises(NotAllowed, match="is resolved: reopen it"):
        await service.approve("1", draft.reply.id, MARIA, "cli")
    assert forum.requests == [] and store.get_case("1").first_response is None
    discarded = await service.discard("1", draft.reply.id, ANA, "cli")  # a draft can go
    assert discarded.reply(draft.reply.id).state is ReplyState.DISCARDED  # type: ignore[union-attr]

    execute(store, policy, Reopen("1", MARIA, "cli"), clock())
    await service.reply("1", MARIA, "cli", "Fixed now!")
    await service.aclose()
    assert [p.text for p in forum.posts] == ["Fixed now!"]


async def test_write_access_revoked_while_a_reply_is_in_flight_fails_it_once(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock, service = ana_holds_a_case(store, settings, forum)
    started = request_reply(
        store, SettingsPolicy(settings), case_id="1", actor=ANA, surface="cli",
        text="On it", now=clock(),
    )  # fmt: skip
    assert started.needs_sending
    forum.token = "rotated-on-the-platform"  # the brand account's write token is revoked
    source = service.sources["x"]
    assert service.http is not None
    for _ in range(2):  # a second delivery of the same reply sends nothing
        await deliver_reply(
            store, source, service.http, case_id="1", reply_id=started.reply.id, clock=clock
        )
    await service.aclose()
    failed = store.get_case("1").reply(started.reply.id)
    assert failed is not None and failed.state is ReplyState.FAILED
    assert failed.error == "x: HTTP 401: unauthorized"
    assert len(forum.requests) == 1 and forum.posts == []
    leased = store.lease_outbox(clock() + timedelta(hours=1), 50, timedelta(minutes=1))
    notes = [i.text for i in leased if i.text]
    assert any("was not posted: x: HTTP 401" in n for n in notes)


@dataclass
class ReadOnlyForum(ForumSource):
    """The forum source after its write variable was removed: it reads threads, cannot post."""

    @property
    def can_reply(self) -> bool:
        return False


async def test_a_reply_left_sending_when_write_access_is_removed_is_settled_not_sent(
    store: TinyDBStore, settings: Settings, forum: FakeForum
) -> None:
    clock = Clock()
    add_case(store, clock)
    claim(store, settings, ANA, clock)
    policy = SettingsPolicy(settings)
    started = request_reply(
        store, policy, case_id="1", actor=ANA, surface="cli", text="On it", now=clock(),
    )  # fmt: skip  # the process stops here, before sending; it restarts without the variable
    http = httpx.AsyncClient(timeout=httpx.Timeout(2.0))
    sources = {"x": ReadOnlyForum(forum.url)}
    service = Answering(store, settings, sources, http, clock)
    case = store.get_case("1")
    assert service.refusal(case) == (
        "triagebot cannot post to x: answer on the platform and mark the case answered"
    )
    view = AnswerView.of(case, service.can_reply(case))
    assert not view.offers_reply and view.offers_answered
    checker = service.thread_checker()
    assert checker is not None
    await checker.run()
    assert store.get_case("1").reply(started.reply.id).state is ReplyState.SENDING  # type: ignore[union-attr]
    clock.now += timedelta(minutes=11)
    await checker.run()
    await service.aclose()
    settled = store.get_case("1").reply(started.reply.id)
    assert settled is not None and settled.state is ReplyState.FAILED
    assert "not found in the public thread" in (settled.error or "")
    assert forum.requests == []  # never sent by the restarted process
