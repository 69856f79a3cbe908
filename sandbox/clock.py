"""Sandbox time: wall-clock time run `speedup` times faster, continuous across restarts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

DAY = 86_400.0
HOUR = 3_600.0


class SandboxClock:
    """Seconds since the epoch in sandbox time; it never goes back, even after a restart."""

    def __init__(self, speedup: float, start: float | None = None) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.speedup = speedup
        self._origin = max(time.time(), start or 0.0)
        self._mono = time.monotonic()

    def now(self) -> float:
        """The current sandbox time (epoch seconds)."""
        return self._origin + (time.monotonic() - self._mono) * self.speedup

    def stamp(self) -> int:
        """The current sandbox time as whole seconds, as Azure's `created_at` fields are."""
        return int(self.now())

    def iso(self, at: float | None = None) -> str:
        """A sandbox instant as ISO 8601 UTC, as ARM's `systemData` writes it."""
        moment = self.now() if at is None else at
        return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long `sandbox_seconds` of sandbox time last in real time."""
        return max(0.0, sandbox_seconds) / self.speedup

    async def sleep(self, sandbox_seconds: float) -> None:
        """Sleep for a span of sandbox time."""
        await asyncio.sleep(self.real_seconds(sandbox_seconds))

    async def sleep_until(self, moment: float) -> None:
        """Sleep until a sandbox instant."""
        await self.sleep(moment - self.now())
