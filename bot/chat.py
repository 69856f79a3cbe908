"""Chat sessions, as the portal's playground: `chat`, `system`, `example`, `reset`, `compare`,
`end`, and the router fallback that sends plain messages to the model while a session lasts.

Parsers for the command table, and handlers over skills/playground.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adaptive_cards.chat import answer_message, compare_card, session_card
from bot.deployments import explain_gone
from bot.turn import Turn
from infra.errors import UserError
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
    name, _, prompt = value.partition(" ")
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
    await turn.send_card(session_card(session), f"Chatting with {session.deployment}")


async def set_system(turn: Turn, value: str) -> None:
    """Set (or with no text, clear) the system message."""
    session = await turn.services.playground.set_system(turn.conversation_id, turn.user_id, value)
    if value:
        await turn.send_text(f"System message set for `{session.deployment}`: {prose(value)}")
    else:
        await turn.send_text(
            f"System message cleared. Try `system {LAB_SYSTEM_MESSAGE}`, as in the lab."
        )


async def add_example(turn: Turn, value: str) -> None:
    """Add one few-shot pair."""
    playground = turn.services.playground
    session = await playground.add_example(turn.conversation_id, turn.user_id, value)
    await turn.send_text(
        f"Example {len(session.examples)} added: the model now sees it before every message."
    )


async def reset(turn: Turn, _: None) -> None:
    """Clear the history; the system message and examples stay."""
    session, dropped = await turn.services.playground.reset(turn.conversation_id, turn.user_id)
    await turn.send_text(
        f"History cleared ({dropped} messages). The system message and "
        f"{len(session.examples)} example(s) stay; `end` leaves the chat."
    )


async def end(turn: Turn, _: None) -> None:
    """Leave the session."""
    session = await turn.services.playground.end(turn.conversation_id, turn.user_id)
    await turn.send_text(
        f"Chat with `{session.deployment}` ended ({session.prompt_tokens:,} prompt + "
        f"{session.completion_tokens:,} completion tokens used). Plain messages are commands "
        "again."
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
    await turn.send_card(compare_card(comparison), "Compare")
