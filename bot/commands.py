"""The command table: every command the bot answers, in the order `help` lists them."""

from __future__ import annotations

from typing import Any

from adaptive_cards.help import HelpEntry, help_card
from bot.arguments import no_args, optional_word
from bot.router import Command, Router
from bot.turn import Turn
from infra.settings import Settings
from skills.errors import UserError


def mode_line(settings: Settings) -> str:
    """Where Azure calls go, for help and the start-up line."""
    if settings.sandbox_mode:
        return (
            "Sandbox mode: Azure calls go to the built-in Azure sandbox (no Azure account needed)."
        )
    return f"Azure mode: {settings.azure_openai_endpoint}"


def _entries(router: Router) -> list[HelpEntry]:
    return [
        HelpEntry(usage=c.usage, help=c.help, role=c.role.name.lower())
        for c in router.commands
        if c.listed
    ]


def build_router() -> Router:
    """The router over the whole command table."""
    router: Router

    async def help_(turn: Turn, name: str | None) -> None:
        settings = turn.services.settings
        if name is None:
            await turn.send_card(
                help_card(_entries(router), mode=mode_line(settings)), "FineTune Ops commands"
            )
            return
        command = router.find(name)
        if command is None or not command.listed:
            close = router.suggestions(name)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise UserError(f"There is no command `{name}`.{hint} Type `help` for the list.")
        aliases = f" (also: {', '.join(command.aliases)})" if command.aliases else ""
        role = command.role.name.lower()
        await turn.send_text(f"`{command.usage}`{aliases}: {command.help} Needs the {role} role.")

    async def welcome(turn: Turn, _: None) -> None:
        settings = turn.services.settings
        await turn.send_card(
            help_card(_entries(router), mode=mode_line(settings), greeting=True),
            "Hi, I'm FineTune Ops. Type help to see what I can do.",
        )

    table: list[Command[Any]] = [
        Command(
            "help",
            "help [command]",
            "List the commands, or explain one.",
            optional_word,
            help_,
            aliases=("?", "commands"),
        ),
        Command("welcome", "welcome", "Greeting card.", no_args, welcome, listed=False),
    ]
    router = Router(table)
    return router
