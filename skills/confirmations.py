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

A question that starts long work is answered with `confirm`: the answer and the records of the
work it starts (built from the answered question alone, so the same every time) are one write,
before any card is posted. On SQLite that write is one transaction; Blob Storage writes one blob
at a time, the question first, so a crash can leave a confirmed question without its work:
`record_missing` records it at the skill's next start or retry (the step's own retry), and
`unrecorded` finds those questions for work that is more than records made from the question.
The records of a confirmed question's work are therefore deleted only together with the
question (teardown does both): a confirmed question without its work is one whose work was
never recorded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from infra.errors import UserError
from infra.records import Key, Record, RecordStore
from skills.audit import Actor
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
        return await self._answer(key, {"state": state}, conversation, again, user, None)

    async def confirm(
        self,
        key: Key[C],
        conversation: str,
        again: str,
        actor: Actor,
        card: str,
        work: Callable[[C], Sequence[Record]],
    ) -> C:
        """Answer "confirmed" (only `actor` may) and record the work it starts in the same write
        (see the module's docstring): the question keeps who answered, when, and the card pressed
        (`card`, when known), and `work(question)` gives the records of the work, built from the
        answered question alone. Returns the answered question."""
        answer = {"state": "confirmed", "by_name": actor.name, "answered_at": self._clock()}
        if card:
            answer["card"] = card
        return await self._answer(key, answer, conversation, again, actor.id, work)

    async def unrecorded(self, kind: type[C], recorded: Callable[[C], Awaitable[bool]]) -> list[C]:
        """The questions of `kind` answered with `confirm` whose work `recorded` does not find
        (a crash between the answer and its work, on Blob Storage): record it from the question
        as `confirm` does, then start it."""
        found: list[C] = []
        for question in await self.records.all(kind):
            confirmed = question.state == "confirmed" and question.answered_at > 0
            if confirmed and not await recorded(question):
                found.append(question)
        return found

    async def record_missing(self, kind: type[C], work: Callable[[C], Sequence[Record]]) -> None:
        """Record the work of every question of `kind` answered with `confirm` that has none (a
        crash between the answer and its work, on Blob Storage), as `confirm` did: `work`'s first
        record is the work's own, made only where there is none; the others (its audit entry) are
        written once it is made."""
        for question in await self.records.all(kind):
            if question.state == "confirmed" and question.answered_at > 0:
                first, *rest = work(question)
                if await self.records.create(first):
                    await self.records.put(*rest)

    async def _answer(
        self,
        key: Key[C],
        answer: dict[str, Any],
        conversation: str,
        again: str,
        user: str | None,
        work: Callable[[C], Sequence[Record]] | None,
    ) -> C:
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
                return found.model_copy(update=answer)
            return None

        answered = await self.records.update(key, change, together=work)
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
