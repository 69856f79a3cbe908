"""The language of a turn, and the `language ko|en|auto` command.

A turn speaks, first found: the language a pressed card was written in (a card keeps its
language whoever presses its buttons), the caller's own choice (`language ko`), the activity's
`locale`, the `clientInfo` entity's `locale`, English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.turn import Turn
from infra import i18n
from infra.errors import UserError
from infra.i18n import N_, _
from skills.languages import Languages

NAMES = {"en": N_("English"), "ko": N_("Korean")}
_WORDS = {
    "ko": "ko",
    "korean": "ko",
    "한국어": "ko",
    "en": "en",
    "english": "en",
    "영어": "en",
    "auto": "auto",
    "자동": "auto",
}
"""What `language` accepts -> the choice."""


def locale_of(activity: Activity) -> str | None:
    """The language Teams says the user reads: the activity's locale, else clientInfo's."""
    found = i18n.supported(activity.locale)
    if found:
        return found
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "")).lower() == "clientinfo":
            extra = getattr(entity, "additional_properties", None) or {}
            found = i18n.supported(extra.get("locale"))
            if found:
                return found
    return None


TURN_LANGUAGE = "ftbot.language"
"""Where a turn keeps its language (turn_state), for the error hook that runs after it."""


async def decide(context: TurnContext, user: str, languages: Languages) -> str:
    """The language of this turn (the module's rule), kept in its state for whatever runs
    after the handler."""
    value = context.activity.value
    pressed = value.get("language") if isinstance(value, dict) else None
    if isinstance(pressed, str) and pressed in i18n.LANGUAGES:
        found = pressed
    else:
        found = await languages.chosen(user) or locale_of(context.activity) or i18n.SOURCE
    context.turn_state[TURN_LANGUAGE] = found
    return found


def spoken(context: TurnContext) -> str:
    """The language the turn spoke (its locale when it failed before deciding)."""
    found = context.turn_state.get(TURN_LANGUAGE)
    if isinstance(found, str) and found in i18n.LANGUAGES:
        return found
    return locale_of(context.activity) or i18n.SOURCE


def parse_language(text: str, data: Mapping[str, Any]) -> str | None:
    """`language [ko|en|auto]` -> the choice, None to show the current one."""
    word = text.strip().lower()
    if not word:
        return None
    if word not in _WORDS:
        raise UserError(
            "Choose `language ko`, `language en` or `language auto` (your Teams language)."
        )
    return _WORDS[word]


async def language(turn: Turn, choice: str | None) -> None:
    """Show or set the caller's language; the answer comes in the new language."""
    languages = turn.services.languages
    if choice is None:
        chosen = await languages.chosen(turn.user_id)
        if chosen is None:
            await turn.send_text(
                _(
                    "I write to you in {language}, your Teams language. Type `language ko`, "
                    "`language en`, or `language auto` to follow Teams again.",
                    language=_(NAMES[i18n.current()]),
                )
            )
        else:
            await turn.send_text(
                _(
                    "I write to you in {language}, as you chose. `language auto` follows "
                    "your Teams language again.",
                    language=_(NAMES[chosen]),
                )
            )
        return
    await languages.choose(turn.user_id, None if choice == "auto" else choice)
    spoken = choice if choice != "auto" else locale_of(turn.activity) or i18n.SOURCE
    with i18n.use(spoken):
        if choice == "auto":
            message = _(
                "I follow your Teams language again: {language}.", language=_(NAMES[spoken])
            )
        else:
            message = _("From now on I write to you in {language}.", language=_(NAMES[spoken]))
        await turn.send_text(message)
