"""Training, deployment, chat and clean-up end to end through Microsoft 365 Agents Playground."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.channel import title_of
from tests.playground import BotMessage, Playground, playground_fixture  # noqa: F401 (fixture)
from tests.training_flow import FAST, FILES, SAMPLE


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(FAST)


def heading(message: BotMessage) -> str:
    return title_of(message.cards[0]) if message.cards else ""


async def validate(playground: Playground) -> None:
    """Attach the sample files (as data URLs) and say `validate`."""
    attachments = [
        {
            "contentType": "application/octet-stream",
            "contentUrl": "data:application/octet-stream;base64,"
            + base64.b64encode((SAMPLE / name).read_bytes()).decode(),
            "name": name,
        }
        for name in FILES
    ]
    await playground.send_activity(
        {"type": "message", "text": "validate", "attachments": attachments}
    )
    reply = await playground.next_message(60)
    while not any(
        a.get("title") == "Start training" for c in reply.cards for a in c.get("actions", [])
    ):
        reply = await playground.next_message(60)


async def test_train_deploy_and_chat_through_the_playground(playground: Playground) -> None:
    await validate(playground)
    await playground.send("train")
    confirmation = await playground.wait_for(lambda m: heading(m) == "Start fine-tuning?", 30)
    token = confirmation.cards[0]["actions"][0]["data"]["token"]
    await playground.submit(
        {"verb": "train-confirm", "token": token}, reply_to=confirmation.message_id
    )
    card = await playground.wait_for(
        lambda m: m.action == "createMessage" and heading(m).startswith("Fine-tuning:"), 30
    )
    updates = 0
    notice = None
    while notice is None:
        message = await playground.next_message(60)
        if message.action == "updateMessage" and message.message_id == card.message_id:
            updates += 1
        elif message.action == "createMessage" and heading(message).startswith("Training "):
            notice = message
    assert updates >= 2
    assert "Training succeeded" in notice.all_text
    assert "gpt-4o-mini-2024-07-18.ft-" in notice.all_text

    # the lab's last steps from the notice: deploy, then chat with the model
    deploy = next(a["data"] for a in notice.cards[0]["actions"] if a["title"] == "Deploy")
    await playground.submit(deploy, reply_to=notice.message_id)
    cost = await playground.wait_for(lambda m: heading(m).startswith("Deploy "), 30)
    assert "per hour" in cost.all_text and "estimate" in cost.all_text
    confirm = next(a["data"] for a in cost.cards[0]["actions"] if a["title"] == "Deploy")
    await playground.submit(confirm, reply_to=cost.message_id)
    deployed = await playground.wait_for(
        lambda m: m.message_id == cost.message_id and heading(m).endswith(" is deployed"), 60
    )
    chat = next(a["data"] for a in deployed.cards[0]["actions"] if a["title"] == "Chat with it")
    await playground.submit(chat, reply_to=deployed.message_id)
    await playground.wait_for(lambda m: heading(m).startswith("Chatting with "), 30)
    await playground.send("What is artificial intelligence?")
    answer = await playground.wait_for(lambda m: "completion tokens_" in m.text, 30)
    learned = (SAMPLE / "training_set.jsonl").read_text(encoding="utf-8")
    assert answer.text.split("\n")[0].removeprefix("> ") in learned  # the answer, quoted

    # and the lab's clean-up: delete the deployment, the same card says when it is gone
    name = heading(deployed).removesuffix(" is deployed")
    await playground.send(f"delete {name}")
    ask = await playground.wait_for(lambda m: heading(m) == f"Delete {name}?", 30)
    delete = next(a["data"] for a in ask.cards[0]["actions"] if a["title"] == "Delete")
    await playground.submit(delete, reply_to=ask.message_id)
    await playground.wait_for(
        lambda m: m.message_id == ask.message_id and heading(m) == f"{name} is deleted", 60
    )
