"""`roles`, `keys` and who may use the resource commands: mentions resolved through the Teams
member lookup, the team's current resource, a rotation of the very key the bot uses, admins only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from infra.azure import azure_clients
from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_deployment import updated
from tests.e2e.test_provisioning import ADMIN, assignments, clients
from tests.harness import bot_settings, client_settings, running_bot
from tests.sandbox_server import running_sandbox

BOB = "0b0b0000-0000-4000-8000-000000000002"
ADMIN_COMMANDS = (
    "provision name=aoai-x",
    "resource",
    "roles",
    "roles me",
    "keys",
    "keys rotate key1",
    "teardown",
    "purge aoai-x",
    "audit",
)


async def test_roles_for_a_mention_in_a_team_channel_on_the_teams_resource(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(tmp_path / "data", sandbox_speedup=3000.0)) as url:
        general = Conversation(
            url,
            channel,
            session,
            conversation_type="channel",
            team_id="team-1",
            aad_object_id=ADMIN,
        )
        ask = await general.say("<at>FineTuneBot</at> provision name=aoai-lab2")
        await general.press(ask, "Create")
        await general.reply(updated(ask["id"], "is ready"), seconds=30)

        # another channel of the same team works on the team's resource
        other = Conversation(
            url,
            channel,
            session,
            conversation_type="channel",
            team_id="team-1",
            aad_object_id=ADMIN,
        )
        assert "aoai-lab2" in card_text(await other.say("<at>FineTuneBot</at> resource"))
        # a personal chat does not
        alone = Conversation(url, channel, session, aad_object_id=ADMIN)
        assert "aoai-sandbox" in card_text(await alone.say("resource"))

        bot = {"type": "mention", "mentioned": other.bot, "text": "<at>FineTuneBot</at>"}
        bob = channel.add_member("29:bob", "Bob", BOB)
        reply = await other.say("<at>FineTuneBot</at> roles <at>Bob</at>", entities=[bot, bob])
        assert f"Roles assigned for Bob ({BOB}) on aoai-lab2" in card_text(reply)
        async with clients(url, tmp_path) as azure:
            assert len(await assignments(azure, BOB)) == 4
        reply = await other.say(
            "<at>FineTuneBot</at> roles <at>Bob</at> remove", entities=[bot, bob]
        )
        assert card_text(reply).count("removed now") == 4
        async with clients(url, tmp_path) as azure:
            assert await assignments(azure, BOB) == []

        stranger = {"type": "mention", "mentioned": {"id": "29:who", "name": "Who"}}
        reply = await other.say("<at>FineTuneBot</at> roles <at>Who</at>", entities=[bot, stranger])
        assert reply["text"].startswith("I could not look up `Who` in this conversation")


async def test_roles_me_without_an_object_id_asks_for_one(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(tmp_path / "data")) as url:
        chat = Conversation(url, channel, session)  # the Emulator sends no aadObjectId
        reply = await chat.say("roles me")
        assert reply["text"].startswith("Your client did not tell me your Entra ID object id")


async def test_rotating_the_key_the_bot_uses_switches_to_the_other_first(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """An external sandbox (FTBOT_SANDBOX_URL) and key auth with KEY2: `keys rotate key2`
    moves the bot to KEY1 before KEY2 changes, and a restart keeps using KEY1."""
    async with running_sandbox(tmp_path / "sandbox", speedup=3000) as sandbox_url:
        async with azure_clients(client_settings(tmp_path), sandbox_url=sandbox_url) as azure:
            before = await azure.cognitive.accounts.list_keys("sandbox", "aoai-sandbox")
        settings = bot_settings(
            tmp_path / "data", sandbox_url=sandbox_url, azure_openai_api_key=before.key2
        )
        async with running_bot(settings) as url:
            chat = Conversation(url, channel, session, aad_object_id=ADMIN)
            assert "key auth with KEY2" in card_text(await chat.say("keys"))
            ask = await chat.say("keys rotate key2")
            assert "I use KEY2 myself: I will switch to KEY1" in card_text(ask)
            await chat.press(ask, "Regenerate KEY2")
            done = await chat.reply(updated(ask["id"], "KEY2 of aoai-sandbox was regenerated"))
            assert "I switched to KEY1 before regenerating" in card_text(done)
            assert "There are no jobs on this resource yet" in card_text(await chat.say("jobs"))
            assert "key auth with KEY1" in card_text(await chat.say("keys"))
        async with azure_clients(client_settings(tmp_path), sandbox_url=sandbox_url) as azure:
            after = await azure.cognitive.accounts.list_keys("sandbox", "aoai-sandbox")
        assert after.key1 == before.key1 and after.key2 != before.key2
        async with running_bot(settings) as url:  # AZURE_OPENAI_API_KEY still names the old KEY2
            chat.bot_url = url
            assert "There are no jobs on this resource yet" in card_text(await chat.say("jobs"))


@pytest.mark.parametrize("settings_overrides", [{"admins": [ADMIN]}, {"trainers": ["trainer-1"]}])
async def test_only_admins_use_the_resource_commands(
    conversation: Callable[..., Conversation],
) -> None:
    """With FTBOT_TRAINERS alone, nobody is admin (before, everyone was)."""
    for user in ("someone", "trainer-1"):
        chat = conversation(user_id=user)
        for command in ADMIN_COMMANDS:
            reply = await chat.say(command)
            name = command.split()[0]
            assert reply["text"] == f"`{name}` needs the admin role; ask your admin to add you."
