"""Files in a channel and a group chat, end to end through Microsoft 365 Agents Playground.

The bot runs as `make run` does (no app registration, the embedded sandbox and its Graph
stand-in). A file goes "in a channel" the way `ftbot sandbox post-file` puts it there: uploaded
and posted through the sandbox's Graph as the Playground's signed-in user, then Teams' activity
for that message (`@<bot> validate`, only the message's HTML) is delivered through the
Playground's custom-activity endpoint; the bot's answers are read from the Playground's stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox import post_file as tool
from skills.sample import write_sample
from tests.harness import HTTP_TIMEOUT, SANDBOX_TOKEN
from tests.playground import BotMessage, Playground, playground_fixture  # noqa: F401 (fixture)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return list(write_sample(tmp_path / "files"))


@pytest.fixture
async def person(
    playground: Playground, bot_url: str
) -> AsyncIterator[tuple[tool.Playground, tool.GraphClient]]:
    """The person's side: the Playground's configuration and the bot's sandbox's Graph."""
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        client = tool.Playground(session, playground.base_url)
        await client.load()
        yield client, tool.GraphClient(session, f"{bot_url}/sandbox", SANDBOX_TOKEN)


def buttons(message: BotMessage) -> dict[str, dict[str, object]]:
    """The actions of the message's cards by title."""
    return {
        str(action["title"]): action for card in message.cards for action in card.get("actions", [])
    }


async def test_the_command_posts_in_a_channel_and_prints_the_bots_report(
    playground: Playground, bot_url: str, files: list[Path]
) -> None:
    # the answer is complete once the report's button is printed: no quiet spell decides it here
    request = tool.Request(files, playground.base_url, quiet=60)
    lines: list[str] = []
    output = tool.post_file(request, f"{bot_url}/sandbox", SANDBOX_TOKEN)
    async with contextlib.aclosing(output):
        async for line in output:
            lines.append(line)
            if line == "  [Start training]":
                break
    assert lines[0].startswith(
        "Posted training_set.jsonl, validation_set.jsonl in My Team > General as Alex Wilber: "
    ), lines
    assert lines[1] == "Test Bot said:", lines  # the check card, then its updates
    printed = "\n".join(lines)
    assert "Test Bot updated:\n  ✅ Ready to train" in printed, printed
    assert lines[-1] == "  [Start training]", printed
    # what the Playground shows in the channel: the report card, updated in place
    channel = playground.settings["teams"][0]["channels"][0]["id"]
    report = await playground.wait_for(
        lambda m: m.conversation_id == channel and "Start training" in buttons(m), 30
    )
    assert "training_set.jsonl" in report.all_text and "validation_set.jsonl" in report.all_text


async def test_a_group_chat_validate_on_a_file_posted_through_graph(
    playground: Playground,
    person: tuple[tool.Playground, tool.GraphClient],
    files: list[Path],
) -> None:
    client, graph = person
    request = tool.Request(files[:1], playground.base_url, chat="")
    said, activity = await tool.post_activity(request, client, graph)
    assert said.startswith("Posted training_set.jsonl in Group Chat as Alex Wilber")
    await client.deliver(activity)
    chat = playground.settings["groupChats"][0]["id"]
    report = await playground.wait_for(
        lambda m: m.conversation_id == chat and "Start training" in buttons(m), 60
    )
    assert "Ready to train" in report.all_text and "training_set.jsonl" in report.all_text


async def test_a_reply_in_a_thread_started_in_the_playground(
    playground: Playground,
    person: tuple[tool.Playground, tool.GraphClient],
    files: list[Path],
) -> None:
    client, graph = person
    channel = playground.settings["teams"][0]["channels"][0]["id"]
    await playground.send("help", conversation_id=channel, mention_bot=True)
    answer = await playground.wait_for(lambda m: m.conversation_id.startswith(channel), 30)
    thread = answer.conversation_id  # "<channel>;messageid=<the root's id>", as Teams names it
    root = thread.partition(";messageid=")[2]
    assert root.isdigit(), thread
    request = tool.Request(files[:1], playground.base_url, reply_to=root)
    said, activity = await tool.post_activity(request, client, graph)
    assert said.startswith("Posted training_set.jsonl in My Team > General as Alex Wilber")
    assert activity["conversation"]["id"] == thread
    await client.deliver(activity)
    report = await playground.wait_for(
        lambda m: m.conversation_id == thread and "Start training" in buttons(m), 60
    )
    assert "Ready to train" in report.all_text and "training_set.jsonl" in report.all_text


async def test_without_consent_a_channel_gets_the_sentence_and_the_personal_chat_button(
    playground: Playground,
    person: tuple[tool.Playground, tool.GraphClient],
    files: list[Path],
) -> None:
    client, graph = person
    request = tool.Request(files[:1], playground.base_url, consent=False)
    _, activity = await tool.post_activity(request, client, graph)
    await client.deliver(activity)
    answer = await playground.wait_for(lambda m: "Microsoft Graph" in m.all_text, 30)
    assert answer.all_text.strip().startswith(
        "Microsoft Graph did not let me read that message. In channels and group chats Teams "
        "keeps files on SharePoint or OneDrive"
    ), answer.all_text
    assert "I will post the report, with its Start training button, in General too" in (
        answer.all_text
    )
    [link] = [a for a in buttons(answer).values() if a["type"] == "Action.OpenUrl"]
    assert link["url"] == f"https://teams.microsoft.com/l/chat/0/0?users=28:{playground.bot_id}"
