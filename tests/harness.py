"""Start the real bot in-process on a free loopback port, with its own data folder."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from app import SANDBOX_IDS, create_app
from infra.records import RecordStore
from infra.settings import Settings
from infra.storage import SqliteStorage

SANDBOX_TOKEN = "test-sandbox-secret"
"""The access secret test bots and sandboxes use (SANDBOX_ARM_TOKEN), so tests reach them with
the official SDKs; `contract.token(SANDBOX_TOKEN, object_id)` acts as that principal
(sandbox/contract.py)."""
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60)
"""A test's HTTP call that gets no answer fails within a minute, with its traceback, instead of
stalling the run until the suite's per-test timeout stops everything."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


TEST_ADMIN = "00000000-0000-4000-8000-00000000ad01"
PRODUCTION = {"admins": [TEST_ADMIN], "demo_sandbox": True}
"""What a test bot with an app id needs besides it: an admin, and the sandbox asked for."""


def bot_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test bot: loopback, a free port, no `.env` file."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "data_dir": data_dir,
        "sandbox_arm_token": SANDBOX_TOKEN,
        "sandbox_ids": SANDBOX_IDS,  # as app.main hands them in
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def client_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test's own SDK clients of a test sandbox (the bot's or a standalone one)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "sandbox_arm_token": SANDBOX_TOKEN,
        "sandbox_ids": SANDBOX_IDS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[str]:
    """Serve `create_app(settings)` until the block ends; yields the bot's base URL."""
    runner = web.AppRunner(create_app(settings))
    try:
        await runner.setup()
    except BaseException:  # a start refused half-way: close what did start
        await runner.cleanup()
        raise
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        yield settings.base_url
    finally:
        await runner.cleanup()


@asynccontextmanager
async def bot_state(data_dir: Path) -> AsyncIterator[RecordStore]:
    """The typed records of a test bot's state store (SQLite under `data_dir`), read beside the
    bot, to wait on what its background work has done."""
    storage = SqliteStorage(data_dir / "state.sqlite3")
    try:
        yield RecordStore(storage)
    finally:
        await storage.close()
