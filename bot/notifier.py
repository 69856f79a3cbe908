"""Proactive messages: send to, or update a message in, any conversation the bot knows.

Conversation references are stored on every incoming activity; `Notifier` resumes them through
`CloudAdapter.continue_conversation`, retries throttling and gateway errors with backoff (honouring
Retry-After), and keeps each conversation under Teams' 7 messages per second.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference

from infra.errors import UserError
from infra.retry import retry, retry_after
from infra.storage import SqliteStorage

RETRY_STATUSES = {412, 429, 502, 504}
PER_SECOND = 7


def reference_key(conversation_id: str) -> str:
    """Storage key of a conversation's reference."""
    return f"ref/{conversation_id}"


def classify(error: Exception) -> float | bool:
    """Retry verdict for a Connector API failure (see `infra.retry.retry`)."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if status not in RETRY_STATUSES:
        return False
    hint = retry_after(error)
    return hint if hint is not None else True


class _RateLimit:
    """At most `limit` sends in any one-second window, per conversation."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, conversation_id: str) -> None:
        async with self._locks.setdefault(conversation_id, asyncio.Lock()):
            sent = self._sent.setdefault(conversation_id, deque(maxlen=self._limit))
            if len(sent) == self._limit:
                delay = sent[0] + 1.0 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent.append(time.monotonic())


class Notifier:
    """Sends and updates messages outside of a turn."""

    def __init__(self, adapter: CloudAdapter, storage: SqliteStorage, app_id: str) -> None:
        self._adapter = adapter
        self._storage = storage
        self._app_id = app_id
        self._rate = _RateLimit(PER_SECOND)

    async def remember(self, activity: Activity) -> None:
        """Store the reference of the conversation an incoming activity came from."""
        reference = TurnContext.get_conversation_reference(activity)
        key = reference_key(str(activity.conversation.id))
        await self._storage.write({key: {"reference": reference.serialize()}})

    async def send(self, conversation_id: str, activity: Activity) -> str:
        """Post `activity` as a new message; returns its id."""
        result: list[str] = []

        async def logic(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            result.append(str(response.id) if response and response.id else "")

        await self._continue(conversation_id, logic)
        return result[0] if result else ""

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> None:
        """Replace the message `activity_id` with `activity`."""
        activity.id = activity_id

        async def logic(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._continue(conversation_id, logic)

    async def _continue(
        self, conversation_id: str, logic: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        stored = (await self._storage.read([reference_key(conversation_id)])).get(
            reference_key(conversation_id)
        )
        if stored is None:
            raise UserError("I have never been in that conversation, so I cannot write there.")
        reference = ConversationReference().deserialize(stored["reference"])

        async def attempt() -> None:
            await self._rate.wait(conversation_id)
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

        await retry(attempt, classify=classify)
