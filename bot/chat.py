"""Chat sessions, as the portal's playground: `chat`, `system`, `example`, `reset`, `compare`,
`end`, and the router fallback that sends plain messages to the model while a session lasts.

Parsers for the command table, and handlers over skills/playground.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adaptive_cards.chat import answer_message, compare_card, said_with, session_card
from bot.deployments import explain_gone
from bot.turn import Turn
from infra.errors import UserError
from infra.i18n import _, n_, number
from infra.text import echo, prose
from skills.chat import LAB_SYSTEM_MESSAGE, DeploymentGone
from skills.models import check_name


def parse_chat(text_: str, data: Mapping[str, Any]) -> str | None:
    """The deployment to chat with (text, or a card's `deployment`); None asks which."""
    value = text_.strip() or str(data.get("deployment") or "")
    if not value:
        return None
    if len(value.split()) > 1:
        raise UserError(
            "Give one deployment name, not {value}; `deployments` lists them. Once the chat "
            "has started, just type your message.",
            value=echo(value),
        )
    return check_name(value)


def parse_text(text_: str, data: Mapping[str, Any]) -> str:
    """The rest of the line, as typed."""
    return text_.strip() or str(data.get("text") or "").strip()


def parse_compare(text_: str, data: Mapping[str, Any]) -> tuple[str, str]:
    """(other deployment, prompt or '')."""
    value = text_.strip() or str(data.get("deployment") or "")
    name, _sep, prompt = value.partition(" ")
    if not name:
        raise UserError(
            "Compare with which deployment? `compare <deployment> [prompt]` (for example a "
            "deployment of the base model)."
        )
    return check_name(name), prompt.strip()


async def start_chat(turn: Turn, name: str | None) -> None:
    """Start (or switch) this user's session in this conversation."""
    try:
        session = await turn.services.playground.start(
            await turn.resource(), turn.conversation_id, turn.user_id, name
        )
    except DeploymentGone as gone:
        await explain_gone(turn, gone.deployment)
        return
    summary = _("Chatting with {deployment}", deployment=session.deployment)
    await turn.show(session_card(session), summary)


async def set_system(turn: Turn, value: str) -> None:
    """Set (or with no text, clear) the system message."""
    session = await turn.services.playground.set_system(turn.conversation_id, turn.user_id, value)
    if value:
        said = _("System message set for `{deployment}`:", deployment=session.deployment)
        await turn.send_text(said_with(said, prose(value)))
    else:
        await turn.send_text(
            _(
                "System message cleared. Try `system {example}`, as in the lab.",
                example=LAB_SYSTEM_MESSAGE,
            )
        )


async def add_example(turn: Turn, value: str) -> None:
    """Add one few-shot pair."""
    playground = turn.services.playground
    session = await playground.add_example(turn.conversation_id, turn.user_id, value)
    await turn.send_text(
        _(
            "Example {number} added: the model now sees it before every message.",
            number=number(len(session.examples)),
        )
    )


async def reset(turn: Turn, _none: None) -> None:
    """Clear the history; the system message and examples stay."""
    session, dropped = await turn.services.playground.reset(turn.conversation_id, turn.user_id)
    await turn.send_text(
        n_(
            "History cleared ({count} message).",
            "History cleared ({count} messages).",
            dropped,
        )
        + " "
        + n_(
            "The system message and {count} example stay; `end` leaves the chat.",
            "The system message and {count} examples stay; `end` leaves the chat.",
            len(session.examples),
        )
    )


async def end(turn: Turn, _none: None) -> None:
    """Leave the session."""
    session = await turn.services.playground.end(turn.conversation_id, turn.user_id)
    await turn.send_text(
        _(
            "Chat with `{deployment}` ended ({prompt} prompt + {completion} completion tokens "
            "used). Plain messages are commands again.",
            deployment=session.deployment,
            prompt=number(session.prompt_tokens),
            completion=number(session.completion_tokens),
        )
    )


async def send_prompt(turn: Turn, prompt: str) -> bool:
    """The router fallback: in a session, a plain message goes to the model."""
    playground = turn.services.playground
    try:
        answer = await playground.prompt(turn.conversation_id, turn.user_id, prompt)
    except DeploymentGone as gone:
        await explain_gone(turn, gone.deployment)
        return True
    if answer is None:
        return False
    await turn.send_text(answer_message(answer))
    return True


async def compare(turn: Turn, args: tuple[str, str]) -> None:
    """The same prompt to the session's deployment and another one, side by side."""
    other, prompt = args
    playground = turn.services.playground
    try:
        comparison = await playground.compare(turn.conversation_id, turn.user_id, other, prompt)
    except DeploymentGone as gone:
        await explain_gone(turn, gone.deployment)
        return
    await turn.show(compare_card(comparison), _("Compare"))
