"""Cards of the chat playground: the session's start and settings, and a side-by-side compare."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards.common import Card, Element, card, facts, heading, text


@dataclass(frozen=True)
class Side:
    """One column of a comparison: which deployment, its answer (or failure) and a footer."""

    deployment: str
    answer: str
    footer: str
    failed: bool = False


def session_card(
    deployment: str,
    model: str,
    system: str,
    examples: Sequence[tuple[str, str]],
    suggestion: str,
) -> Card:
    """A chat session has started (or its settings changed): what the model will be given."""
    body: list[Element] = [
        heading(f"Chatting with {deployment}"),
        facts(
            [
                ("Model", model),
                ("System message", system or "(none)"),
                ("Examples", str(len(examples))),
            ]
        ),
    ]
    for user, assistant in examples:
        body.append(text(f"**User:** {user}\n\n**Assistant:** {assistant}", isSubtle=True))
    body.append(
        text(
            "Type a message and the model answers. `system <text>` sets the system message "
            f'(try: "{suggestion}"), `example <user> => <assistant>` adds a few-shot example, '
            "`reset` clears the history, `compare <deployment>` asks another deployment the "
            "same, `end` leaves. Other commands keep working.",
            isSubtle=True,
        )
    )
    return card(body)


def compare_card(prompt: str, left: Side, right: Side) -> Card:
    """Two deployments' answers to the same prompt, side by side."""

    def column(side: Side) -> Element:
        return {
            "type": "Column",
            "width": "stretch",
            "items": [
                text(side.deployment, weight="Bolder"),
                text(side.answer, color="Attention" if side.failed else "Default"),
                text(side.footer, isSubtle=True, size="Small"),
            ],
        }

    return card(
        [
            heading("Compare"),
            text(f"**Prompt:** {prompt}", isSubtle=True),
            {"type": "ColumnSet", "columns": [column(left), column(right)]},
        ]
    )
