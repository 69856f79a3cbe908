"""SQLite storage: botbuilder's read/write/delete contract with e-tag concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from infra.storage import SqliteStorage, StorageConflict, update


@pytest.fixture
def storage(tmp_path: Path) -> SqliteStorage:
    return SqliteStorage(tmp_path / "s.sqlite3")


async def test_read_write_delete(storage: SqliteStorage) -> None:
    await storage.write({"a": {"n": 1}, "b": {"n": 2}})
    found = await storage.read(["a", "b", "missing"])
    assert {k: v["n"] for k, v in found.items()} == {"a": 1, "b": 2}
    assert found["a"]["e_tag"] != found["b"]["e_tag"]
    await storage.delete(["a", "missing"])
    assert list(await storage.read(["a", "b"])) == ["b"]


async def test_stale_e_tag_is_refused_and_nothing_is_half_written(
    storage: SqliteStorage,
) -> None:
    await storage.write({"a": {"n": 1}, "b": {"n": 1}})
    stale = (await storage.read(["a"]))["a"]
    await storage.write({"a": {"n": 2}})
    with pytest.raises(StorageConflict):
        await storage.write({"b": {"n": 5}, "a": {**stale, "n": 3}})
    found = await storage.read(["a", "b"])
    assert (found["a"]["n"], found["b"]["n"]) == (2, 1)
    await storage.write({"a": {"n": 4, "e_tag": "*"}})
    assert (await storage.read(["a"]))["a"]["n"] == 4


async def test_create_is_once_only(storage: SqliteStorage) -> None:
    assert await storage.create("k", {"v": 1})
    assert not await storage.create("k", {"v": 2})
    assert (await storage.read(["k"]))["k"]["v"] == 1


async def test_concurrent_updates_lose_nothing(storage: SqliteStorage) -> None:
    async def bump(_: int) -> None:
        def change(item: dict[str, int]) -> None:
            item["count"] = item.get("count", 0) + 1

        await update(storage, "counter", change)
        await asyncio.sleep(0)

    await asyncio.gather(*(bump(n) for n in range(50)))
    assert (await storage.read(["counter"]))["counter"]["count"] == 50


async def test_keys_by_prefix_survive_reopen(tmp_path: Path) -> None:
    first = SqliteStorage(tmp_path / "s.sqlite3")
    await first.write({"job/1": {}, "job/2": {}, "jobx": {}, "ref/1": {}})
    first.close()
    again = SqliteStorage(tmp_path / "s.sqlite3")
    assert await again.keys("job/") == ["job/1", "job/2"]
    again.close()
