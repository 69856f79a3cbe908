"""A restart in the middle of `provision` and of `teardown`: each resumes from its stage and
finishes on the one card that follows it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_deployment import updated
from tests.e2e.test_nothing_lost import audited
from tests.e2e.test_provisioning import ADMIN, clients
from tests.harness import bot_settings, running_bot

FAST = 3000.0
SLOW = 5.0
"""Sandbox time at this speed: an account takes 4 s to create, a deployment 4 s to delete."""


async def test_a_restart_mid_provision_resumes_and_finishes_on_its_card(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with running_bot(bot_settings(data, sandbox_speedup=SLOW)) as url:
        chat = Conversation(url, channel, session, aad_object_id=ADMIN)
        ask = await chat.say("provision name=aoai-lab2")
        await chat.press(ask, "Create")
        await chat.reply(updated(ask["id"], "Creating"), seconds=20)
    async with running_bot(bot_settings(data, sandbox_speedup=SLOW)) as url:
        chat.bot_url = url
        done = await chat.reply(updated(ask["id"], "aoai-lab2 is ready"), seconds=30)
        assert "/openai-accounts/aoai-lab2/" in card_text(done)
        assert [a for a in chat.replies() if a["_op"] == "post"] == [ask]
        async with clients(url, tmp_path) as azure:
            accounts = [
                a.name async for a in azure.cognitive.accounts.list_by_resource_group("sandbox")
            ]
        assert sorted(accounts) == ["aoai-lab2", "aoai-sandbox"]
        shown = card_text(await chat.say("audit"))
        assert audited(shown, "provision") == 1 and "done" in shown


async def test_a_restart_mid_teardown_resumes_and_finishes_on_its_card(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = bot_settings(data, sandbox_speedup=FAST)
    port = first.port  # the account's endpoint is on the embedded sandbox: it keeps its address
    async with running_bot(first) as url:
        chat = Conversation(url, channel, session, aad_object_id=ADMIN)
        ask = await chat.say("provision name=aoai-lab2")
        await chat.press(ask, "Create")
        await chat.reply(updated(ask["id"], "is ready"), seconds=30)
        deploy = await chat.say("deploy gpt-4o-mini-2024-07-18 name=base")
        await chat.press(deploy, "Deploy")
        await chat.reply(updated(deploy["id"], "is deployed"), seconds=30)
    async with running_bot(bot_settings(data, sandbox_speedup=SLOW, port=port)) as url:
        chat.bot_url = url
        ask = await chat.say("teardown")
        assert "deployment: base" in card_text(ask) and "account: aoai-lab2" in card_text(ask)
        await chat.press(ask, "Delete all of it")
        await chat.reply(updated(ask["id"], "deleting..."), seconds=20)
    async with running_bot(bot_settings(data, sandbox_speedup=SLOW, port=port)) as url:
        chat.bot_url = url
        done = await chat.reply(updated(ask["id"], "Teardown of aoai-lab2 is done"), seconds=40)
        assert "FAILED" not in card_text(done)
        async with clients(url, tmp_path) as azure:
            deleted = [a.name async for a in azure.cognitive.deleted_accounts.list()]
        assert deleted == ["aoai-lab2"]
        later = [a for a in chat.replies() if a["_op"] == "post" and "Teardown" in card_text(a)]
        assert later == [], "the teardown finished on the card that asked"
