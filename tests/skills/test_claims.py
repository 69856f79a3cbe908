"""Once-only steps (skills/claims.py): one winner; at-least-once for notices, at-most-once for
reminders, each through a failure, a cancel and a crash (another owner coming later)."""

from __future__ import annotations

import asyncio

import pytest

from infra.records import RecordStore
from skills.claims import TAKEOVER_SECONDS, Claims, Outcome
from skills.notify import NotDelivered
from skills.records import DELIVERY_CLAIMS, delivery_claim
from tests.conftest import Clock


class Sender:
    """Counts sends; fails or hangs as told."""

    def __init__(self, fail: BaseException | None = None, hang: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.hang = hang
        self.sending = asyncio.Event()  # set once a send has begun

    async def __call__(self) -> str:
        self.calls += 1
        self.sending.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.fail is not None:
            raise self.fail
        return f"message-{self.calls}"


async def test_once_has_one_winner_among_many(records: RecordStore) -> None:
    claims = Claims(records)
    won = await asyncio.gather(*(claims.once("greeted/c") for _ in range(10)))
    assert won.count(True) == 1
    assert not await Claims(records).once("greeted/c")  # another process, later


async def test_at_least_once_sends_once_then_says_done(records: RecordStore) -> None:
    claims, send = Claims(records), Sender()
    assert await claims.at_least_once("notice/j", send) is Outcome.SENT
    assert await claims.at_least_once("notice/j", send) is Outcome.DONE
    assert await Claims(records).at_least_once("notice/j", send) is Outcome.DONE
    assert send.calls == 1


async def test_at_least_once_retries_after_a_failed_send(records: RecordStore) -> None:
    claims = Claims(records)
    with pytest.raises(NotDelivered):
        await claims.at_least_once("notice/j", Sender(NotDelivered("refused")))
    with pytest.raises(OSError):
        await claims.at_least_once("notice/j", Sender(OSError("connection reset")))
    send = Sender()
    assert await claims.at_least_once("notice/j", send) is Outcome.SENT and send.calls == 1


async def test_at_least_once_a_cancel_mid_send_is_taken_over_after_the_stated_time(
    records: RecordStore, clock: Clock
) -> None:
    first, hanging = Claims(records, owner="first", clock=clock), Sender(hang=True)
    task = asyncio.create_task(first.at_least_once("notice/j", hanging))
    await hanging.sending.wait()  # claimed, and in the middle of the send
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    later = Claims(records, owner="second", clock=clock)
    send = Sender()
    assert await later.at_least_once("notice/j", send) is Outcome.BUSY  # it may be sending yet
    clock.now += TAKEOVER_SECONDS + 1
    assert await first.at_least_once("notice/j", send) is Outcome.BUSY  # its own claim: busy
    assert await later.at_least_once("notice/j", send) is Outcome.SENT  # at worst a repeat
    assert send.calls == 1
    assert await first.at_least_once("notice/j", send) is Outcome.DONE


async def test_at_most_once_keeps_the_claim_unless_the_channel_refused(
    records: RecordStore,
) -> None:
    claims = Claims(records)
    with pytest.raises(NotDelivered):
        await claims.at_most_once("warning/d/1", Sender(NotDelivered("refused")))
    send = Sender()
    assert await claims.at_most_once("warning/d/1", send) is Outcome.SENT  # refused: try again
    assert await claims.at_most_once("warning/d/1", send) is Outcome.DONE
    with pytest.raises(OSError):  # a connection lost mid-send: it may have arrived
        await claims.at_most_once("warning/d/2", Sender(OSError("reset")))
    assert await claims.at_most_once("warning/d/2", send) is Outcome.DONE
    assert send.calls == 1


async def test_at_most_once_a_crash_mid_send_means_never_again(
    records: RecordStore, clock: Clock
) -> None:
    hanging = Sender(hang=True)
    task = asyncio.create_task(
        Claims(records, owner="first", clock=clock).at_most_once("warning/d/1", hanging)
    )
    await hanging.sending.wait()  # claimed, and in the middle of the send
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.now += 10 * TAKEOVER_SECONDS
    send = Sender()
    assert await Claims(records, clock=clock).at_most_once("warning/d/1", send) is Outcome.DONE
    assert send.calls == 0


async def test_forget_drops_only_old_claims(records: RecordStore, clock: Clock) -> None:
    claims = Claims(records, clock=clock)
    await claims.once(delivery_claim("c", "old"))
    clock.now += 100
    await claims.once(delivery_claim("c", "new"))
    assert await claims.forget(DELIVERY_CLAIMS, older_than=50) == 1
    assert not await claims.once(delivery_claim("c", "new"))
    assert await claims.once(delivery_claim("c", "old"))
