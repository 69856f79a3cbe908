"""Shared pieces of every card (Adaptive Cards 1.5): envelope, text blocks, facts, buttons."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from infra.i18n import _, current, number, spell

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
        "lang": current(),
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

QUOTE_ID = "quote-"
"""The id prefix of a TextRun that quotes what is not the bot's own words (the user's data, a
model's answer, Azure's message): it stays in its own language, and the language test skips it."""


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


_BLOCK_KEYS = frozenset({"spacing", "separator", "horizontalAlignment", "isVisible", "height"})


def quoted(value: str, cap: int = USER_TEXT_CHARS, **style: Any) -> Element:
    """A block of someone else's words alone (see `their_words`): `style` keys of an element
    (spacing, separator, horizontalAlignment...) go to the block, the others to its runs."""
    block = {key: style.pop(key) for key in list(style) if key in _BLOCK_KEYS}
    return {"type": "RichTextBlock", "inlines": their_words(value, cap, **style), **block}


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
    # A Korean particle after a placeholder takes the form its value needs: the words', not
    # their marks' (infra/particles.py reads the value).
    values = {n: w if isinstance(w, str) else ", ".join(w) for n, w in words.items()}
    said = spell(message, {**params, **values}).format(**params, **marks)
    # a message said in chat text too may set a name off as code (`{name}`): here it is a TextRun
    said = re.sub("`(\ue000[0-9a-f]{32}\ue001)`", r"\1", said)
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


def spoken(value: str, **style: Any) -> Element:
    """The bot's words said elsewhere first (a reason, a note, an audit detail: a chat
    message's form, with names and codes in backticks), on a card: each code span a TextRun of
    others' words (`their_words`: no backticks, never markdown), the rest the bot's own runs."""
    runs: list[Element] = []
    for index, piece in enumerate(value.split("`")):
        if index % 2:
            runs += their_words(piece, **style) if piece else []
        elif piece:
            runs.append({"type": "TextRun", "text": piece, **style})
    return {"type": "RichTextBlock", "inlines": runs}


HEADING = {"weight": "Bolder", "size": "Medium"}
"""A card's title line's look: `heading(text)`, or `titled(...)` for a title with others' words
in it."""


def heading(value: str) -> Element:
    """A card's title line (the bot's words only; see HEADING)."""
    return text(value, **HEADING)


Tone = Literal["good", "warning", "attention"]
"""What a title says at a glance (done, take care, failed) as a Container style: a coloured
band whose text keeps the default colour, which reaches WCAG AA on Teams' light and dark
themes (the Good, Warning and Attention text colours do not)."""


def titled(
    message: str,
    /,
    words: Mapping[str, str | Sequence[str]],
    tone: Tone | None = None,
    **params: object,
) -> Element:
    """A card's title line with others' words in it (`sentence` in the HEADING look); with a
    `tone`, on a band of that colour."""
    line = sentence(message, words, HEADING, **params)
    if tone is None:
        return line
    return {"type": "Container", "style": tone, "bleed": True, "items": [line]}


FACT_TITLE_WIDTH = "120px"
"""A fact's title column: one width on every row, so the values line up; wide enough for a
Korean label of eight syllables on one line at 360 px (Teams' mobile card width)."""


def facts(pairs: Iterable[tuple[str, str | Element]]) -> Element:
    """(title, value) rows: the title bold, the value the bot's words (a string) or a
    RichTextBlock of others' words (`quoted`, `sentence`). A value is never
    markdown: Teams would read a FactSet's values as markdown (a name with `*` or `_`, a date
    like "2026. 12. 6." read as a numbered list), so the rows are ColumnSets whose values are
    TextRuns."""
    rows = [
        {
            "type": "ColumnSet",
            **({"spacing": "None"} if index else {}),
            "columns": [
                {
                    "type": "Column",
                    "width": FACT_TITLE_WIDTH,
                    "items": [_runs(title, weight="Bolder")],
                },
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        value
                        if not isinstance(value, str)
                        else {
                            "type": "RichTextBlock",
                            "inlines": [{"type": "TextRun", "text": value}],
                        }
                    ],
                },
            ],
        }
        for index, (title, value) in enumerate(pairs)
    ]
    return {"type": "Container", "items": rows}


def _runs(value: str, **style: Any) -> Element:
    """The bot's words as one TextRun: drawn as they are, never as markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": value, **style}]}


def when(moment: dt.datetime) -> str:
    """A moment as each reader's local date and time: the Adaptive Cards DATE()/TIME()
    functions (Microsoft's "Text features": upper case, no spaces, RFC 3339). Put it in a
    TextRun (a `sentence` parameter, a fact's value), not at the start of a TextBlock line:
    Korean "2026. 12. 6." there would be read as a numbered list."""
    stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp},SHORT)}}}} {{{{TIME({stamp})}}}}"


Style = Literal["positive", "destructive"]
"""An action's style: `positive` on a card's main action, `destructive` on what deletes, stops
or replaces (delete, purge, teardown, cancel a job, regenerate a key)."""


def submit(
    title: str, verb: str, data: Mapping[str, Any] | None = None, style: Style | None = None
) -> Element:
    """A button whose press reaches the bot as a message with `value.verb` (Action.Submit); it
    carries the card's language, so the card keeps it whoever presses the button."""
    payload = {"verb": verb, **(data or {}), "language": current()}
    action: Element = {"type": "Action.Submit", "title": title, "data": payload}
    if style:
        action["style"] = style
    return action


def show_card(title: str, body: Iterable[Element], actions: Iterable[Element] = ()) -> Element:
    """A button that opens more of the card below it (Action.ShowCard): details, or a second
    set of buttons."""
    inner: Card = {"type": "AdaptiveCard", "body": list(body)}
    actions = list(actions)
    if actions:
        inner["actions"] = actions
    return {"type": "Action.ShowCard", "title": title, "card": inner}


def open_url(title: str, url: str) -> Element:
    """A button that opens `url` (a link, or a Teams deep link)."""
    return {"type": "Action.OpenUrl", "title": title, "url": url}
