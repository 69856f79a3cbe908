"""Shared pieces of every card (Adaptive Cards 1.5): envelope, text blocks, facts, buttons."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from infra.i18n import SOURCE, _, current, number

Card = dict[str, Any]
Element = dict[str, Any]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def card(body: Iterable[Element], actions: Iterable[Element] = ()) -> Card:
    """An Adaptive Card 1.5 with `body` and `actions`, full width in Teams."""
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": list(body),
        "msteams": {"width": "Full"},
    }
    actions = list(actions)
    if actions:
        result["actions"] = actions
    return result


def text(value: str, **style: Any) -> Element:
    """A wrapping TextBlock; `style` adds properties such as weight, size, color, isSubtle."""
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


USER_TEXT_CHARS = 500
"""The most of one user text (a system message, an example, a prompt) a card shows."""
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#~|])")


def plain(value: str, cap: int = USER_TEXT_CHARS) -> str:
    """User text for a TextBlock: markdown and HTML escaped (a link typed by a user stays
    text), at most `cap` characters, and a note when it was cut."""
    value = value.strip()
    note = ""
    if len(value) > cap:
        note = " " + _(
            "(cut at {cap} of {total} characters)", cap=number(cap), total=number(len(value))
        )
        value = value[:cap] + "…"
    return _MARKDOWN.sub(r"\\\1", value) + note


QUOTE_ID = "quote-"
"""The id prefix of a TextBlock that quotes what is not the bot's own words (the user's data, a
model's answer, Azure's message): it stays in its own language, and the language test skips it."""


def quote(value: str, **style: Any) -> Element:
    """A TextBlock quoting someone else's words (see QUOTE_ID), with a stable unique-enough id."""
    ident = f"{QUOTE_ID}{zlib.crc32(value.encode('utf-8')):08x}"
    return {**text(value, **style), "id": ident}


def name_value(value: str) -> str:
    """A name, an id or a masked key as a fact's value: as it is in English, as code where the
    bot speaks another language (a name is not a word of that language)."""
    return value if not value or current() == SOURCE else f"`{value}`"


def heading(value: str) -> Element:
    """A card's title line."""
    return text(value, weight="Bolder", size="Medium")


def facts(pairs: Iterable[tuple[str, str]]) -> Element:
    """A FactSet of (title, value) pairs."""
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def submit(title: str, verb: str, data: Mapping[str, Any] | None = None) -> Element:
    """A button whose press reaches the bot as a message with `value.verb` (Action.Submit); it
    carries the card's language, so the card keeps it whoever presses the button."""
    payload = {"verb": verb, **(data or {}), "language": current()}
    return {"type": "Action.Submit", "title": title, "data": payload}


def open_url(title: str, url: str) -> Element:
    """A button that opens `url` (a link, or a Teams deep link)."""
    return {"type": "Action.OpenUrl", "title": title, "url": url}
