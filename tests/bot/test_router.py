"""The command router, driven over HTTP like the Emulator and Teams drive it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.commands import build_router
from infra.records import RecordStore
from infra.storage import SqliteStorage
from skills.records import DELIVERY_CLAIMS, Claim
from tests.channel import ChannelFake, Conversation, _objects, buttons, card_of, card_text
from tests.harness import bot_settings, running_bot

HELP = "FineTune Ops commands"
"""The help card's title."""


async def test_help_lists_the_commands_from_the_table(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    reply = await chat.say("help")
    card = card_of(reply)
    assert card["version"] == "1.5"
    text = card_text(reply)
    assert HELP in text and "Sandbox mode" in text
    # every listed command by name (behind Show all commands), the card-only verbs not
    listed = [c for c in build_router().commands if c.listed]
    assert [c.name for c in listed if c.name not in text] == []
    assert "welcome" not in text and "train-confirm" not in text
    # the first steps' buttons run commands; the sample is the main one
    pressed = buttons(reply)
    assert {title: data["verb"] for title, data in pressed.items()} == {
        "Get sample": "sample",
        "Train": "train",
        "Show status": "status",
    }
    positive = [n["title"] for n in _objects(reply) if n.get("style") == "positive"]
    assert positive == ["Get sample"]
    assert "`" not in text  # Teams draws no code in a card (CARDS.md)
    assert len(json.dumps(card)) < 8_000  # the help card was 28 rows, ~14 kB


async def test_commands_are_case_insensitive_and_aliases_work(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    assert HELP in card_text(await chat.say("HELP"))
    assert HELP in card_text(await chat.say("commands"))


async def test_channel_mention_is_stripped(conversation: Callable[..., Conversation]) -> None:
    chat = conversation(conversation_type="channel", channel_id="msteams")
    reply = await chat.say(
        "<at>FineTuneBot</at> help",
        entities=[{"type": "mention", "text": "<at>FineTuneBot</at>", "mentioned": chat.bot}],
    )
    assert HELP in card_text(reply)


async def test_typo_suggests_the_closest_command(conversation: Callable[..., Conversation]) -> None:
    reply = await conversation().say("hlep")
    assert reply["text"].startswith("I don't know `hlep`. Did you mean `help`?")


async def test_unknown_word_without_neighbours(conversation: Callable[..., Conversation]) -> None:
    reply = await conversation().say("xyzzy")
    assert reply["text"] == "I don't know `xyzzy`. Type `help` to see what I can do."


async def test_help_for_one_command(conversation: Callable[..., Conversation]) -> None:
    chat = conversation()
    reply = await chat.say("help help")
    assert card_text(reply).split("\n")[1:] == [
        "help",
        "help [command]",
        "List the commands, or explain one.",
        "Also",
        "?, commands",
        "Role",
        "user",
        "Show all commands",
    ]
    assert buttons(reply) == {"Show all commands": {"verb": "help", "language": "en"}}
    assert HELP in card_text(await chat.say("", value=buttons(reply)["Show all commands"]))
    assert "train [model=..]" in card_text(await chat.say("help TRAIN"))
    reply = await chat.say("help trian")
    assert reply["text"] == (
        "There is no command `trian`. Did you mean `train`? Type `help` for the list."
    )
    reply = await chat.say("help xyzzy")
    assert reply["text"] == "There is no command `xyzzy`. Type `help` for the list."
    reply = await chat.say("help train-confirm")  # a card's verb is not a command to type
    assert reply["text"].startswith("There is no command `train-confirm`.")


async def test_help_for_one_command_in_korean(conversation: Callable[..., Conversation]) -> None:
    chat = conversation()
    korean = {"locale": "ko-KR"}
    shown = card_text(await chat.say("도움말 학습", **korean))
    assert "학습 [model=..]" in shown and "다른 이름\ntrain\n역할\n트레이너" in shown, shown
    assert card_text(await chat.say("help train", **korean)) == shown
    # a chat command as it is written in Korean, slash and all
    shown = card_text(await chat.say("도움말 /시스템", **korean))
    assert "/시스템 <텍스트>" in shown and "다른 이름\nsystem" in shown, shown
    reply = await chat.say("도움말 학숩", **korean)
    said = "`학숩` 명령은 없습니다. `학습`을 찾으셨나요? 목록은 `도움말`을 입력하세요."
    assert reply["text"] == said


async def test_bad_arguments_get_one_sentence(conversation: Callable[..., Conversation]) -> None:
    reply = await conversation().say("help me please")
    assert reply["text"] == "Expected one word, got `me please`."


async def test_submit_button_reaches_the_same_handler(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    reply = await chat.say("", value={"verb": "help"})
    assert HELP in card_text(reply)


async def test_execute_action_is_answered_with_an_invoke_response(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    activity = chat.activity(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "help", "data": {}}},
    )
    response = await chat.post(activity)
    assert response.status == 200
    assert HELP in card_text(await chat.reply())


async def test_unknown_button_verb(conversation: Callable[..., Conversation]) -> None:
    reply = await conversation().say("", value={"verb": "no-such-verb"})
    assert reply["text"] == "That button no longer works; type `help` to see what I can do."


async def test_a_greeting_gets_the_welcome_card(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    for greeting in ("hi", "Hello!", "hey bot"):
        assert "Hi, I'm FineTune Ops" in card_text(await chat.say(greeting))
    assert (await chat.say("hiring")).get("text", "").startswith("I don't know `hiring`")


async def test_greets_once_when_added(conversation: Callable[..., Conversation]) -> None:
    chat = conversation(conversation_type="channel", channel_id="msteams")
    added = chat.activity(type="conversationUpdate", membersAdded=[chat.bot])
    await chat.post(added)
    greeting = await chat.reply()
    assert "Hi, I'm FineTune Ops" in card_text(greeting)
    await chat.post(chat.activity(type="installationUpdate", action="add"))
    await chat.post(chat.activity(type="conversationUpdate", membersAdded=[chat.bot]))
    await chat.say("help")
    greetings = [a for a in chat.replies() if "Hi, I'm FineTune Ops" in card_text(a)]
    assert len(greetings) == 1


async def test_a_redelivered_activity_is_handled_once(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    activity = chat.activity(text="help")
    await chat.post(activity)
    await chat.reply()
    await chat.post(activity)  # Teams retries a delivery with the same id
    await chat.say("hlep")
    assert len(chat.replies()) == 2


async def test_old_delivery_ids_are_forgotten_at_start(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    settings = bot_settings(tmp_path)
    async with running_bot(settings) as url:
        chat = Conversation(url, channel, session)
        old = chat.activity(text="help")
        await chat.post(old)
        await chat.reply()
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    records = RecordStore(storage)
    (seen,) = await records.all(Claim, DELIVERY_CLAIMS.prefix)
    await records.put(seen.model_copy(update={"at": time.time() - 2 * 24 * 3600}))
    await storage.close()
    async with running_bot(settings) as url:  # the restart forgets the old id
        chat.bot_url = url
        await chat.post(old)
        assert HELP in card_text(await chat.reply())


@pytest.mark.parametrize("text", ["validate epochs=²", "events ftjob-abc ³", "deploy x capacity=¹"])
async def test_digits_that_are_not_numbers_get_a_sentence(
    conversation: Callable[..., Conversation], text: str
) -> None:
    """Found by benchmarks/fuzz.py: `'²'.isdigit()` is True, and int('²') raised ValueError."""
    reply = await conversation().say(text)
    assert "Something went wrong" not in reply["text"]
