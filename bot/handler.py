"""The activity handler: remembers conversations, greets once, hands commands to the router."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    ChannelAccount,
)

from adaptive_cards import verbs
from adaptive_cards.common import CARD_CONTENT_TYPE, card, text
from bot.attachments import incoming_files
from bot.datasets import file_consent
from bot.language import decide
from bot.notifier import Notifier
from bot.router import Router, clean_text
from bot.services import Services
from bot.turn import Turn
from infra import i18n
from infra.i18n import _
from infra.text import echo, person
from skills.records import delivery_claim, greeting_claim


def mentions(activity: Activity) -> list[dict[str, str]]:
    """The people an activity mentions, other than the bot itself: [{"id", "name"}]."""
    bot = str(getattr(activity.recipient, "id", "") or "")
    found: list[dict[str, str]] = []
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "")).lower() != "mention":
            continue
        mentioned = (getattr(entity, "additional_properties", None) or {}).get("mentioned")
        if isinstance(mentioned, dict) and mentioned.get("id") and mentioned["id"] != bot:
            name = person(mentioned.get("name") or "")  # capped, no invisible characters
            found.append({"id": str(mentioned["id"]), "name": name})
    return found


class FineTuneBot(ActivityHandler):  # type: ignore[misc]
    """Routes messages and card actions; everything else is the router's and the skills'."""

    def __init__(self, router: Router, services: Services, notifier: Notifier) -> None:
        self.router = router
        self.services = services
        self.notifier = notifier

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        user = self._turn(turn_context).user_id if activity.from_property else ""
        deciding = decide(turn_context, user, self.services.languages)
        # The state calls of a turn go at once, the claim first, so a turn waits for one round
        # trip to Blob Storage, not one after another (the reference is stored while the claim
        # and the language are on their way).
        if activity.type in (ActivityTypes.message, ActivityTypes.invoke):
            first, language, _ = await asyncio.gather(
                self._first(turn_context), deciding, self._remember(activity)
            )
            if not first:
                return  # the channel delivered the same activity again: it was handled already
        else:
            language, _ = await asyncio.gather(deciding, self._remember(activity))
        with i18n.use(language):
            await super().on_turn(turn_context)

    async def _remember(self, activity: Activity) -> None:
        """Keep the reference of the conversation an activity from a user came from (for
        proactive messages)."""
        if activity.conversation is not None and activity.type in (
            ActivityTypes.message,
            ActivityTypes.invoke,
            ActivityTypes.conversation_update,
            ActivityTypes.installation_update,
        ):
            await self.notifier.remember(activity)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turn = self._turn(turn_context)
        data = turn.data()
        verb = data.get("verb")
        if isinstance(verb, str):
            await self.router.handle_verb(turn, verb, data)
            return
        text = clean_text(turn_context.activity.text)
        if not text and incoming_files(turn.attachments):
            await self.router.handle_verb(turn, verbs.ATTACHED, {})
            return
        await self.router.handle_text(turn, text or "help", mentions(turn_context.activity))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name == "fileConsent/invoke":
            # Teams' answer to a file consent card (files sent in personal chat): only as this
            # invoke, never as a verb a message could carry.
            turn = self._turn(turn_context)
            value = activity.value if isinstance(activity.value, dict) else {}
            await self.router.guarded(turn, "file consent", file_consent(turn, value))
            return InvokeResponse(status=int(HTTPStatus.OK))
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        action = activity.value.get("action") if isinstance(activity.value, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST))
        verb = str(action.get("verb") or "")
        data = action.get("data")
        data = data if isinstance(data, dict) else {}
        await self.router.handle_verb(self._turn(turn_context), verb, data)
        # The body stays a schema object: CloudAdapter serializes it (a dict would give HTTP 500).
        # Universal Actions refresh the pressed card with this one.
        done = card(
            [text(_("{verb}: my answer is in the conversation.", verb=echo(verb)), isSubtle=True)]
        )
        body = AdaptiveCardInvokeResponse(
            status_code=int(HTTPStatus.OK), type=CARD_CONTENT_TYPE, value=done
        )
        return InvokeResponse(status=int(HTTPStatus.OK), body=body)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id
        if any(member.id == bot_id for member in members_added):
            await self._greet(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._greet(turn_context)

    async def _greet(self, turn_context: TurnContext) -> None:
        """Send the help card once per conversation, however many join events arrive."""
        if await self.services.claims.once(greeting_claim(turn_context.activity.conversation.id)):
            await self.router.handle_verb(self._turn(turn_context), verbs.WELCOME, {})

    def _turn(self, turn_context: TurnContext) -> Turn:
        return Turn(turn_context, self.services, self.router)

    async def _first(self, turn_context: TurnContext) -> bool:
        """True the first time an activity id is seen in its conversation."""
        activity = turn_context.activity
        if not activity.id:
            return True
        return await self.services.claims.once(
            delivery_claim(activity.conversation.id, activity.id)
        )
