"""Shared connector clients (bot/connector.py): one connection and one token for many replies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity, ConversationAccount, HeroCard
from botframework.connector import models as connector_models
from msrest import Serializer

from adaptive_cards.common import card, text
from bot.adapter import create_adapter
from bot.connector import CardSerializer
from bot.notifier import Notifier
from infra.records import RecordStore
from infra.storage import SqliteStorage
from tests.bot_framework_login import ADMIN, LoginServer
from tests.channel import ChannelFake, Conversation, buttons, card_text
from tests.harness import bot_settings, running_bot
from tests.training_flow import FAST, notices, train, updates_of, wait_until


async def test_one_connection_carries_every_reply(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chats = [conversation(), conversation()]
    for _ in range(4):
        for chat in chats:
            assert "FineTune Ops commands" in card_text(await chat.say("help"))
    assert channel.calls == 8
    assert len(channel.peers) == 1  # not one client (and connection) per turn


@pytest.mark.slow  # a training to its notice
async def test_with_an_app_id_replies_and_proactive_sends_carry_one_token(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoginServer(tmp_path) as login:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(login.ca))  # MSAL's requests trust it
        settings = bot_settings(tmp_path / "data", **FAST, **login.settings())
        async with running_bot(settings) as url:
            chat = Conversation(url, channel, session, channel_id="msteams", aad_object_id=ADMIN)
            assert (await chat.post(chat.activity(text="help"))).status == 401
            chat.headers["Authorization"] = f"Bearer {login.channel_token(channel.url)}"
            for _ in range(3):
                assert "FineTune Ops commands" in card_text(await chat.say("help"))
            # In production files come only from public https hosts: the sample needs no download.
            await chat.say("sample")
            offer = await chat.reply(lambda a: "Validate these" in buttons(a))
            await chat.press(offer, "Validate these")
            await chat.reply(lambda a: "Start training" in buttons(a), 60)
            await chat.press(await train(chat), "Confirm training")
            job = await chat.reply(lambda a: a["_op"] == "post" and "Fine-tuning" in card_text(a))
            await wait_until(lambda: notices(chat), 60)
    assert updates_of(chat, job["id"]) and notices(chat)  # proactive: updates and the notice
    assert {a["_authorization"] for a in chat.replies()} == {"Bearer token-1"}
    assert login.tokens_issued == 1  # one token, not one per turn or per send


async def test_a_card_update_is_retried_after_a_server_error(
    tmp_path: Path, channel: ChannelFake
) -> None:
    settings = bot_settings(tmp_path)
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    adapter = create_adapter(settings)
    notifier = Notifier(adapter, RecordStore(storage), settings.app_id)
    incoming = {
        "type": "message",
        "channelId": "msteams",
        "serviceUrl": channel.url,
        "from": {"id": "user"},
        "recipient": {"id": "bot"},
        "conversation": {"id": "c1"},
    }
    await notifier.remember(Activity().deserialize(incoming))
    try:
        sent = await notifier.post("c1", MessageFactory.text("step 1"))
        channel.failures = [(503, {"Retry-After": "0"})]  # idempotent: retried as msrest did
        await notifier.replace("c1", sent, MessageFactory.text("step 2"))
        assert channel.calls == 3
        assert [(a["_op"], a["text"]) for a in channel.sent] == [
            ("post", "step 1"),
            ("update", "step 2"),
        ]
    finally:
        await adapter.close()
        await storage.close()


def _activity(content: object) -> Activity:
    attachment = CardFactory.adaptive_card(content)
    activity = MessageFactory.attachment(attachment)
    activity.conversation = ConversationAccount(id="c1")
    activity.summary = "요약"
    return activity


def test_cards_are_sent_as_msrest_would_send_them() -> None:
    content = card([text("학습이 끝났습니다 — done", isSubtle=True), {"type": "x", "n": [1, 2.5]}])
    content["nothing"] = None
    models = {k: v for k, v in connector_models.__dict__.items() if isinstance(v, type)}
    plain, ours = Serializer(models), CardSerializer(models)
    activity = _activity(content)
    assert ours.body(activity, "Activity") == plain.body(activity, "Activity")
    assert ours.body(activity, "Activity")["attachments"][0]["content"] is content  # not walked
    hero = MessageFactory.attachment(CardFactory.hero_card(HeroCard(title="a model")))
    assert ours.body(hero, "Activity") == plain.body(hero, "Activity")  # models: msrest's way
