"""Questions on cards (start this training? deploy? delete?): asked once, answered once, and only
for `LIFETIME` seconds.

A `Confirmation` record is written when the question is asked. Answering it moves it from
`pending` to `confirmed` or `cancelled` under e-tag concurrency, so of two presses (a double click,
a redelivery, two people in a channel) exactly one wins; the answer must come from the
conversation that asked and, in a channel where many people see the card, from the person who
asked (every costly or destructive question passes `user`), before the record expires.
Answered and expired questions are swept a day after they expire (skills/retention.py).

The card a question is asked on is noted on it (`shown`), and only that card is replaced by its
answer (`card_of`): a button press names a card (Teams' replyToId), but a button's data can claim
to answer any card, so the card pressed is taken only while the asking turn has not noted its
own yet.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


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

    async def shown(self, key: Key[C], card: str) -> None:
        """Note the card question `key` was asked on: its answer replaces that card."""
        before = ""

        def note(found: C | None) -> C | None:
            nonlocal before
            before = found.card if found is not None else ""
            return found.model_copy(update={"card": card}) if found is not None else None

        await self.records.update(key, note)
        if before and before != card:
            log.warning(
                "a press named card %s for %s before it was noted as %s", before, key.path, card
            )

    async def card_of(self, key: Key[C], pressed: str) -> str:
        """The card question `key` was asked on, for its answer to replace ('' when none is
        known: the answer comes as a new message). It is the card its asking turn noted
        (`shown`), whatever card the press names (`pressed`, Teams' replyToId), since a button's
        data can claim any card. Only a press that comes before the asking turn noted its card
        (the channel showed the card before it told the bot its id) names it: that card is
        noted then, and the asking turn's own note puts the right one in its place."""

        def claim(found: C | None) -> C | None:
            if found is None or found.card or not pressed:
                return None
            return found.model_copy(update={"card": pressed})

        found = await self.records.update(key, claim)
        return found.card if found is not None else ""

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
