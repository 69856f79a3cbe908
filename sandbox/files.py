"""The sandbox's files on disk: the owner's alone, and a damaged database said in one line.

The data folder holds the uploaded files, the trained models and the database with the keys the
sandbox hands out: folders are created 0700 and files 0600, whatever the umask. A database that is
empty, damaged or truncated stops the start with one sentence naming the file and what to do
(`SandboxError`), instead of a traceback or an empty file silently becoming a new database. (The
bot's own files follow the same rules in infra/files.py; the sandbox keeps its own copy so that it
imports nothing of the bot.)
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sandbox import SandboxError


def private_dir(path: Path) -> Path:
    """Create the folder `path` (and its parents) if needed; it is the owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def open_sqlite(path: Path) -> sqlite3.Connection:
    """The SQLite database at `path` in WAL mode, checked; created owner-only when absent.

    SandboxError (one sentence naming the file and what to do) when it is empty or damaged.
    """
    private_dir(path.parent)
    if path.exists() and path.stat().st_size == 0:
        raise SandboxError(
            f"{path} is empty (0 bytes), so it holds none of the data it should; restore it from "
            "a backup, or delete it to start afresh."
        )
    try:
        db = sqlite3.connect(path, isolation_level=None)
        os.chmod(path, 0o600)  # before anything is written; the -wal and -shm files follow it
        db.execute("PRAGMA journal_mode=WAL")
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(verdict)
    except sqlite3.DatabaseError as error:
        reason = str(error).rstrip(".")
        raise SandboxError(
            f"{path} is damaged ({reason}); restore it from a backup, or move it aside to start "
            "afresh."
        ) from None
    db.execute("PRAGMA synchronous=NORMAL")
    return db
