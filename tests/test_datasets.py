"""The content-addressed store of validated files."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.datasets import DatasetStore
from infra.errors import UserError


def test_add_file_is_content_addressed(tmp_path: Path) -> None:
    source = tmp_path / "upload.tmp"
    source.write_bytes(b'{"messages": []}\n' * 3)
    store = DatasetStore(tmp_path / "datasets")
    stored = store.add_file(source, "training_set.jsonl")
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored.path.read_bytes() == source.read_bytes() and stored.size == source.stat().st_size
    assert store.get(stored.sha256) == stored
    again = store.add_file(source, "renamed.jsonl")
    assert again.sha256 == stored.sha256 and store.get(stored.sha256).name == "renamed.jsonl"
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        [f"{stored.sha256}.jsonl", f"{stored.sha256}.json"]
    )


@pytest.mark.parametrize("bad_id", ["0" * 64, "../../etc/passwd", "", "A" * 64])
def test_unknown_or_malformed_ids_are_user_errors(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(UserError, match="validate it again"):
        DatasetStore(tmp_path).get(bad_id)


def test_add_file_that_cannot_be_read(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "datasets")
    with pytest.raises(UserError, match="Cannot store x.jsonl"):
        store.add_file(tmp_path / "missing", "x.jsonl")
    assert list(store.root.iterdir()) == []


async def chunks(count: int, size: int, seen: list[int]) -> AsyncIterator[bytes]:
    for index in range(count):
        seen.append(index)
        yield bytes([65 + index % 26]) * size


async def test_add_stream_stores_chunk_by_chunk(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path)
    seen: list[int] = []
    stored = await store.add_stream(chunks(5, 1000, seen), "big.jsonl", max_bytes=5000)
    assert stored.size == 5000 and len(seen) == 5
    assert stored.sha256 == hashlib.sha256(stored.path.read_bytes()).hexdigest()
    assert store.get(stored.sha256).name == "big.jsonl"


async def test_add_stream_stops_at_the_limit_and_leaves_nothing(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "datasets")
    seen: list[int] = []
    with pytest.raises(UserError, match="larger than the 2,500 bytes limit"):
        await store.add_stream(chunks(100, 1000, seen), "huge.jsonl", max_bytes=2500)
    assert len(seen) == 3  # refused before the download completes
    assert list(store.root.iterdir()) == []


def test_the_same_file_stored_at_once_by_many_users(tmp_path: Path) -> None:
    """Every lab participant validates the same sample: concurrent stores of one content."""
    source = tmp_path / "sample.jsonl"
    source.write_bytes(b'{"messages": []}\n' * 100)
    store = DatasetStore(tmp_path / "datasets")
    start = threading.Barrier(8)

    def user(_: int) -> list[str]:
        start.wait()
        return [store.add_file(source, "training_set.jsonl").sha256 for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        stored = {sha for shas in pool.map(user, range(8)) for sha in shas}
    assert stored == {hashlib.sha256(source.read_bytes()).hexdigest()}
