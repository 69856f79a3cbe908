"""Worker processes that die with their parent.

A `ProcessPoolExecutor` worker whose parent is killed (kill -9, an OOM kill) waits on its call
queue for good: it holds both ends of the queue's pipes, so it never sees them close, and with it
stays the resource tracker. `process_pool` starts workers (`spawn`: safe in a threaded program)
that watch their parent and exit as soon as it is gone.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARENT_CHECK_SECONDS = 0.5
"""How often a worker looks whether its parent still lives."""


def _watch(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:  # re-parented: the parent is gone
            os._exit(1)


def die_with_parent() -> None:
    """Pool initializer: exit this worker process when its parent process dies."""
    parent = os.getppid()
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes, each of which dies with this process."""
    return ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=die_with_parent
    )
