"""The bot's files on disk: the owner's alone, and a damaged database said in one line.

The data folder holds datasets people sent, the state store and the sandbox's database (with the
keys it hands out): folders are created 0700 and files 0600, whatever the umask. A SQLite
database that is empty, damaged or truncated stops the start with one sentence naming the file
and what to do (`open_sqlite`), instead of a traceback, or an empty file silently becoming a new
database.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from infra.errors import UserError


def private_dir(path: Path) -> Path:
    """Create the folder `path` (and its parents) if needed; it is the owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new (or replaced) file that only the owner can read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def open_sqlite(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """The SQLite database at `path` in WAL mode, checked; created owner-only when absent.

    UserError (one sentence naming the file and what to do) when the file is empty or damaged.
    """
    private_dir(path.parent)
    if path.exists() and path.stat().st_size == 0:
        raise UserError(
            "{path} is empty (0 bytes), so it holds none of the data it should; restore it from "
            "a backup, or delete it to start afresh.",
            path=str(path),
        )
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
        os.chmod(path, 0o600)  # before anything is written; the -wal and -shm files follow it
        db.execute("PRAGMA journal_mode=WAL")
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(verdict)
    except sqlite3.DatabaseError as error:
        raise UserError(
            "{path} is damaged ({reason}); restore it from a backup, or move it aside to start "
            "afresh.",
            path=str(path),
            reason=str(error).rstrip("."),
        ) from None
    db.execute("PRAGMA synchronous=NORMAL")
    return db
