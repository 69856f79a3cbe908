"""`help`, `help <command>` and the greeting, generated from the command table."""

from __future__ import annotations

from adaptive_cards.help import command_card, help_card
from bot.turn import Turn
from infra.errors import UserError
from infra.i18n import _
from infra.settings import Settings
from infra.text import echo


def mode_line(settings: Settings) -> str:
    """Where Azure calls go, for help and the start-up line."""
    if settings.backend == "external":
        return _("Sandbox mode: Azure calls go to the sandbox at {url}.", url=settings.sandbox_url)
    if settings.backend == "embedded":
        if settings.production:
            return _(
                "Demo mode: this bot runs on a stand-in Azure (the built-in sandbox), not on "
                "Azure; nothing it creates is real."
            )
        return _("Sandbox mode: Azure calls go to the built-in sandbox (no Azure account needed).")
    if settings.azure_openai_endpoint:
        return _("Azure mode: {endpoint}", endpoint=settings.azure_openai_endpoint)
    return _("Azure mode: subscription {subscription}", subscription=settings.azure_subscription_id)


async def show_help(turn: Turn, name: str | None) -> None:
    """The help card, or one command's card: its syntax, what it does, its other words, its
    role."""
    if name is None:
        mode = mode_line(turn.services.settings)
        await turn.show(help_card(turn.commands.listing(), mode=mode), _("FineTune Ops commands"))
        return
    word = name[1:] if name.startswith("/") and len(name) > 1 else name  # `/시스템` as typed
    entry = turn.commands.describe(word)
    if entry is None:
        close = turn.commands.suggestions(word)
        if close:
            raise UserError(
                "There is no command {name}. Did you mean `{close}`? Type `help` for the list.",
                name=echo(word),
                close=close[0],
            )
        raise UserError("There is no command {name}. Type `help` for the list.", name=echo(word))
    await turn.show(command_card(entry), entry.usage)


GREETINGS = frozenset(
    {"hi", "hello", "hey", "hiya", "howdy", "yo", "greetings", "안녕", "안녕하세요", "하이"}
)


async def greet(turn: Turn, text: str) -> bool:
    """The router fallback for a greeting ("hi", "Hello!", "hey bot"): the welcome card. After
    the chat fallback, so in a chat session a greeting goes to the model."""
    first = text.split(maxsplit=1)[0].strip(".,!?~").lower() if text.strip() else ""
    if first not in GREETINGS:
        return False
    await welcome(turn, None)
    return True


async def welcome(turn: Turn, _args: None) -> None:
    """The greeting when the bot is added to a chat or team."""
    mode = mode_line(turn.services.settings)
    await turn.show(
        help_card(turn.commands.listing(), mode=mode, greeting=True),
        _("Hi, I'm FineTune Ops. Type help to see what I can do."),
    )
