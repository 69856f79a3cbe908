"""State storage with e-tag concurrency: botbuilder's `Storage` contract, on SQLite.

Items are JSON objects. `read` returns each found item with its current `e_tag`; `write` stores
items, and one that carries an `e_tag` other than "*" is written only if that is still the stored
e-tag (else `StorageConflict`); `delete` removes keys. Azure Blob storage can come later behind the
same three methods.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]


class StorageConflict(Exception):
    """A write carried an e-tag that is no longer the stored one."""


class SqliteStorage:
    """Key → JSON object store in one SQLite file (WAL mode, one connection)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, e_tag TEXT NOT NULL, "
            "value TEXT NOT NULL)"
        )

    async def read(self, keys: Sequence[str]) -> dict[str, JsonObject]:
        """The stored items among `keys`, each with its `e_tag`."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"SELECT key, e_tag, value FROM items WHERE key IN ({marks})", list(keys)
        ).fetchall()
        return {key: {**json.loads(value), "e_tag": e_tag} for key, e_tag, value in rows}

    async def write(self, changes: Mapping[str, JsonObject]) -> None:
        """Store all `changes` at once, or none of them on an e-tag conflict."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for key, item in changes.items():
                expected = item.get("e_tag")
                if expected not in (None, "*"):
                    row = self._db.execute(
                        "SELECT e_tag FROM items WHERE key = ?", (key,)
                    ).fetchone()
                    if row is None or row[0] != expected:
                        raise StorageConflict(f"e-tag conflict on {key}")
                body = json.dumps({k: v for k, v in item.items() if k != "e_tag"})
                self._db.execute(
                    "INSERT INTO items (key, e_tag, value) VALUES (?, ?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET e_tag = excluded.e_tag, value = excluded.value",
                    (key, uuid.uuid4().hex, body),
                )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def create(self, key: str, item: JsonObject) -> bool:
        """Store `item` only if `key` is absent; False when it already exists (idempotency)."""
        body = json.dumps({k: v for k, v in item.items() if k != "e_tag"})
        cursor = self._db.execute(
            "INSERT INTO items (key, e_tag, value) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
            (key, uuid.uuid4().hex, body),
        )
        return cursor.rowcount == 1

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove `keys` (missing ones are ignored)."""
        self._db.executemany("DELETE FROM items WHERE key = ?", [(k,) for k in keys])

    async def keys(self, prefix: str) -> list[str]:
        """Every stored key that starts with `prefix`, sorted."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            "SELECT key FROM items WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (escaped + "%",)
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the database file."""
        self._db.close()


async def update(
    storage: SqliteStorage,
    key: str,
    change: Callable[[JsonObject], Awaitable[None] | None],
    *,
    attempts: int = 10,
) -> JsonObject:
    """Read-modify-write one item under e-tag concurrency, retrying on conflict.

    `change` edits the item in place (an empty dict when it does not exist yet); returns it.
    """
    for _ in range(attempts):
        found = (await storage.read([key])).get(key)
        item = found if found is not None else {}
        result = change(item)
        if result is not None:
            await result
        if found is None:
            if await storage.create(key, item):
                return item
            continue
        try:
            await storage.write({key: item})
        except StorageConflict:
            continue
        return {k: v for k, v in item.items() if k != "e_tag"}
    raise StorageConflict(f"gave up on {key} after {attempts} conflicting writes")
