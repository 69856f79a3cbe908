"""Files in channels and group chats: read through Microsoft Graph, or sent in a personal chat.

The bot runs as `make run` does (no app registration, the embedded sandbox), so it reads the
sandbox's Graph stand-in with the sandbox's secret. A person's side goes through the same
stand-in: the team and chat are declared in the sandbox's tenant, the file is uploaded and the
message posted with the person's delegated token (sandbox/post_file.py), and Teams' activity for
that message comes through the channel fake. (The bot's app-only sign-in for the real Graph is
covered by tests/e2e/test_doctor.py, against the loopback login.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.post_file import (
    Channel,
    GraphClient,
    Person,
    Posted,
    activity_fields,
    channel_data,
    post_in_channel,
    post_in_chat,
    thread_id,
)
from skills.sample import SAMPLE_FILES
from tests.channel import Activity, ChannelFake, Conversation, buttons, card_of, card_text
from tests.harness import SANDBOX_TOKEN, bot_settings, running_bot
from tests.training_flow import SAMPLE as SAMPLE_DIR

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ANA = Person("0a11ce00-0000-4000-8000-000000000001", "Ana")
LAB = Channel(
    "19:team0123@thread.tacv2",
    "0f5b5b8e-7a55-4c0c-9a4d-2f6a2b0c1d11",  # the team's Microsoft 365 group id
    "19:general0123456789@thread.tacv2",
    "General",
    "Lab",
)
CHAT = "19:3f2e1d0c9b8a4f6e@thread.v2"
SAMPLE = [SAMPLE_DIR / name for name in SAMPLE_FILES]


def bot(chat: Conversation) -> Person:
    return Person(chat.bot["id"], chat.bot["name"])


@pytest.fixture
async def graph(bot_url: str, session: aiohttp.ClientSession) -> GraphClient:
    """The bot's embedded sandbox, its tenant holding the team Lab and a group chat, Ana in both."""
    client = GraphClient(session, f"{bot_url}/sandbox", SANDBOX_TOKEN)
    await client.declare_team(LAB, [ANA])
    await client.declare_chat(CHAT, [ANA])
    return client


def member(conversation: Callable[..., Conversation], kind: str, **kw: Any) -> Conversation:
    """Ana in Teams, in a channel or group chat."""
    return conversation(conversation_type=kind, channel_id="msteams", aad_object_id=ANA.id, **kw)


def teams_activity(
    chat: Conversation, posted: Posted, data: dict[str, Any] | None = None
) -> Activity:
    """What Teams sends for a message that mentions the bot, in the conversation `chat.id` (the
    rest of the activity is the conversation's own)."""
    conversation = {"id": chat.id, "conversationType": chat.conversation_type, "tenantId": TENANT}
    return activity_fields(posted, bot(chat), conversation, data or {"tenant": {"id": TENANT}})


async def checked(chat: Conversation, fields: Activity) -> Activity:
    """Send the message; the check card's final state (or the answer, when none started)."""
    fields = dict(fields)
    return await chat.checked(str(fields.pop("text")), **fields)


async def test_a_file_posted_in_a_channel_is_read_through_graph(
    graph: GraphClient, conversation: Callable[..., Conversation]
) -> None:
    chat = member(conversation, "channel")
    posted = await post_in_channel(graph, ANA, LAB, SAMPLE, bot(chat))
    chat.id = thread_id(LAB.id, posted.message)
    report = await checked(chat, teams_activity(chat, posted, channel_data(LAB, TENANT)))
    assert "Ready to train" in card_text(report), card_text(report)
    assert "training_set.jsonl" in card_text(report) and "Start training" in buttons(report)
    # (Teams sent only the HTML: the files came from the sandbox's Graph)


async def test_a_reply_in_a_thread_and_a_group_chat_have_their_own_paths(
    graph: GraphClient,
    channel: ChannelFake,
    conversation: Callable[..., Conversation],
    tmp_path: Path,
) -> None:
    thread = member(conversation, "channel")
    root = await post_in_channel(graph, ANA, LAB, SAMPLE[:1], bot(thread))
    reply = await post_in_channel(graph, ANA, LAB, SAMPLE[:1], bot(thread), reply_to=root.message)
    thread.id = thread_id(LAB.id, root.message)
    data = channel_data(LAB, TENANT)
    del data["team"]["aadGroupId"]  # then the bot asks Teams for the team's group id
    channel.teams[LAB.team] = LAB.group
    report = await checked(thread, teams_activity(thread, reply, data))
    assert "Ready to train" in card_text(report)  # read at .../messages/{root}/replies/{id}

    # A message may also carry `reference` attachments: not links the bot could fetch itself
    second = await post_in_channel(graph, ANA, LAB, SAMPLE[:1], bot(thread), reply_to=root.message)
    with_reference = teams_activity(thread, second, data)
    with_reference["attachments"].append(
        {"contentType": "reference", "contentUrl": "https://contoso.sharepoint.com/x", "name": "t"}
    )
    assert "Ready to train" in card_text(await checked(thread, with_reference))

    group = member(conversation, "groupChat")
    group.id = CHAT
    notes = tmp_path / "notes.csv"
    notes.write_bytes(b"a,b\n")
    posted = await post_in_chat(graph, ANA, CHAT, [notes], bot(group))
    answer = await checked(group, teams_activity(group, posted))
    assert answer["text"] == (
        "notes.csv is not a JSONL file; attach a .jsonl file with one JSON example per line."
    )


async def test_without_consent_the_personal_chat_reports_to_the_channel(
    graph: GraphClient, channel: ChannelFake, conversation: Callable[..., Conversation]
) -> None:
    lab = Channel(LAB.team, LAB.group, LAB.id, "Lab", LAB.team_name)
    await graph.declare_team(lab, [ANA], consent=False)  # the owner did not grant the app's RSC
    chat = member(conversation, "channel", user_id="29:ana")
    posted = await post_in_channel(graph, ANA, lab, SAMPLE, bot(chat))
    chat.id = thread_id(LAB.id, posted.message)
    answer = await checked(chat, teams_activity(chat, posted, channel_data(lab, TENANT)))
    text = card_text(answer).strip()
    assert text.startswith("Microsoft Graph did not let me read that message. In channels")
    assert "in Lab too" in text
    [link] = [a for a in card_of(answer)["actions"] if a["type"] == "Action.OpenUrl"]
    # no app registration: the bot's id in the channel names it
    assert link["url"] == f"https://teams.microsoft.com/l/chat/0/0?users=28:{chat.bot['id']}"

    personal = member(conversation, "personal", user_id="29:ana")  # the same person
    await personal.say("sample")
    offer = await personal.reply(lambda a: "Validate these" in buttons(a))
    before = len([a for a in channel.sent if a["_conversation"] == chat.id])
    await personal.press(offer, "Validate these")
    said = await personal.reply(lambda a: "as you asked there" in (a.get("text") or ""))
    assert said["text"] == "The report goes to Lab too, as you asked there."
    posted_there = await chat.channel.wait_for(
        lambda a: a["_conversation"] == chat.id and "Start training" in buttons(a),
        start=0,
        seconds=30,
    )
    assert "Ready to train" in card_text(posted_there)
    assert len([a for a in channel.sent if a["_conversation"] == chat.id]) == before + 1
    again = member(conversation, "personal", user_id="29:ana")
    again.id = personal.id
    await again.press(offer, "Validate these")  # the relay was taken once
    await again.reply(lambda a: "Start training" in buttons(a), 30)
    assert len([a for a in channel.sent if a["_conversation"] == chat.id]) == before + 1


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", {})


@pytest.mark.parametrize("settings_overrides", [{"max_file_bytes": 1000}], indirect=True)
async def test_a_file_over_the_limit_through_graph_is_refused_on_its_card(
    graph: GraphClient, conversation: Callable[..., Conversation], tmp_path: Path
) -> None:
    chat = member(conversation, "groupChat")
    chat.id = CHAT
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"{}\n" * 2000)
    posted = await post_in_chat(graph, ANA, CHAT, [big], bot(chat))
    card = await checked(chat, teams_activity(chat, posted))
    assert "big.jsonl is larger than the 1,000 byte limit" in card_text(card)


@pytest.fixture
async def on_azure(tmp_path: Path) -> AsyncIterator[str]:
    """A bot without an app registration on Azure (no sandbox): it has no Graph at all."""
    settings = bot_settings(
        tmp_path / "azure",
        azure_openai_endpoint="https://aoai-lab.openai.azure.com/",
        azure_openai_api_key="k" * 32,
    )
    async with running_bot(settings) as url:
        yield url


async def test_without_graph_a_channel_file_gets_one_clear_answer(
    on_azure: str, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    chat = Conversation(
        on_azure, channel, session, conversation_type="channel", channel_id="msteams"
    )
    posted = Posted("1733100000003", "1733100000003", '<attachment id="abc"></attachment>', [])
    answer = await checked(chat, teams_activity(chat, posted))
    assert (
        card_text(answer)
        .strip()
        .startswith(
            "Without an app registration I cannot read files in channels. In channels and group "
            "chats Teams keeps files on SharePoint or OneDrive"
        )
    )
    [link] = [a for a in card_of(answer)["actions"] if a["type"] == "Action.OpenUrl"]
    assert link["url"] == "https://teams.microsoft.com/l/chat/0/0?users=28:bot-1"
