"""How a workflow talks to people outside of a turn: the `Notify` protocol.

A workflow hands Notify a view (plain data: a subclass of `View`) and a conversation; the notifier
in bot/ renders the view as a card and sends it, or replaces an earlier message with it. Skills
never see cards, activities or botbuilder.

Long work shows itself on a card it keeps the id of (`card` on its record). The work is recorded
before its first card is posted, and a card that could not be posted or updated never stops it
(`try_show`): the record keeps no id (or the old one), and the work's next step posts (or
updates) the card again.
"""

from __future__ import annotations

import logging
from typing import Protocol

from infra.errors import UserError

log = logging.getLogger(__name__)


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


async def try_show(notify: Notify, conversation: str, message: str, view: View) -> str:
    """`show` for a card that work in progress keeps: a failure is logged, never raised (the
    work goes on and shows its next view). Returns the card's id: the new message's, else
    `message` ('' when none was posted: the next `try_show` posts it)."""
    try:
        return await show(notify, conversation, message, view)
    except Exception:
        log.warning("could not show %s in %s", type(view).__name__, conversation, exc_info=True)
        return message
