"""State storage with e-tag concurrency: the `Storage` protocol, and its SQLite implementation.

Items are JSON objects under string keys. `read` returns each found item with its current e-tag
(`StoredItem`); `write` stores items, and one given with an e-tag is written only if that is still
the stored e-tag (else `StorageConflict`, and nothing of the batch is written); `create` stores an
item only where the key is absent; `delete` removes keys; `scan` lists a key prefix. Typed records
go through `infra.records.RecordStore` on top of this.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from infra.files import open_sqlite, private_dir

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
T = TypeVar("T")


class StorageConflict(Exception):
    """A write carried an e-tag that is no longer the stored one."""


@dataclass(frozen=True)
class StoredItem:
    """One item as stored: its JSON value and its e-tag. An item whose stored text is not a JSON
    object comes with `damage` saying so, `raw` holding that text, and an empty `value`: a store
    never fails a read or a scan on what one item holds (infra/records.py moves it aside)."""

    value: JsonObject
    e_tag: str
    damage: str = ""
    raw: str = ""


def stored_item(body: str | bytes, e_tag: str) -> StoredItem:
    """The item of a stored text: its JSON object, or what is wrong with it."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        value = json.loads(text)
    except ValueError:
        return StoredItem({}, e_tag, "not JSON", text)
    if not isinstance(value, dict):
        return StoredItem({}, e_tag, "not a JSON object", text)
    return StoredItem(value, e_tag)


@dataclass(frozen=True)
class Write:
    """One item of a `write`: the value, and the e-tag it must still have (None: any)."""

    value: JsonObject
    if_match: str | None = None


class Storage(Protocol):
    """Key -> JSON object store with optimistic concurrency."""

    @property
    def name(self) -> str:
        """Which store this is, for a log line (a file, or a container of an account)."""
        ...

    async def read(self, keys: Sequence[str]) -> dict[str, StoredItem]:
        """The stored items among `keys`."""
        ...

    async def write(self, changes: Mapping[str, Write]) -> None:
        """Store all `changes` at once, or none of them on an e-tag conflict."""
        ...

    async def create(self, key: str, value: JsonObject) -> bool:
        """Store `value` only if `key` is absent; False when it exists."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove `keys` (missing ones are ignored)."""
        ...

    async def scan(self, prefix: str) -> dict[str, StoredItem]:
        """Every item whose key starts with `prefix`, by key."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file `path` names now (device, inode), or None when there is none."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class SqliteStorage:
    """The store in one SQLite file (WAL mode). Every call runs on one thread of its own, off the
    event loop, so a slow disk or a locked database never stalls other turns.

    A file deleted (or replaced) under the running bot would take every later write with it: the
    open database lives on in a file nobody can reach, and the next start makes an empty one.
    Each call first checks that the path still names the file it opened; when it does not, the
    store says so in one log line and writes the open database back to the path (a replacing
    file is kept beside it), so nothing is lost."""

    def __init__(self, path: Path) -> None:
        """Open (or create, owner-only) the store; UserError when the file is empty or damaged."""
        self.path = path
        self._db = self._open()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    def _open(self) -> sqlite3.Connection:
        db = open_sqlite(self.path, check_same_thread=False)
        db.execute(
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, e_tag TEXT NOT NULL, "
            "value TEXT NOT NULL)"
        )
        self._file = _identity(self.path)
        return db

    @property
    def name(self) -> str:
        """The database file."""
        return str(self.path)

    async def _run(self, call: Callable[[], T]) -> T:
        def checked() -> T:
            if _identity(self.path) != self._file:
                self._restore()
            return call()

        return await asyncio.get_running_loop().run_in_executor(self._thread, checked)

    def _restore(self) -> None:
        """Put the open database back at its path (on the store's thread, between two calls)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        private_dir(self.path.parent)
        copy = self.path.with_name(f"{self.path.name}.restoring")
        copy.unlink(missing_ok=True)
        target = sqlite3.connect(copy)
        try:
            os.chmod(copy, 0o600)
            self._db.backup(target)
        finally:
            target.close()
        self._db.close()
        kept = ""
        if self.path.exists():
            kept = f"{self.path.name}.replaced-{stamp}"
            os.replace(self.path, self.path.with_name(kept))
        os.replace(copy, self.path)
        self._db = self._open()
        if kept:
            log.error(
                "the state file %s was replaced while the bot was running; the bot wrote back the "
                "state it holds and kept the other file as %s",
                self.path,
                kept,
            )
        else:
            log.error(
                "the state file %s was deleted while the bot was running; the bot wrote back the "
                "state it holds, so nothing is lost",
                self.path,
            )

    async def read(self, keys: Sequence[str]) -> dict[str, StoredItem]:
        """The stored items among `keys`."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))

        def select() -> list[tuple[str, str, str]]:
            query = f"SELECT key, e_tag, value FROM items WHERE key IN ({marks})"
            return self._db.execute(query, list(keys)).fetchall()

        rows = await self._run(select)
        return {key: stored_item(value, e_tag) for key, e_tag, value in rows}

    async def write(self, changes: Mapping[str, Write]) -> None:
        """Store all `changes` at once, or none of them on an e-tag conflict."""
        rows = [(key, w.if_match, json.dumps(w.value)) for key, w in changes.items()]

        def transaction() -> None:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key, expected, body in rows:
                    if expected is not None:
                        found = self._db.execute(
                            "SELECT e_tag FROM items WHERE key = ?", (key,)
                        ).fetchone()
                        if found is None or found[0] != expected:
                            raise StorageConflict(f"e-tag conflict on {key}")
                    self._db.execute(
                        "INSERT INTO items (key, e_tag, value) VALUES (?, ?, ?) ON CONFLICT(key) "
                        "DO UPDATE SET e_tag = excluded.e_tag, value = excluded.value",
                        (key, uuid.uuid4().hex, body),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

        await self._run(transaction)

    async def create(self, key: str, value: JsonObject) -> bool:
        """Store `value` only if `key` is absent; False when it exists."""
        body = json.dumps(value)

        def insert() -> bool:
            cursor = self._db.execute(
                "INSERT INTO items (key, e_tag, value) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO NOTHING",
                (key, uuid.uuid4().hex, body),
            )
            return cursor.rowcount == 1

        return await self._run(insert)

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove `keys` (missing ones are ignored)."""
        rows = [(k,) for k in keys]
        if rows:
            await self._run(lambda: self._db.executemany("DELETE FROM items WHERE key = ?", rows))

    async def scan(self, prefix: str) -> dict[str, StoredItem]:
        """Every item whose key starts with `prefix`, by key (in key order)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

        def select() -> list[tuple[str, str, str]]:
            return self._db.execute(
                "SELECT key, e_tag, value FROM items WHERE key LIKE ? ESCAPE '\\' ORDER BY key",
                (escaped + "%",),
            ).fetchall()

        rows = await self._run(select)
        return {key: stored_item(value, e_tag) for key, e_tag, value in rows}

    async def close(self) -> None:
        """Finish what is queued, then close the database file."""
        await self._run(lambda: self._db.close())
        self._thread.shutdown(wait=True)
