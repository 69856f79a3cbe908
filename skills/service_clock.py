"""Azure's time as the bot sees it: wall-clock time, or sandbox time that runs faster.

The 15-day inactivity rule is measured on the service's clock. Against Azure that is real time;
against the sandbox it runs `speedup` times faster (SANDBOX_SPEEDUP). Every timestamp the service
returns (a completion's `created`, a deployment's `systemData`) re-anchors the estimate, so the bot
and the service agree even after either restarts; the estimate never goes backwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ServiceClock:
    """Seconds since the epoch on the service's clock, and real-time sleeps for spans of it."""

    def __init__(self, speedup: float = 1.0, wall: Callable[[], float] = time.time) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.speedup = speedup
        self._origin = wall()
        self._mono = time.monotonic()

    def now(self) -> float:
        """The service's current time (epoch seconds)."""
        return self._origin + (time.monotonic() - self._mono) * self.speedup

    def observe(self, stamp: float | None) -> None:
        """A time the service just reported; moves the estimate forward to it, never back."""
        if stamp is None or stamp <= self.now():
            return
        self._origin = stamp
        self._mono = time.monotonic()

    def real_seconds(self, service_seconds: float) -> float:
        """How long a span of service time lasts in real time."""
        return max(0.0, service_seconds) / self.speedup

    async def sleep(self, service_seconds: float) -> None:
        """Sleep for a span of service time."""
        await asyncio.sleep(self.real_seconds(service_seconds))
