"""The help card: every command with its usage and one-line help."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards.common import Card, card, heading, text
from infra.i18n import SOURCE, _, current


@dataclass(frozen=True)
class HelpEntry:
    """One listed command."""

    name: str
    usage: str
    help: str
    role: str
    aliases: tuple[str, ...] = ()


def _usage(entry: HelpEntry) -> str:
    """A command's usage as code; in another language the English word follows in parentheses
    (docs/glossary.md "Commands in sentences": `검증` (`validate`))."""
    if current() == SOURCE or not entry.aliases:
        return f"`{entry.usage}`"
    return f"`{entry.usage}` (`{entry.aliases[0]}`)"


def help_card(entries: Sequence[HelpEntry], *, mode: str, greeting: bool = False) -> Card:
    """The command list; `mode` says where Azure calls go (sandbox or the Azure account)."""
    title = _("Hi, I'm FineTune Ops") if greeting else _("FineTune Ops commands")
    intro = _(
        "I take your team from a JSONL file to a deployed, fine-tuned Azure OpenAI model. "
        "Type a command (in a channel, mention me first)."
    )
    rows = [
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [text(_usage(entry), fontType="Monospace")],
                },
                {"type": "Column", "width": "stretch", "items": [text(entry.help)]},
            ],
        }
        for entry in entries
    ]
    return card([heading(title), text(intro), *rows, text(mode, isSubtle=True, size="Small")])
