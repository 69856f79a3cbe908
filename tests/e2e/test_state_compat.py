"""A state folder written by an earlier version loads unchanged, on SQLite and on Blob Storage.

The fixture (tests/data/state/, made by tests/state_fixture.py at the commit its README names)
holds at least one record of every kind. Each is read back by the kind its key's prefix names
today, through today's key builder (the same key) and class (the same JSON, nothing dropped or
defaulted but what the kind's migrations to its current layout change; a field the kind gained
since reads as its default). Then the bot starts on a copy of the folder and takes up the work it
left: the job it was watching is followed to its notice, and the records answer the commands
that read them.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.blob import BlobAccount, BlobStorage, blob_name
from infra.records import Key, Record, RecordStore
from infra.storage import SqliteStorage, Storage
from skills.confirmations import SWEEP_AFTER, Confirmations
from skills.records import Confirmation
from tests.channel import ChannelFake, Conversation, card_text
from tests.harness import bot_settings, running_bot
from tests.record_kinds import kind_of
from tests.state_fixture import (
    ADA,
    BLOBS,
    BOT_PORT,
    CHANNEL_PORT,
    KOREAN,
    LAB,
    MIN,
    PERSONAL,
    RECORDS,
    SQLITE,
    upload_blobs,
)
from tests.training_flow import FAST, is_notice

EXPECTED: dict[str, dict[str, Any]] = json.loads(RECORDS.read_text(encoding="utf-8"))


def _values() -> dict[str, dict[str, Any]]:
    return {key: item["value"] for key, item in EXPECTED.items()}


def _current(kind: type[Record], value: dict[str, Any]) -> dict[str, Any]:
    """A fixture record (written before layout versions: version 1) in the kind's current
    layout, through the kind's own migrations."""
    for version in range(1, kind.schema_version):
        value = kind.migrations[version](dict(value))
    return value


def _as_written(value: Any, written: Any) -> Any:
    """Today's JSON of a record (`value`) with only the fields the fixture's (`written`) has, at
    every depth: a field a kind gained since the fixture was written is left out (it reads as its
    default), so what was written must come back whole and unchanged."""
    if isinstance(value, dict) and isinstance(written, dict):
        return {k: _as_written(v, written[k]) for k, v in value.items() if k in written}
    if isinstance(value, list) and isinstance(written, list) and len(value) == len(written):
        return [_as_written(v, w) for v, w in zip(value, written, strict=True)]
    return value


async def _read_back(storage: Storage) -> None:
    """Every stored item is the fixture's, and reads back as its kind with the same key and JSON;
    each kind lists exactly its own records under its prefix."""
    stored = await storage.scan("")
    assert {key: item.value for key, item in stored.items()} == _values()
    records = RecordStore(storage)
    for key, expected in EXPECTED.items():
        _, kind = kind_of(key)
        assert kind.__name__ == expected["kind"], key
        record = await records.get(Key(kind, key))
        assert record is not None, key
        assert record.key().path == key
        current = _current(kind, expected["value"])
        assert _as_written(record.model_dump(mode="json"), current) == current, key
    for prefix in {kind_of(key)[0] for key in EXPECTED}:
        _, kind = kind_of(next(k for k in EXPECTED if k.startswith(prefix)))
        listed = [r.key().path for r in await records.all(kind, prefix)]
        assert listed == sorted(k for k in EXPECTED if k.startswith(prefix)), prefix


def test_the_fixture_holds_every_kind_and_the_records_a_session_leaves() -> None:
    """What the reads below rely on: the work left running, the answers and the choices."""
    kinds = {item["kind"] for item in EXPECTED.values()}
    assert len(kinds) == 29
    values = _values()
    [watched] = [v["job"] for k, v in values.items() if k.startswith("training/watch/")]
    assert values[f"training/jobs/{watched}"]["final"] is False
    assert values[f"language/{MIN}"]["language"] == "ko"
    assert (
        values[f"ref/{PERSONAL}"]["reference"]["serviceUrl"] == f"http://127.0.0.1:{CHANNEL_PORT}"
    )
    session = values[f"chat/{PERSONAL}/{ADA}"]
    assert [m["content"] for m in session["history"] if m["role"] == "user"] == [
        "What is a fine-tuned model?"
    ]
    teardowns = [v for k, v in values.items() if k.startswith("teardown/run/")]
    assert [t["finished"] for t in teardowns] == [True]


async def test_every_record_of_the_sqlite_folder_reads_back(tmp_path: Path) -> None:
    shutil.copytree(SQLITE, tmp_path / "data")
    storage = SqliteStorage(tmp_path / "data" / "state.sqlite3")
    try:
        await _read_back(storage)
    finally:
        await storage.close()


async def test_the_sweep_finds_every_kind_of_question(tmp_path: Path) -> None:
    """Each kind of question defines itself beside its workflow; the sweep at start finds them
    all: past their time, every question of the folder goes, and nothing else."""
    questions = {k for k in EXPECTED if issubclass(kind_of(k)[1], Confirmation)}
    assert len({kind_of(k)[1] for k in questions}) == 10
    late = max(EXPECTED[k]["value"]["expires_at"] for k in questions) + SWEEP_AFTER + 1
    shutil.copytree(SQLITE, tmp_path / "data")
    storage = SqliteStorage(tmp_path / "data" / "state.sqlite3")
    try:
        assert await Confirmations(RecordStore(storage), clock=lambda: late).sweep() == len(
            questions
        )
        assert set(await storage.scan("")) == set(EXPECTED) - questions
    finally:
        await storage.close()


async def test_every_record_of_the_blob_dump_reads_back(azurite: str, tmp_path: Path) -> None:
    blobs = json.loads(BLOBS.read_text(encoding="utf-8"))
    assert sorted(b["name"] for b in blobs) == sorted(blob_name(key) for key in EXPECTED)
    container = f"compat-{uuid.uuid4().hex[:12]}"
    await upload_blobs(azurite, container, blobs)
    settings = bot_settings(tmp_path, state="blob", storage_connection_string=azurite)
    storage = BlobStorage(BlobAccount(settings), container, own_account=True)
    try:
        await _read_back(storage)
    finally:
        await storage.close()


async def test_the_bot_starts_on_the_folder_and_resumes_its_work(
    tmp_path: Path, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The same host and channel as when the folder was written (the records carry the embedded
    sandbox's endpoints on the bot's port, the references the channel's address)."""
    caplog.set_level(logging.WARNING)
    data = tmp_path / "data"
    shutil.copytree(SQLITE, data)
    values = _values()
    [watched] = [v["job"] for k, v in values.items() if k.startswith("training/watch/")]
    jobs = sorted(v["job"] for k, v in values.items() if k.startswith("training/jobs/"))
    channel = ChannelFake()
    await channel.start(CHANNEL_PORT)
    try:
        async with running_bot(bot_settings(data, **FAST, port=BOT_PORT)) as url:
            notice = await channel.wait_for(
                lambda a: a["_conversation"] == PERSONAL and is_notice(a), seconds=90
            )
            assert watched in card_text(notice)
            ada = Conversation(url, channel, session, channel_id="msteams", aad_object_id=ADA)
            ada.id = PERSONAL
            listing = card_text(await ada.say("jobs"))
            assert all(job in listing for job in jobs), listing
            lab = Conversation(url, channel, session, conversation_type="channel", team_id="team-1")
            lab.id = LAB
            assert "aoai-lab2" in card_text(await lab.say("<at>FineTuneBot</at> resource"))
            audit = card_text(await lab.say("<at>FineTuneBot</at> audit 50"))
            assert audit.count(" · Ada Admin · ") == 8, audit
            # details written as text before they were kept as message ids: shown as written
            assert "not in use" in audit and "everything deleted" in audit, audit
            min_ = Conversation(url, channel, session, user_id="29:min", aad_object_id=MIN)
            min_.id = KOREAN
            assert "도움말" in card_text(await min_.say("help"))
    finally:
        await channel.close()
    failed = [
        (r.name, r.getMessage())
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.name == "infra.records"  # a record that did not parse
    ]
    assert failed == []
