"""`provision` through Microsoft 365 Agents Playground: the confirmation card, then the same
message updated until the account is ready; `resource` shows it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channel import title_of
from tests.playground import BotMessage, Playground, playground_fixture  # noqa: F401 (fixture)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


def heading(message: BotMessage) -> str:
    return title_of(message.cards[0]) if message.cards else ""


async def test_provision_through_the_playground(playground: Playground) -> None:
    await playground.send("provision name=aoai-lab2 region=northcentralus")
    ask = await playground.wait_for(lambda m: heading(m) == "Create aoai-lab2?", 30)
    assert "OpenAI, Standard S0" in ask.all_text and "North Central US" in ask.all_text
    token = ask.cards[0]["actions"][0]["data"]["request"]
    await playground.submit(
        {"verb": "provision-confirm", "request": token}, reply_to=ask.message_id
    )
    done = await playground.wait_for(lambda m: heading(m) == "aoai-lab2 is ready", 60)
    assert done.action == "updateMessage" and done.message_id == ask.message_id
    assert "/openai-accounts/aoai-lab2/" in done.all_text
    await playground.send("resource")
    shown = await playground.wait_for(lambda m: heading(m).startswith("Current resource"), 30)
    assert "aoai-lab2" in shown.all_text and "northcentralus" in shown.all_text
