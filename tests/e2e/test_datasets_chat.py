"""Validation in chat: attachments in, report card out, as the Emulator and Teams send them; in
Korean for a Korean turn."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.datasets import FILE_CONSENT, FILE_INFO
from skills.sample import read_sample
from tests.adaptive_cards.test_validation_korean import all_korean, broken_chat
from tests.channel import ChannelFake, Conversation, button, card_of, card_text
from tests.korean import texts_of

TRAINING = read_sample("training_set.jsonl")
VALIDATION = read_sample("validation_set.jsonl")


def attachment(channel: ChannelFake, name: str, content: bytes, **serve: Any) -> dict[str, Any]:
    """An Emulator-style file attachment (a contentUrl the channel serves)."""
    url = channel.serve_file(name, content, **serve)
    return {"contentType": "application/octet-stream", "contentUrl": url, "name": name}


async def test_attached_files_get_a_report_card(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    files = [  # the validation file first: it is recognised by its name
        attachment(channel, "validation_set.jsonl", VALIDATION),
        attachment(channel, "training_set.jsonl", TRAINING),
    ]
    reply = await chat.checked("validate", attachments=files)
    shown = card_text(reply)
    assert "Ready to train" in shown
    assert shown.index("training_set.jsonl") < shown.index("validation_set.jsonl")
    assert "Estimated price" in shown and "an estimate" in shown
    start = button(reply, "Start training")
    assert start["verb"] == "train" and len(start["datasets"]) == 2


async def test_teams_file_download_info(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation(channel_id="msteams")
    url = channel.serve_file("training_set.jsonl", TRAINING)
    teams_file = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "training_set.jsonl",
        "content": {"downloadUrl": url, "uniqueId": "x", "fileType": "jsonl"},
    }
    reply = await chat.checked("<at>FineTuneBot</at> validate", attachments=[teams_file])
    assert "Ready to train" in card_text(reply)


async def test_sample_then_validate_these(conversation: Callable[..., Conversation]) -> None:
    chat = conversation()
    await chat.say("sample")
    offer = await chat.reply(lambda a: "Validate these" in json.dumps(a))
    files = [a for a in chat.replies() if a.get("attachments") and a is not offer]
    names = [f["name"] for a in files for f in a["attachments"]]
    assert names == ["training_set.jsonl", "validation_set.jsonl"]
    reply = await chat.checked("", value=button(offer, "Validate these"))
    assert "Ready to train" in card_text(reply)


async def test_a_file_without_text_is_offered_for_validation(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    offer = await chat.checked(
        "", attachments=[attachment(channel, "training_set.jsonl", TRAINING)]
    )
    assert "Got training_set.jsonl" in card_text(offer)
    reply = await chat.checked("", value=button(offer, "Validate"))
    assert "Ready to train" in card_text(reply)


async def test_a_bad_file_lists_its_errors(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    lines = TRAINING.splitlines()
    broken = b"\n".join([lines[0], b"{not json", b'{"messages": []}', *lines[1:]]) + b"\xff\n"
    reply = await chat.checked("validate", attachments=[attachment(channel, "train.jsonl", broken)])
    shown = card_text(reply)
    assert "Not ready to train" in shown
    assert "• Line 2: The line is not JSON (" in shown
    assert "• Line 3: Messages is missing, empty or not a list" in shown
    assert "invalid_json" not in shown and "missing_messages_list" not in shown  # words, no codes
    assert "Fix the file, then send it again with **validate**." in shown  # the next step
    assert "Start training" not in [a["title"] for a in card_of(reply)["actions"]]
    listed = await chat.say("", value=button(reply, "Show all errors"))
    assert listed["text"] == "All 3 problems found."
    (errors,) = listed["attachments"]
    assert errors["name"] == "errors.txt"
    content = base64.b64decode(errors["contentUrl"].partition(",")[2]).decode()
    assert content.splitlines() == [
        "train.jsonl line 2: invalid_json: the line is not JSON (Expecting property name "
        "enclosed in double quotes)",
        "train.jsonl line 3: missing_messages_list: messages is missing, empty or not a list",
        f"train.jsonl line {len(lines) + 2}: invalid_json: the line is not valid UTF-8",
    ]


async def test_in_teams_all_errors_come_as_text(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation(channel_id="msteams")
    broken = TRAINING + b"{not json\n"
    reply = await chat.checked("validate", attachments=[attachment(channel, "train.jsonl", broken)])
    listed = await chat.say("", value=button(reply, "Show all errors"))
    assert listed["text"].startswith(
        f"train.jsonl line {len(TRAINING.splitlines()) + 1}: invalid_json"
    )


@pytest.mark.parametrize(
    ("name", "content", "serve", "expected"),
    [
        ("notes.docx", b"PK\x03\x04", {}, "notes.docx is not a JSONL file"),
        (
            "training_set.jsonl",
            b"<!DOCTYPE html><html><body>Sign in</body></html>",
            {"content_type": "text/html"},
            "training_set.jsonl came back as a web page, not the file",
        ),
        (
            "training_set.jsonl",
            b"<html><head></head></html>",
            {},
            "training_set.jsonl came back as a web page, not the file",
        ),
    ],
)
async def test_bad_attachments_get_one_sentence(
    conversation: Callable[..., Conversation],
    channel: ChannelFake,
    name: str,
    content: bytes,
    serve: dict[str, Any],
    expected: str,
) -> None:
    reply = await conversation().checked(
        "validate", attachments=[attachment(channel, name, content, **serve)]
    )
    assert expected in card_text(reply)
    assert "Traceback" not in card_text(reply)


async def test_a_missing_download(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    gone = {
        "contentType": "application/octet-stream",
        "contentUrl": f"{channel.url}/files/nope",
        "name": "t.jsonl",
    }
    reply = await conversation().checked("validate", attachments=[gone])
    assert "I could not download t.jsonl (the server answered 404); attach it again." in card_text(
        reply
    )


async def test_validate_without_files_or_with_a_bad_model(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    reply = await chat.say("validate")
    assert reply["text"].startswith("Attach your training file")
    files = [attachment(channel, "training_set.jsonl", TRAINING)]
    reply = await chat.say("validate model=gpt-9", attachments=files)
    assert reply["text"].startswith("Unknown model `gpt-9`")


async def test_sample_in_teams_personal_chat_uses_file_consent(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation(channel_id="msteams", conversation_type="personal")
    await chat.say("sample")
    consent = await chat.reply(lambda a: bool(a.get("attachments")))
    cards = consent["attachments"]
    assert [c["contentType"] for c in cards] == [FILE_CONSENT, FILE_CONSENT]
    assert cards[0]["content"]["sizeInBytes"] == len(TRAINING)
    accept = chat.activity(
        type="invoke",
        name="fileConsent/invoke",
        value={
            "type": "fileUpload",
            "action": "accept",
            "context": cards[0]["content"]["acceptContext"],
            "uploadInfo": {
                "name": "training_set.jsonl",
                "uploadUrl": f"{channel.url}/upload/training_set.jsonl",
                "contentUrl": "https://contoso.sharepoint.com/training_set.jsonl",
                "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D",
                "fileType": "jsonl",
            },
        },
    )
    response = await chat.post(accept)
    assert response.status == 200
    shown = await chat.reply(lambda a: bool(a.get("attachments")))
    assert shown["attachments"][0]["contentType"] == FILE_INFO
    assert channel.uploads["training_set.jsonl"] == TRAINING
    decline = chat.activity(
        type="invoke",
        name="fileConsent/invoke",
        value={"action": "decline", "context": cards[1]["content"]["declineContext"]},
    )
    await chat.post(decline)
    assert (await chat.reply())["text"] == "OK, I won't send validation_set.jsonl."


async def test_a_korean_turn_gets_its_check_and_errors_in_korean(
    conversation: Callable[..., Conversation], channel: ChannelFake, tmp_path: Path
) -> None:
    """End to end: files attached in a Korean turn, the check that runs in the background, its
    report card, "Show all errors"; the same in English stays English."""
    content = broken_chat(tmp_path).read_bytes()
    chat = conversation()
    files = [attachment(channel, "training_set.jsonl", content)]
    first = await chat.say("validate", attachments=files, locale="ko-KR")
    all_korean(texts_of(first))
    report = await chat.reply(
        lambda a: a["id"] == first["id"] and a["_op"] == "update" and "actions" in json.dumps(a),
        30,
    )
    all_korean(texts_of(report))
    press = button(report, "모든 오류 보기")
    errors = await chat.say("", value=press, locale="ko-KR")
    all_korean(texts_of(errors))
    english_report = await chat.checked("validate", attachments=files, locale="en-US")
    assert "Not ready to train" in card_text(english_report)
