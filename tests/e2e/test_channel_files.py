"""Files in channels and group chats: read through Microsoft Graph, or sent in a personal chat.

The bot runs with an app id against the loopback Bot Framework cloud (tests/bot_framework_login.py,
which also signs the bot in for Graph) and the channel fake, which answers as Teams' Graph: the
message with its `reference` attachments and the SharePoint file behind a redirect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from skills.sample import SAMPLE_FILES, read_sample
from tests.bot_framework_login import ADMIN, APP_ID, TENANT, LoginServer
from tests.channel import Activity, ChannelFake, Conversation, buttons, card_of, card_text
from tests.harness import bot_settings, running_bot
from tests.training_flow import FAST

GROUP = "0f5b5b8e-7a55-4c0c-9a4d-2f6a2b0c1d11"  # the team's Microsoft 365 group id
CHANNEL = "19:general0123456789@thread.tacv2"
SAMPLE = {name: read_sample(name) for name in SAMPLE_FILES}


@pytest.fixture
async def teams(
    tmp_path: Path, channel: ChannelFake, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, LoginServer]]:
    """The bot with an app registration, its Graph at the channel fake; (bot URL, login)."""
    with LoginServer(tmp_path) as login:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(login.ca))  # MSAL's requests trust it
        settings = bot_settings(
            tmp_path / "data", **FAST, **login.settings(), graph_url=channel.graph_url
        )
        async with running_bot(settings) as url:
            yield url, login


def member(
    url: str, login: LoginServer, channel: ChannelFake, session: aiohttp.ClientSession, **kw: Any
) -> Conversation:
    """A signed-in Teams user (an admin) talking to the bot."""
    chat = Conversation(url, channel, session, channel_id="msteams", aad_object_id=ADMIN, **kw)
    chat.headers["Authorization"] = f"Bearer {login.channel_token(channel.url)}"
    return chat


def in_channel(chat: Conversation, html: str, message: str, **extra: Any) -> Activity:
    """`@FineTuneBot validate` with files, as Teams sends it from a channel: only the HTML."""
    return chat.activity(
        id=message,
        text="<at>FineTuneBot</at> validate",
        attachments=[{"contentType": "text/html", "content": html}],
        conversation={
            "id": chat.id,
            "conversationType": chat.conversation_type,
            "tenantId": TENANT,
        },
        entities=[{"type": "mention", "mentioned": chat.bot, "text": "<at>FineTuneBot</at>"}],
        **{"channelData": {"tenant": {"id": TENANT}}, **extra},
    )


def channel_data(name: str = "General") -> dict[str, Any]:
    """Teams' channelData of a channel message."""
    return {
        "team": {"id": "19:team0123@thread.tacv2", "aadGroupId": GROUP},
        "channel": {"id": CHANNEL, "name": name},
        "tenant": {"id": TENANT},
    }


async def checked(chat: Conversation, activity: Activity) -> Activity:
    """Post the activity; the check card's final state (or the answer, when none started)."""
    response = await chat.post(activity)
    assert response.status in (200, 201), response.status
    first = await chat.reply()
    if "Checking your files..." not in card_text(first):
        return first
    return await chat.reply(
        lambda a: a["id"] == first["id"] and "Checking your files..." not in card_text(a), 30
    )


async def test_a_file_attached_in_a_channel_is_read_through_graph(
    teams: tuple[str, LoginServer], channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    url, login = teams
    chat = member(url, login, channel, session, conversation_type="channel")
    root = "1733100000001"
    chat.id = f"{CHANNEL};messageid={root}"
    path = f"/teams/{GROUP}/channels/{CHANNEL}/messages/{root}"
    html = channel.post_to_graph(path, SAMPLE)
    report = await checked(chat, in_channel(chat, html, root, channelData=channel_data()))
    assert "Ready to train" in card_text(report), card_text(report)
    assert "training_set.jsonl" in card_text(report) and "Start training" in buttons(report)
    asked = [p for p, _ in channel.graph_requests]
    assert path in asked  # the message, by its ids
    assert sum(p.startswith("/shares/u!") for p in asked) == 2  # each file through Graph
    assert all(token.startswith("Bearer graph-token-") for p, token in channel.graph_requests[:3])
    assert login.graph_tokens == 1  # one token for the message and both files


async def test_a_reply_in_a_thread_and_a_group_chat_have_their_own_paths(
    teams: tuple[str, LoginServer], channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    url, login = teams
    thread = member(url, login, channel, session, conversation_type="channel")
    root, reply = "1733100000001", "1733100000077"
    thread.id = f"{CHANNEL};messageid={root}"
    path = f"/teams/{GROUP}/channels/{CHANNEL}/messages/{root}/replies/{reply}"
    html = channel.post_to_graph(path, {"training_set.jsonl": SAMPLE["training_set.jsonl"]})
    data = channel_data()
    del data["team"]["aadGroupId"]  # then the bot asks Teams for the team's group id
    channel.teams[data["team"]["id"]] = GROUP
    report = await checked(thread, in_channel(thread, html, reply, channelData=data))
    assert "Ready to train" in card_text(report)

    # A message may also carry `reference` attachments: not links the bot could fetch itself
    second = "1733100000078"
    path = f"/teams/{GROUP}/channels/{CHANNEL}/messages/{root}/replies/{second}"
    html = channel.post_to_graph(path, {"training_set.jsonl": SAMPLE["training_set.jsonl"]})
    with_reference = in_channel(thread, html, second, channelData=data)
    with_reference["attachments"].append(
        {"contentType": "reference", "contentUrl": "https://contoso.sharepoint.com/x", "name": "t"}
    )
    assert "Ready to train" in card_text(await checked(thread, with_reference))

    group = member(url, login, channel, session, conversation_type="groupChat")
    group.id = "19:3f2e1d0c9b8a4f6e@thread.v2"
    path = f"/chats/{group.id}/messages/1733100000123"
    html = channel.post_to_graph(path, {"notes.csv": b"a,b\n"})
    answer = await checked(group, in_channel(group, html, "1733100000123"))
    assert answer["text"] == (
        "notes.csv is not a JSONL file; attach a .jsonl file with one JSON example per line."
    )


async def test_without_graph_access_the_personal_chat_reports_to_the_channel(
    teams: tuple[str, LoginServer], channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    url, login = teams
    chat = member(url, login, channel, session, conversation_type="channel", user_id="29:ana")
    root = "1733100000002"
    chat.id = f"{CHANNEL};messageid={root}"
    html = channel.post_to_graph(f"/teams/{GROUP}/channels/{CHANNEL}/messages/{root}", SAMPLE)
    channel.graph_denied = True  # the team's owner did not grant the app's permissions
    answer = await checked(chat, in_channel(chat, html, root, channelData=channel_data("Lab")))
    text = card_text(answer).strip()
    assert text.startswith("Microsoft Graph did not let me read that message. In channels")
    assert "in Lab too" in text
    [link] = [a for a in card_of(answer)["actions"] if a["type"] == "Action.OpenUrl"]
    assert link["url"] == f"https://teams.microsoft.com/l/chat/0/0?users=28:{APP_ID}"

    personal = member(url, login, channel, session, user_id="29:ana")  # the same person
    await personal.say("sample")
    offer = await personal.reply(lambda a: "Validate these" in buttons(a))
    before = len([a for a in channel.sent if a["_conversation"] == chat.id])
    await personal.press(offer, "Validate these")
    said = await personal.reply(lambda a: "as you asked there" in (a.get("text") or ""))
    assert said["text"] == "The report goes to Lab too, as you asked there."
    posted = await chat.channel.wait_for(
        lambda a: a["_conversation"] == chat.id and "Start training" in buttons(a),
        start=0,
        seconds=30,
    )
    assert "Ready to train" in card_text(posted)
    assert len([a for a in channel.sent if a["_conversation"] == chat.id]) == before + 1
    again = member(url, login, channel, session, user_id="29:ana")
    again.id = personal.id
    await again.press(offer, "Validate these")  # the relay was taken once
    await again.reply(lambda a: "Start training" in buttons(a), 30)
    assert len([a for a in channel.sent if a["_conversation"] == chat.id]) == before + 1


async def test_a_file_over_the_limit_through_graph_is_refused_on_its_card(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoginServer(tmp_path) as login:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(login.ca))
        settings = bot_settings(
            tmp_path / "data",
            **login.settings(),
            graph_url=channel.graph_url,
            max_file_bytes=1000,
        )
        async with running_bot(settings) as url:
            chat = member(url, login, channel, session, conversation_type="groupChat")
            chat.id = "19:limit0123@thread.v2"
            path = f"/chats/{chat.id}/messages/1733100000999"
            html = channel.post_to_graph(path, {"big.jsonl": b"{}\n" * 2000})
            card = await checked(chat, in_channel(chat, html, "1733100000999"))
            assert "big.jsonl is larger than the 1,000 byte limit" in card_text(card)


async def test_without_an_app_registration_a_channel_file_gets_one_clear_answer(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation(conversation_type="channel", channel_id="msteams")
    html = '<p><at>FineTuneBot</at> validate</p><attachment id="abc"></attachment>'
    answer = await checked(chat, in_channel(chat, html, "1733100000003"))
    assert (
        card_text(answer)
        .strip()
        .startswith(
            "Without an app registration I cannot read files in channels. In channels and group "
            "chats Teams keeps files on SharePoint or OneDrive"
        )
    )
    assert "actions" not in card_of(answer)  # no app id: no link to a personal chat
