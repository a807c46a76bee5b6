"""The Teams bot over botbuilder's TestAdapter: presses, refusals, the Submit fallback, sla."""

from __future__ import annotations

import json
from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.schema import Activity, ActivityTypes

from integrations.common.payload import ActionId, CasePayload
from integrations.teams.places import SURFACE
from tests.teams.conftest import BotWorld
from triagebot.actions.executor import execute
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim
from triagebot.cases.note_mentions import mention_user
from triagebot.cases.records import CaseState, MessageRef

CARD = "application/vnd.microsoft.card.adaptive"
BEN = Identity(SURFACE, "29:ben")


def press(case_id: str, version: int, action: ActionId, **extra: Any) -> Activity:
    data = CasePayload(case_id, version).to_dict() | {"verb": action.value} | extra
    return Activity(
        type=ActivityTypes.invoke,
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": action.value, "data": data}},
    )


def invoke_answer(world: BotWorld) -> tuple[int, str, Any]:
    """(status, body type, body value) of the invoke response the bot sent back."""
    [reply] = [a for a in world.replies() if a.type == ActivityTypes.invoke_response]
    response: InvokeResponse = reply.value
    body = response.body.serialize() if hasattr(response.body, "serialize") else response.body
    return response.status, body["type"], body["value"]


def shown(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_claim_answers_with_the_refreshed_card_and_redraws_it_for_everyone(
    bot_world: BotWorld,
) -> None:
    case = bot_world.ingest()
    ref = MessageRef(SURFACE, "19:ch;messageid=1", "1", {"service_url": "https://smba.example/"})
    bot_world.runtime.store.set_message_ref(case.id, ref)
    await bot_world.send(press(case.id, case.version, ActionId.CLAIM))
    status, kind, card = invoke_answer(bot_world)
    assert (status, kind) == (200, CARD)
    assert "**Claimed** by Alex" in shown(card)
    stored = bot_world.runtime.store.get_case(case.id)
    assert stored.state is CaseState.CLAIMED and stored.claimed_by == Identity(SURFACE, "29:alex")
    [(where, activity_id, redrawn)] = bot_world.gateway.updates
    assert (where.conversation_id, activity_id) == ("19:ch;messageid=1", "1")
    assert "**Claimed** by Alex" in shown(redrawn)


async def test_a_stale_resolve_shows_the_case_as_it_is_and_why(bot_world: BotWorld) -> None:
    case = bot_world.ingest()
    store = bot_world.runtime.store
    execute(store, bot_world.runtime.policy, Claim(case.id, BEN, SURFACE), bot_world.clock.now)
    await bot_world.send(press(case.id, case.version, ActionId.RESOLVE))
    status, kind, card = invoke_answer(bot_world)
    assert (status, kind) == (200, CARD)
    assert "changed after this message was drawn" in shown(card)
    assert store.get_case(case.id).state is CaseState.CLAIMED


async def test_a_forbidden_unclaim_is_refused_with_a_clear_notice(bot_world: BotWorld) -> None:
    case = bot_world.ingest()
    store = bot_world.runtime.store
    outcome = execute(
        store, bot_world.runtime.policy, Claim(case.id, BEN, SURFACE), bot_world.clock.now
    )
    bot_world.surface.remember_person("29:ben", "Ben Miller")
    await bot_world.send(press(case.id, outcome.case.version, ActionId.UNCLAIM))
    status, _, card = invoke_answer(bot_world)
    notice = card["body"][0]
    assert status == 200 and notice["id"] == "notice" and notice["color"] == "Attention"
    assert store.get_case(case.id).claimed_by == BEN
    assert "Ben Miller" in shown(card)


async def test_a_claim_on_a_claimed_case_names_the_holder(bot_world: BotWorld) -> None:
    case = bot_world.ingest()
    store = bot_world.runtime.store
    execute(store, bot_world.runtime.policy, Claim(case.id, BEN, SURFACE), bot_world.clock.now)
    bot_world.surface.remember_person("29:ben", "Ben Miller")
    await bot_world.send(press(case.id, case.version, ActionId.CLAIM))
    _, _, card = invoke_answer(bot_world)
    assert "already claimed by Ben Miller" in card["body"][0]["text"]


async def test_reassign_takes_the_chosen_department(bot_world: BotWorld) -> None:
    case = bot_world.ingest()
    await bot_world.send(press(case.id, case.version, ActionId.REASSIGN, dept="billing"))
    status, _, card = invoke_answer(bot_world)
    assert status == 200 and "Billing" in shown(card)
    assert bot_world.runtime.store.get_case(case.id).department == "billing"


async def test_a_forged_press_gets_a_message_not_a_card(bot_world: BotWorld) -> None:
    activity = Activity(
        type=ActivityTypes.invoke,
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "case-claim", "data": {"v": 9}}},
    )
    await bot_world.send(activity)
    status, kind, value = invoke_answer(bot_world)
    assert (status, kind) == (200, "application/vnd.microsoft.activity.message")
    assert "older message" in value


async def test_the_submit_fallback_updates_the_card_in_place(bot_world: BotWorld) -> None:
    case = bot_world.ingest()
    data = CasePayload(case.id, case.version).to_dict() | {"verb": ActionId.CLAIM.value}
    await bot_world.send(Activity(type=ActivityTypes.message, value=data, reply_to_id="card-7"))
    [updated] = bot_world.adapter.updated_activities
    assert updated.id == "card-7"
    assert "**Claimed** by Alex" in shown(updated.attachments[0].content)
    assert bot_world.runtime.store.get_case(case.id).state is CaseState.CLAIMED


async def test_sla_by_mention_answers_with_a_card(bot_world: BotWorld) -> None:
    bot_world.ingest()
    await bot_world.send(Activity(type=ActivityTypes.message, text="<at>triagebot</at> sla 30d"))
    [reply] = bot_world.replies()
    assert reply.attachments[0].content_type == CARD
    assert "SLA · last 30 days" in shown(reply.attachments[0].content)


async def test_sla_words_not_understood_are_named(bot_world: BotWorld) -> None:
    await bot_world.send(Activity(type=ActivityTypes.message, text="sla **warehouse**"))
    [reply] = bot_world.replies()
    text = shown(reply.attachments[0].content)
    assert "I don't know `**warehouse**`" in text and "`shipping`" in text


async def test_sla_help_and_other_words(bot_world: BotWorld) -> None:
    await bot_world.send(Activity(type=ActivityTypes.message, text="sla help"))
    assert "sla breached" in shown(bot_world.replies()[0].attachments[0].content)
    await bot_world.send(Activity(type=ActivityTypes.message, text="hello"))
    assert "Claim and Resolve" in bot_world.replies()[0].text


async def test_every_activity_teaches_places_and_names(bot_world: BotWorld) -> None:
    channel_data = {
        "team": {"id": "19:team@thread.tacv2", "name": "Northwind"},
        "channel": {"id": "19:ship@thread.tacv2", "name": "Shipping"},
        "tenant": {"id": "tenant-1"},
    }
    await bot_world.send(
        Activity(type=ActivityTypes.message, text="hello", channel_data=channel_data)
    )
    places = bot_world.runtime.store.places(SURFACE)
    place = places["19:ship@thread.tacv2"]
    assert (place["name"], place["team_name"], place["tenant_id"]) == (
        "Shipping", "Northwind", "tenant-1"
    )  # fmt: skip
    assert place["reference"]["conversation"]["id"] == "19:ship@thread.tacv2"
    assert places["person:29:alex"] == {"kind": "person", "name": "Alex"}


async def test_a_teams_user_whose_id_reads_like_a_slack_id_cannot_act_on_the_slack_claim(
    bot_world: BotWorld,
) -> None:
    case = bot_world.ingest()
    store = bot_world.runtime.store
    slack_ana = Identity("slack", "U0ANA")
    claimed = execute(store, bot_world.runtime.policy, Claim(case.id, slack_ana, "slack"),
                      bot_world.clock.now).case  # fmt: skip
    for action in (ActionId.RESOLVE, ActionId.UNCLAIM, ActionId.SPAM):
        await bot_world.send(press(case.id, claimed.version, action), user="U0ANA", name="Mallory")
        status, _, card = invoke_answer(bot_world)
        assert status == 200 and card["body"][0]["id"] == "notice"
        assert "only they or a manager" in shown(card)
    stored = store.get_case(case.id)
    assert (stored.state, stored.claimed_by, stored.version) == (
        CaseState.CLAIMED,
        slack_ana,
        claimed.version,
    )


async def test_the_teams_actor_is_the_aad_object_id_and_named_as_teams_tells(
    bot_world: BotWorld,
) -> None:
    case = bot_world.ingest()
    await bot_world.send(
        press(case.id, case.version, ActionId.CLAIM), user="29:1x-chat-id", aad="5c1e-aad-alex"
    )
    status, _, card = invoke_answer(bot_world)
    assert status == 200 and "**Claimed** by Alex" in shown(card)
    stored = bot_world.runtime.store.get_case(case.id)
    assert stored.claimed_by == Identity("teams", "5c1e-aad-alex")
    [event] = [e for e in bot_world.runtime.store.events(case.id) if e.action == "claim"]
    note = bot_world.surface.note_text(f"claimed by {mention_user(event.actor)}", 200)
    assert note == "claimed by @Alex"
