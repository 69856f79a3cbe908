"""Shared fixtures: the real bot over HTTP, and a channel fake for it to answer through."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botbuilder.schema import Activity

from bot.adapter import create_adapter
from bot.notifier import Notifier
from infra.records import RecordStore
from infra.storage import SqliteStorage
from tests.azurite import running_azurite
from tests.channel import THREAD, ChannelFake, Conversation
from tests.harness import HTTP_TIMEOUT, bot_settings, bot_state, running_bot

E2E = Path(__file__).parent / "e2e"
NEEDS = {"playground": "playground", "azurite": "azurite"}
"""Fixture -> the marker of the tests that use it (what a run without that npm package skips)."""

pytest_plugins = ["tests.contract_guard"]


def pytest_configure(config: pytest.Config) -> None:
    """Start from an empty tiktoken cache, so every run proves the offline seeding works."""
    os.environ["TIKTOKEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="ftbot-tiktoken-")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by where it lives (tests/e2e/: `e2e`) and what it starts (`playground`,
    `azurite`), so `-m` picks a subset: `make test-fast` is `-m "not e2e and not slow"`."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
        for fixture, marker in NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """One Azurite Blob service for the whole run (in memory); its connection string. Each test
    uses containers of its own."""
    with running_azurite() as connection:
        yield connection


@pytest.fixture
async def channel() -> AsyncIterator[ChannelFake]:
    fake = ChannelFake()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to start the bot with other settings."""
    return {}


@pytest.fixture
async def bot_url(tmp_path: Path, settings_overrides: dict[str, Any]) -> AsyncIterator[str]:
    async with running_bot(bot_settings(tmp_path / "data", **settings_overrides)) as url:
        yield url


@pytest.fixture
async def bot_records(bot_url: str, tmp_path: Path) -> AsyncIterator[RecordStore]:
    """The state store of the bot of `bot_url`, read beside it."""
    async with bot_state(tmp_path / "data") as records:
        yield records


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as client:
        yield client


@pytest.fixture
def conversation(
    bot_url: str, channel: ChannelFake, session: aiohttp.ClientSession
) -> Callable[..., Conversation]:
    """Open a conversation with the running bot: `conversation(conversation_type="channel")`."""

    def open_(**options: Any) -> Conversation:
        return Conversation(bot_url, channel, session, **options)

    return open_


class Clock:
    """Wall-clock time that a test moves forward by hand (`clock.now += 60`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[RecordStore]:
    """Typed records on a SQLite store of the test's own."""
    storage = SqliteStorage(tmp_path / "records.sqlite3")
    yield RecordStore(storage)
    await storage.close()


@pytest.fixture
async def notifier(tmp_path: Path, channel: ChannelFake) -> AsyncIterator[Notifier]:
    """A notifier through the real CloudAdapter that has seen the channel thread THREAD."""
    settings = bot_settings(tmp_path)
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    adapter = create_adapter(settings)
    notifier = Notifier(adapter, RecordStore(storage), settings.app_id)
    incoming = Activity().deserialize(
        {
            "type": "message",
            "id": "a1",
            "channelId": "msteams",
            "serviceUrl": channel.url,
            "from": {"id": "user"},
            "recipient": {"id": "bot"},
            "conversation": {"id": THREAD},
        }
    )
    await notifier.remember(incoming)
    yield notifier
    await adapter.close()
    await storage.close()
