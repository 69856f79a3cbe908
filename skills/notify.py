"""How a workflow talks to people outside of a turn: the `Notify` protocol.

A workflow hands Notify a view (plain data: a subclass of `View`) and a conversation; the notifier
in bot/ renders the view as a card and sends it, or replaces an earlier message with it. Skills
never see cards, activities or botbuilder.
"""

from __future__ import annotations

from typing import Protocol

from infra.errors import UserError


class View:
    """Something a workflow shows: each subclass is rendered by bot/render.py."""


class NotDelivered(UserError):
    """The channel refused a message, or the bot cannot write there: it was not delivered."""


class Notify(Protocol):
    """Sends views to conversations and updates them in place."""

    async def send(self, conversation: str, view: View) -> str:
        """Post `view` as a new message; returns its id."""
        ...

    async def update(self, conversation: str, message: str, view: View) -> None:
        """Replace message `message` with `view`."""
        ...


async def show(notify: Notify, conversation: str, message: str, view: View) -> str:
    """Replace `message` with `view` where there is one, else post it; returns the message id."""
    if message:
        await notify.update(conversation, message, view)
        return message
    return await notify.send(conversation, view)
