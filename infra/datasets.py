"""Validated training files, kept content-addressed by sha256 so training needs no new upload.

`DatasetStore` is the protocol: `add_stream` keeps a download as it arrives (refused past a size
limit), `get` gives a kept file as a local file to read (validation and the training upload read
files), `remove` forgets one. Two implementations:

- `FileDatasets` (one instance): under its root, `<sha256>.jsonl` (the bytes) and `<sha256>.json`
  ({"name": ...}, the latest original file name). Every file is written to a temporary name, then
  renamed, so a reader never sees a half-written file.
- `BlobDatasets` (several instances): the same files in a local cache, and each file in a Blob
  container of its own as the blob `<sha256>.jsonl` (its original name in the blob's metadata), so
  an instance can train on a file that another one validated. Both ways move one block
  (`BLOCK_BYTES`, 4 MiB) at a time: a file is uploaded as staged blocks from the cache file and
  downloaded chunk by chunk into it (checked against its sha256), so memory stays flat whatever
  the size.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import quote, unquote

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobBlock, ContentSettings
from azure.storage.blob.aio import ContainerClient

from infra.errors import UserError
from infra.files import private_dir, write_private
from infra.i18n import size
from infra.text import echo

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
BLOCK_BYTES = 4 * 1024 * 1024
"""One block of a transfer to or from Blob Storage (the most held in memory at once)."""


def too_large(name: str, max_bytes: int) -> UserError:
    """The one sentence for a file over the size limit."""
    return UserError(
        "{name} is larger than the {limit} limit for training files.",
        name=name,
        limit=size(max_bytes),
    )


@dataclass(frozen=True)
class StoredDataset:
    """One kept file: its id (sha256), original name, where it lives and its size in bytes."""

    sha256: str
    name: str
    path: Path
    size: int


class DatasetStore(Protocol):
    """Validated files by sha256."""

    async def add_stream(
        self, chunks: AsyncIterable[bytes], name: str, *, max_bytes: int
    ) -> StoredDataset:
        """Keep a download chunk by chunk; over `max_bytes` it stops at once with a UserError."""
        ...

    async def get(self, sha256: str) -> StoredDataset:
        """The kept file with id `sha256`, as a local file; UserError when there is none."""
        ...

    async def remove(self, sha256: str) -> None:
        """Forget a kept file (no error if it is already gone)."""
        ...

    def remove_stale(self, older_than: float = ...) -> int:
        """Delete the local partial files of downloads that died; returns how many."""
        ...


def unknown(sha256: str) -> UserError:
    """The one sentence for an id that names no kept file."""
    return UserError("No validated file has the id {id}; validate it again.", id=echo(sha256))


class _Pending:
    """A temporary file in the store being written and hashed; `close` removes it if not kept."""

    def __init__(self, root: Path) -> None:
        private_dir(root)
        handle, name = tempfile.mkstemp(dir=root, prefix=".incoming-", suffix=".part")
        self.path = Path(name)
        self.file: IO[bytes] = os.fdopen(handle, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)

    def keep(self, target_dir: Path) -> Path:
        """Flush, and rename into place as `<sha256>.jsonl`."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        target = target_dir / f"{self.hash.hexdigest()}.jsonl"
        self.path.replace(target)
        return target

    def close(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


STALE_SECONDS = 900.0
CACHE_SECONDS = 7 * 86_400.0
"""A Blob store's local copy unused this long is dropped at start (the blob stays)."""
"""A partial file untouched this long belongs to a download that died (downloads give up after
five minutes, or one minute without data)."""


class FileDatasets:
    """Files by sha256 under `root` (e.g. the data folder's `datasets/`), owner-only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def remove_stale(self, older_than: float = STALE_SECONDS) -> int:
        """Delete the partial files of downloads that died (a crash, a kill); returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in [*self.root.glob(".incoming-*.part"), *self.root.glob(".*.json.part")]:
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _record(self, pending: _Pending, name: str) -> StoredDataset:
        sha256 = pending.hash.hexdigest()
        path = pending.keep(self.root)
        # A name of its own: many users store the same sample at once (same sha256, same pid).
        meta = self.root / f".{sha256}.{uuid.uuid4().hex}.json.part"
        write_private(meta, json.dumps({"name": name}).encode())
        meta.replace(self.root / f"{sha256}.json")
        return StoredDataset(sha256, name, path, pending.size)

    def add_file(self, path: Path, name: str) -> StoredDataset:
        """Copy the file at `path` into the store under its original `name`."""
        pending: _Pending | None = None
        try:
            pending = _Pending(self.root)
            with path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    pending.write(chunk)
            return self._record(pending, name)
        except OSError as error:
            raise UserError(
                "Cannot store {name}: {reason}.", name=name, reason=str(error.strerror or error)
            ) from None
        finally:
            if pending:
                pending.close()

    async def add_stream(
        self, chunks: AsyncIterable[bytes], name: str, *, max_bytes: int
    ) -> StoredDataset:
        """Store a download chunk by chunk; over `max_bytes` it stops at once with a UserError."""
        try:
            pending = await asyncio.to_thread(_Pending, self.root)
        except OSError as error:
            raise UserError(
                "Cannot store {name}: {reason}.", name=name, reason=str(error.strerror or error)
            ) from None
        try:
            async for chunk in chunks:
                if pending.size + len(chunk) > max_bytes:
                    raise too_large(name, max_bytes)
                await asyncio.to_thread(pending.write, chunk)
            return await asyncio.to_thread(self._record, pending, name)
        except OSError as error:
            raise UserError(
                "Cannot store {name}: {reason}.", name=name, reason=str(error.strerror or error)
            ) from None
        finally:
            await asyncio.to_thread(pending.close)

    def find(self, sha256: str) -> StoredDataset | None:
        """The kept file with id `sha256`, or None."""
        path = self.root / f"{sha256}.jsonl"
        if not _SHA256.fullmatch(sha256) or not path.is_file():
            return None
        try:
            name = json.loads((self.root / f"{sha256}.json").read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError):
            name = path.name
        return StoredDataset(sha256, str(name), path, path.stat().st_size)

    async def get(self, sha256: str) -> StoredDataset:
        """The kept file with id `sha256`; UserError when there is none."""
        found = await asyncio.to_thread(self.find, sha256)
        if found is None:
            raise unknown(sha256)
        return found

    def evict(self, unused_for: float) -> int:
        """Delete the kept files not read or written for `unused_for` seconds (a cache's
        clean-up: their mtime is touched on each use); returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - unused_for
        removed = 0
        for path in self.root.glob("*.jsonl"):
            try:
                if path.stat().st_mtime < cutoff:
                    self.discard(path.stem)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def discard(self, sha256: str) -> None:
        """Forget a kept file (no error if it is already gone)."""
        if _SHA256.fullmatch(sha256):
            for suffix in (".jsonl", ".json"):
                (self.root / f"{sha256}{suffix}").unlink(missing_ok=True)

    async def remove(self, sha256: str) -> None:
        """Forget a kept file (no error if it is already gone)."""
        await asyncio.to_thread(self.discard, sha256)

    async def download(self, chunks: AsyncIterable[bytes], sha256: str, name: str) -> StoredDataset:
        """Keep the file `sha256` from its chunks, checking that they hash to it."""
        pending = await asyncio.to_thread(_Pending, self.root)
        try:
            async for chunk in chunks:
                await asyncio.to_thread(pending.write, chunk)
            if pending.hash.hexdigest() != sha256:
                raise UserError(
                    "The stored copy of {name} is damaged; validate it again.", name=name
                )
            return await asyncio.to_thread(self._record, pending, name)
        finally:
            await asyncio.to_thread(pending.close)


def _encode_name(name: str) -> str:
    return quote(name, safe="")  # blob metadata is ASCII


class BlobDatasets:
    """Files by sha256 in a Blob container, with a local cache (see the module's docstring)."""

    def __init__(self, container: ContainerClient, cache: Path) -> None:
        self._container = container
        self.cache = FileDatasets(cache)
        self._ready = False

    def remove_stale(self, older_than: float = STALE_SECONDS) -> int:
        """Delete the cache's partial files of downloads that died, and the copies unused for
        `CACHE_SECONDS` (the blobs stay); returns how many files."""
        return self.cache.remove_stale(older_than) + self.cache.evict(CACHE_SECONDS)

    async def _ensure(self) -> None:
        if not self._ready:
            from azure.core.exceptions import ResourceExistsError

            try:
                await self._container.create_container()
            except ResourceExistsError:
                pass
            self._ready = True

    async def add_stream(
        self, chunks: AsyncIterable[bytes], name: str, *, max_bytes: int
    ) -> StoredDataset:
        """Keep a download in the cache as it arrives, then upload it in blocks (once per id)."""
        stored = await self.cache.add_stream(chunks, name, max_bytes=max_bytes)
        await self._ensure()
        blob = self._container.get_blob_client(f"{stored.sha256}.jsonl")
        metadata = {"name": _encode_name(name)}
        try:
            properties = await blob.get_blob_properties()
        except ResourceNotFoundError:
            await self._upload(stored, metadata)
        else:
            if properties.metadata.get("name") != metadata["name"]:
                await blob.set_blob_metadata(metadata)
        return stored

    async def _upload(self, stored: StoredDataset, metadata: dict[str, str]) -> None:
        """Stage the file block by block from disk, then commit the block list."""
        blob = self._container.get_blob_client(f"{stored.sha256}.jsonl")
        blocks: list[BlobBlock] = []
        source = await asyncio.to_thread(stored.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(source.read, BLOCK_BYTES):
                block_id = base64.b64encode(f"{len(blocks):08d}".encode()).decode()
                await blob.stage_block(block_id, io.BytesIO(chunk), length=len(chunk))
                blocks.append(BlobBlock(block_id=block_id))
        finally:
            await asyncio.to_thread(source.close)
        await blob.commit_block_list(
            blocks,
            metadata=metadata,
            content_settings=ContentSettings(content_type="application/jsonl"),
        )

    async def get(self, sha256: str) -> StoredDataset:
        """The kept file, from the cache, or downloaded into it chunk by chunk."""
        if not _SHA256.fullmatch(sha256):
            raise unknown(sha256)
        cached = await asyncio.to_thread(self.cache.find, sha256)
        if cached is not None:
            await asyncio.to_thread(os.utime, cached.path)  # used: kept by `evict`
            return cached
        await self._ensure()
        blob = self._container.get_blob_client(f"{sha256}.jsonl")
        try:
            download = await blob.download_blob()
        except ResourceNotFoundError:
            raise unknown(sha256) from None
        name = unquote(download.properties.metadata.get("name") or f"{sha256}.jsonl")
        return await self.cache.download(download.chunks(), sha256, name)

    async def remove(self, sha256: str) -> None:
        """Forget a kept file everywhere."""
        await self.cache.remove(sha256)
        if _SHA256.fullmatch(sha256):
            try:
                await self._container.delete_blob(f"{sha256}.jsonl")
            except ResourceNotFoundError:
                pass
