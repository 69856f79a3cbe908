"""Validator edge cases found by trying to break it, and the race of two people deleting the same
deployment."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from skills.sample import read_sample
from skills.validation import validate_file
from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_deployment import MODEL, deploy_and_wait, updated
from tests.harness import bot_settings, running_bot

GOOD = read_sample("training_set.jsonl").splitlines()[0]


def _errors(tmp_path: Path, bad: bytes) -> list[tuple[str, str]]:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join([GOOD] * 10 + [bad]) + b"\n")
    report = validate_file(path)
    return [(e.code, e.message) for e in report.errors]


@pytest.mark.parametrize(
    ("bad", "code", "message"),
    [
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "n": ' + b"9" * 5000 + b"}",
            "invalid_json",
            "the line is not JSON (a number has more than 4,300 digits)",
        ),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "weight": NaN}',
            "invalid_json",
            "the line is not JSON (NaN is not a JSON value)",
        ),
        (
            b'{"messages": [], "x": Infinity}',
            "invalid_json",
            "the line is not JSON (Infinity is not a JSON value)",
        ),
        (
            b'{"messages": [], "x": -1e999}',
            "invalid_json",
            "the line is not JSON (a number is too large)",
        ),
        (
            GOOD[:-1] + b', "messages": []}',
            "duplicate_key",
            "an object has the key 'messages' twice",
        ),
        (
            b'{"messages": [{"role": "user", "role": "system", "content": "x"}]}',
            "duplicate_key",
            "an object has the key 'role' twice",
        ),
    ],
    ids=["huge integer", "NaN", "Infinity", "overflow", "key twice", "nested key twice"],
)
def test_what_json_is_not(tmp_path: Path, bad: bytes, code: str, message: str) -> None:
    assert _errors(tmp_path, bad) == [(code, message)]
    assert "sys.set_int_max_str_digits" not in message


async def test_a_data_url_with_bad_base64_is_damaged(
    conversation: Callable[..., Conversation],
) -> None:
    """It used to become an empty file (and a report on nothing)."""
    damaged = {
        "contentType": "application/octet-stream",
        "contentUrl": "data:application/octet-stream;base64,@@@not*base64!!",
        "name": "t.jsonl",
    }
    reply = await conversation().checked("validate", attachments=[damaged])
    assert "I could not read t.jsonl: its content is damaged." in card_text(reply)
    encoded = base64.b64encode(read_sample("training_set.jsonl")).decode()
    fine = {**damaged, "contentUrl": f"data:application/jsonl;base64,{encoded}"}
    assert "Ready to train" in card_text(
        await conversation().checked("validate", attachments=[fine])
    )
    plain = {**damaged, "contentUrl": "data:," + "%7B%22a%22%3A1%7D%0A" * 3}
    assert "lines with the keys a" in card_text(
        await conversation().checked("validate", attachments=[plain])
    )


async def test_two_people_deleting_one_deployment_both_see_it_gone(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """The loser's card stayed on "Deleting..." for good."""
    # Azure deletes in 20 sandbox seconds, 4 s at this speed: both confirm while it goes on
    async with running_bot(bot_settings(tmp_path / "data", sandbox_speedup=5.0)) as url:
        ann = Conversation(url, channel, session, user_id="ann")
        bea = Conversation(url, channel, session, user_id="bea")
        ann.user["name"], bea.user["name"] = "Ann", "Bea"
        await deploy_and_wait(ann, f"deploy {MODEL} name=base")
        asked: list[dict[str, Any]] = []
        for chat in (ann, bea):
            asked.append(await chat.say("delete base"))
        for chat, ask in zip((ann, bea), asked, strict=True):
            await chat.press(ask, "Delete")
            await chat.reply(updated(ask["id"], "Deleting base"))
        ann_card = await ann.reply(updated(asked[0]["id"], "base is deleted"), seconds=30)
        bea_card = await bea.reply(updated(asked[1]["id"], "base is deleted"), seconds=30)
        assert card_text(ann_card).strip() == "base is deleted"
        assert "base is deleted (by Ann)" in card_text(bea_card)
        # one more, after it is gone: that card is told at once
        late = await bea.say("delete base")
        assert "There is no deployment `base`" in json.dumps(late)
