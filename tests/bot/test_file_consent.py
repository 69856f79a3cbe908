"""Teams' file consent answer is taken only as a `fileConsent/invoke` for a consent card the bot
sent in that conversation, once; the upload goes only where Teams keeps files, and the file card's
link comes from Teams' answer and is checked (never `javascript:`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.datasets import FILE_INFO
from infra.downloads import consent_upload_policy, is_file_link
from tests.channel import ChannelFake, Conversation
from tests.infra.test_downloads import target

NOT_OURS = "That file offer is not one I made here; type `sample` to get the files."


async def _offer(chat: Conversation) -> dict[str, Any]:
    """Say `sample` in Teams personal chat; the accept context of the first consent card."""
    await chat.say("sample")
    consent = await chat.reply(lambda a: bool(a.get("attachments")))
    context: dict[str, Any] = consent["attachments"][0]["content"]["acceptContext"]
    return context


def _answer(
    chat: Conversation, context: dict[str, Any], upload_url: str, **info: Any
) -> dict[str, Any]:
    upload = {
        "name": "training_set.jsonl",
        "uploadUrl": upload_url,
        "contentUrl": "https://contoso-my.sharepoint.com/personal/a/Documents/training_set.jsonl",
        "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D",
        "fileType": "jsonl",
        **info,
    }
    value = {"type": "fileUpload", "action": "accept", "context": context, "uploadInfo": upload}
    return chat.activity(type="invoke", name="fileConsent/invoke", value=value)


def _teams(conversation: Callable[..., Conversation]) -> Conversation:
    return conversation(channel_id="msteams", conversation_type="personal")


async def test_the_hidden_verb_no_longer_uploads(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    """A message carrying the old `file-consent` verb made the bot PUT anywhere it named."""
    chat = _teams(conversation)
    context = await _offer(chat)
    value = {
        "verb": "file-consent",
        "action": "accept",
        "context": {"sample": "training_set.jsonl", **context},
        "uploadInfo": {
            "uploadUrl": f"{channel.url}/upload/stolen.jsonl",
            "contentUrl": "javascript:alert(1)",
        },
    }
    reply = await chat.say("", value=value)
    assert reply["text"] == "That button no longer works; type `help` to see what I can do."
    assert channel.uploads == {}


@pytest.mark.parametrize(
    "context",
    [{"sample": "training_set.jsonl"}, {"offer": "0" * 32}, {"offer": ["x"]}, {}],
    ids=["the old context", "a made-up token", "a token of the wrong type", "none"],
)
async def test_an_offer_the_bot_never_made_is_refused(
    conversation: Callable[..., Conversation], channel: ChannelFake, context: dict[str, Any]
) -> None:
    chat = _teams(conversation)
    await _offer(chat)
    response = await chat.post(_answer(chat, context, f"{channel.url}/upload/t.jsonl"))
    assert response.status == 200
    assert (await chat.reply())["text"] == NOT_OURS
    assert channel.uploads == {}


async def test_an_offer_is_answered_once_and_only_where_it_was_made(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat, other = _teams(conversation), _teams(conversation)
    context = await _offer(chat)
    await other.post(_answer(other, context, f"{channel.url}/upload/elsewhere.jsonl"))
    assert (await other.reply())["text"] == NOT_OURS
    await chat.post(_answer(chat, context, f"{channel.url}/upload/training_set.jsonl"))
    shown = await chat.reply(lambda a: bool(a.get("attachments")))
    assert shown["attachments"][0]["contentType"] == FILE_INFO
    await chat.post(_answer(chat, context, f"{channel.url}/upload/again.jsonl"))
    assert (await chat.reply())["text"] == NOT_OURS
    assert list(channel.uploads) == ["training_set.jsonl"]


@pytest.mark.parametrize(
    "content_url",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "http://contoso.sharepoint.com/a.jsonl",
        "https://contoso.sharepoint.com.evil.test/a.jsonl",
        "https://evil.test/a.jsonl",
    ],
)
async def test_a_file_card_link_must_be_a_teams_file_link(
    conversation: Callable[..., Conversation], channel: ChannelFake, content_url: str
) -> None:
    chat = _teams(conversation)
    context = await _offer(chat)
    answer = _answer(chat, context, f"{channel.url}/upload/t.jsonl", contentUrl=content_url)
    await chat.post(answer)
    reply = await chat.reply()
    assert reply["text"].startswith("Teams' answer for training_set.jsonl is not one I can use")
    assert channel.uploads == {} and not reply.get("attachments")


async def test_local_mode_uploads_only_to_the_service_url_origin(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = _teams(conversation)
    context = await _offer(chat)
    async with target() as other:
        await chat.post(_answer(chat, context, f"{other.url}/upload/t.jsonl"))
        reply = await chat.reply()
        assert reply["text"] == "Teams did not take training_set.jsonl; type `sample` to try again."
        assert other.hits == 0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://contoso-my.sharepoint.com/personal/a/_api/v2.0/uploadSession?x=1", True),
        ("https://api.onedrive.com/rup/3a33fceb9b74cc15/eyJSZXNvdXJjZUlE", True),
        ("http://contoso-my.sharepoint.com/personal/a", False),
        ("https://sharepoint.com.evil.test/a", False),
        ("https://evilsharepoint.com/a", False),
        ("https://127.0.0.1/a", False),
        ("https://[::1]/a", False),
        ("https://169.254.169.254/a", False),
    ],
)
def test_production_uploads_go_to_onedrive_and_sharepoint_only(url: str, allowed: bool) -> None:
    from yarl import URL

    policy = consent_upload_policy(False, "https://smba.trafficmanager.net/amer/")
    assert policy.allows_url(URL(url)) is allowed
    assert is_file_link(url, False, "https://smba.trafficmanager.net/amer/") is allowed
