"""Once-only steps, and the rule each one keeps.

Exactly-once delivery through the Bot Connector is impossible: a process can die after the
connector took a message and before the bot wrote that down. So every step that must happen once
goes through this module and says which promise it keeps:

- `once(path)`: a step with a single winner and no delivery inside it (an activity the channel
  delivers twice, the greeting of a conversation, the start of a launch). The first claim wins for
  good; every later one is refused.
- `at_least_once(path, send)`: what a user must learn (the training notice). The claim is taken
  before the send and marked done after it. A send that fails releases the claim, so a later try
  sends again. A claim left `sending` by a crash or a cancel in the middle of the send is taken
  over by another owner (another process) once it is `TAKEOVER_SECONDS` old: at worst the user
  reads the message twice, never zero times.
- `at_most_once(path, send)`: reminders (the idle warning). The claim is taken before the send and
  kept whatever happens, except when the channel definitely refused the message (`NotDelivered`):
  at worst a reminder is lost, never repeated.

Claims are `Claim` records (skills/records.py); each kind of step is a `ClaimKind`, defined
beside the workflow that takes it, which builds its paths. An owner is one running process
(`owner`, a fresh id per start).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Literal

from infra.records import RecordStore
from skills.notify import NotDelivered
from skills.records import Claim, ClaimKind

TAKEOVER_SECONDS = 60.0
"""Age after which an at-least-once claim left `sending` by another owner is taken over."""


class Outcome(Enum):
    """What became of an attempt at a once-only step."""

    SENT = "sent"  # this call did it
    DONE = "done"  # it was done before
    BUSY = "busy"  # another owner is at it (try again later)


class Claims:
    """Once-only steps on the state store, for one owner."""

    def __init__(
        self,
        records: RecordStore,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = records
        self.owner = owner or uuid.uuid4().hex
        self._clock = clock

    def _claim(self, path: str, state: Literal["sending", "done"] = "sending") -> Claim:
        return Claim(path=path, state=state, owner=self.owner, at=self._clock())

    async def once(self, path: str) -> bool:
        """True for the first caller ever to claim `path`."""
        return await self.records.create(self._claim(path, "done"))

    async def at_least_once(self, path: str, send: Callable[[], Awaitable[str]]) -> Outcome:
        """Run `send` unless it is done or being done; see the module's rule."""
        state = await self._take(path, takeover=True)
        if state is not Outcome.SENT:
            return state
        try:
            result = await send()
        except asyncio.CancelledError:
            raise  # the claim stays `sending`: taken over later, so at worst it repeats
        except BaseException:
            await self.records.delete(Claim.at_path(path))
            raise
        await self._done(path, result)
        return Outcome.SENT

    async def at_most_once(self, path: str, send: Callable[[], Awaitable[str]]) -> Outcome:
        """Run `send` unless it was ever claimed; see the module's rule."""
        state = await self._take(path, takeover=False)
        if state is not Outcome.SENT:
            return state
        try:
            result = await send()
        except NotDelivered:
            await self.records.delete(Claim.at_path(path))
            raise
        await self._done(path, result)
        return Outcome.SENT

    async def release(self, path: str) -> None:
        """Forget a claim (the step may be taken again)."""
        await self.records.delete(Claim.at_path(path))

    async def forget(self, kind: ClaimKind, older_than: float) -> int:
        """Drop the claims of `kind` taken more than `older_than` seconds ago."""
        cutoff = self._clock() - older_than
        old = [c.key() for c in await self.records.all(Claim, kind.prefix) if c.at < cutoff]
        await self.records.delete(*old)
        return len(old)

    async def _take(self, path: str, *, takeover: bool) -> Outcome:
        """SENT when this owner may go ahead (it holds the claim now), else DONE or BUSY."""
        if await self.records.create(self._claim(path)):
            return Outcome.SENT
        if not takeover:
            return Outcome.DONE  # claimed before: done, or (after a crash) given up on
        taken = False

        def take_over(found: Claim | None) -> Claim | None:
            nonlocal taken
            stale = found is not None and self._clock() - found.at > TAKEOVER_SECONDS
            taken = bool(found and found.state == "sending" and found.owner != self.owner and stale)
            return self._claim(path) if taken else None

        found = await self.records.update(Claim.at_path(path), take_over)
        if taken:
            return Outcome.SENT
        if found is None:
            return Outcome.BUSY  # released between the two reads: try again shortly
        return Outcome.DONE if found.state == "done" else Outcome.BUSY

    async def _done(self, path: str, result: str) -> None:
        done = self._claim(path, "done")
        await self.records.put(done.model_copy(update={"result": result}))
