"""End to end through Microsoft 365 Agents Playground: the real bot, a real Teams-like client.

The playground shows a message that has text and a card as two messages (text first), as Teams
does; the tests wait for the part they read.
"""

from __future__ import annotations

from tests.playground import BotMessage, Playground, playground_fixture  # noqa: F401 (fixture)


def has_card(message: BotMessage) -> bool:
    return bool(message.cards)


async def test_help_and_a_typo(playground: Playground) -> None:
    await playground.send("help")
    reply = await playground.wait_for(has_card)
    assert "FineTune Ops commands" in reply.all_text
    assert "Show all commands" in reply.all_text

    await playground.send("help train")
    reply = await playground.wait_for(has_card)
    assert "train [model=..]" in reply.all_text and "Fine-tune on the files" in reply.all_text

    await playground.send("hlep")
    reply = await playground.next_message()
    assert reply.text.startswith("I don't know `hlep`. Did you mean `help`?"), reply


async def test_greeting_and_card_buttons(playground: Playground) -> None:
    await playground.install()  # what opening the playground's page does
    greeting = await playground.wait_for(has_card)
    assert "Hi, I'm FineTune Ops" in greeting.all_text

    await playground.submit({"verb": "help"}, reply_to=greeting.message_id)
    reply = await playground.wait_for(has_card)  # greeted once: this is the help card
    assert "FineTune Ops commands" in reply.all_text

    answer = await playground.invoke("help", reply_to=reply.message_id)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    reply = await playground.wait_for(has_card)
    assert "FineTune Ops commands" in reply.all_text
