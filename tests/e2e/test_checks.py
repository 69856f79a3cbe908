"""Files are checked in the background: every turn answers its HTTP request before a download or
a validation starts, the "Checking your files..." card becomes the report, a check goes on after
a restart, and `train` reuses the stored report instead of validating again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.channel import ChannelFake, Conversation, button, card_text, is_checking
from tests.e2e.test_datasets_chat import TRAINING, VALIDATION, attachment
from tests.harness import bot_settings, running_bot
from tests.training_flow import ask


async def test_the_http_answer_comes_before_the_download_ends(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    files = [attachment(channel, "training_set.jsonl", TRAINING)]
    release = channel.hold_files()
    response = await chat.post(chat.activity(text="validate", attachments=files))
    assert response.status in (200, 201)
    assert not release.is_set()  # the turn ended while the download is held
    await asyncio.wait_for(channel.downloading.wait(), 10)
    checking = await chat.reply()
    assert is_checking(checking) and "training_set.jsonl" in card_text(checking)
    release.set()
    report = await chat.reply(lambda a: a["id"] == checking["id"] and not is_checking(a), 30)
    assert "Ready to train" in card_text(report)


async def test_help_is_answered_while_a_download_is_held(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    """A held download holds neither its own turn nor anyone else's."""
    chat = conversation()
    release = channel.hold_files()
    files = [attachment(channel, "training_set.jsonl", TRAINING)]
    await chat.post(chat.activity(text="validate", attachments=files))
    await asyncio.wait_for(channel.downloading.wait(), 10)
    other = conversation()
    assert (await other.say("help")).get("summary") == "FineTune Ops commands"
    release.set()


async def test_a_refused_checking_card_is_posted_by_the_next_step(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    """The channel refuses the "Checking your files..." card: the check was recorded before it
    and runs anyway, and its next step posts the card, which becomes the report."""
    chat = conversation()
    channel.failures = [(403, {})]
    files = [attachment(channel, "training_set.jsonl", TRAINING)]
    await chat.post(chat.activity(text="validate", attachments=files))
    report = await chat.reply(lambda a: "Ready to train" in card_text(a), 30)
    assert not channel.failures  # the refusal was spent on the first card
    posted = [a for a in chat.replies() if a["_op"] == "post"]
    assert len(posted) == 1 and is_checking(posted[0])
    assert report["id"] == posted[0]["id"]


async def test_a_check_goes_on_after_a_restart(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    settings = bot_settings(tmp_path / "data")
    release = channel.hold_files()
    files = [
        attachment(channel, "validation_set.jsonl", VALIDATION),
        attachment(channel, "training_set.jsonl", TRAINING),
    ]
    async with running_bot(settings) as url:
        chat = Conversation(url, channel, session)
        checking = await chat.say("validate", attachments=files)
        assert is_checking(checking)
        await asyncio.wait_for(channel.downloading.wait(), 10)
    # stopped in the middle of the download; the next start finishes the check on the same card
    release.set()
    async with running_bot(settings) as url:
        chat.bot_url = url
        report = await chat.reply(lambda a: a["id"] == checking["id"] and not is_checking(a), 30)
        shown = card_text(report)
        assert "Ready to train" in shown
        assert shown.index("training_set.jsonl") < shown.index("validation_set.jsonl")


async def test_train_reads_the_stored_report(
    conversation: Callable[..., Conversation], channel: ChannelFake, tmp_path: Path
) -> None:
    """`train` used to validate both files again inside its turn (13 s for 170 MB)."""
    chat = conversation()
    report = await chat.checked(
        "validate", attachments=[attachment(channel, "training_set.jsonl", TRAINING)]
    )
    assert "Ready to train" in card_text(report)
    # Were the kept file read again, its new content would fail validation.
    for kept in (tmp_path / "data" / "datasets").glob("*.jsonl"):
        kept.write_bytes(b"not json at all\n")
    confirmation = await ask(chat, "train")
    assert "Start fine-tuning?" in card_text(confirmation)
    other_model = await ask(chat, "train model=gpt-4.1-mini-2025-04-14")
    assert other_model["text"] == (
        "I have not checked training_set.jsonl for gpt-4.1-mini-2025-04-14 yet; attach it and say "
        "`validate model=gpt-4.1-mini-2025-04-14`, then try again."
    )


async def test_show_all_errors_reads_the_report_of_the_model_validated_for(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    broken = TRAINING + b"{not json\n"
    report = await chat.checked(
        "validate model=gpt-4.1-mini-2025-04-14",
        attachments=[attachment(channel, "train.jsonl", broken)],
    )
    listed = await chat.say("", value=button(report, "Show all errors"))
    assert listed["text"] == "1 problem found."
