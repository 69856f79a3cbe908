"""Cards of the chat playground: the session's start and settings, an answer's footer, and a
side-by-side compare.

What the user wrote (the system message, the examples, the prompt) and what the model answered
are quotations: they keep their own language (adaptive_cards.common.quote)."""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    heading,
    quoted,
    sentence,
    show_card,
    spoken,
    submit,
    text,
    their_words,
    titled,
)
from infra.i18n import N_, _, n_, number
from skills.chat import LAB_SYSTEM_MESSAGE, Answer, ChatSession
from skills.playground import Comparison, Side


def _said(label: str, words: str) -> Element:
    """One line of someone else's words after the bot's bold label ("User:", "Prompt:")."""
    runs = [{"type": "TextRun", "text": f"{label} ", "weight": "Bolder", "isSubtle": True}]
    return {"type": "RichTextBlock", "inlines": runs + their_words(words, isSubtle=True)}


def session_card(session: ChatSession) -> Card:
    """A chat session has started (or its settings changed): what the model will be given, the
    End and Clear buttons, and the chat's commands behind "Show chat commands"."""
    body: list[Element] = [
        titled(N_("Chatting with {deployment}"), {"deployment": session.deployment}),
        sentence(N_("Model: {model}"), {"model": session.model}, {"isSubtle": True}),
    ]
    if session.system:
        body.append(text(_("System message"), weight="Bolder", spacing="Small"))
        body.append(quoted(session.system, isSubtle=True))
    for user, assistant in session.examples:
        body += [_said(_("User:"), user), _said(_("Assistant:"), assistant)]
    body.append(
        text(
            _("Type a message and the model answers; other commands keep working."),
            isSubtle=True,
        )
    )
    commands = show_card(
        _("Show chat commands"),
        [
            text(
                _(
                    "- **system** and your text: set the system message\n"
                    "- **example** user text => assistant text: add a few-shot example\n"
                    "- **compare** and a deployment: ask another deployment the same\n"
                    "- **reset**: clear the history (the system message and examples stay)\n"
                    "- **end**: leave the chat"
                )
            ),
            sentence(
                N_("The lab's system message: system {example}"), {"example": LAB_SYSTEM_MESSAGE}
            ),
        ],
    )
    actions = [
        submit(_("End chat"), verbs.CHAT_END),
        submit(_("Clear history"), verbs.CHAT_RESET),
        commands,
    ]
    return card(body, actions)


def footer(answer: Answer, *, named: bool = True) -> str:
    """The small line under an answer: deployment (unless a card names it above), tokens, and
    what was left out."""
    prompt, completion = number(answer.prompt_tokens), number(answer.completion_tokens)
    parts = [
        _(
            "{deployment} · {prompt} prompt + {completion} completion tokens",
            deployment=answer.deployment,
            prompt=prompt,
            completion=completion,
        )
        if named
        else _(
            "{prompt} prompt + {completion} completion tokens", prompt=prompt, completion=completion
        )
    ]
    if answer.dropped:
        parts.append(
            n_(
                "{count} older message left out to fit the context",
                "{count} older messages left out to fit the context",
                answer.dropped,
            )
        )
    if answer.finish_reason == "length":
        parts.append(_("answer cut at the token limit"))
    return " · ".join(parts)


def answer_text(answer: Answer) -> str:
    """The model's answer as shown (or why there is none)."""
    if answer.filtered:
        return _("(Azure's content filter withheld this answer; try rephrasing your message.)")
    return answer.text or _("(the model gave an empty answer)")


def quotation(theirs: str) -> str:
    """Someone else's words (the model's answer, the user's system message) set off as a
    markdown quotation, apart from the bot's own words and in their own language."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in theirs.splitlines())


def said_with(said: str, theirs: str) -> str:
    """The bot's sentence followed by someone else's words on their own quotation lines."""
    return f"{said}\n{quotation(theirs)}"


def answer_message(answer: Answer) -> str:
    """An answer in a chat session: the text, then its footer in small letters."""
    said = answer_text(answer) if answer.filtered or not answer.text else quotation(answer.text)
    return f"{said}\n\n_{footer(answer)}_"


def compare_card(comparison: Comparison) -> Card:
    """Two deployments' answers to the same prompt, side by side."""

    def column(side: Side) -> Element:
        answer = side.answer
        if answer is not None and answer.text and not answer.filtered:
            said = quoted(answer.text)
        else:
            said = spoken(answer_text(answer) if answer is not None else side.error)
        below = footer(answer, named=False) if answer is not None else _("no answer")
        return {
            "type": "Column",
            "width": "stretch",
            "items": [
                quoted(side.deployment, weight="Bolder"),
                said,
                text(below, isSubtle=True, size="Small"),
            ],
        }

    return card(
        [
            heading(_("Compare")),
            _said(_("Prompt:"), comparison.prompt),
            {"type": "ColumnSet", "columns": [column(comparison.left), column(comparison.right)]},
        ]
    )
