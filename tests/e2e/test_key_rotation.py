"""`keys rotate` without a second of 401 (issue 28, finding 5): two instances on one Blob state,
and two admins rotating KEY1 and KEY2 of one resource at the same moment on one instance.

The 401s are counted where Azure would count them: every data-plane answer the sandbox gives
(its access log), including any the bot's own retry after a 401 would hide from users.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.azure import azure_clients
from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_deployment import updated
from tests.harness import bot_settings, client_settings, running_bot
from tests.sandbox_server import running_sandbox

NO_JOBS = "There are no jobs on this resource yet"
STILL_WORKS = "is the key that still works"
TOO = "was regenerated too since you asked"


@asynccontextmanager
async def sandbox_and_keys(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """An external sandbox (FTBOT_SANDBOX_URL) and the keys of its account."""
    async with running_sandbox(tmp_path / "sandbox", speedup=3000) as url:
        yield url, await keys(tmp_path, url)


async def keys(tmp_path: Path, sandbox_url: str) -> dict[str, str]:
    async with azure_clients(client_settings(tmp_path), sandbox_url=sandbox_url) as azure:
        found = await azure.cognitive.accounts.list_keys("sandbox", "aoai-sandbox")
    return {"key1": str(found.key1), "key2": str(found.key2)}


def answers(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The status of every data-plane answer the sandbox gave so far (its access log)."""
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    return [line.split('" ', 1)[1].split()[0] for line in lines if "/openai/" in line]


async def rotate(chat: Conversation, name: str) -> dict[str, Any]:
    """Ask to regenerate key `name`; the question card."""
    ask = await chat.say(f"keys rotate {name}")
    assert f"Regenerate {name.upper()} of aoai-sandbox?" in card_text(ask)
    return ask


async def test_two_admins_rotating_both_keys_at_once_cause_no_401(
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with sandbox_and_keys(tmp_path) as (sandbox_url, before):
        settings = bot_settings(
            tmp_path / "data", sandbox_url=sandbox_url, azure_openai_api_key=before["key1"]
        )
        async with running_bot(settings) as url:
            first = Conversation(url, channel, session, user_id="boss-1", user_name="Ann")
            second = Conversation(url, channel, session, user_id="boss-2", user_name="Bo")
            assert NO_JOBS in card_text(await first.say("jobs"))
            ask1, ask2 = await rotate(first, "key1"), await rotate(second, "key2")
            await asyncio.gather(
                first.press(ask1, "Regenerate KEY1"), second.press(ask2, "Regenerate KEY2")
            )
            done1 = card_text(await first.reply(updated(ask1["id"], "was regenerated"), 30))
            done2 = card_text(await second.reply(updated(ask2["id"], "was regenerated"), 30))
            assert NO_JOBS in card_text(await first.say("jobs"))
            assert NO_JOBS in card_text(await second.say("jobs"))
        after = await keys(tmp_path, sandbox_url)
    assert after["key1"] != before["key1"] and after["key2"] != before["key2"]
    # They took turns: the later card says the other key changed too, the earlier one that the
    # other key still works (true when it was sent).
    assert sorted([TOO in done1, TOO in done2]) == [False, True]
    assert sorted([STILL_WORKS in done1, STILL_WORKS in done2]) == [False, True]
    statuses = answers(caplog)
    assert statuses and "401" not in statuses


async def test_a_rotation_on_one_instance_causes_no_401_on_the_other(
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    tmp_path: Path,
    azurite: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    container = f"keys-{uuid.uuid4().hex[:12]}"
    async with sandbox_and_keys(tmp_path) as (sandbox_url, before):

        def settings(name: str) -> Any:
            return bot_settings(
                tmp_path / name,
                sandbox_url=sandbox_url,
                azure_openai_api_key=before["key1"],
                state="blob",
                storage_connection_string=azurite,
                state_container=container,
                instance=name,
            )

        async with running_bot(settings("one")) as one, running_bot(settings("two")) as two:
            admin = Conversation(one, channel, session)
            other = Conversation(two, channel, session)
            assert NO_JOBS in card_text(await other.say("jobs"))  # instance two uses KEY1
            ask = await rotate(admin, "key1")
            assert "I use KEY1 myself: I will switch to KEY2" in card_text(ask)
            await admin.press(ask, "Regenerate KEY1")
            done = await admin.reply(updated(ask["id"], "KEY1 of aoai-sandbox was regenerated"), 60)
            assert "I switched to KEY2 before regenerating" in card_text(done)
            assert NO_JOBS in card_text(await other.say("jobs"))
            assert "key auth with KEY2" in card_text(await other.say("keys"))
        after = await keys(tmp_path, sandbox_url)
    assert after["key1"] != before["key1"] and after["key2"] == before["key2"]
    statuses = answers(caplog)
    assert statuses and "401" not in statuses
