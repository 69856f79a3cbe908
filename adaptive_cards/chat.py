"""Cards of the chat playground: the session's start and settings, an answer's footer, and a
side-by-side compare.

What the user wrote (the system message, the examples, the prompt) and what the model answered
are quotations: they keep their own language (adaptive_cards.common.quote)."""

from __future__ import annotations

from adaptive_cards.common import Card, Element, card, facts, heading, quoted, text
from infra.i18n import _, n_, number
from skills.chat import LAB_SYSTEM_MESSAGE, Answer, ChatSession
from skills.playground import Comparison, Side


def session_card(session: ChatSession) -> Card:
    """A chat session has started (or its settings changed): what the model will be given."""
    pairs = [(_("Model"), session.model)]
    if not session.system:
        pairs.append((_("System message"), _("(none)")))
    pairs.append((_("Examples"), number(len(session.examples))))
    body: list[Element] = [
        heading(_("Chatting with {deployment}", deployment=session.deployment)),
        facts(pairs),
    ]
    if session.system:
        body.append(text(_("System message"), weight="Bolder", spacing="Small"))
        body.append(quoted(session.system, isSubtle=True))
    for user, assistant in session.examples:
        body.append(facts([(_("User:"), quoted(user)), (_("Assistant:"), quoted(assistant))]))
    body.append(
        text(
            _(
                "Type a message and the model answers. `system <text>` sets the system message "
                '(try: "{example}"), `example <user> => <assistant>` adds a few-shot example, '
                "`reset` clears the history, `compare <deployment>` asks another deployment the "
                "same, `end` leaves. Other commands keep working.",
                example=LAB_SYSTEM_MESSAGE,
            ),
            isSubtle=True,
        )
    )
    return card(body)


def footer(answer: Answer) -> str:
    """The small line under an answer: deployment, tokens, and what was left out."""
    parts = [
        _(
            "{deployment} · {prompt} prompt + {completion} completion tokens",
            deployment=answer.deployment,
            prompt=number(answer.prompt_tokens),
            completion=number(answer.completion_tokens),
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
            said = quoted(answer.text, color="Default")
        else:
            message = answer_text(answer) if answer is not None else side.error
            said = text(message, color="Attention" if answer is None else "Default")
        below = footer(answer) if answer is not None else _("no answer")
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
            facts([(_("Prompt:"), quoted(comparison.prompt, isSubtle=True))]),
            {"type": "ColumnSet", "columns": [column(comparison.left), column(comparison.right)]},
        ]
    )
