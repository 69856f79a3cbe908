"""The help card (what I do, where to start, every command by name), the greeting, and one
command's card (`help <command>`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, show_card, submit, text
from infra.i18n import N_, _


@dataclass(frozen=True)
class HelpEntry:
    """One listed command, in the current language."""

    name: str
    usage: str
    help: str
    role: str
    aliases: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        """The word a reader types: the usage's first word (a Korean chat command that takes
        words has its `/`, docs/glossary.md "Commands in sentences")."""
        return self.usage.split(maxsplit=1)[0]


@dataclass(frozen=True)
class Starter:
    """A first step of the lab: its command, what it does, and a button when it needs no
    argument."""

    command: str
    line: str  # a message id with {command}
    button: str = ""  # a message id, the button's verb label
    positive: bool = False


STARTERS = (
    Starter(
        verbs.SAMPLE,
        N_("**{command}**: try every step on a practice dataset (an AI teacher)."),
        N_("Get sample"),
        positive=True,
    ),
    Starter(
        verbs.VALIDATE, N_("**{command}** with a .jsonl file attached: I check it and price it.")
    ),
    Starter(
        verbs.TRAIN,
        N_("**{command}**: fine-tune on the checked files (I ask before it costs anything)."),
        N_("Train"),
    ),
    Starter(verbs.STATUS, N_("**{command}**: follow the training."), N_("Show status")),
    Starter(verbs.DEPLOY, N_("**{command}** and the job: host the fine-tuned model.")),
    Starter(verbs.CHAT, N_("**{command}** and the deployment: talk to your model.")),
)
"""The lab's order: get data, check it, train, follow, deploy, chat."""


def _starter(step: Starter, entry: HelpEntry) -> Element:
    """One step: its line, and its button beside it."""
    line = text(_(step.line, command=entry.word))
    if not step.button:
        return line
    button = submit(_(step.button), step.command, style="positive" if step.positive else None)
    return {
        "type": "ColumnSet",
        "columns": [
            {"type": "Column", "width": "stretch", "items": [line]},
            {
                "type": "Column",
                "width": "auto",
                "verticalContentAlignment": "Center",
                "items": [{"type": "ActionSet", "actions": [button]}],
            },
        ],
    }


def _all_commands(entries: Sequence[HelpEntry]) -> Element:
    """Every listed command by name, grouped by the role it needs."""
    groups: dict[str, list[str]] = {}
    for entry in entries:
        groups.setdefault(entry.role, []).append(entry.word)
    return facts((role.capitalize(), ", ".join(words)) for role, words in groups.items())


def _ask_one(entries: Sequence[HelpEntry]) -> str:
    """How to read one command's syntax, with an example."""
    word = {entry.name: entry.word for entry in entries}
    help_word = word.get(verbs.HELP, verbs.HELP)
    example = " ".join((help_word, word.get(verbs.TRAIN, verbs.TRAIN)))
    return _(
        "Type **{help}** and a command for its syntax, for example **{example}**.",
        help=help_word,
        example=example,
    )


def help_card(entries: Sequence[HelpEntry], *, mode: str, greeting: bool = False) -> Card:
    """What I do, the first steps with their buttons, and every command behind "Show all commands";
    `mode` says where Azure calls go (sandbox or the Azure account)."""
    title = _("Hi, I'm FineTune Ops") if greeting else _("FineTune Ops commands")
    intro = _(
        "I take your team from a JSONL file to a deployed, fine-tuned Azure OpenAI model. "
        "Start here, in this order (in a channel, mention me first):"
    )
    by_name = {entry.name: entry for entry in entries}
    steps = [_starter(step, by_name[step.command]) for step in STARTERS if step.command in by_name]
    show_all = show_card(
        _("Show all commands"),
        [
            text(_("Every command, by the role it needs:")),
            _all_commands(entries),
            text(_ask_one(entries), isSubtle=True),
        ],
    )
    body = [
        heading(title),
        text(intro),
        *steps,
        text(mode, isSubtle=True, size="Small", spacing="Medium"),
    ]
    return card(body, [show_all])


def command_card(entry: HelpEntry) -> Card:
    """One command (`help <command>`): its syntax, what it does, its other words, its role."""
    usage = {
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", "text": entry.usage, "fontType": "Monospace"}],
    }
    pairs = [(_("Role"), entry.role)]
    if entry.aliases:
        pairs.insert(0, (_("Also"), ", ".join(entry.aliases)))
    body = [heading(entry.word), usage, text(entry.help), facts(pairs)]
    return card(body, [submit(_("Show all commands"), verbs.HELP, style="positive")])
