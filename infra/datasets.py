"""Validated training files, kept content-addressed by sha256 so training needs no new upload.

Layout under the store's root: `<sha256>.jsonl` (the bytes) and `<sha256>.json` ({"name": ...},
the latest original file name). Every file is written to a temporary name, then renamed, so a
reader never sees a half-written file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from infra.errors import UserError
from infra.files import private_dir, write_private
from infra.text import echo

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def too_large(name: str, max_bytes: int) -> UserError:
    """The one sentence for a file over the size limit."""
    return UserError(f"{name} is larger than the {_size(max_bytes)} limit for training files.")


@dataclass(frozen=True)
class StoredDataset:
    """One kept file: its id (sha256), original name, where it lives and its size in bytes."""

    sha256: str
    name: str
    path: Path
    size: int


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
"""A partial file untouched this long belongs to a download that died (downloads give up after
five minutes, or one minute without data)."""


class DatasetStore:
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
        path = pending.keep(self.root)
        sha256 = pending.hash.hexdigest()
        meta = self.root / f".{sha256}.{os.getpid()}.json.part"
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
            raise UserError(f"Cannot store {name}: {error.strerror or error}.") from None
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
            raise UserError(f"Cannot store {name}: {error.strerror or error}.") from None
        try:
            async for chunk in chunks:
                if pending.size + len(chunk) > max_bytes:
                    raise too_large(name, max_bytes)
                await asyncio.to_thread(pending.write, chunk)
            return await asyncio.to_thread(self._record, pending, name)
        except OSError as error:
            raise UserError(f"Cannot store {name}: {error.strerror or error}.") from None
        finally:
            await asyncio.to_thread(pending.close)

    def get(self, sha256: str) -> StoredDataset:
        """The kept file with id `sha256`; UserError when there is none."""
        path = self.root / f"{sha256}.jsonl"
        if not _SHA256.fullmatch(sha256) or not path.is_file():
            raise UserError(
                "No validated file has the id {id}; validate it again.", id=echo(sha256)
            )
        try:
            name = json.loads((self.root / f"{sha256}.json").read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError):
            name = path.name
        return StoredDataset(sha256, str(name), path, path.stat().st_size)

    def remove(self, sha256: str) -> None:
        """Forget a kept file (no error if it is already gone)."""
        if _SHA256.fullmatch(sha256):
            for suffix in (".jsonl", ".json"):
                (self.root / f"{sha256}{suffix}").unlink(missing_ok=True)
