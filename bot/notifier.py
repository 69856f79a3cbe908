"""Proactive messages: send to, or update a message in, any conversation the bot knows.

`Notifier` implements the skills' `Notify` protocol: it renders a view (bot/render.py) and sends it
through `CloudAdapter.continue_conversation`, with the conversation reference stored from the
incoming activities (written only when it changed). Throttling and gateway errors are retried
with backoff (honouring Retry-After, `infra.retry`), and each conversation stays under Teams' 7
messages per second. A message the channel refused is `NotDelivered`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference

from bot.limits import fit
from bot.render import render
from infra.ratelimit import WindowLimit
from infra.records import RecordStore
from infra.retry import retry, status_of
from skills.notify import NotDelivered, View
from skills.records import ConversationRef

PER_SECOND = 7
KNOWN_REFERENCES = 10_000
"""Conversations whose last stored reference this instance remembers (oldest dropped first)."""


class Notifier:
    """Sends and updates messages outside of a turn."""

    def __init__(self, adapter: CloudAdapter, records: RecordStore, app_id: str) -> None:
        self._adapter = adapter
        self._records = records
        self._app_id = app_id
        self._rate = WindowLimit(PER_SECOND)
        self._known: dict[str, dict[str, object]] = {}

    @property
    def tracked_conversations(self) -> int:
        """Conversations whose recent sends are being counted (bounded: idle ones are dropped)."""
        return len(self._rate)

    async def remember(self, activity: Activity) -> None:
        """Store the reference of the conversation an incoming activity came from, unless this
        instance stored the same one last (the incoming activity's id is left out: a proactive
        message replies to nothing)."""
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None
        conversation = str(activity.conversation.id)
        serialized = reference.serialize()
        if self._known.get(conversation) == serialized:
            return
        await self._records.put(ConversationRef(conversation=conversation, reference=serialized))
        self._known.pop(conversation, None)
        self._known[conversation] = serialized
        if len(self._known) > KNOWN_REFERENCES:
            del self._known[next(iter(self._known))]

    async def send(self, conversation: str, view: View) -> str:
        """Post `view` as a new message; returns its id."""
        return await self.post(conversation, await asyncio.to_thread(render, view))

    async def update(self, conversation: str, message: str, view: View) -> None:
        """Replace message `message` with `view`."""
        await self.replace(conversation, message, await asyncio.to_thread(render, view))

    async def post(self, conversation: str, activity: Activity) -> str:
        """Post a prepared activity as a new message; returns its id."""
        result: list[str] = []

        async def logic(context: TurnContext) -> None:
            response = await context.send_activity(fit(activity))
            result.append(str(response.id) if response and response.id else "")

        await self._continue(conversation, logic)
        return result[0] if result else ""

    async def replace(self, conversation: str, message: str, activity: Activity) -> None:
        """Replace message `message` with a prepared activity."""
        activity.id = message

        async def logic(context: TurnContext) -> None:
            await context.update_activity(fit(activity))

        await self._continue(conversation, logic)

    async def _continue(
        self, conversation: str, logic: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        stored = await self._records.get(ConversationRef.at(conversation))
        if stored is None:
            raise NotDelivered("I have never been in that conversation, so I cannot write there.")
        reference = ConversationReference().deserialize(stored.reference)

        async def attempt() -> None:
            await self._rate.wait(conversation)
            failed: list[Exception] = []

            async def guarded(context: TurnContext) -> None:
                # The adapter would hand a failure to on_turn_error, which writes to the user;
                # a proactive send reports it to its caller instead.
                try:
                    await logic(context)
                except Exception as error:
                    failed.append(error)

            await self._adapter.continue_conversation(reference, guarded, bot_app_id=self._app_id)
            if failed:
                raise failed[0]

        try:
            await retry(attempt)
        except Exception as error:
            status = status_of(error)
            if status is not None:  # the channel answered: it refused the message
                raise NotDelivered(
                    "The channel refused the message (HTTP {status}).", status=status
                ) from error
            raise
