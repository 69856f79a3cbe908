"""Proactive messages through the real CloudAdapter to the channel fake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from botbuilder.core import MessageFactory
from botbuilder.schema import Activity

from bot.adapter import create_adapter
from bot.notifier import Notifier
from infra.errors import UserError
from infra.records import RecordStore
from infra.storage import SqliteStorage
from tests.channel import THREAD as CONVERSATION
from tests.channel import ChannelFake
from tests.harness import bot_settings


async def test_the_reference_is_written_only_when_it_changes(
    tmp_path: Path, channel: ChannelFake
) -> None:
    settings = bot_settings(tmp_path)
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    adapter = create_adapter(settings)
    notifier = Notifier(adapter, RecordStore(storage), settings.app_id)
    key = f"ref/{CONVERSATION}"

    def incoming(activity_id: str, service_url: str) -> Activity:
        return Activity().deserialize(
            {
                "type": "message",
                "id": activity_id,
                "channelId": "msteams",
                "serviceUrl": service_url,
                "from": {"id": "user"},
                "recipient": {"id": "bot"},
                "conversation": {"id": CONVERSATION},
            }
        )

    try:
        await notifier.remember(incoming("a1", "http://127.0.0.1:1/old"))
        first = (await storage.read([key]))[key]
        await notifier.remember(incoming("a2", "http://127.0.0.1:1/old"))
        assert (await storage.read([key]))[key].e_tag == first.e_tag  # only the id differed
        await notifier.remember(incoming("a3", channel.url))  # Teams moved the conversation
        moved = (await storage.read([key]))[key]
        assert moved.e_tag != first.e_tag and moved.value["reference"]["serviceUrl"] == channel.url
        assert "activityId" not in moved.value["reference"]
        other = Notifier(adapter, RecordStore(storage), settings.app_id)  # another instance
        await other.post(CONVERSATION, MessageFactory.text("still reachable"))
        assert channel.sent[-1]["text"] == "still reachable"
    finally:
        await adapter.close()
        await storage.close()


async def test_send_then_update_in_place(notifier: Notifier, channel: ChannelFake) -> None:
    message_id = await notifier.post(CONVERSATION, MessageFactory.text("training started"))
    await notifier.replace(CONVERSATION, message_id, MessageFactory.text("training at step 5"))
    assert [(a["_op"], a["text"]) for a in channel.sent] == [
        ("post", "training started"),
        ("update", "training at step 5"),
    ]
    assert channel.sent[1]["id"] == message_id
    assert channel.sent[0]["_conversation"] == CONVERSATION


async def test_throttling_is_retried_honouring_retry_after(
    notifier: Notifier, channel: ChannelFake
) -> None:
    channel.failures = [(429, {"Retry-After": "0.3"}), (502, {})]
    started = time.monotonic()
    await notifier.post(CONVERSATION, MessageFactory.text("done"))
    assert time.monotonic() - started >= 0.3
    assert channel.calls == 3
    assert [a["text"] for a in channel.sent] == ["done"]


async def test_other_errors_are_not_retried(notifier: Notifier, channel: ChannelFake) -> None:
    channel.failures = [(403, {})]
    with pytest.raises(Exception):  # noqa: B017 - the connector's own error type
        await notifier.post(CONVERSATION, MessageFactory.text("nope"))
    assert channel.calls == 1 and channel.sent == []


async def test_unknown_conversation(notifier: Notifier) -> None:
    with pytest.raises(UserError):
        await notifier.post("never-seen", MessageFactory.text("hello"))


async def test_stays_under_seven_messages_per_second(
    notifier: Notifier, channel: ChannelFake
) -> None:
    started = time.monotonic()
    for n in range(8):
        await notifier.post(CONVERSATION, MessageFactory.text(f"m{n}"))
    assert time.monotonic() - started >= 1.0
    assert len(channel.sent) == 8
