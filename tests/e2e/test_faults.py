"""Faults and shutdown: worker processes die with their parent, partial downloads are cleaned up
at start, a failing Azure is retried with backoff and one log line per kind of failure, a damaged
database or a bad SANDBOX_FAULTS stops the start with one line, and data files are the owner's
alone."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from app import build_context
from bot.adapter import create_adapter
from bot.notifier import Notifier
from infra.azure import Azure
from infra.records import RecordStore
from infra.storage import SqliteStorage
from sandbox.app import create_sandbox_app
from skills.deployment.idle import IdleWatcher
from skills.sample import read_sample
from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_datasets_chat import attachment
from tests.harness import bot_settings, running_bot
from tests.training_flow import wait_until

FTBOT = Path(sys.executable).parent / "ftbot"


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system), from /proc; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"  # a zombie is dead, only not yet reaped by its new parent


async def test_workers_die_with_a_killed_validation(tmp_path: Path) -> None:
    """kill -9 during a parallel validation left two ~100 MB workers and the resource tracker
    alive for good."""
    line = read_sample("training_set.jsonl").splitlines()[0] + b"\n"
    big = tmp_path / "big.jsonl"
    big.write_bytes(line * (48 * 1024 * 1024 // len(line)))
    validation = await asyncio.create_subprocess_exec(
        str(FTBOT),
        "validate",
        "--json",
        str(big),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # the workers are scanning: two children (a worker per core) have used CPU time
        await wait_until(
            lambda: len([p for p in _children(validation.pid) if _cpu_seconds(p) >= 0.5]) >= 2,
            60,
        )
        helpers = _children(validation.pid)
        assert validation.returncode is None, "the validation ended before it could be killed"
    finally:
        os.kill(validation.pid, signal.SIGKILL)
        await validation.wait()
    assert helpers
    try:
        await wait_until(lambda: not any(_alive(pid) for pid in helpers), 20)
    finally:  # a failing run leaves no orphans behind
        for pid in helpers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


async def test_start_up_removes_stale_partial_files(
    tmp_path: Path, channel: ChannelFake, session: object
) -> None:
    datasets = tmp_path / "data" / "datasets"
    datasets.mkdir(parents=True)
    stale = [datasets / ".incoming-abc.part", datasets / f".{'a' * 64}.123.json.part"]
    fresh = datasets / ".incoming-now.part"
    for path in [*stale, fresh]:
        path.write_bytes(b"half a file")
    old = time.time() - 3600
    for path in stale:
        os.utime(path, (old, old))
    async with running_bot(bot_settings(tmp_path / "data")):
        assert not any(path.exists() for path in stale)
        assert fresh.exists()  # it may belong to a download still going on


async def test_a_failing_azure_is_retried_with_backoff_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With refused credentials the idle watcher tried every second, forever, logging a
    traceback each time (145 KB a minute)."""
    calls: list[float] = []

    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if "/subscriptions/" in request.path:
            calls.append(time.monotonic())
        return await handler(request)

    root = web.Application(middlewares=[count])
    root.add_subapp("/sandbox", create_sandbox_app(tmp_path / "sandbox", arm_token="the-right-one"))
    runner = web.AppRunner(root)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/sandbox"
    settings = bot_settings(tmp_path / "bot", sandbox_arm_token="a-wrong-one")
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    records = RecordStore(storage)
    ctx = build_context(settings, records, Notifier(create_adapter(settings), records, ""))
    ctx = replace(ctx, azure=Azure(settings, sandbox_url=url))
    watcher = IdleWatcher(ctx)
    watcher.retry_base, watcher.retry_cap = 0.05, 0.4
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(watcher.run())
    try:
        await wait_until(lambda: len(calls) >= 9, 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ctx.azure.close()
        await storage.close()
        await runner.cleanup()
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:], strict=False)]
    assert max(gaps[:2]) < 0.15 and min(gaps[-3:]) >= 0.2, gaps  # growing, up to the cap
    lines = [r for r in caplog.records if r.name == "skills.deployment.idle"]
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert "Azure refused" in lines[0].getMessage() and "up to 0.4 s" in lines[0].getMessage()


def _start(
    data_dir: Path, command: tuple[str, ...] = ("run",), **env: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FTBOT_DATA_DIR": str(data_dir), "PORT": "1", **env}
    return subprocess.run(
        [str(FTBOT), *command], env=env, capture_output=True, text=True, timeout=60, cwd=data_dir
    )


@pytest.mark.parametrize("command", [("run",), ("sandbox", "--port", "1")])
def test_bad_sandbox_faults_stop_the_start_with_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """The sandbox parses SANDBOX_FAULTS (the settings keep the string), for the embedded one and
    `ftbot sandbox` alike; nothing is listening yet when it refuses."""
    result = _start(tmp_path, command, SANDBOX_FAULTS="429=0.5,500=0.7")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "ftbot: invalid setting SANDBOX_FAULTS: fault rates must be between 0 and 1 and add up "
        "to at most 1"
    ]


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("state.sqlite3", lambda p: p.write_bytes(b"not a database at all" * 100), "is damaged"),
        ("state.sqlite3", lambda p: p.write_bytes(p.read_bytes()[:4096]), "is damaged"),
        ("state.sqlite3", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        ("sandbox/sandbox.sqlite3", lambda p: p.write_bytes(b"\0" * 8192), "is damaged"),
        ("sandbox/sandbox.sqlite3", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    ],
    ids=["garbage state", "truncated state", "empty state", "garbage sandbox", "empty sandbox"],
)
def test_a_damaged_database_stops_the_start_with_one_line(
    tmp_path: Path, name: str, damage: Callable[[Path], object], says: str
) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:  # a real database first, with something in it
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    damage(path)
    result = _start(tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ftbot: {path} {says}")
    assert "restore it from a backup" in lines[0]
    if says.startswith("is empty"):
        assert path.stat().st_size == 0  # reported, not silently replaced


async def test_data_files_are_the_owners_alone(
    tmp_path: Path, channel: ChannelFake, session: object
) -> None:
    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        async with running_bot(bot_settings(data)) as url:
            chat = Conversation(url, channel, session)  # type: ignore[arg-type]
            files = [attachment(channel, "training_set.jsonl", read_sample("training_set.jsonl"))]
            assert "Ready to train" in card_text(await chat.checked("validate", attachments=files))
            open_to_others = [
                f"{path.relative_to(data)} {stat.filemode(path.stat().st_mode)}"
                for path in [data, *data.rglob("*")]
                if path.stat().st_mode & 0o077
                and (path.is_dir() or path.suffix in (".jsonl", ".json", ".sqlite3", "-wal"))
            ]
            assert open_to_others == []
            assert json.loads(next((data / "datasets").glob("*.json")).read_text())
    finally:
        os.umask(old)
