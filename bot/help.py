"""`help`, `help <command>` and the greeting, generated from the command table."""

from __future__ import annotations

from adaptive_cards.help import help_card
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
    """The command list, or one command's usage, help and role."""
    if name is None:
        mode = mode_line(turn.services.settings)
        await turn.show(help_card(turn.commands.listing(), mode=mode), _("FineTune Ops commands"))
        return
    entry = turn.commands.describe(name)
    if entry is None:
        close = turn.commands.suggestions(name)
        if close:
            raise UserError(
                "There is no command {name}. Did you mean `{close}`? Type `help` for the list.",
                name=echo(name),
                close=close[0],
            )
        raise UserError("There is no command {name}. Type `help` for the list.", name=echo(name))
    if entry.aliases:
        aliases = ", ".join(entry.aliases)
        await turn.send_text(
            _(
                "`{usage}` (also: {aliases}): {help} Needs the {role} role.",
                usage=entry.usage,
                aliases=aliases,
                help=entry.help,
                role=entry.role,
            )
        )
        return
    await turn.send_text(
        _(
            "`{usage}`: {help} Needs the {role} role.",
            usage=entry.usage,
            help=entry.help,
            role=entry.role,
        )
    )


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
