"""The 15-day inactivity rule in sped-up sandbox time: one warning 48 hours before, which survives a
restart of the bot; "Keep alive" restarts the clock; an expired deployment is offered again."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from tests.channel import Activity, ChannelFake, Conversation, buttons, card_text
from tests.e2e.test_deployment import deploy_and_wait, trained_model, updated
from tests.harness import bot_settings, running_bot
from tests.training_flow import wait_until

DAY, HOUR = 86_400.0, 3_600.0
NAME = "gpt-4o-mini-teacher"
WARNING = "will be deleted for inactivity"
SPEEDUP = 80_000.0
"""15 sandbox days last 16 s; the warning comes 13 sandbox days (14 s) after the deployment."""


def is_warning(activity: Activity) -> bool:
    return activity["_op"] == "post" and WARNING in card_text(activity)


async def sandbox_time(session: aiohttp.ClientSession, bot_url: str) -> float:
    """The embedded sandbox's clock: every answer of the sandbox carries it (docs/sandbox.md)."""
    async with session.get(f"{bot_url}/sandbox/") as response:
        return float(response.headers["x-sandbox-time"])


def idle_days(listing: str) -> float:
    found = re.search(r"idle (\d+\.\d) days, (\d+\.\d) days left of 15", listing)
    assert found, listing
    return float(found.group(1))


async def test_warned_once_across_a_restart_and_kept_alive(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    settings = bot_settings(tmp_path / "data", sandbox_speedup=SPEEDUP)
    async with running_bot(settings) as url:
        job, model = await trained_model(url, tmp_path)
        chat = Conversation(url, channel, session)
        await deploy_and_wait(chat, {"verb": "deploy", "model": model, "job": job})
        deployed = await sandbox_time(session, url)
        warning = await chat.reply(is_warning, seconds=30)
        text = card_text(warning)
        assert NAME in text and model in text and "Keep alive" in text and "Delete now" in text
        # warned 48 h before Azure's 15 days, so after about 13 idle days (Babel: 13.0 reads
        # "13 days"); at this sandbox speed a real second is most of a day, so a busy machine's
        # late look shows more, but always before the deletion
        shown = re.search(r"No completion for\n(\d+(?:\.\d)?) days", text)
        assert shown and 12.9 <= float(shown.group(1)) < 15, text

    # the bot restarts: the warning of this idle period is not sent again
    restarted = bot_settings(tmp_path / "data", sandbox_speedup=SPEEDUP)
    async with running_bot(restarted) as url:
        chat.bot_url = url
        await chat.press(warning, "Keep alive")
        kept = await chat.reply(lambda a: "is kept alive" in (a.get("text") or ""))
        assert kept["text"].startswith(f"`{NAME}` is kept alive")
        await chat.reply(updated(warning["id"], f"{NAME} kept alive"))
        assert idle_days(card_text(await chat.say("deployments"))) < 1.0

        # past the first period's deadline (sandbox time, which stood still while the bot was
        # down), Azure (the sandbox) still has it, and no second warning
        deadline = deployed + 15 * DAY + HOUR

        async def past_deadline() -> bool:
            return await sandbox_time(session, url) >= deadline

        await wait_until(past_deadline)
        listing = card_text(await chat.say("deployments"))
        assert NAME in listing and idle_days(listing) < 13.0
        assert len([a for a in chat.replies() if is_warning(a)]) == 1


async def test_deleted_for_inactivity_is_offered_again(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    settings = bot_settings(tmp_path / "data", sandbox_speedup=2_000_000.0)
    async with running_bot(settings) as url:
        job, model = await trained_model(url, tmp_path)
        chat = Conversation(url, channel, session)
        await deploy_and_wait(chat, {"verb": "deploy", "model": model, "job": job})
        notice = await chat.reply(
            lambda a: "was deleted for inactivity" in card_text(a), seconds=15
        )
        assert model in card_text(notice) and "Redeploy" in buttons(notice)
        gone = await chat.say(f"chat {NAME}")
        assert "was deleted for inactivity" in card_text(gone)
        await chat.press(gone, "Redeploy")
        again = await chat.reply()
        assert f"Deploy {NAME}?" in card_text(again) and model in card_text(again)
        listing = card_text(await chat.say("deployments"))
        assert "There are no deployments" in listing and f"Azure deleted {NAME} after" in listing
