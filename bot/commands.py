"""The command table: every command the bot answers, in the order `help` lists them.

Each row: name, usage, one-line help, argument parser, handler, the role it needs, aliases.
Rows with `listed=False` are reached only by a card button's verb.
"""

from __future__ import annotations

from bot.arguments import no_args, optional_word
from bot.help import show_help, welcome
from bot.router import Command, Router


def build_router() -> Router:
    """The router over the whole command table."""
    return Router(
        [
            Command(
                "help",
                "help [command]",
                "List the commands, or explain one.",
                optional_word,
                show_help,
                aliases=("?", "commands"),
            ),
            Command("welcome", "welcome", "Greeting card.", no_args, welcome, listed=False),
        ]
    )
