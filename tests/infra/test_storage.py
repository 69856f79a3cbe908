"""The storage protocol's own suite (infra/storage.py), run on every implementation, and the typed
records on top of it (infra/records.py)."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from infra.blob import BlobAccount, BlobStorage
from infra.records import Key, Record, RecordStore
from infra.storage import SqliteStorage, Storage, StorageConflict, Write
from tests.harness import bot_settings, free_port

Opener = Callable[[Path], Storage]
STORES = ("blob", "sqlite")


def blob_opener(connection: str) -> Opener:
    """Blob stores on Azurite, one container per test folder (the same one when reopened)."""

    def open_(folder: Path) -> Storage:
        settings = bot_settings(folder, state="blob", storage_connection_string=connection)
        container = "t" + hashlib.sha256(str(folder).encode()).hexdigest()[:20]
        return BlobStorage(BlobAccount(settings), container, own_account=True)

    return open_


@pytest.fixture(params=STORES)
def opener(request: pytest.FixtureRequest) -> Opener:
    if request.param == "blob":
        return blob_opener(request.getfixturevalue("azurite"))
    return lambda folder: SqliteStorage(folder / "s.sqlite3")


@pytest.fixture
async def storage(opener: Opener, tmp_path: Path) -> AsyncIterator[Storage]:
    store = opener(tmp_path)
    yield store
    await store.close()


async def test_read_write_delete(storage: Storage) -> None:
    await storage.write({"a": Write({"n": 1}), "b": Write({"n": 2})})
    found = await storage.read(["a", "b", "missing"])
    assert {k: v.value["n"] for k, v in found.items()} == {"a": 1, "b": 2}
    assert found["a"].e_tag != found["b"].e_tag
    await storage.delete(["a", "missing"])
    assert list(await storage.read(["a", "b"])) == ["b"]


async def test_stale_e_tag_is_refused_and_nothing_is_half_written(storage: Storage) -> None:
    await storage.write({"a": Write({"n": 1}), "b": Write({"n": 1})})
    stale = (await storage.read(["a"]))["a"].e_tag
    await storage.write({"a": Write({"n": 2})})
    with pytest.raises(StorageConflict):
        await storage.write({"b": Write({"n": 5}), "a": Write({"n": 3}, if_match=stale)})
    found = await storage.read(["a", "b"])
    assert (found["a"].value["n"], found["b"].value["n"]) == (2, 1)
    fresh = found["a"].e_tag
    await storage.write({"a": Write({"n": 4}, if_match=fresh)})
    assert (await storage.read(["a"]))["a"].value["n"] == 4
    with pytest.raises(StorageConflict):  # an e-tag for a key that is not there
        await storage.write({"nothing": Write({"n": 1}, if_match=fresh)})


async def test_create_is_once_only(storage: Storage) -> None:
    assert await storage.create("k", {"v": 1})
    assert not await storage.create("k", {"v": 2})
    assert (await storage.read(["k"]))["k"].value["v"] == 1


async def test_scan_by_prefix_survives_reopen(opener: Opener, tmp_path: Path) -> None:
    first = opener(tmp_path)
    await first.write({k: Write({"k": k}) for k in ("job/1", "job/2", "jobx", "ref/1", "job_3")})
    await first.close()
    again = opener(tmp_path)
    found = await again.scan("job/")
    assert list(found) == ["job/1", "job/2"]
    assert found["job/2"].value == {"k": "job/2"}
    await again.close()


class Counter(Record):
    name: str
    count: int = 0

    @classmethod
    def at(cls, name: str) -> Key[Counter]:
        return Key(cls, f"counter/{name}")

    def key(self) -> Key[Counter]:
        return self.at(self.name)


async def test_concurrent_updates_lose_nothing(storage: Storage) -> None:
    records = RecordStore(storage)

    async def bump(_: int) -> None:
        def change(found: Counter | None) -> Counter:
            counter = found or Counter(name="c")
            return counter.model_copy(update={"count": counter.count + 1})

        await records.update(Counter.at("c"), change)

    await asyncio.gather(*(bump(n) for n in range(50)))
    counter = await records.get(Counter.at("c"))
    assert counter is not None and counter.count == 50


async def test_an_update_stores_what_it_starts_in_the_same_write(storage: Storage) -> None:
    """`update(..., together=)`: the records a change starts are written with it, made from the
    record as changed, and only when there is a change (one that does nothing writes neither)."""
    records = RecordStore(storage)
    await records.put(Counter(name="c", count=1))

    def bump(found: Counter | None) -> Counter | None:
        return found.model_copy(update={"count": found.count + 1}) if found else None

    def started(counter: Counter) -> list[Counter]:
        return [Counter(name=f"started-by-{counter.count}")]

    changed = await records.update(Counter.at("c"), bump, together=started)
    assert changed is not None and changed.count == 2
    assert await records.get(Counter.at("started-by-2")) is not None
    unchanged = await records.update(Counter.at("c"), lambda found: None, together=started)
    assert unchanged == changed
    created = await records.update(
        Counter.at("new"), lambda found: Counter(name="new"), together=started
    )
    assert created is not None
    names = sorted(c.name for c in await records.all(Counter, "counter/"))
    assert names == ["c", "new", "started-by-0", "started-by-2"]


async def test_keys_of_any_text_round_trip_and_scan_by_prefix(storage: Storage) -> None:
    """Teams conversation ids carry `:`, `;`, `@`, `=`; names may be Korean; keys may have
    empty segments or end in a dot."""
    keys = ["ref/19:abc@thread.tacv2;messageid=1", "ref/a//b", "ref/k.", "ref/ㄱ", "ref/~%", "re"]
    await storage.write({k: Write({"k": k}) for k in keys})
    found = await storage.scan("ref/")
    assert list(found) == sorted(keys[:-1])
    assert all(found[k].value == {"k": k} for k in found)
    assert list(await storage.scan("ref/k")) == ["ref/k."]
    assert list(await storage.scan("ref/k.x")) == []


async def test_a_record_that_no_longer_parses_is_absent_not_a_crash(storage: Storage) -> None:
    records = RecordStore(storage)
    await storage.write({"counter/old": Write({"count": "many"})})
    assert await records.get(Counter.at("old")) is None
    assert await records.all(Counter, "counter/") == []


async def test_a_locked_database_does_not_stall_the_event_loop(tmp_path: Path) -> None:
    """SQLite waits (up to its busy timeout) for another writer's lock: on a thread of its own,
    while the loop goes on answering others."""
    storage = SqliteStorage(tmp_path / "s.sqlite3")
    await storage.write({"a": Write({"n": 1})})
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        other = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    await asyncio.to_thread(locked.wait, 10)
    write = asyncio.create_task(storage.write({"a": Write({"n": 2})}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(20):  # the loop keeps turning while the write waits for the lock
        await asyncio.sleep(0.01)
    assert loop.time() - started < 2.0  # blocked, it would stall for the 5 s busy timeout
    assert not write.done()
    release.set()
    await asyncio.wait_for(write, 10)
    holder.join()
    assert (await storage.read(["a"]))["a"].value == {"n": 2}
    await storage.close()


async def test_a_blob_store_reads_what_another_instance_wrote_since(
    azurite: str, tmp_path: Path
) -> None:
    """A store keeps the clients of the keys it reads (infra/blob.py), never their values: each
    read asks Blob Storage, so another instance's write is seen at once."""
    first, second = blob_opener(azurite)(tmp_path), blob_opener(azurite)(tmp_path)
    try:
        assert await first.read(["language/u"]) == {}
        assert await second.create("language/u", {"n": 1})
        assert (await first.read(["language/u"]))["language/u"].value == {"n": 1}
        await second.write({"language/u": Write({"n": 2})})
        assert (await first.read(["language/u"]))["language/u"].value == {"n": 2}
        await second.delete(["language/u"])
        assert await first.read(["language/u"]) == {}
    finally:
        await first.close()
        await second.close()


_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "server"})
"""Response headers a relay does not pass on (aiohttp sets its own)."""


async def test_blob_calls_take_the_proxy_the_environment_names(
    azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set, the state store goes through it (infra/blob.py leaves the SDK's
    environment settings off only when no proxy is set)."""
    endpoint = URL(dict(part.split("=", 1) for part in azurite.split(";") if part)["BlobEndpoint"])
    relayed: list[str] = []

    async def relay(request: web.Request) -> web.Response:
        # A forward proxy: the request line holds the whole URL; pass it on as it came.
        relayed.append(request.method)
        target = URL.build(
            scheme="http",
            host=str(endpoint.host),
            port=endpoint.port,
            path=request.rel_url.raw_path,
            query_string=request.rel_url.raw_query_string,
            encoded=True,
        )
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                target,
                headers=request.headers,
                data=await request.read(),
                skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding", "Accept"),
            ) as answer,
        ):
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, headers=headers, body=await answer.read())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        store = blob_opener(azurite)(tmp_path)
        try:
            assert await store.create("a", {"n": 1})
            assert (await store.read(["a"]))["a"].value == {"n": 1}
        finally:
            await store.close()
    finally:
        await runner.cleanup()
    assert "PUT" in relayed and "GET" in relayed, relayed
