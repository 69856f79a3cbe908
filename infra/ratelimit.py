"""Rate limits: a token bucket shared by many senders, and a per-key sliding window.

Both keep bounded state: the bucket is two numbers, and the window forgets a key once its last
event is older than the window (swept when the table has doubled since the last sweep, so the
cost stays amortised O(1) per call however many conversations pass through).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class TokenBucket:
    """`per_second` tokens a second, at most `per_second` banked."""

    def __init__(self, per_second: float) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def try_take(self) -> bool:
        """Take a token if one is there (for sends that may skip a turn rather than queue)."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a token (for sends that must go out)."""
        while not self.try_take():  # noqa: ASYNC110 - tokens come with time, not an event
            await asyncio.sleep((1 - self._tokens) / self._rate)


class WindowLimit:
    """At most `limit` events in any `window` seconds, per key."""

    MIN_SWEEP = 64

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self._limit = limit
        self._window = window
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sweep_at = self.MIN_SWEEP

    def __len__(self) -> int:
        """Keys remembered right now."""
        return len(self._sent)

    async def wait(self, key: str) -> None:
        """Return when one more event for `key` keeps it within the limit (and count it)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            sent = self._sent.setdefault(key, deque(maxlen=self._limit))
            if len(sent) == self._limit:
                delay = sent[0] + self._window - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent.append(time.monotonic())
        if len(self._sent) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        """Forget keys that have been quiet for a whole window and that nobody waits on."""
        cutoff = time.monotonic() - self._window
        for key, sent in list(self._sent.items()):
            if (not sent or sent[-1] < cutoff) and not self._locks[key].locked():
                del self._sent[key], self._locks[key]
        self._sweep_at = max(self.MIN_SWEEP, 2 * len(self._sent))
