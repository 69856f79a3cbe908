"""Typed records (infra/records.py): layout versions and their migrations, and a record that
cannot be read, on both stores: never a crash, one log line naming the store and the key, the
text kept aside under `damaged/`, and what its kind leaves in its place."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from azure.storage.blob import ContentSettings

from infra.blob import BlobAccount, BlobStorage, blob_name
from infra.records import SCHEMA, Aside, Key, Record, RecordStore
from infra.storage import JsonObject, SqliteStorage, Storage, StorageConflict, Write
from tests.harness import bot_settings

STORES = ("blob", "sqlite")


class Note(Record):
    """A kind of the tests' own, at its first layout."""

    prefix = "note/"

    name: str
    count: int = 0

    @classmethod
    def at(cls, name: str) -> Key[Note]:
        return Key(cls, f"{cls.prefix}{name}")

    def key(self) -> Key[Note]:
        return self.at(self.name)


def _split_title(value: JsonObject) -> JsonObject:
    first, _, last = str(value.pop("title")).partition(" ")
    return {**value, "first": first, "last": last}


class Person(Record):
    """A kind at its second layout: version 1 had one `title`, version 2 splits it."""

    prefix = "person/"
    schema_version: ClassVar[int] = 2
    migrations: ClassVar[dict[int, Any]] = {1: _split_title}

    id: str
    first: str
    last: str

    @classmethod
    def at(cls, id: str) -> Key[Person]:
        return Key(cls, f"{cls.prefix}{id}")

    def key(self) -> Key[Person]:
        return self.at(self.id)


class Choice(Record):
    """A kind whose absence means something: a damaged one leaves a record saying so."""

    prefix = "choice/"

    scope: str
    value: str | None
    damaged: str = ""

    @classmethod
    def at(cls, scope: str) -> Key[Choice]:
        return Key(cls, f"{cls.prefix}{scope}")

    def key(self) -> Key[Choice]:
        return self.at(self.scope)

    @classmethod
    def in_place_of_damaged(cls, path: str, aside: str) -> Choice:
        return cls(scope=path.removeprefix(cls.prefix), value=None, damaged=aside)


@pytest.fixture(params=STORES)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "blob":
        connection = request.getfixturevalue("azurite")
        settings = bot_settings(tmp_path, state="blob", storage_connection_string=connection)
        container = "r" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:20]
        store = BlobStorage(BlobAccount(settings), container, own_account=True)
    else:
        store = SqliteStorage(tmp_path / "s.sqlite3")
    yield store
    await store.close()


async def put_raw(storage: Storage, key: str, text: str) -> None:
    """Store `text` as it is under `key`, as a damaged disk or a hand edit would leave it."""
    await storage.write({key: Write({"placeholder": True})})  # the container or table exists
    if isinstance(storage, SqliteStorage):
        db = sqlite3.connect(storage.path, isolation_level=None)
        db.execute("UPDATE items SET value = ? WHERE key = ?", (text, key))
        db.close()
        return
    assert isinstance(storage, BlobStorage)
    blob = (await storage._container()).get_blob_client(blob_name(key))
    settings = ContentSettings(content_type="application/json")
    await blob.upload_blob(text.encode(), overwrite=True, content_settings=settings)


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "infra.records"]


async def test_records_are_stored_with_their_layout_version(storage: Storage) -> None:
    records = RecordStore(storage)
    await records.put(Note(name="a"), Person(id="p", first="Ada", last="Lovelace"))
    stored = await storage.read(["note/a", "person/p"])
    assert stored["note/a"].value == {"name": "a", "count": 0, SCHEMA: 1}
    assert stored["person/p"].value[SCHEMA] == 2


async def test_an_older_layout_is_migrated_when_read(storage: Storage) -> None:
    """A record written before versions existed is version 1; reading it with code at version 2
    migrates it, and the next write stores version 2."""
    records = RecordStore(storage)
    await storage.write({"person/p": Write({"id": "p", "title": "Ada Lovelace"})})
    person = await records.get(Person.at("p"))
    assert person == Person(id="p", first="Ada", last="Lovelace")
    assert [p.id for p in await records.all(Person)] == ["p"]

    def rename(found: Person | None) -> Person | None:
        return found.model_copy(update={"first": "Augusta"}) if found else None

    await records.update(Person.at("p"), rename)
    stored = (await storage.read(["person/p"]))["person/p"].value
    assert stored == {"id": "p", "first": "Augusta", "last": "Lovelace", SCHEMA: 2}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"name": "a", "count": "many"}', "not a Note of layout 1 (count: "),
        ('{"name": "a", "_schema": "two"}', "_schema 'two' is no layout version"),
    ],
)
async def test_a_record_that_cannot_be_read_is_moved_aside_in_one_line(
    storage: Storage, caplog: pytest.LogCaptureFixture, text: str, reason: str
) -> None:
    caplog.set_level(logging.WARNING)
    records = RecordStore(storage)
    await put_raw(storage, "note/a", text)
    await records.put(Note(name="b"))
    assert [n.name for n in await records.all(Note)] == ["b"]  # a scan goes on past it
    assert await records.get(Note.at("a")) is None
    assert list(await storage.read(["note/a"])) == []
    [aside] = await records.all(Aside)
    assert aside.path == "note/a" and aside.text == text and aside.reason.startswith(reason)
    [line] = _lines(caplog)
    assert line.exc_info is None and "\n" not in line.getMessage()
    assert line.getMessage() == (
        f"state store {storage.name}: note/a could not be read ({aside.reason}); "
        f"moved it aside to {aside.aside}"
    )


async def test_an_update_moves_a_damaged_record_aside_and_writes_afresh(storage: Storage) -> None:
    records = RecordStore(storage)
    await put_raw(storage, "note/a", "\x00garbage")

    def bump(found: Note | None) -> Note:
        note = found or Note(name="a")
        return note.model_copy(update={"count": note.count + 1})

    assert await records.update(Note.at("a"), bump) == Note(name="a", count=1)
    assert [a.path for a in await records.all(Aside)] == ["note/a"]


async def test_a_kind_can_leave_a_record_in_place_of_a_damaged_one(storage: Storage) -> None:
    """The reader learns that there was a record and that it is lost, instead of finding none
    (which would mean "the default")."""
    records = RecordStore(storage)
    await put_raw(storage, "choice/team-1", '{"scope": "team-1"}')
    found = await records.get(Choice.at("team-1"))
    [aside] = await records.all(Aside)
    assert found == Choice(scope="team-1", value=None, damaged=aside.aside)
    assert await records.get(Choice.at("team-1")) == found  # it stays, and is read as it is
    assert await records.all(Aside) == [aside]


async def test_a_newer_layout_is_left_for_the_code_that_wrote_it(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """During a rolling upgrade an older instance may read what a newer one wrote: a record it
    can still read is read; one it cannot is left as it is (never moved aside) and not
    overwritten."""
    caplog.set_level(logging.WARNING)
    records = RecordStore(storage)
    await storage.write({"note/a": Write({"name": "a", "extra": 1, SCHEMA: 2})})
    assert await records.get(Note.at("a")) == Note(name="a")
    await storage.write({"note/b": Write({"label": "b", SCHEMA: 2})})
    assert await records.get(Note.at("b")) is None
    with pytest.raises(StorageConflict, match="newer layout"):
        await records.update(Note.at("b"), lambda found: Note(name="b"))
    assert (await storage.read(["note/b"]))["note/b"].value == {"label": "b", SCHEMA: 2}
    assert await records.all(Aside) == []
    assert "written by a newer version of the bot; left as it is" in caplog.text
