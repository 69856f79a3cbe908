"""Talking to a deployment (the lab's step 9): the prompt that fits the model, the completion,
and Azure's failures as one plain sentence.

Each prompt is sent with the system message, the few-shot examples and as much recent history as
the model's context holds (tiktoken counts; oldest turns go first). A session is a `ChatSession`
record; skills/playground.py starts, changes and ends them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tiktoken
from openai import (
    APIConnectionError,
    APIStatusError,
    AsyncOpenAI,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from openai.types.chat import ChatCompletionMessageParam

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, _, number
from infra.records import Key, Record
from infra.retry import retry, retry_after
from infra.tokens import encoding_name_for, get_encoding
from skills.azure_errors import error_body
from skills.models import base_of, context_window
from skills.records import Spoken, segment

ANSWER_TOKENS = 800
"""Room kept for the model's answer when the history is trimmed."""
KEEP_ALIVE_PROMPT = "Reply with OK."
LAB_SYSTEM_MESSAGE = "The system is an AI teacher that helps people learn about AI"


class ChatSession(Record, Spoken):
    """One user's chat with one deployment, in one conversation (in a channel: one thread)."""

    prefix = "chat/"

    conversation: str
    user: str
    resource: Resource
    deployment: str
    model: str
    version: str = "1"
    system: str = ""
    examples: list[tuple[str, str]] = []
    history: list[dict[str, str]] = []
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def at(cls, conversation: str, user: str) -> Key[ChatSession]:
        """The key of a user's session in a conversation."""
        return Key(cls, f"{cls.prefix}{segment(conversation)}/{segment(user)}")

    def key(self) -> Key[ChatSession]:
        """Where this record is stored."""
        return self.at(self.conversation, self.user)

    @property
    def base(self) -> str:
        """The base model behind the deployment (for the tokenizer and the context size)."""
        return base_of(self.model, self.version)

    @property
    def last_prompt(self) -> str:
        """The user's latest message in the history, or ''."""
        return next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")


class DeploymentGone(UserError):
    """The data plane says the deployment does not exist (never made, deleted, or not ready)."""

    def __init__(self, deployment: str) -> None:
        super().__init__(
            N_(
                "There is no ready deployment `{deployment}`: it does not exist, is still being "
                "created, or was deleted. `deployments` lists what there is."
            ),
            deployment=deployment,
        )
        self.deployment = deployment


@dataclass(frozen=True)
class Answer:
    """A model's answer and what it cost."""

    deployment: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    created: float
    finish_reason: str
    dropped: int = 0

    @property
    def filtered(self) -> bool:
        """Azure's content filter cut the answer."""
        return self.finish_reason == "content_filter"


# -- the prompt --------------------------------------------------------------------------------


def parse_example(text: str) -> tuple[str, str]:
    """`user text => assistant text` as a pair."""
    user, sep, assistant = text.partition("=>")
    if not sep or not user.strip() or not assistant.strip():
        raise UserError(
            "Write an example as `example <user text> => <assistant text>`, e.g. `example What "
            "is AI? => AI is software that does tasks we link to human thinking.`"
        )
    return user.strip(), assistant.strip()


def encoding_for(session: ChatSession) -> tiktoken.Encoding:
    """The tokenizer of the session's model."""
    return get_encoding(encoding_name_for(session.base))


def message_tokens(messages: Sequence[dict[str, str]], encoding: tiktoken.Encoding) -> int:
    """Prompt tokens of chat messages: 3 per message, its role and content, 3 for the reply."""
    total = 3
    for message in messages:
        total += 3 + sum(len(encoding.encode(v, disallowed_special=())) for v in message.values())
    return total


def build_messages(
    session: ChatSession,
    prompt: str,
    encoding: tiktoken.Encoding,
    budget: int,
) -> tuple[list[dict[str, str]], int]:
    """(messages to send, history messages dropped) so the prompt fits in `budget` tokens.

    The system message, the examples and the prompt always go; history is added newest first
    as long as it fits, whole user/assistant turns at a time.
    """
    head: list[dict[str, str]] = []
    if session.system:
        head.append({"role": "system", "content": session.system})
    for user, assistant in session.examples:
        head += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    tail = [{"role": "user", "content": prompt}]
    used = message_tokens(head + tail, encoding)
    if used > budget:
        raise UserError(
            "Your message, the system message and the examples come to {used} tokens, more "
            "than the {budget} this model can read; shorten them or start over with `end`.",
            used=number(used),
            budget=number(budget),
        )
    kept: list[dict[str, str]] = []
    turns = _turns(session.history)
    for turn in reversed(turns):
        cost = message_tokens(turn, encoding) - 3
        if used + cost > budget:
            break
        kept = turn + kept
        used += cost
    dropped = len(session.history) - len(kept)
    return head + kept + tail, dropped


def _turns(history: Sequence[dict[str, str]]) -> list[list[dict[str, str]]]:
    """History grouped into turns: a user message with the answers that follow it."""
    turns: list[list[dict[str, str]]] = []
    for message in history:
        if message["role"] == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def prompt_budget(session: ChatSession) -> int:
    """Tokens the prompt may use: the model's context less room for the answer."""
    return context_window(session.model, session.version) - ANSWER_TOKENS


# -- calling the model -------------------------------------------------------------------------


async def complete(
    client: AsyncOpenAI,
    deployment: str,
    messages: Sequence[dict[str, str]],
    *,
    max_tokens: int = ANSWER_TOKENS,
    attempts: int = 3,
    dropped: int = 0,
) -> Answer:
    """One chat completion; throttling is retried with backoff, other failures explained."""
    payload: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": m["content"]}
        if m["role"] == "system"
        else {"role": "assistant", "content": m["content"]}
        if m["role"] == "assistant"
        else {"role": "user", "content": m["content"]}
        for m in messages
    ]

    async def call() -> Answer:
        response = await client.chat.completions.create(
            model=deployment, messages=payload, max_tokens=max_tokens
        )
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return Answer(
            deployment=deployment,
            text=(choice.message.content or "") if choice else "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            model=response.model,
            created=float(response.created),
            finish_reason=str(choice.finish_reason) if choice else "stop",
            dropped=dropped,
        )

    try:
        return await retry(call, attempts=attempts, base=1.0, cap=10.0)
    except RateLimitError as error:
        wait = retry_after(error) or 10.0
        raise UserError(
            "`{deployment}` is busy right now (Azure is throttling it); try again in {seconds} s.",
            deployment=deployment,
            seconds=number(max(1, round(wait))),
        ) from None
    except NotFoundError:
        raise DeploymentGone(deployment) from None
    except BadRequestError as error:
        raise _bad_request(deployment, error) from None
    except (AuthenticationError, PermissionDeniedError):
        raise UserError(
            "Azure OpenAI refused the bot's credentials; an admin can check them with `keys`."
        ) from None
    except APIConnectionError:
        raise UserError("I could not reach Azure OpenAI; try again in a moment.") from None
    except APIStatusError as error:
        raise UserError(
            "Azure OpenAI failed to answer (HTTP {status}); try again in a moment.",
            status=error.status_code,
        ) from None


async def keep_alive(client: AsyncOpenAI, deployment: str) -> Answer:
    """The smallest completion there is: it resets the deployment's inactivity clock."""
    return await complete(
        client, deployment, [{"role": "user", "content": KEEP_ALIVE_PROMPT}], max_tokens=1
    )


async def compare(
    client: AsyncOpenAI,
    first: tuple[str, Sequence[dict[str, str]]],
    second: tuple[str, Sequence[dict[str, str]]],
) -> tuple[Answer | UserError, Answer | UserError]:
    """The same prompt to two deployments at once; each side is an answer or why it failed."""

    async def one(deployment: str, messages: Sequence[dict[str, str]]) -> Answer | UserError:
        try:
            return await complete(client, deployment, messages)
        except UserError as error:
            return error

    left, right = await asyncio.gather(one(*first), one(*second))
    return left, right


FILTER_CATEGORIES = {
    "hate": N_("hate"),
    "sexual": N_("sexual"),
    "violence": N_("violence"),
    "self_harm": N_("self harm"),
    "profanity": N_("profanity"),
    "jailbreak": N_("jailbreak"),
    "indirect_attack": N_("indirect attack"),
    "protected_material_text": N_("protected material text"),
    "protected_material_code": N_("protected material code"),
}
"""Azure's content filter categories, as the bot names them."""


def _bad_request(deployment: str, error: BadRequestError) -> UserError:
    inner = error_body(error)
    code = str(inner.get("code") or error.code or "")
    if code == "content_filter" or "content management policy" in str(error.message).lower():
        categories = _filtered_categories(inner)
        if not categories:
            return UserError(
                "Azure's content filter blocked this message; rephrase it and try again."
            )
        return UserError(
            "Azure's content filter blocked this message ({categories}); rephrase it and try "
            "again.",
            categories=", ".join(categories),
        )
    message = str(inner.get("message") or error.message).rstrip(".")
    return UserError(
        "`{deployment}` could not answer: {message}.", deployment=deployment, message=message
    )


def _filtered_categories(inner: dict[str, Any]) -> list[str]:
    innererror = inner.get("innererror")
    result = innererror.get("content_filter_result") if isinstance(innererror, dict) else None
    if not isinstance(result, dict):
        return []
    return [
        _(FILTER_CATEGORIES[name]) if name in FILTER_CATEGORIES else f"`{name}`"
        for name, verdict in result.items()
        if isinstance(verdict, dict) and verdict.get("filtered")
    ]
