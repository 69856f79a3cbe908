"""A card is replaced only by the flow it belongs to (skills/confirmations.py `card_of`, the
deployment's inactivity warning for "Keep alive"): a button's data that claims another card (its
replyToId) changes nothing of that card and calls nothing. Before, a user with no role could
replace an admin's pending teardown card, and make a billed completion, with a forged
"keep-alive" press."""

from __future__ import annotations

from typing import Any

import pytest

from infra.records import RecordStore
from skills.deployment.records import DeploymentRecord
from tests.channel import Activity, Conversation, buttons, card_text
from tests.e2e.test_provisioning import ADMIN

TRAINER = "0c0c0000-0000-4000-8000-000000000003"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"admins": [ADMIN], "trainers": [TRAINER], "sandbox_speedup": 3000.0}


def forged(chat: Conversation, card: Activity, data: dict[str, Any]) -> Activity:
    """An Action.Submit with `data` that claims to answer `card`."""
    return chat.activity(value={**data, "language": "en"}, replyToId=card["id"])


async def test_a_button_that_claims_another_card_changes_nothing(
    conversation: Any, bot_records: RecordStore
) -> None:
    ada = conversation(conversation_type="channel", team_id="team-1", aad_object_id=ADMIN)
    deploy = await ada.say("<at>FineTuneBot</at> deploy gpt-4o-mini-2024-07-18 name=base")
    await ada.press(deploy, "Deploy")
    await ada.reply(lambda a: a["id"] == deploy["id"] and "is deployed" in card_text(a), 60)
    teardown = await ada.say("<at>FineTuneBot</at> teardown")
    assert "Delete all of it" in buttons(teardown), card_text(teardown)
    [record] = await bot_records.all(DeploymentRecord)

    def untouched() -> None:
        updates = [
            a for a in ada.channel.sent if a["_op"] == "update" and a["id"] == teardown["id"]
        ]
        assert updates == []

    # someone with no role, in the same channel: "Keep alive" on the teardown card
    nobody = Conversation(ada.bot_url, ada.channel, ada.session, user_id="29:eve", user_name="Eve")
    nobody.id = ada.id
    await nobody.post(forged(nobody, teardown, {"verb": "keep-alive", "deployment": "base"}))
    reply = await nobody.reply()
    assert reply["text"] == (
        "That button is not on the inactivity warning of `base`, so I did nothing."
    )
    untouched()
    assert await bot_records.get(record.key()) == record  # no completion was made

    # a trainer's own question, answered by a press that claims the teardown card: the answer
    # goes to the trainer's own card
    carol = Conversation(ada.bot_url, ada.channel, ada.session, user_id="29:carol")
    carol.user["aadObjectId"] = TRAINER
    carol.id = ada.id
    ask = await carol.say("<at>FineTuneBot</at> deploy gpt-4o-mini-2024-07-18 name=second")
    token = buttons(ask)["Cancel"]["request"]
    await carol.post(forged(carol, teardown, {"verb": "deploy-cancel", "request": token}))
    cancelled = await carol.reply(lambda a: a["_op"] == "update")
    assert cancelled["id"] == ask["id"] and "cancelled" in card_text(cancelled)
    untouched()
    assert "Delete all of it" in buttons(teardown)
