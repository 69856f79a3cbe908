"""Questions on cards (skills/confirmations.py): answered once, by the conversation that asked,
within 24 hours; swept a day after they expire."""

from __future__ import annotations

import asyncio

import pytest

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.records import RecordStore
from skills.audit import Actor, Audit, AuditEntry
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


async def test_a_confirmation_and_the_work_it_starts_are_one_write(
    records: RecordStore, clock: Clock
) -> None:
    """`confirm` stores who answered, when and on which card with the work's records, made from
    the answered question; a refused answer (someone else's, a second press) stores no work."""
    confirmations = Confirmations(records, clock=clock)
    request = await ask(records, confirmations)
    clock.now += 60

    def work(question: DeleteRequest) -> list[AuditEntry]:
        actor = Actor(question.user, question.by_name)
        return [Audit(records).entry(actor, "delete", question.name, at=question.answered_at)]

    with pytest.raises(UserError, match="Only the person who asked"):
        await confirmations.confirm(request.key(), "c", "delete", Actor("v", "Vee"), "", work)
    assert await records.all(AuditEntry) == []
    confirmed = await confirmations.confirm(
        request.key(), "c", "delete", Actor("u", "Ursula"), "card-7", work
    )
    assert (confirmed.state, confirmed.by_name, confirmed.card) == ("confirmed", "Ursula", "card-7")
    assert confirmed.answered_at == clock.now
    [entry] = await records.all(AuditEntry)
    assert (entry.user_name, entry.at) == ("Ursula", clock.now)
    with pytest.raises(UserError, match="already answered"):
        await confirmations.confirm(request.key(), "c", "delete", Actor("u", "Ursula"), "", work)
    assert len(await records.all(AuditEntry)) == 1


async def test_unrecorded_finds_a_confirmed_question_without_its_work(
    records: RecordStore,
) -> None:
    """What a crash between the answer and its work leaves (on Blob Storage, the question is
    written first): only questions answered with `confirm` whose work is missing."""
    confirmations = Confirmations(records)
    pending, answered, done, old = [await ask(records, confirmations) for _ in range(4)]
    await confirmations.confirm(answered.key(), "c", "delete", Actor("u", "U"), "", lambda q: [])
    await confirmations.confirm(done.key(), "c", "delete", Actor("u", "U"), "", lambda q: [])
    await confirmations.answer(old.key(), "confirmed", "c", "delete")  # before `confirm` existed

    async def recorded(question: DeleteRequest) -> bool:
        return question.token == done.token

    found = await confirmations.unrecorded(DeleteRequest, recorded)
    assert [q.token for q in found] == [answered.token]


async def test_record_missing_makes_only_the_work_a_crash_kept_from_being_written(
    records: RecordStore,
) -> None:
    """Made again from the question as `confirm` made it: only for questions answered with
    `confirm`, only where the work's own record (the first) is absent, the others with it; a
    second look writes nothing more."""
    confirmations = Confirmations(records)
    pending, answered, done, old = [await ask(records, confirmations) for _ in range(4)]
    await confirmations.confirm(answered.key(), "c", "delete", Actor("u", "U"), "", lambda q: [])
    await confirmations.confirm(done.key(), "c", "delete", Actor("u", "U"), "", lambda q: [])
    await confirmations.answer(old.key(), "confirmed", "c", "delete")  # before `confirm` existed

    def work(question: DeleteRequest) -> list[AuditEntry]:
        actor = Actor(question.user, question.by_name)
        return [
            Audit(records).entry(actor, "delete", question.name, at=1.0, ref=question.token),
            Audit(records).entry(actor, "trail", question.name, at=2.0, ref=question.token),
        ]

    made = work(done)[0]  # the work `done`'s answer wrote
    await records.put(made.model_copy(update={"detail": "made by its own answer"}))
    for _ in range(2):
        await confirmations.record_missing(DeleteRequest, work)
        entries = await records.all(AuditEntry)
        assert sorted((e.id[-8:], e.action, e.detail) for e in entries) == sorted(
            [
                (answered.token[:8], "delete", ""),
                (answered.token[:8], "trail", ""),
                (done.token[:8], "delete", "made by its own answer"),
            ]
        )
