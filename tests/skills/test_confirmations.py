"""Questions on cards (skills/confirmations.py): answered once, by the conversation that asked,
within 24 hours; swept a day after they expire."""

from __future__ import annotations

import asyncio

import pytest

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.records import RecordStore
from skills.confirmations import LIFETIME, SWEEP_AFTER, Confirmations
from skills.deployment.records import DeleteRequest
from tests.conftest import Clock

RESOURCE = Resource("sub", "group", "account", "http://127.0.0.1:9/")


async def ask(records: RecordStore, confirmations: Confirmations) -> DeleteRequest:
    return await confirmations.ask(DeleteRequest, "c", "u", resource=RESOURCE, name="d", model="m")


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


async def test_a_question_expires_after_24_hours(records: RecordStore, clock: Clock) -> None:
    confirmations = Confirmations(records, clock=clock)
    request = await ask(records, confirmations)
    assert request.expires_at - request.created_at == LIFETIME == 24 * 3600
    clock.now += LIFETIME + 1
    with pytest.raises(UserError, match="has expired or was cancelled; say `delete` again"):
        await confirmations.answer(request.key(), "confirmed", "c", "delete")
    with pytest.raises(UserError) as refused:
        await confirmations.answer(request.key(), "confirmed", "c", "delete")
    with i18n.use("ko"):  # the command a Korean reader types
        assert "`삭제` 명령을 다시 입력하세요" in refused.value.message


async def test_only_the_conversation_that_asked_may_answer(records: RecordStore) -> None:
    confirmations = Confirmations(records)
    request = await ask(records, confirmations)
    with pytest.raises(UserError, match="belongs to another conversation"):
        await confirmations.answer(request.key(), "confirmed", "elsewhere", "delete")
    kept = await confirmations.answer(request.key(), "cancelled", "c", "delete")
    assert kept.state == "cancelled"
    with pytest.raises(UserError, match="expired or was cancelled"):
        await confirmations.answer(request.key(), "confirmed", "c", "delete")


async def test_expired_questions_are_swept_a_day_later(records: RecordStore, clock: Clock) -> None:
    confirmations = Confirmations(records, clock=clock)
    request = await ask(records, confirmations)
    clock.now += LIFETIME + SWEEP_AFTER - 1
    assert await confirmations.sweep() == 0
    clock.now += 2
    assert await confirmations.sweep() == 1
    assert await records.get(request.key()) is None
