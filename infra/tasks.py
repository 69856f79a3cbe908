"""Tracked background tasks: long work outside a turn, logged when it fails, stopped at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from infra.errors import unexpected

log = logging.getLogger(__name__)


class Tasks:
    """Owns every background task the service starts."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `work` in the background; a failure is logged with a reference, never lost."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            unexpected(f"background task {task.get_name()}", error)

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, grace: float = 10.0) -> None:
        """Cancel what still runs and wait for it to stop; a task still running after `grace`
        seconds (it ignored its cancel) is logged and left, so a shutdown never hangs."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=grace)
        for task in stuck:
            log.error("background task %s did not stop when cancelled", task.get_name())


async def wait_for_event(event: asyncio.Event, seconds: float) -> None:
    """Wait until `event` is set or `seconds` pass, whichever comes first.

    Not `asyncio.wait_for(event.wait(), ...)`: on Python 3.11 that swallows a cancel arriving just
    after the event is set, and a loop built on it then never stops.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
