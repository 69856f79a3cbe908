"""`Turn`: one incoming activity as command handlers see it (who, where, how to answer)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import Activity, Attachment

from adaptive_cards.common import Card
from adaptive_cards.help import HelpEntry
from bot.limits import fit, split_text
from bot.render import card_activity, render
from bot.services import Services
from infra.azure import Resource
from infra.i18n import N_, _
from infra.records import Key
from infra.settings import Settings
from infra.text import person
from skills.audit import Actor
from skills.notify import View
from skills.resources import scope_of


class CommandBook(Protocol):
    """What a turn may ask of the command table (the router implements it)."""

    def listing(self) -> list[HelpEntry]:
        """The listed commands, in order."""
        ...

    def describe(self, word: str) -> HelpEntry | None:
        """One listed command by name or alias."""
        ...

    def suggestions(self, word: str) -> list[str]:
        """The listed command names closest to a mistyped word."""
        ...


class Role(IntEnum):
    """Bot roles, each allowed what the ones below it are."""

    USER = 0
    TRAINER = 1
    ADMIN = 2


ROLE_NAMES = {Role.USER: N_("user"), Role.TRAINER: N_("trainer"), Role.ADMIN: N_("admin")}


def role_name(role: Role) -> str:
    """A role's name in the current language."""
    return _(ROLE_NAMES[role])


def role_of(user_id: str, settings: Settings) -> Role:
    """A user's role from the settings: with neither list set everyone is admin (local use);
    once either list is set, the lists decide (a user on neither is a user)."""
    if settings.everyone_admin or user_id in settings.admins:
        return Role.ADMIN
    if user_id in settings.trainers:
        return Role.TRAINER
    return Role.USER


@dataclass
class Turn:
    """The current turn: the context, the services, and the caller's identity and role."""

    context: TurnContext
    services: Services
    commands: CommandBook

    @property
    def activity(self) -> Activity:
        """The incoming activity."""
        return self.context.activity

    @property
    def conversation_id(self) -> str:
        """The conversation (in a channel: the thread) the activity belongs to."""
        return str(self.activity.conversation.id)

    @property
    def user_id(self) -> str:
        """The caller: AAD object id in Teams, the channel's user id elsewhere."""
        sender = self.activity.from_property
        return str(getattr(sender, "aad_object_id", None) or sender.id)

    @property
    def user_name(self) -> str:
        """The caller's display name as the bot keeps it (`infra.text.person`: capped, no
        invisible characters; the id when the channel sends none)."""
        return person(getattr(self.activity.from_property, "name", "") or "") or self.user_id

    @property
    def actor(self) -> Actor:
        """The caller, as the audit trail names them."""
        return Actor(self.user_id, self.user_name)

    @property
    def aad_object_id(self) -> str | None:
        """The caller's AAD object id, when the client sends it (Teams does)."""
        value = getattr(self.activity.from_property, "aad_object_id", None)
        return str(value) if value else None

    @property
    def team(self) -> str | None:
        """The Teams team of a channel conversation, else None."""
        data = self.activity.channel_data
        team = data.get("team") if isinstance(data, dict) else None
        return str(team["id"]) if isinstance(team, dict) and team.get("id") else None

    @property
    def scope(self) -> str:
        """Whose current resource this conversation uses: its team's, else its own."""
        return scope_of(self.conversation_id, self.team)

    async def resource(self) -> Resource:
        """The current resource of this team or conversation."""
        return await self.services.resources.current(self.scope)

    @property
    def role(self) -> Role:
        """The caller's bot role."""
        return role_of(self.user_id, self.services.settings)

    @property
    def attachments(self) -> list[Attachment]:
        """Files and cards attached to the incoming activity."""
        return list(self.activity.attachments or [])

    async def send_text(self, text: str) -> str:
        """Answer with text, in several messages when it is over Teams' message size limit;
        returns the (last) new activity's id."""
        sent = ""
        for part in split_text(text):
            sent = await self.send(MessageFactory.text(part))
        return sent

    async def show(self, content: View | Card, summary: str = "", *, card_id: str = "") -> str:
        """Put `content` on a card: a workflow's view (rendered as the notifier renders it, with
        its own summary) or a card built here (`summary`: the notification preview). It
        replaces the card `card_id` this bot sent in this conversation, or comes as a new
        message when there is none; returns the card's id."""
        activity = render(content) if isinstance(content, View) else card_activity(content, summary)
        if not card_id:
            return await self.send(activity)
        activity.id = card_id
        await self.context.update_activity(fit(activity))
        return card_id

    @property
    def pressed_card(self) -> str:
        """The card whose button was pressed, as the press claims it (Teams sends its id as
        replyToId), or ''. A button's data can claim any card: a card is replaced only by the
        flow it belongs to (`question_card`), never on this word alone."""
        return str(self.activity.reply_to_id or "")

    async def question_card(self, question: Key[Any]) -> str:
        """The card a question on a card was asked on, for its answer to replace: never just the
        card the press claims (skills/confirmations.py `card_of`)."""
        return await self.services.confirmations.card_of(question, self.pressed_card)

    async def send(self, activity: Activity) -> str:
        """Send any prepared activity (files, typing, ...), made to fit Teams' size limit."""
        response = await self.context.send_activity(fit(activity))
        return str(response.id) if response and response.id else ""

    def data(self) -> dict[str, Any]:
        """The card payload of a button press, or an empty dict."""
        value = self.activity.value
        return dict(value) if isinstance(value, dict) else {}
