"""The chat playground over HTTP, against a deployment of a model trained in the embedded sandbox:
answers in the style of the training data, system message and examples, reset, compare, end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.azure import Resource
from infra.tokens import get_encoding
from skills.chat import ChatSession, build_messages, message_tokens
from skills.playground import NO_SESSION
from skills.sample import read_sample
from tests.channel import Conversation, buttons, card_text
from tests.e2e.test_deployment import MODEL, deploy_and_wait, trained_model
from tests.training_flow import wait_until

TEACHER = "The system is an AI teacher that helps people learn about AI"
TYPES = "What are the different types of artificial intelligence?"
TYPES_ANSWER = (
    "Narrow AI does one task well, general AI would match people at any task, and super "
    "intelligence would exceed them; only narrow AI exists today."
)
NAME = "gpt-4o-mini-teacher"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


def learned_answers() -> list[str]:
    """The assistant turns of the sample training file."""
    lines = read_sample("training_set.jsonl").decode().splitlines()
    return [json.loads(line)["messages"][-1]["content"] for line in lines if line.strip()]


def answer_of(reply: dict[str, Any]) -> str:
    """The model's answer without the footer and the quotation marks it is shown in."""
    text: str = reply["text"]
    quoted = text.rsplit("\n\n_", 1)[0]
    return "\n".join(line.removeprefix(">").removeprefix(" ") for line in quoted.splitlines())


async def test_chat_like_the_playground(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation()
    await deploy_and_wait(chat, {"verb": "deploy", "model": model, "job": job})
    base = await deploy_and_wait(chat, f"deploy {MODEL} name=base")
    assert "No hosting fee" in card_text(base) and "per hour" not in card_text(base)

    started = card_text(await chat.say(f"chat {NAME}"))
    assert f"Chatting with {NAME}" in started and model in started and TEACHER in started

    # a question from the training data's topic is answered in its style, with a footer
    reply = await chat.say("What is machine learning?")
    assert answer_of(reply) in learned_answers()
    assert reply["text"].endswith(" completion tokens_")
    assert f"_{NAME} · " in reply["text"]

    # the lab's system message changes the answer to the same question
    question = "How does a computer understand language?"
    plain = answer_of(await chat.say(question))
    cleared = await chat.say("reset")
    assert cleared["text"].startswith("History cleared (4 messages).")
    assert (await chat.say(f"system {TEACHER}"))["text"].startswith("System message set")
    steered = answer_of(await chat.say(question))
    assert steered != plain and steered in learned_answers()

    # a few-shot example changes it too
    await chat.say("reset")
    before = answer_of(await chat.say(TYPES))
    assert before != TYPES_ANSWER
    added = await chat.say(f"example {TYPES} => {TYPES_ANSWER}")
    assert added["text"].startswith("Example 1 added")
    await chat.say("reset")
    assert answer_of(await chat.say(TYPES)) == TYPES_ANSWER
    assert answer_of(await chat.say("What is artificial intelligence?"))  # the lab's question

    # commands keep working during a session; a greeting is a prompt there
    assert "FineTune Ops commands" in card_text(await chat.say("help"))
    assert (await chat.say("Hello!"))["text"].endswith(" completion tokens_")

    # the same prompt to the base model, side by side
    compared = card_text(await chat.say(f"compare base {question}"))
    assert "Compare" in compared and question in compared
    assert NAME in compared and "base" in compared
    assert steered in compared and "stand-in for the base model" in compared

    # the session card's buttons: Clear history, then End chat
    card = await chat.say(f"chat {NAME}")
    assert sorted(buttons(card)) == ["Clear history", "End chat"]
    await chat.press(card, "Clear history")
    cleared = await chat.reply()
    assert cleared["text"].startswith("History cleared (")
    assert (await chat.say("What is machine learning?"))["text"].endswith(" completion tokens_")
    await chat.press(card, "End chat")
    ended = await chat.reply()
    assert ended["text"].startswith(f"Chat with `{NAME}` ended (")
    # leaving: plain messages are commands again
    assert (await chat.say("end"))["text"] == NO_SESSION
    assert "Hi, I'm FineTune Ops" in card_text(await chat.say("Hello there!"))
    assert (await chat.say("helo"))["text"].startswith("I don't know `helo`")


async def test_sessions_are_per_user_and_explained(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    chat = conversation()
    reply = await chat.say("system be brief")
    assert reply["text"] == NO_SESSION
    reply = await chat.say("chat nowhere")
    assert reply["text"].startswith("There is no ready deployment `nowhere`")
    reply = await chat.say("chat")
    assert reply["text"].startswith("Chat with which deployment?")
    reply = await chat.say("example no arrow here")
    assert reply["text"].startswith("You are not chatting")

    job, model = await trained_model(bot_url, tmp_path)
    await deploy_and_wait(chat, {"verb": "deploy", "model": model, "job": job})
    await chat.say(f"chat {NAME}")
    assert (await chat.say("example no arrow here"))["text"].startswith("Write an example as")
    # someone else in the same conversation is not in the session
    other = conversation()
    other.id = chat.id
    other.user = {"id": "user-2", "name": "Other User"}
    assert (await other.say("What is machine learning?"))["text"].startswith("I don't know")
    assert answer_of(await chat.say("What is machine learning?")) in learned_answers()


@pytest.mark.parametrize(
    "settings_overrides", [{"sandbox_speedup": 3000.0, "sandbox_faults": "together=6"}]
)
async def test_quick_prompts_all_land_in_the_history(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    """Prompts sent before the previous answer came (the sandbox answers the six completions
    only once all six are waiting): each exchange is kept (the session is changed by one
    read-modify-write per answer, not read, held and saved over the others)."""
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation()
    await deploy_and_wait(chat, {"verb": "deploy", "model": model, "job": job})
    await chat.say(f"chat {NAME}")
    prompts = [f"Question {n}: what is machine learning?" for n in range(6)]
    await asyncio.gather(*(chat.post(chat.activity(text=p)) for p in prompts))
    await wait_until(
        lambda: len([a for a in chat.replies() if "completion tokens_" in str(a.get("text"))]) == 6
    )
    cleared = await chat.say("reset")
    assert cleared["text"].startswith("History cleared (12 messages).")


def test_history_is_trimmed_oldest_first_keeping_system_and_examples() -> None:
    encoding = get_encoding("o200k_base")
    session = ChatSession(
        conversation="c",
        user="u",
        resource=Resource("s", "g", "a", "http://127.0.0.1:9/"),
        deployment="d",
        model=MODEL,
        system=TEACHER,
        examples=[(TYPES, TYPES_ANSWER)],
        history=[
            {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "word " * 40}
            for i in range(10)
        ],
    )
    everything, dropped = build_messages(session, "latest?", encoding, 10_000)
    assert dropped == 0 and len(everything) == 1 + 2 + 10 + 1
    budget = message_tokens(everything, encoding) - 100  # two turns too many
    messages, dropped = build_messages(session, "latest?", encoding, budget)
    assert dropped == 4
    assert messages[0] == {"role": "system", "content": TEACHER}
    assert messages[1]["content"] == TYPES and messages[2]["content"] == TYPES_ANSWER
    assert messages[3]["content"].startswith("turn 4 ") and messages[-1]["content"] == "latest?"
    assert message_tokens(messages, encoding) <= budget
