"""The storage compatibility fixture: a state folder and a Blob dump written by the bot's own code.

`tools/in-netns .venv/bin/python -m tests.state_fixture [FOLDER]` (Azurite installed, as `make
test` does) writes into FOLDER (a scratch folder, to compare) or `tests/data/state/`:

- `sqlite/`: a data folder (`FTBOT_DATA_DIR`) as the bot leaves it: `state.sqlite3`, the kept
  `datasets/` and the embedded sandbox's `sandbox/`. It is made by a real session through the
  channel fake: a greeting, `sample`, `validate`, `train` (one job finished and announced, one
  still running when the bot stops), `deploy`, `chat`, `provision`, `roles`, `keys rotate`,
  `teardown`, `audit`, `language`, and questions left unanswered (train, cancel, delete, keys,
  teardown, purge). The two records no short session reaches are written through their own code:
  a channel relay (a `ChannelRelay`, as `FileChecks.ask_relay` writes it) and an idle warning's
  claim (`Claims.at_most_once`).
- `blob.json`: the same records as `BlobStorage` writes them on Azurite (the records container):
  each blob's name, body, content type and metadata, to upload back (`upload_blobs`).
- `records.json`: every record: its key -> the kind that reads it and its JSON value.

`tests/e2e/test_state_compat.py` reads all of it back with the current code.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient

from infra.blob import BlobAccount, BlobStorage
from infra.records import RecordStore
from infra.storage import SqliteStorage, Write
from skills.checks import ChannelRelay
from skills.claims import Claims
from skills.deployment.records import DeploymentRecord, idle_warning_claim
from tests.azurite import running_azurite
from tests.channel import Activity, ChannelFake, Conversation, buttons, card_text
from tests.e2e.test_deployment import updated
from tests.harness import HTTP_TIMEOUT, bot_settings, running_bot
from tests.record_kinds import kind_of, prefixes
from tests.training_flow import (
    FAST,
    is_job_card,
    job_cards,
    job_id_of,
    notices,
    train,
    validate_samples,
    wait_until,
)

HERE = Path(__file__).resolve().parent / "data" / "state"
SQLITE = HERE / "sqlite"
BLOBS = HERE / "blob.json"
RECORDS = HERE / "records.json"
CONTAINER = "ftbot-state"
BOT_PORT = 3978
"""The bot's port (`make run`'s): records of the embedded sandbox's resources carry endpoints on
it, so a bot that resumes their work listens there again."""
CHANNEL_PORT = 3979
"""The channel fake's port: the stored conversation references' `serviceUrl`."""

ADA = "0a11ce00-0000-4000-8000-000000000001"
MIN = "0b0b0000-0000-4000-8000-000000000002"
PERSONAL = "a:1ftbot-fixture-ada"
"""Ada's personal chat (Teams): sample, validate, train, deploy, chat."""
KOREAN = "a:1ftbot-fixture-min"
"""Min's personal chat: `language ko`."""
LAB = "19:lab-general@thread.tacv2"
"""A channel of team-1, whose resource is aoai-lab2 (provision, roles, keys, questions)."""
OLD_LAB = "19:old-lab-general@thread.tacv2"
"""A channel of team-2: aoai-lab3 provisioned, torn down, then asked to be purged."""

# -- the session ----------------------------------------------------------------------------------


def _chat(
    url: str,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    conversation: str,
    **options: Any,
) -> Conversation:
    chat = Conversation(url, channel, session, channel_id="msteams", **options)
    chat.id = conversation
    return chat


async def _ask(chat: Conversation, text: str, button: str) -> Activity:
    """Say `text`; its card, which has `button` (a question left unanswered, or to press)."""
    card = await chat.say(text)
    assert button in buttons(card), card_text(card)
    return card


async def _confirm(chat: Conversation, text: str, button: str, done: str) -> Activity:
    """Say `text`, press `button` on its card, wait until the card says `done`."""
    card = await _ask(chat, text, button)
    await chat.press(card, button)
    return await chat.reply(updated(card["id"], done), seconds=120)


def _ada(
    url: str, channel: ChannelFake, session: aiohttp.ClientSession, where: str
) -> Conversation:
    kind = "personal" if where == PERSONAL else "channel"
    team = {LAB: "team-1", OLD_LAB: "team-2"}.get(where)
    return _chat(
        url,
        channel,
        session,
        where,
        conversation_type=kind,
        user_id="29:ada",
        aad_object_id=ADA,
        user_name="Ada Admin",
        team_id=team,
    )


async def _first_run(data: Path, channel: ChannelFake, session: aiohttp.ClientSession) -> str:
    """Everything but the running job, in sandbox time sped up; returns the deployed model's
    job id."""
    settings = bot_settings(data, **{**FAST, "sandbox_speedup": 3000.0, "port": BOT_PORT})
    async with running_bot(settings) as url:
        ada = _ada(url, channel, session, PERSONAL)
        await ada.post(ada.activity(type="conversationUpdate", membersAdded=[ada.user, ada.bot]))
        await ada.reply()  # the welcome card
        await ada.say("sample")
        await ada.reply(lambda a: "Validate these" in buttons(a), 30)
        await validate_samples(ada)
        await ada.press(await train(ada), "Confirm training")
        await wait_until(lambda: notices(ada), 120)
        job = job_id_of(channel, job_cards(ada)[-1]["id"])
        assert job is not None
        await _confirm(ada, f"deploy {job} name=teacher", "Deploy", "is deployed")
        await ada.say("chat teacher")
        answer = await ada.say("What is AI?")
        assert answer.get("text"), answer
        await ada.say("end")
        await ada.say("chat teacher")
        await ada.say("What is a fine-tuned model?")
        await _ask(ada, "delete teacher", "Delete")
        await train(ada)  # a training question left unanswered

        lab = _ada(url, channel, session, LAB)
        await _confirm(lab, "<at>FineTuneBot</at> provision name=aoai-lab2", "Create", "is ready")
        await lab.say("<at>FineTuneBot</at> roles me")
        await _confirm(
            lab,
            "<at>FineTuneBot</at> keys rotate key1",
            "Regenerate KEY1",
            "KEY1 of aoai-lab2 was regenerated",
        )
        await _ask(lab, "<at>FineTuneBot</at> keys rotate key2", "Regenerate KEY2")
        await _ask(lab, "<at>FineTuneBot</at> teardown", "Delete all of it")

        old = _ada(url, channel, session, OLD_LAB)
        await _confirm(old, "<at>FineTuneBot</at> provision name=aoai-lab3", "Create", "is ready")
        await _confirm(
            old,
            "<at>FineTuneBot</at> teardown",
            "Delete all of it",
            "Teardown of aoai-lab3 is done",
        )
        await _ask(old, "<at>FineTuneBot</at> purge aoai-lab3", "Purge")
        await _ask(old, "<at>FineTuneBot</at> provision name=aoai-lab4", "Create")
        await old.say("<at>FineTuneBot</at> audit")

        min_ = _chat(
            url,
            channel,
            session,
            KOREAN,
            user_id="29:min",
            aad_object_id=MIN,
            user_name="Min-jun",
        )
        await min_.say("language ko")
        await min_.say("help")
        return job


async def _second_run(data: Path, channel: ChannelFake, session: aiohttp.ClientSession) -> None:
    """A job still running when the bot stops (on the watch list), and a cancel not answered;
    sandbox time slowed down, so the job is far from done when the bot stops."""
    settings = bot_settings(data, **{**FAST, "sandbox_speedup": 0.5, "port": BOT_PORT})
    async with running_bot(settings) as url:
        ada = _ada(url, channel, session, PERSONAL)
        await ada.press(await train(ada, "train epochs=2 suffix=second"), "Confirm training")
        card = await ada.reply(lambda a: a["_op"] == "post" and is_job_card(a), 30)
        job = await wait_until(lambda: job_id_of(channel, card["id"]), 120)
        await _ask(ada, f"cancel {job}", "Cancel the job")


async def _by_hand(data: Path) -> None:
    """The two records a short session does not reach, written by their own code."""
    storage = SqliteStorage(data / "state.sqlite3")
    records = RecordStore(storage)
    try:
        now = time.time()
        await records.put(  # what FileChecks.ask_relay stores
            ChannelRelay(
                token="29:ada",
                conversation=LAB,
                user="29:ada",
                created_at=now,
                expires_at=now + 24 * 3600.0,
                name="General",
            )
        )
        [deployment] = await records.all(DeploymentRecord)

        async def send() -> str:
            return "bot-idle-warning"

        claim = idle_warning_claim(deployment.resource, deployment.name, deployment.idle_since)
        await Claims(records).at_most_once(claim, send)
    finally:
        await storage.close()


# -- the stores -----------------------------------------------------------------------------------


async def _stored(data: Path) -> dict[str, dict[str, Any]]:
    storage = SqliteStorage(data / "state.sqlite3")
    try:
        return {key: item.value for key, item in (await storage.scan("")).items()}
    finally:
        await storage.close()


def _check(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every key read by its kind (as records.json says), and every kind present."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in sorted(items.items()):
        prefix, kind = kind_of(key)
        assert kind.model_validate(value).model_dump(mode="json") == value, key
        out[key] = {"kind": kind.__name__, "value": value}
    missing = {prefix for prefix, _ in prefixes()} - {kind_of(key)[0] for key in items}
    assert not missing, f"no record under {sorted(missing)}"
    return out


async def _dump_blobs(items: dict[str, dict[str, Any]], settings_dir: Path) -> list[Any]:
    """The records as BlobStorage writes them on Azurite; the blobs as they are stored."""
    with running_azurite() as connection:
        settings = bot_settings(settings_dir, state="blob", storage_connection_string=connection)
        storage = BlobStorage(BlobAccount(settings), CONTAINER, own_account=True)
        try:
            await storage.write({key: Write(value) for key, value in items.items()})
        finally:
            await storage.close()
        async with ContainerClient.from_connection_string(connection, CONTAINER) as container:
            blobs = []
            async for blob in container.list_blobs(include=["metadata"]):
                body = await (await container.download_blob(blob.name)).readall()
                blobs.append(
                    {
                        "name": blob.name,
                        "content_type": blob.content_settings.content_type,
                        "metadata": dict(blob.metadata or {}),
                        "body": body.decode("utf-8"),
                    }
                )
    return blobs


async def upload_blobs(connection: str, container: str, blobs: list[dict[str, Any]]) -> None:
    """Put the dumped blobs into `container` (created) as they were stored."""
    async with ContainerClient.from_connection_string(connection, container) as client:
        await client.create_container()
        for blob in blobs:
            await client.upload_blob(
                blob["name"],
                blob["body"].encode("utf-8"),
                metadata=blob["metadata"],
                content_settings=ContentSettings(content_type=blob["content_type"]),
            )


async def main(out: Path) -> None:
    """Write the fixture's three parts into `out`."""
    with tempfile.TemporaryDirectory(prefix="ftbot-fixture-") as folder:
        data = Path(folder) / "data"
        channel = ChannelFake()
        await channel.start(CHANNEL_PORT)
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
                await _first_run(data, channel, session)
                await _second_run(data, channel, session)
        finally:
            await channel.close()
        await _by_hand(data)
        items = _check(await _stored(data))
        blobs = await _dump_blobs({k: v["value"] for k, v in items.items()}, Path(folder))
        shutil.rmtree(out / SQLITE.name, ignore_errors=True)  # the sandbox's lock file stays out
        shutil.copytree(data, out / SQLITE.name, ignore=shutil.ignore_patterns("*.lock"))
    records = json.dumps(items, indent=1, ensure_ascii=False)
    (out / RECORDS.name).write_text(records + "\n", encoding="utf-8")
    lines = ",\n".join(json.dumps(blob, ensure_ascii=False) for blob in blobs)
    (out / BLOBS.name).write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    kinds = sorted({v["kind"] for v in items.values()})
    print(f"{len(items)} records of {len(kinds)} kinds, {len(blobs)} blobs: {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
