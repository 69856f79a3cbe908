"""Background work stops when told to, even when a wake-up and the stop come together; a task
that ignores its cancel is named, and the shutdown goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app import build_context
from bot.adapter import create_adapter
from bot.notifier import Notifier
from infra.records import RecordStore
from infra.storage import SqliteStorage
from infra.tasks import Tasks, wait_for_event
from skills.training.watch import JobWatcher
from tests.harness import bot_settings


async def test_a_loop_on_an_event_stops_when_cancelled_right_after_the_event_is_set() -> None:
    event, waiting = asyncio.Event(), asyncio.Event()
    woken = 0

    async def loop() -> None:
        nonlocal woken
        while True:
            waiting.set()
            await wait_for_event(event, 5.0)
            event.clear()
            woken += 1

    task = asyncio.create_task(loop())
    await waiting.wait()  # the loop is inside wait_for_event (nothing awaits in between)
    event.set()
    task.cancel()  # `asyncio.wait_for(event.wait(), 5)` on Python 3.11 loses this cancel
    async with asyncio.timeout(2):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert woken == 0


async def test_the_wait_ends_after_its_time_when_nothing_sets_the_event() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_for_event(asyncio.Event(), 0.05)
    assert 0.04 <= loop.time() - started < 1.0


async def test_close_stops_every_task_and_a_failure_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Tasks()

    async def fails() -> None:
        raise RuntimeError("boom")

    sleeper = tasks.spawn(asyncio.sleep(60), "sleeper")
    failed = tasks.spawn(fails(), "fails")
    await asyncio.wait([failed])
    assert len(tasks) == 1
    await tasks.close()
    assert sleeper.cancelled() and len(tasks) == 0
    assert caplog.text.count("background task fails failed") == 1


async def test_close_gives_up_on_a_task_that_ignores_its_cancel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks, release, started = Tasks(), asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()  # swallows the cancel, as a buggy loop would

    task = tasks.spawn(stubborn(), "stubborn")
    await started.wait()
    async with asyncio.timeout(5):
        await tasks.close(grace=0.2)
    assert "background task stubborn did not stop when cancelled" in caplog.text
    release.set()
    await task


async def test_the_job_watcher_stops_right_after_a_job_is_added(tmp_path: Path) -> None:
    settings = bot_settings(tmp_path)
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    records = RecordStore(storage)
    notifier = Notifier(create_adapter(settings), records, settings.app_id)
    ctx = build_context(settings, records, notifier)  # Azure: a sandbox that is not there
    watcher = JobWatcher(ctx)
    await watcher.start()
    await asyncio.sleep(0)  # one turn of the loop: the poller runs up to its wait
    await watcher.watch("ftjob-" + "0" * 32)  # wakes the poller...
    async with asyncio.timeout(5):
        await watcher.stop()  # ...which must still stop at once
    assert watcher.watched == ["ftjob-" + "0" * 32]  # kept, for the next start to resume
    await ctx.azure.close()
    await storage.close()
