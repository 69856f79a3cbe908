"""User text said back: capped, and never live markdown in the bot's voice.

Every echo of what a user typed goes through one of these: `echo` for a word or value shown as
code (`I don't know `xyz``), `prose` for text shown as text (a system message). Both cut the
text at a cap and say so; `echo` keeps the code span closed (a backtick in the text cannot end
it), `prose` escapes the characters that would make markdown of it (links, emphasis, code,
HTML), so `[click me](http://...)` comes back as those characters, not as a link.
"""

from __future__ import annotations

import re
import unicodedata

from infra.i18n import SOURCE, _, current, number

ECHO_CHARS = 60
"""The longest word or value said back as code."""
PROSE_CHARS = 500
"""The longest text said back as text."""

_MARKDOWN = re.compile(r"([\\`*_\[\]<>#~|])")
_SPACES = re.compile(r"\s+")


def _cut(value: str, cap: int) -> tuple[str, str]:
    """(the kept text, the note that says it was cut, or '')."""
    if len(value) <= cap:
        return value, ""
    note = _("(cut at {cap} of {total} characters)", cap=number(cap), total=number(len(value)))
    return value[:cap] + "…", " " + note


def echo(value: object, cap: int = ECHO_CHARS) -> str:
    """`value` as one code span: on one line, at most `cap` characters (a note says when it was
    cut), with no backtick that could close the span early."""
    flat = _SPACES.sub(" ", str(value)).strip().replace("`", "'")
    kept, note = _cut(flat, cap)
    return f"`{kept}`{note}" if kept else "``"


def escape_markdown(value: str) -> str:
    """`value` with every character that could start markdown or HTML escaped."""
    return _MARKDOWN.sub(r"\\\1", value)


_MARKS = re.compile(r"`|\*\*")


def unmarked(value: str) -> str:
    """A message written for a chat (Teams markdown) as plain text, such as a notification's
    preview: code and bold marks dropped, the words kept."""
    return _MARKS.sub("", value)


def prose(value: object, cap: int = PROSE_CHARS) -> str:
    """`value` as plain text inside a message: at most `cap` characters (a note says when it was
    cut), markdown and HTML escaped."""
    kept, note = _cut(str(value).strip(), cap)
    return escape_markdown(kept) + note


FILE_NAME_CHARS = 100
"""The longest file name kept (the extension is kept whole)."""
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\`*\[\]<>#~|]")


def file_label(name: str) -> str:
    """A file name as the bot shows it: its last path part, at most FILE_NAME_CHARS characters
    with its extension kept, and no character that markdown or HTML would act on."""
    base = re.split(r"[/\\]", name)[-1].strip() or "file"
    base = _NAME_UNSAFE.sub("_", base)
    if len(base) <= FILE_NAME_CHARS:
        return base
    stem, dot, suffix = base.rpartition(".")
    if dot and len(suffix) <= 10:
        return stem[: FILE_NAME_CHARS - len(suffix) - 2] + "…." + suffix
    return base[: FILE_NAME_CHARS - 1] + "…"


def label(value: object, cap: int = 40) -> str:
    """A short value out of user data (a JSON key) shown as a name: on one line, with no
    character markdown or HTML would act on, at most `cap` characters."""
    flat = _NAME_UNSAFE.sub("_", _SPACES.sub(" ", str(value)).strip())
    return flat if len(flat) <= cap else flat[: cap - 1] + "…"


NAME_CHARS = 64
"""The longest name from an activity (a display name, a mention) the bot keeps and shows."""
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
"""Control, format (right-to-left overrides, zero-width characters), private-use, surrogate and
unassigned characters: none is part of a name someone reads."""


def person(value: object, cap: int = NAME_CHARS) -> str:
    """A name from an activity (`from.name`, a mention's text, a member's name) as the bot keeps
    it: on one line, without invisible characters that reorder or hide text, at most `cap`
    characters (cut with "…"). Shown, it is still someone else's words (cards: adaptive_cards.
    common.their_words; messages: `echo`)."""
    seen = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") else c
        for c in str(value)
        if unicodedata.category(c) not in _INVISIBLE or c in "\t\n\r"
    )
    flat = _SPACES.sub(" ", seen).strip()
    return flat if len(flat) <= cap else flat[: cap - 1] + "…"


def name_in_sentence(value: str) -> str:
    """A name from an activity inside a sentence of the bot's that is text, not a card's own
    TextRun (a fact's value, a summary): markdown escaped where the sentence shows names as text
    (English), backticks replaced where its translation puts names in a code span (the other
    languages); capped as `person` caps it."""
    kept = person(value)
    return escape_markdown(kept) if current() == SOURCE else kept.replace("`", "'")
