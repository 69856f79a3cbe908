"""Chat sessions, as the portal's playground: `chat`, `system`, `example`, `reset`, `compare`,
`end`, and the router fallback that sends plain messages to the model while a session lasts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards.chat import Side, compare_card, session_card
from bot.deployments import explain_gone
from bot.hosting import account_of, clients, clock_of
from bot.services import Services
from bot.turn import Turn
from infra.errors import UserError
from skills import chat as chats
from skills import deployment as hosting
from skills.chat import Answer, ChatSession, DeploymentGone
from skills.deployment_records import record_use

NO_SESSION = "You are not chatting with a model here; start with `chat <deployment>`."


def parse_chat(text_: str, data: Mapping[str, Any]) -> str | None:
    """The deployment to chat with (text, or a card's `deployment`); None asks which."""
    value = text_.strip() or str(data.get("deployment") or "")
    if not value:
        return None
    if len(value.split()) > 1:
        raise UserError(
            f"Give one deployment name, not `{value}`; `deployments` lists them. Once the chat "
            "has started, just type your message."
        )
    return hosting.check_name(value)


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
    return hosting.check_name(name), prompt.strip()


async def _session(turn: Turn) -> ChatSession:
    session = await chats.read_session(turn.services.storage, turn.conversation_id, turn.user_id)
    if session is None:
        raise UserError(NO_SESSION)
    return session


async def _save(turn: Turn, session: ChatSession) -> None:
    await chats.save_session(turn.services.storage, turn.conversation_id, turn.user_id, session)


def _session_card(session: ChatSession) -> dict[str, Any]:
    pairs = [(user, assistant) for user, assistant in session.examples]
    return session_card(
        session.deployment, session.model, session.system, pairs, chats.LAB_SYSTEM_MESSAGE
    )


async def start_chat(turn: Turn, name: str | None) -> None:
    """Start (or switch) this user's session in this conversation."""
    azure = clients(turn.services)
    account = account_of(azure)
    if name is None:
        found = await hosting.list_deployments(
            azure.cognitive, account, clock_of(turn.services).observe
        )
        ready = [f"`{d.name}`" for d in found if d.ready]
        options = f" Ready now: {', '.join(ready)}." if ready else " None is ready now."
        raise UserError(f"Chat with which deployment? `chat <deployment>`.{options}")
    info = await hosting.get_deployment(
        azure.cognitive, account, name, clock_of(turn.services).observe
    )
    if info is None or not info.ready:
        await explain_gone(turn, name)
        return
    previous = await chats.read_session(turn.services.storage, turn.conversation_id, turn.user_id)
    session = ChatSession(deployment=info.name, model=info.model, version=info.version)
    if previous is not None:  # switching models keeps the playground's settings
        session.system, session.examples = previous.system, previous.examples
    await _save(turn, session)
    await turn.send_card(_session_card(session), f"Chatting with {info.name}")


async def set_system(turn: Turn, value: str) -> None:
    """Set (or with no text, clear) the system message."""
    session = await _session(turn)
    session.system = value
    await _save(turn, session)
    if value:
        await turn.send_text(f"System message set for `{session.deployment}`: {value}")
    else:
        await turn.send_text(
            f"System message cleared. Try `system {chats.LAB_SYSTEM_MESSAGE}`, as in the lab."
        )


async def add_example(turn: Turn, value: str) -> None:
    """Add one few-shot pair."""
    session = await _session(turn)
    user, assistant = chats.parse_example(value)
    session.examples.append([user, assistant])
    await _save(turn, session)
    await turn.send_text(
        f"Example {len(session.examples)} added: the model now sees it before every message."
    )


async def reset(turn: Turn, _: None) -> None:
    """Clear the history; the system message and examples stay."""
    session = await _session(turn)
    dropped = len(session.history)
    session.history = []
    await _save(turn, session)
    await turn.send_text(
        f"History cleared ({dropped} messages). The system message and "
        f"{len(session.examples)} example(s) stay; `end` leaves the chat."
    )


async def end(turn: Turn, _: None) -> None:
    """Leave the session."""
    session = await _session(turn)
    await chats.end_session(turn.services.storage, turn.conversation_id, turn.user_id)
    await turn.send_text(
        f"Chat with `{session.deployment}` ended ({session.prompt_tokens:,} prompt + "
        f"{session.completion_tokens:,} completion tokens used). Plain messages are commands "
        "again."
    )


async def _remember(services: Services, answer: Answer, model: str) -> None:
    clock = clock_of(services)
    clock.observe(answer.created)
    account = account_of(clients(services))
    await record_use(services.storage, account, answer.deployment, model, answer.created)


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


def _answer_text(answer: Answer) -> str:
    if answer.filtered:
        return "(Azure's content filter withheld this answer; try rephrasing your message.)"
    return answer.text or "(the model gave an empty answer)"


async def send_prompt(turn: Turn, prompt: str) -> bool:
    """The router fallback: in a session, a plain message goes to the model."""
    services = turn.services
    session = await chats.read_session(services.storage, turn.conversation_id, turn.user_id)
    if session is None or not prompt.strip():
        return False
    encoding = chats.encoding_for(session)
    messages, dropped = chats.build_messages(
        session, prompt, encoding, chats.prompt_budget(session)
    )
    try:
        answer = await chats.complete(
            clients(services).openai, session.deployment, messages, dropped=dropped
        )
    except DeploymentGone:
        await explain_gone(turn, session.deployment)
        return True
    await _remember(services, answer, session.model)
    # Read again: a command (system, example) may have changed the session meanwhile.
    latest = await chats.read_session(services.storage, turn.conversation_id, turn.user_id)
    if latest is not None and latest.deployment == session.deployment:
        session = latest
    session.history += [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer.text},
    ]
    session.prompt_tokens += answer.prompt_tokens
    session.completion_tokens += answer.completion_tokens
    await _save(turn, session)
    await turn.send_text(f"{_answer_text(answer)}\n\n_{footer(answer)}_")
    return True


@dataclass(frozen=True)
class _Target:
    deployment: str
    model: str
    version: str


async def compare(turn: Turn, args: tuple[str, str]) -> None:
    """The same prompt to the session's deployment and another one, side by side."""
    other, prompt = args
    services = turn.services
    session = await _session(turn)
    prompt = prompt or session.last_prompt
    if not prompt:
        raise UserError(
            "Compare what? Send a message first, or write `compare <deployment> <prompt>`."
        )
    azure = clients(services)
    info = await hosting.get_deployment(
        azure.cognitive, account_of(azure), other, clock_of(services).observe
    )
    if info is None or not info.ready:
        await explain_gone(turn, other)
        return
    history = session.history
    if history and history[-1]["role"] == "assistant" and session.last_prompt == prompt:
        history = history[:-2]  # the prompt being compared is the last exchange: ask it afresh
    sides: list[tuple[str, list[dict[str, str]]]] = []
    for target in (
        _Target(session.deployment, session.model, session.version),
        _Target(info.name, info.model, info.version),
    ):
        view = ChatSession(
            deployment=target.deployment,
            model=target.model,
            version=target.version,
            system=session.system,
            examples=session.examples,
            history=history,
        )
        messages, _ = chats.build_messages(
            view, prompt, chats.encoding_for(view), chats.prompt_budget(view)
        )
        sides.append((target.deployment, messages))
    left, right = await chats.compare(azure.openai, sides[0], sides[1])
    models = {session.deployment: session.model, info.name: info.model}
    columns: list[Side] = []
    for name, result in zip((session.deployment, info.name), (left, right), strict=True):
        if isinstance(result, Answer):
            await _remember(services, result, models[name])
            columns.append(Side(name, _answer_text(result), footer(result)))
        else:
            message = result.message
            if isinstance(result, DeploymentGone):
                message = f"`{name}` is not available: {result.message}"
            columns.append(Side(name, message, "no answer", failed=True))
    await turn.send_card(compare_card(prompt, columns[0], columns[1]), "Compare")
