"""All sandbox state: JSON documents in SQLite, mirrored in memory for fast reads.

A document is a dict of what the wire shows plus private fields whose names start with `_`.
Each belongs to a kind (account, file, job, ...) and optionally a parent (an account, a job),
and keeps its insertion order. Writes go through to SQLite at once, so a restart loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandbox.files import open_sqlite

Doc = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Documents by kind and id, with lists by parent in insertion order."""

    def __init__(self, path: Path) -> None:
        self._db = open_sqlite(path)  # owner-only; SandboxError when empty or damaged
        self._db.executescript(_SCHEMA)
        self._docs: dict[str, dict[str, Doc]] = {}
        self._parents: dict[str, dict[str, str]] = {}
        self._children: dict[tuple[str, str], dict[str, None]] = {}
        self._seqs: dict[tuple[str, str], int] = {}
        self._seq = 0
        rows = self._db.execute("SELECT kind, id, parent, seq, body FROM docs ORDER BY seq")
        for kind, key, parent, seq, body in rows:
            self._remember(kind, key, parent, seq, json.loads(body))
            self._seq = max(self._seq, seq)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _remember(self, kind: str, key: str, parent: str, seq: int, doc: Doc) -> None:
        self._docs.setdefault(kind, {})[key] = doc
        self._parents.setdefault(kind, {})[key] = parent
        self._children.setdefault((kind, parent), {})[key] = None
        self._seqs[(kind, key)] = seq

    def get(self, kind: str, key: str) -> Doc | None:
        """The document, or None. Callers change it only through `put`."""
        return self._docs.get(kind, {}).get(key)

    def put(self, kind: str, key: str, doc: Doc, *, parent: str = "") -> None:
        """Insert or replace a document (an update keeps its place in lists)."""
        seq = self._seqs.get((kind, key))
        if seq is None:
            self._seq += 1
            seq = self._seq
        else:
            parent = self._parents[kind][key]
        body = json.dumps(doc, separators=(",", ":"))
        self._db.execute(
            "INSERT OR REPLACE INTO docs (kind, id, parent, seq, body) VALUES (?, ?, ?, ?, ?)",
            (kind, key, parent, seq, body),
        )
        self._remember(kind, key, parent, seq, doc)

    def delete(self, kind: str, key: str) -> Doc | None:
        """Remove a document; returns it, or None when there was none."""
        doc = self._docs.get(kind, {}).pop(key, None)
        if doc is not None:
            parent = self._parents[kind].pop(key, "")
            self._children.get((kind, parent), {}).pop(key, None)
            self._seqs.pop((kind, key), None)
            self._db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, key))
        return doc

    def items(self, kind: str, parent: str | None = None) -> Iterator[tuple[str, Doc]]:
        """(id, document) pairs of a kind, oldest first, optionally under one parent."""
        docs = self._docs.get(kind, {})
        if parent is None:
            yield from list(docs.items())
            return
        for key in list(self._children.get((kind, parent), {})):
            yield key, docs[key]

    def docs(self, kind: str, parent: str | None = None) -> list[Doc]:
        """The documents of a kind, oldest first, optionally under one parent."""
        return [doc for _, doc in self.items(kind, parent)]

    def parent_of(self, kind: str, key: str) -> str:
        """The parent a document was stored under."""
        return self._parents.get(kind, {}).get(key, "")

    def meta(self, key: str) -> str | None:
        """A stored setting of the sandbox itself."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting of the sandbox itself."""
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def wire(doc: Doc) -> Doc:
    """The document as the wire shows it: without its private `_` fields."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}
