"""One sandbox per data folder: a second one would run the same jobs and files twice.

`hold(data_dir)` takes an exclusive lock on `<data_dir>/sandbox.lock` (flock: the system drops it
when the process ends, even killed) or refuses with one sentence naming the holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sandbox import SandboxError


class SandboxBusy(SandboxError):
    """Another sandbox runs on this data folder."""


class FolderLock:
    """An exclusive lock on a sandbox's data folder, held until `release`."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        """Let the folder go."""
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def hold(data_dir: Path) -> FolderLock:
    """Lock `data_dir` for this sandbox, or raise `SandboxBusy`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "sandbox.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise SandboxBusy(
            f"Another sandbox is already running on the data folder {data_dir} (process "
            f"{holder}). Stop it, or let this bot use it with FTBOT_SANDBOX_URL."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return FolderLock(handle)
