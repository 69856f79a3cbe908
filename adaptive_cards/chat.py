"""Cards of the chat playground: the session's start and settings, an answer's footer, and a
side-by-side compare."""

from __future__ import annotations

from adaptive_cards.common import Card, Element, card, facts, heading, plain, text
from skills.chat import LAB_SYSTEM_MESSAGE, Answer
from skills.playground import Comparison, Side
from skills.records import ChatSession


def session_card(session: ChatSession) -> Card:
    """A chat session has started (or its settings changed): what the model will be given."""
    body: list[Element] = [
        heading(f"Chatting with {session.deployment}"),
        facts(
            [
                ("Model", session.model),
                ("System message", plain(session.system) if session.system else "(none)"),
                ("Examples", str(len(session.examples))),
            ]
        ),
    ]
    for user, assistant in session.examples:
        shown = f"**User:** {plain(user)}\n\n**Assistant:** {plain(assistant)}"
        body.append(text(shown, isSubtle=True))
    body.append(
        text(
            "Type a message and the model answers. `system <text>` sets the system message "
            f'(try: "{LAB_SYSTEM_MESSAGE}"), `example <user> => <assistant>` adds a few-shot '
            "example, `reset` clears the history, `compare <deployment>` asks another "
            "deployment the same, `end` leaves. Other commands keep working.",
            isSubtle=True,
        )
    )
    return card(body)


def footer(answer: Answer) -> str:
    """The small line under an answer: deployment, tokens, and what was left out."""
    parts = [
        answer.deployment,
        f"{answer.prompt_tokens:,} prompt + {answer.completion_tokens:,} completion tokens",
    ]
    if answer.dropped:
        parts.append(f"{answer.dropped} older messages left out to fit the context")
    if answer.finish_reason == "length":
        parts.append("answer cut at the token limit")
    return " · ".join(parts)


def answer_text(answer: Answer) -> str:
    """The model's answer as shown (or why there is none)."""
    if answer.filtered:
        return "(Azure's content filter withheld this answer; try rephrasing your message.)"
    return answer.text or "(the model gave an empty answer)"


def answer_message(answer: Answer) -> str:
    """An answer in a chat session: the text, then its footer in small letters."""
    return f"{answer_text(answer)}\n\n_{footer(answer)}_"


def compare_card(comparison: Comparison) -> Card:
    """Two deployments' answers to the same prompt, side by side."""

    def column(side: Side) -> Element:
        answer = side.answer
        said = answer_text(answer) if answer is not None else side.error
        below = footer(answer) if answer is not None else "no answer"
        return {
            "type": "Column",
            "width": "stretch",
            "items": [
                text(side.deployment, weight="Bolder"),
                text(said, color="Attention" if answer is None else "Default"),
                text(below, isSubtle=True, size="Small"),
            ],
        }

    return card(
        [
            heading("Compare"),
            text(f"**Prompt:** {plain(comparison.prompt)}", isSubtle=True),
            {"type": "ColumnSet", "columns": [column(comparison.left), column(comparison.right)]},
        ]
    )
