"""`help`, `help <command>` and the greeting, generated from the command table."""

from __future__ import annotations

from adaptive_cards.help import help_card
from bot.turn import Turn
from infra.errors import UserError
from infra.settings import Settings
from infra.text import echo


def mode_line(settings: Settings) -> str:
    """Where Azure calls go, for help and the start-up line."""
    if settings.backend == "external":
        return f"Sandbox mode: Azure calls go to the sandbox at {settings.sandbox_url}."
    if settings.backend == "embedded":
        if settings.production:
            return (
                "Demo mode: this bot runs on a stand-in Azure (the built-in sandbox), not on "
                "Azure; nothing it creates is real."
            )
        return "Sandbox mode: Azure calls go to the built-in sandbox (no Azure account needed)."
    where = settings.azure_openai_endpoint or f"subscription {settings.azure_subscription_id}"
    return f"Azure mode: {where}"


async def show_help(turn: Turn, name: str | None) -> None:
    """The command list, or one command's usage, help and role."""
    if name is None:
        mode = mode_line(turn.services.settings)
        await turn.send_card(help_card(turn.commands.listing(), mode=mode), "FineTune Ops commands")
        return
    entry = turn.commands.describe(name)
    if entry is None:
        close = turn.commands.suggestions(name)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise UserError(
            "There is no command {name}.{hint} Type `help` for the list.",
            name=echo(name),
            hint=hint,
        )
    aliases = f" (also: {', '.join(entry.aliases)})" if entry.aliases else ""
    await turn.send_text(f"`{entry.usage}`{aliases}: {entry.help} Needs the {entry.role} role.")


GREETINGS = frozenset({"hi", "hello", "hey", "hiya", "howdy", "yo", "greetings"})


async def greet(turn: Turn, text: str) -> bool:
    """The router fallback for a greeting ("hi", "Hello!", "hey bot"): the welcome card. After
    the chat fallback, so in a chat session a greeting goes to the model."""
    first = text.split(maxsplit=1)[0].strip(".,!?~").lower() if text.strip() else ""
    if first not in GREETINGS:
        return False
    await welcome(turn, None)
    return True


async def welcome(turn: Turn, _: None) -> None:
    """The greeting when the bot is added to a chat or team."""
    mode = mode_line(turn.services.settings)
    await turn.send_card(
        help_card(turn.commands.listing(), mode=mode, greeting=True),
        "Hi, I'm FineTune Ops. Type help to see what I can do.",
    )
