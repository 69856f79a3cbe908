"""Rate limits (infra/ratelimit.py) keep bounded state however many conversations pass."""

from __future__ import annotations

import asyncio
import time

from infra.ratelimit import TokenBucket, WindowLimit


async def test_the_window_holds_a_conversation_to_its_limit() -> None:
    limit = WindowLimit(3, window=0.2)
    started = time.monotonic()
    for _ in range(4):
        await limit.wait("c")
    assert time.monotonic() - started >= 0.2


async def test_quiet_conversations_are_forgotten() -> None:
    limit = WindowLimit(7, window=0.05)
    for n in range(1000):
        await limit.wait(f"conversation-{n}")
    assert len(limit) <= 1000
    await asyncio.sleep(0.1)
    for n in range(1000, 1100):  # new traffic sweeps out the quiet ones
        await limit.wait(f"conversation-{n}")
    assert len(limit) < 300


async def test_the_bucket_spends_what_it_has_then_refills() -> None:
    bucket = TokenBucket(per_second=20)
    assert sum(bucket.try_take() for _ in range(40)) == 20
    started = time.monotonic()
    await bucket.take()
    assert time.monotonic() - started >= 0.03
