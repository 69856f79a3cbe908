"""Questions on cards (skills/confirmations.py): answered once, by the conversation that asked,
within 24 hours; swept a day after they expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.azure import Resource
from infra.errors import UserError
from infra.records import RecordStore
from infra.storage import SqliteStorage
from skills.confirmations import LIFETIME, SWEEP_AFTER, Confirmations
from skills.records import DeleteRequest

RESOURCE = Resource("sub", "group", "account", "http://127.0.0.1:9/")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[RecordStore]:
    storage = SqliteStorage(tmp_path / "s.sqlite3")
    yield RecordStore(storage)
    await storage.close()


async def ask(records: RecordStore, confirmations: Confirmations) -> DeleteRequest:
    created, expires = confirmations.expiry()
    request = DeleteRequest(
        token="t1",
        conversation="c",
        user="u",
        created_at=created,
        expires_at=expires,
        resource=RESOURCE,
        name="d",
        model="m",
    )
    await records.put(request)
    return request


async def test_one_answer_wins(records: RecordStore) -> None:
    confirmations = Confirmations(records)
    request = await ask(records, confirmations)
    results = await asyncio.gather(
        *(confirmations.answer(request.key(), "confirmed", "c", "delete") for _ in range(5)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, DeleteRequest)] == [
        request.model_copy(update={"state": "confirmed"})
    ]
    assert {str(r) for r in results if isinstance(r, UserError)} == {
        "That was already answered (confirmed)."
    }


async def test_a_question_expires_after_24_hours(records: RecordStore) -> None:
    clock = Clock()
    confirmations = Confirmations(records, clock=clock)
    request = await ask(records, confirmations)
    assert request.expires_at - request.created_at == LIFETIME == 24 * 3600
    clock.now += LIFETIME + 1
    with pytest.raises(UserError, match="has expired or was cancelled; say `delete` again"):
        await confirmations.answer(request.key(), "confirmed", "c", "delete")


async def test_only_the_conversation_that_asked_may_answer(records: RecordStore) -> None:
    confirmations = Confirmations(records)
    request = await ask(records, confirmations)
    with pytest.raises(UserError, match="belongs to another conversation"):
        await confirmations.answer(request.key(), "confirmed", "elsewhere", "delete")
    kept = await confirmations.answer(request.key(), "cancelled", "c", "delete")
    assert kept.state == "cancelled"
    with pytest.raises(UserError, match="expired or was cancelled"):
        await confirmations.answer(request.key(), "confirmed", "c", "delete")


async def test_expired_questions_are_swept_a_day_later(records: RecordStore) -> None:
    clock = Clock()
    confirmations = Confirmations(records, clock=clock)
    request = await ask(records, confirmations)
    clock.now += LIFETIME + SWEEP_AFTER - 1
    assert await confirmations.sweep() == 0
    clock.now += 2
    assert await confirmations.sweep() == 1
    assert await records.get(request.key()) is None
