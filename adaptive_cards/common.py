"""Shared pieces of every card (Adaptive Cards 1.5): envelope, text blocks, facts, buttons."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

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
        value, note = value[:cap] + "…", f" (cut at {cap:,} of {len(value):,} characters)"
    return _MARKDOWN.sub(r"\\\1", value) + note


def heading(value: str) -> Element:
    """A card's title line."""
    return text(value, weight="Bolder", size="Medium")


def facts(pairs: Iterable[tuple[str, str]]) -> Element:
    """A FactSet of (title, value) pairs."""
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def submit(title: str, verb: str, data: Mapping[str, Any] | None = None) -> Element:
    """A button whose press reaches the bot as a message with `value.verb` (Action.Submit)."""
    return {"type": "Action.Submit", "title": title, "data": {"verb": verb, **(data or {})}}


def open_url(title: str, url: str) -> Element:
    """A button that opens `url` (a link, or a Teams deep link)."""
    return {"type": "Action.OpenUrl", "title": title, "url": url}


HOUR = 3600
DAY = 86_400


def duration(seconds: float) -> str:
    """A duration in words: `45 s`, `3 min 20 s`, `1 h 05 min`, `2.4 days`."""
    seconds = max(0.0, seconds)
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.1f} days"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
