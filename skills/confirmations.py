"""Questions on cards (start this training? deploy? delete?): asked once, answered once, and only
for `LIFETIME` seconds.

A `Confirmation` record is written when the question is asked. Answering it moves it from
`pending` to `confirmed` or `cancelled` under e-tag concurrency, so of two presses (a double click,
a redelivery, two people in a channel) exactly one wins; the answer must come from the
conversation that asked and, in a channel where many people see the card, from the person who
asked (every costly or destructive question passes `user`), before the record expires.
Answered and expired questions are swept at start a day after they expire.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from infra.errors import UserError
from infra.records import Key, RecordStore
from skills.records import Confirmation

LIFETIME = 24 * 3600.0
"""How long a question on a card can be answered."""
SWEEP_AFTER = 24 * 3600.0
"""How long after expiring a question's record is kept (a late press still gets an answer)."""

C = TypeVar("C", bound=Confirmation)


def new_token() -> str:
    """A fresh id for a question."""
    return uuid.uuid4().hex


def lifetime_hours() -> int:
    """How many hours a question can be answered, for the card that asks it."""
    return round(LIFETIME / 3600)


class Confirmations:
    """Answers to questions, once each."""

    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self.records = records
        self._clock = clock

    async def ask(self, kind: type[C], conversation: str, user: str, **fields: Any) -> C:
        """Store a new question of `kind` (a fresh token, expiring in `LIFETIME`); returns it."""
        now = self._clock()
        question = kind(
            token=new_token(),
            conversation=conversation,
            user=user,
            created_at=now,
            expires_at=now + LIFETIME,
            **fields,
        )
        await self.records.put(question)
        return question

    async def answer(
        self,
        key: Key[C],
        state: Literal["confirmed", "cancelled"],
        conversation: str,
        again: str,
        user: str | None = None,
    ) -> C:
        """Answer a pending question; the one sentence why not when it cannot be answered.

        `again` is the command that asks the question anew, a message id (`N_("train")`) whose
        translation is the command word a reader of that language types (`학습`); with `user`,
        only the person who asked may answer.
        """
        outcome: list[str] = []
        now = self._clock()

        def change(found: C | None) -> C | None:
            outcome.clear()
            if found is None or found.expires_at <= now:
                outcome.append("expired")
            elif found.conversation != conversation:
                outcome.append("elsewhere")
            elif user is not None and found.user != user:
                outcome.append("someone else")
            elif found.state != "pending":
                outcome.append(found.state)
            else:
                return found.model_copy(update={"state": state})
            return None

        answered = await self.records.update(key, change)
        if not outcome and answered is not None:
            return answered
        reason = outcome[0] if outcome else "expired"
        if reason == "elsewhere":
            raise UserError("That confirmation belongs to another conversation.")
        if reason == "someone else":
            raise UserError(
                "Only the person who asked can answer that question; say `{again}` to ask your "
                "own.",
                again=again,
                translated=("again",),
            )
        if reason == "confirmed":
            raise UserError("That was already answered (confirmed).")
        raise UserError(
            "That confirmation has expired or was cancelled; say `{again}` again.",
            again=again,
            translated=("again",),
        )

    async def sweep(self) -> int:
        """Delete the questions that expired more than `SWEEP_AFTER` ago."""
        cutoff = self._clock() - SWEEP_AFTER
        old: list[Key[Confirmation]] = []
        for kind in Confirmation.kinds():
            old += [c.key() for c in await self.records.all(kind) if c.expires_at < cutoff]
        await self.records.delete(*old)
        return len(old)
