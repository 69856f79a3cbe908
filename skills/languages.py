"""Which language each user reads: their own choice (`language ko|en`), else their Teams locale
(the turn decides, bot/language.py). The words themselves are infra/i18n.py's."""

from __future__ import annotations

from infra.i18n import LANGUAGES
from infra.records import Key, Record
from skills.context import Context
from skills.records import segment


class LanguageChoice(Record):
    """A user's chosen language (`language ko|en`); without one, the Teams locale decides."""

    prefix = "language/"

    user: str
    language: str

    @classmethod
    def of(cls, user: str) -> Key[LanguageChoice]:
        """The key of a user's choice."""
        return Key(cls, f"{cls.prefix}{segment(user)}")

    def key(self) -> Key[LanguageChoice]:
        """Where this record is stored."""
        return self.of(self.user)


class Languages:
    """Users' language choices, kept per user across conversations."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def chosen(self, user: str) -> str | None:
        """The language `user` chose, or None (their Teams locale decides)."""
        found = await self.ctx.records.get(LanguageChoice.of(user))
        return found.language if found is not None and found.language in LANGUAGES else None

    async def choose(self, user: str, language: str | None) -> None:
        """Keep `language` for `user`; None forgets the choice (back to the Teams locale)."""
        if language is None:
            await self.ctx.records.delete(LanguageChoice.of(user))
        else:
            await self.ctx.records.put(LanguageChoice(user=user, language=language))
