"""The edge of /api/messages: malformed activities get 400, one sentence and one log line, and
nothing of them reaches a turn."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.channel import ChannelFake, Conversation

DEEP = 5000


class Raw(bytes):
    """A body sent as these bytes (json.dumps cannot write it)."""


def _deep(activity: dict[str, Any]) -> Raw:
    text = json.dumps({**activity, "value": None})
    nested = "[" * DEEP + '"x"' + "]" * DEEP
    return Raw(text.replace('"value": null', f'"value": {nested}').encode())


def _with(activity: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = {**activity, **fields}
    return {k: v for k, v in changed.items() if v is not ...}


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("a top-level array", lambda a: [a]),
    ("a top-level string", lambda a: "help"),
    ("a top-level number", lambda a: 5),
    ("deep nesting", _deep),
    ("attachments as a string", lambda a: _with(a, attachments="x")),
    ("from as a number", lambda a: _with(a, **{"from": 5})),
    ("a bad timestamp", lambda a: _with(a, timestamp="yesterday at noon")),
    ("text as an object", lambda a: _with(a, text={"a": 1})),
    (
        "garbage membersAdded",
        lambda a: _with(a, type="conversationUpdate", membersAdded="everyone"),
    ),
    ("membersAdded of numbers", lambda a: _with(a, type="conversationUpdate", membersAdded=[5])),
    ("no conversation", lambda a: _with(a, conversation=...)),
    ("no serviceUrl", lambda a: _with(a, serviceUrl=...)),
    ("a public serviceUrl in local mode", lambda a: _with(a, serviceUrl="https://example.com/")),
    ("a serviceUrl that is no URL", lambda a: _with(a, serviceUrl="javascript:alert(1)")),
]


@pytest.mark.parametrize(("case", "make"), MALFORMED, ids=[case for case, _ in MALFORMED])
async def test_malformed_activities_get_400_with_one_sentence(
    conversation: Callable[..., Conversation],
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    case: str,
    make: Callable[[dict[str, Any]], Any],
) -> None:
    chat = conversation()
    activity = chat.activity(text="help")
    body = make(activity)
    caplog.set_level(logging.INFO)
    caplog.clear()
    url = f"{chat.bot_url}/api/messages"
    sent = body if isinstance(body, Raw) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    async with session.post(url, data=sent, headers=headers) as response:
        assert response.status == 400, case
        sentence = (await response.json())["error"]
    assert sentence.endswith(".") and sentence.count(". ") == 0 and "Traceback" not in sentence
    refusals = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refusals) == 1 and refusals[0].exc_info is None, [r.message for r in refusals]
    # Nothing reached a turn: the same activity id, well formed, is answered as a new one (a turn
    # would have claimed the id, and the bot would drop this as a redelivery).
    reply = await chat.say("help", id=activity["id"])
    assert "FineTune Ops commands" == reply.get("summary")
    assert chat.replies() == [reply]


async def test_a_public_service_url_is_refused_at_once(
    conversation: Callable[..., Conversation], session: aiohttp.ClientSession
) -> None:
    """In local mode nothing is sent to a serviceUrl off this machine (it took 14 s to fail)."""
    chat = conversation()
    body = chat.activity(text="help", serviceUrl="https://smba.trafficmanager.net/amer/")
    async with asyncio.timeout(5):
        async with session.post(f"{chat.bot_url}/api/messages", json=body) as response:
            assert response.status == 400
            assert "loopback" in (await response.json())["error"]


async def test_a_conversation_id_the_connector_cannot_carry_is_refused(
    conversation: Callable[..., Conversation], session: aiohttp.ClientSession
) -> None:
    """Found by tests/test_fuzz.py: a non-ASCII conversation id made every reply fail inside the
    turn (UnicodeEncodeError in a Connector header)."""
    chat = conversation()
    body = chat.activity(text="help", conversation={"id": "\U00103e16x"})
    async with session.post(f"{chat.bot_url}/api/messages", json=body) as response:
        assert response.status == 400
