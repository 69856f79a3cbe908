"""The command router: one explicit table of commands, reached by text or by card verb.

Text arrives as "<at>Bot</at> name args" in channels and "name args" in personal chat (the
mention markup is removed; the people mentioned, other than the bot, reach the parser); a button
press arrives as a verb plus data (Action.Submit `value`, Action.Execute `action`). Both reach the
same handler after its argument parser. Expected failures (`UserError`) are shown as they are;
anything else is logged with a correlation id and the user sees one sentence with that id.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from adaptive_cards.help import HelpEntry
from bot.turn import Role, Turn, role_name
from infra import i18n
from infra.errors import UserError, unexpected
from infra.i18n import _
from infra.text import echo

A = TypeVar("A")
ArgParser = Callable[[str, Mapping[str, Any]], A]
Handler = Callable[[Turn, A], Awaitable[None]]
Fallback = Callable[[Turn, str], Awaitable[bool]]

_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Command(Generic[A]):
    """One command: how it is called, what it needs, and what handles it."""

    name: str
    usage: str
    help: str
    parse: ArgParser[A]
    handler: Handler[A]
    role: Role = Role.USER
    aliases: tuple[str, ...] = ()
    korean: tuple[str, ...] = ()  # Korean words for it (docs/glossary.md); `/` in a chat session
    listed: bool = True  # False: reached only by a card button's verb
    menu: bool = False  # offered in Teams' command menu (bot/package.py; at most 10 per scope)

    def word(self) -> str:
        """The word a reader of the current language types for this command (its first Korean
        word in Korean, docs/glossary.md "Commands in sentences")."""
        if i18n.current() == "ko" and self.korean:
            return self.korean[0]
        return self.name


def clean_text(text: str | None) -> str:
    """The command text: mentions and markup removed, entities decoded, spaces folded."""
    without = _TAG.sub(" ", _MENTION.sub(" ", text or ""))
    return " ".join(html.unescape(without).replace("\xa0", " ").split())


def split_command(text: str) -> tuple[str, str]:
    """("name", "rest of the line") with the name lower-cased."""
    word, _sep, rest = text.partition(" ")
    return word.lower(), rest.strip()


def is_korean(word: str) -> bool:
    """True when `word` is written in Hangul (a Korean command word, or a Korean prompt)."""
    return any("\uac00" <= c <= "\ud7a3" or "\u3131" <= c <= "\u318e" for c in word)


def _jamo(word: str) -> str:
    """Hangul syllables split into letters, so near-misses compare letter by letter."""
    return unicodedata.normalize("NFD", word)


class Router:
    """Finds the command for a word or verb, checks the role, parses and runs it."""

    def __init__(
        self, commands: Sequence[Command[Any]], fallbacks: Sequence[Fallback] = ()
    ) -> None:
        """`fallbacks` get text that names no command (e.g. a chat session); True = handled."""
        self.commands = list(commands)
        self.fallbacks = list(fallbacks)
        self._index: dict[str, Command[Any]] = {}
        for command in self.commands:
            for word in (command.name, *command.aliases, *command.korean):
                if word in self._index:
                    raise ValueError(f"command word {word!r} is registered twice")
                self._index[word] = command

    def find(self, word: str) -> Command[Any] | None:
        """The command named or aliased `word` (case-insensitive)."""
        return self._index.get(word.lower())

    def _entry(self, command: Command[Any]) -> HelpEntry:
        """A command as help shows it, in the current language (a Korean usage starts with the
        Korean command word, and the English words become its aliases)."""
        english = i18n.current() == i18n.SOURCE
        return HelpEntry(
            name=command.name,
            usage=_(command.usage),
            help=_(command.help),
            role=role_name(command.role),
            aliases=command.aliases if english else (command.name, *command.aliases),
        )

    def listing(self) -> list[HelpEntry]:
        """The listed commands, in table order (for `help`)."""
        return [self._entry(c) for c in self.commands if c.listed]

    def describe(self, word: str) -> HelpEntry | None:
        """One listed command by name or alias (for `help <command>`)."""
        command = self.find(word)
        return self._entry(command) if command is not None and command.listed else None

    def suggestions(self, word: str) -> list[str]:
        """The listed command words closest to a mistyped word: Korean words for a Korean one."""
        if is_korean(word):
            korean = {_jamo(w): w for c in self.commands if c.listed for w in c.korean}
            close = difflib.get_close_matches(_jamo(word), list(korean), n=3, cutoff=0.6)
            return [korean[w] for w in close]
        listed = {w: c.name for w, c in self._index.items() if c.listed and not is_korean(w)}
        close = difflib.get_close_matches(word.lower(), list(listed), n=3, cutoff=0.6)
        return list(dict.fromkeys(listed[w] for w in close))

    async def handle_text(
        self, turn: Turn, text: str, mentions: Sequence[Mapping[str, str]] = ()
    ) -> None:
        """Run the command a chat message names; `mentions` (other than the bot's own) reach
        the command's parser as `data["mentions"]`."""
        word, rest = split_command(text)
        slash = word.startswith("/") and len(word) > 1
        command = self.find(word[1:] if slash else word)
        # A chat prompt often starts with a Korean noun that is also a command word: in a chat
        # session (a fallback) a Korean command with more words after it needs its leading `/`.
        # A Korean command word alone is the command (what Teams sends for a menu item; no one
        # prompts a model with one bare command noun).
        fallback_first = command is not None and is_korean(word) and not slash and bool(rest)
        if command is None or not command.listed or fallback_first:
            for fallback in self.fallbacks:
                if await self.guarded(turn, "fallback", fallback(turn, text)):
                    return
            if command is None or not command.listed:
                await turn.send_text(self._unknown(word[1:] if slash else word))
                return
        await self.run(turn, command, rest, {"mentions": list(mentions)} if mentions else {})

    async def handle_verb(self, turn: Turn, verb: str, data: Mapping[str, Any]) -> None:
        """Run the command a card button's verb names."""
        command = self.find(verb)
        if command is None:
            await turn.send_text(
                _("That button no longer works; type `help` to see what I can do.")
            )
            return
        await self.run(turn, command, "", data)

    async def run(
        self, turn: Turn, command: Command[Any], text: str, data: Mapping[str, Any]
    ) -> None:
        """Check the role, parse, run; turn every failure into one sentence for the user."""
        if turn.role < command.role:
            await turn.send_text(
                _(
                    "`{command}` needs the {role} role; ask your admin to add you.",
                    command=command.word(),
                    role=role_name(command.role),
                )
            )
            return

        async def call() -> None:
            await command.handler(turn, command.parse(text, data))

        await self.guarded(turn, command.name, call())

    async def guarded(self, turn: Turn, name: str, work: Awaitable[object]) -> bool:
        """Await `work`; a UserError is shown as is, anything else as one sentence with an id.
        False only when `work` returned False (a fallback that did not handle the text)."""
        try:
            return await work is not False
        except UserError as error:
            await turn.send_text(error.message)
        except Exception as error:
            await turn.send_text(unexpected(name, error))
        return True

    def _unknown(self, word: str) -> str:
        close = self.suggestions(word)
        if close:
            options = _(" or ").join(f"`{name}`" for name in close)
            return _(
                "I don't know {word}. Did you mean {options}? Type `help` for the list.",
                word=echo(word),
                options=options,
            )
        return _("I don't know {word}. Type `help` to see what I can do.", word=echo(word))
