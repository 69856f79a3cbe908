"""The content-addressed store of validated files."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.blob import BlobAccount
from infra.datasets import BLOCK_BYTES, CACHE_SECONDS, BlobDatasets, FileDatasets
from infra.errors import UserError
from tests.harness import bot_settings


def test_add_file_is_content_addressed(tmp_path: Path) -> None:
    source = tmp_path / "upload.tmp"
    source.write_bytes(b'{"messages": []}\n' * 3)
    store = FileDatasets(tmp_path / "datasets")
    stored = store.add_file(source, "training_set.jsonl")
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored.path.read_bytes() == source.read_bytes() and stored.size == source.stat().st_size
    assert store.find(stored.sha256) == stored
    again = store.add_file(source, "renamed.jsonl")
    assert again.sha256 == stored.sha256 and store.find(stored.sha256).name == "renamed.jsonl"
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        [f"{stored.sha256}.jsonl", f"{stored.sha256}.json"]
    )


@pytest.mark.parametrize("bad_id", ["0" * 64, "../../etc/passwd", "", "A" * 64])
async def test_unknown_or_malformed_ids_are_user_errors(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(UserError, match="validate it again"):
        await FileDatasets(tmp_path).get(bad_id)


def test_add_file_that_cannot_be_read(tmp_path: Path) -> None:
    store = FileDatasets(tmp_path / "datasets")
    with pytest.raises(UserError, match="Cannot store x.jsonl"):
        store.add_file(tmp_path / "missing", "x.jsonl")
    assert list(store.root.iterdir()) == []


async def chunks(count: int, size: int, seen: list[int]) -> AsyncIterator[bytes]:
    for index in range(count):
        seen.append(index)
        yield bytes([65 + index % 26]) * size


async def test_add_stream_stores_chunk_by_chunk(tmp_path: Path) -> None:
    store = FileDatasets(tmp_path)
    seen: list[int] = []
    stored = await store.add_stream(chunks(5, 1000, seen), "big.jsonl", max_bytes=5000)
    assert stored.size == 5000 and len(seen) == 5
    assert stored.sha256 == hashlib.sha256(stored.path.read_bytes()).hexdigest()
    assert store.find(stored.sha256).name == "big.jsonl"


async def test_add_stream_stops_at_the_limit_and_leaves_nothing(tmp_path: Path) -> None:
    store = FileDatasets(tmp_path / "datasets")
    seen: list[int] = []
    with pytest.raises(UserError, match="larger than the 2.4 kB limit"):
        await store.add_stream(chunks(100, 1000, seen), "huge.jsonl", max_bytes=2500)
    assert len(seen) == 3  # refused before the download completes
    assert list(store.root.iterdir()) == []


@pytest.fixture
async def blob_stores(azurite: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """Two instances' dataset stores on one Blob container, each with its own cache."""
    settings = bot_settings(tmp_path, state="blob", storage_connection_string=azurite)
    account = BlobAccount(settings)
    container = account.container(f"datasets-{uuid.uuid4().hex[:12]}")
    yield BlobDatasets(container, tmp_path / "a"), BlobDatasets(container, tmp_path / "b")
    await account.close()


async def test_a_file_kept_by_one_instance_is_read_by_another(
    blob_stores: tuple[BlobDatasets, BlobDatasets],
) -> None:
    first, second = blob_stores
    seen: list[int] = []
    size = BLOCK_BYTES * 2 + 12_345  # three blocks, the last one short
    stored = await first.add_stream(
        chunks(size // 1000 + 1, 1000, seen), "학습.jsonl", max_bytes=size * 2
    )
    fetched = await second.get(stored.sha256)
    assert fetched.path != stored.path and fetched.path.parent == second.cache.root
    assert (fetched.sha256, fetched.name, fetched.size) == (
        stored.sha256,
        "학습.jsonl",
        stored.size,
    )
    assert fetched.path.read_bytes() == stored.path.read_bytes()
    again = await first.add_stream(
        chunks(size // 1000 + 1, 1000, []), "renamed.jsonl", max_bytes=size * 2
    )
    assert again.sha256 == stored.sha256
    await second.remove(stored.sha256)
    with pytest.raises(UserError, match="validate it again"):
        await second.get(stored.sha256)
    assert (await first.get(stored.sha256)).name == "renamed.jsonl"  # its own cache still has it


async def test_a_cached_copy_unused_for_a_week_is_dropped_at_start_and_read_again(
    blob_stores: tuple[BlobDatasets, BlobDatasets],
) -> None:
    first, _ = blob_stores
    old = await first.add_stream(chunks(3, 1000, []), "old.jsonl", max_bytes=10_000)
    used = await first.add_stream(chunks(4, 1000, []), "used.jsonl", max_bytes=10_000)
    week = time.time() - CACHE_SECONDS - 60
    for stored in (old, used):
        os.utime(stored.path, (week, week))
    await first.get(used.sha256)  # read now: kept
    assert first.remove_stale() == 1
    assert not old.path.exists() and used.path.exists()
    again = await first.get(old.sha256)  # from the blob, into the cache again
    assert again.path.read_bytes() == b"A" * 1000 + b"B" * 1000 + b"C" * 1000


async def test_blob_store_refuses_unknown_ids_and_oversized_files(
    blob_stores: tuple[BlobDatasets, BlobDatasets], tmp_path: Path
) -> None:
    first, _ = blob_stores
    for bad_id in ("0" * 64, "../x", ""):
        with pytest.raises(UserError, match="validate it again"):
            await first.get(bad_id)
    seen: list[int] = []
    with pytest.raises(UserError, match="larger than the 2.4 kB limit"):
        await first.add_stream(chunks(100, 1000, seen), "huge.jsonl", max_bytes=2500)
    assert len(seen) == 3


def test_the_same_file_stored_at_once_by_many_users(tmp_path: Path) -> None:
    """Every lab participant validates the same sample: concurrent stores of one content."""
    source = tmp_path / "sample.jsonl"
    source.write_bytes(b'{"messages": []}\n' * 100)
    store = FileDatasets(tmp_path / "datasets")
    start = threading.Barrier(8)

    def user(_: int) -> list[str]:
        start.wait()
        return [store.add_file(source, "training_set.jsonl").sha256 for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        stored = {sha for shas in pool.map(user, range(8)) for sha in shas}
    assert stored == {hashlib.sha256(source.read_bytes()).hexdigest()}
