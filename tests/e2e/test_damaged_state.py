"""A damaged state store, as the bot meets it: a record that cannot be read is said in one log line
naming the store and the key, and moved aside; the bot starts, answers, and never falls back to
another resource in its place. A state file deleted under the running bot is noticed, said, and
written back, so the next start finds everything."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from infra.records import Aside
from infra.storage import SqliteStorage, Write
from skills.languages import LanguageChoice
from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_provisioning import ADMIN, confirm
from tests.harness import bot_settings, bot_state, running_bot

NOT_JSON = '{"conversation": "a:1", "job": "ftjob-'


async def damage(path: Path, values: dict[str, str]) -> None:
    """Store each text as it is under its key, as a bad disk or a hand edit would leave it."""
    storage = SqliteStorage(path)
    await storage.write({key: Write({}) for key in values})
    await storage.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.executemany("UPDATE items SET value = ? WHERE key = ?", [(v, k) for k, v in values.items()])
    db.close()


def said(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    """The log lines that name `key` as a record moved aside (none with a traceback)."""
    lines = [r for r in caplog.records if key in r.getMessage()]
    assert all(r.exc_info is None for r in lines)
    return [r.getMessage() for r in lines if "could not be read" in r.getMessage()]


async def test_a_record_that_is_not_json_does_not_stop_the_start(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, a non-JSON `seen/...` or `training/launch/...` value stopped the start with a
    JSONDecodeError traceback (the start scans both)."""
    caplog.set_level(logging.INFO)
    data = tmp_path / "data"
    store = data / "state.sqlite3"
    seen, launch = "seen/a:1/activity-1", "training/launch/" + "a" * 32
    await damage(store, {seen: "\x00\x01 torn write", launch: NOT_JSON})
    async with running_bot(bot_settings(data)) as url:
        chat = Conversation(url, channel, session)
        assert "help" in card_text(await chat.say("help")).lower()
    for key in (seen, launch):
        [line] = said(caplog, key)
        assert line.startswith(f"state store {store}: {key} could not be read (not JSON);")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with bot_state(data) as records:
        kept = {a.path: a.text for a in await records.all(Aside)}
    assert kept == {seen: "\x00\x01 torn write", launch: NOT_JSON}


@pytest.mark.parametrize(
    "value",
    [
        "not json at all",
        '{"scope": "team:team-1", "resource": {"account": "aoai-lab2"}}',  # JSON, wrong fields
    ],
)
async def test_a_damaged_current_resource_is_said_never_replaced_by_the_default(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    """Before, a non-JSON `resource/current/team:...` made every resource command of the team
    fail with an unexpected error, and a JSON one with wrong fields was ignored: the team worked
    on the settings' resource without a word."""
    caplog.set_level(logging.INFO)
    data = tmp_path / "data"
    key = "resource/current/team:team-1"
    await damage(data / "state.sqlite3", {key: value})
    async with running_bot(bot_settings(data, sandbox_speedup=3000.0)) as url:
        team = Conversation(
            url,
            channel,
            session,
            conversation_type="channel",
            team_id="team-1",
            aad_object_id=ADMIN,
        )
        for command in ("resource", "jobs", "deployments", "keys", "resource"):
            reply = await team.say(f"<at>FineTuneBot</at> {command}")
            assert reply["text"].startswith(
                "I could not read which Azure OpenAI resource this team or conversation works "
                "on (the record was damaged; I moved it aside as `damaged/resource/current/"
                "team:team-1@"
            ), (command, reply["text"])
            assert "aoai-sandbox" not in card_text(reply)
        [line] = said(caplog, key)
        assert line.startswith(f"state store {data / 'state.sqlite3'}: {key} could not be read")
        # another team is not touched; an admin chooses again and the team works on
        other = Conversation(url, channel, session, conversation_type="channel", team_id="team-2")
        assert "aoai-sandbox" in card_text(await other.say("<at>FineTuneBot</at> resource"))
        await confirm(team, "<at>FineTuneBot</at> provision name=aoai-lab9", "Create", "is ready")
        assert "aoai-lab9" in card_text(await team.say("<at>FineTuneBot</at> resource"))


async def test_a_state_file_deleted_under_the_running_bot_is_written_back(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, the bot kept writing into the deleted file, which vanished when it stopped: the
    next start made an empty state without a word."""
    caplog.set_level(logging.INFO)
    data = tmp_path / "data"
    store = data / "state.sqlite3"
    async with running_bot(bot_settings(data)) as url:
        chat = Conversation(url, channel, session, user_id="29:min")
        await chat.say("language ko")
        for path in data.glob("state.sqlite3*"):
            path.unlink()
        await chat.say("language en")  # written after the file was deleted
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [
            f"the state file {store} was deleted while the bot was running; the bot wrote back "
            "the state it holds, so nothing is lost"
        ]
    assert store.exists()
    async with bot_state(data) as records:
        choice = await records.get(LanguageChoice.of("29:min"))
        assert choice is not None and choice.language == "en"
        assert [r for r in await records.all(Aside)] == []
    async with running_bot(bot_settings(data)) as url:
        chat.bot_url = url
        reply = await chat.say("language")
        assert reply["text"].startswith("I write to you in English, as you chose.")
