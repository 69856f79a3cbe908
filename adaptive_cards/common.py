"""Shared pieces of every card (Adaptive Cards 1.5): envelope, text blocks, facts, buttons."""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from infra.i18n import SOURCE, _, current, number, unfilled

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


def _quote_id(value: str) -> str:
    return f"{QUOTE_ID}{zlib.crc32(value.encode('utf-8')):08x}"


def their_words(value: str, cap: int = USER_TEXT_CHARS, **style: Any) -> list[Element]:
    """Someone else's words (a name from Teams, a user's text) as TextRuns of a RichTextBlock:
    Teams draws a TextRun's text as it is, never as markdown ("Markdown is not supported", the
    Adaptive Cards schema's TextRun), so `**Boss** [click](https://...)` shows those characters,
    not bold text and a link. At most `cap` characters, with the bot's note when cut; the words'
    run carries a quotation's id (QUOTE_ID). Every card shows others' words this way."""
    kept = value.strip()
    runs: list[Element] = []
    if len(kept) > cap:
        note = _("(cut at {cap} of {total} characters)", cap=number(cap), total=number(len(kept)))
        kept = kept[:cap] + "…"
        runs.append({"type": "TextRun", "text": " " + note, **style})
    return [{"type": "TextRun", "text": kept, "id": _quote_id(kept), **style}, *runs]


def quoted(value: str, cap: int = USER_TEXT_CHARS, **style: Any) -> Element:
    """A block of someone else's words alone (see `their_words`)."""
    return {"type": "RichTextBlock", "inlines": their_words(value, cap, **style)}


def sentence(
    message: str,
    /,
    words: Mapping[str, str | Sequence[str]],
    style: Mapping[str, Any] | None = None,
    **params: object,
) -> Element:
    """The bot's sentence `message` (a message id, marked with `N_` where it is written), said in
    the current language, as a RichTextBlock: its placeholders named in `words` are others' words
    (`their_words`, never markdown; a list of them is said separated by commas), the others are
    filled from `params` as `_()` fills them. `style` applies to every run (the runs of a
    RichTextBlock style themselves)."""
    look = dict(style or {})
    marks = {name: f"\ue000{uuid.uuid4().hex}\ue001" for name in words}
    # a Korean particle after a placeholder takes the form of the words, not of their mark
    read = {name: value if isinstance(value, str) else value[-1] for name, value in words.items()}
    said = unfilled(message, **params, **read).format(**params, **marks)
    runs: list[Element] = []
    for piece in re.split("(\ue000[0-9a-f]{32}\ue001)", said):
        name = next((n for n, mark in marks.items() if mark == piece), None)
        if name is None:
            if piece:
                runs.append({"type": "TextRun", "text": piece, **look})
            continue
        value = words[name]
        for index, one in enumerate([value] if isinstance(value, str) else value):
            if index:
                runs.append({"type": "TextRun", "text": ", ", **look})
            runs += their_words(one, **look)
    return {"type": "RichTextBlock", "inlines": runs}


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
