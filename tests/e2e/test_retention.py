"""What the state store forgets while the bot runs (skills/retention.py): delivery ids a day
after, audit entries after FTBOT_AUDIT_DAYS. Before, `seen/` grew by one record per turn until the
next start, and audit entries were never removed."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from skills.audit import AuditEntry
from skills.records import Claim, delivery_claim
from tests.channel import ChannelFake, Conversation
from tests.harness import bot_settings, bot_state, running_bot
from tests.training_flow import wait_until

DAY = 24 * 3600.0


def entry(id_: str, days_ago: float) -> AuditEntry:
    at = time.time() - days_ago * DAY
    return AuditEntry(
        id=f"{int(at * 1000):015d}-{id_}",
        at=at,
        user="0a11ce00-0000-4000-8000-000000000001",
        user_name="Ada Admin",
        action="deploy",
        target="teacher",
    )


async def test_old_delivery_ids_and_audit_entries_go_while_the_bot_runs(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    data = tmp_path / "data"
    settings = bot_settings(data, sweep_seconds=0.2, audit_days=400)
    async with running_bot(settings) as url, bot_state(data) as records:
        chat = Conversation(url, channel, session)
        await chat.say("help")  # a turn of now: its id is kept
        [recent] = await records.all(Claim, "seen/")
        yesterday = Claim(
            path=delivery_claim(chat.id, "old"), state="done", at=time.time() - DAY - 60
        )
        kept, expired = entry("kept", 399), entry("expired", 401)
        await records.put(yesterday, kept, expired)

        async def swept() -> bool:
            # both, since a pass may have forgotten delivery ids just before these were put and
            # pruned the audit just after: the next pass takes the id
            gone = await records.get(expired.key()), await records.get(yesterday.key())
            return gone == (None, None)

        await wait_until(swept)
        assert await records.all(Claim, "seen/") == [recent]
        assert await records.all(AuditEntry) == [kept]
