"""Hosting from chat, against the bot's embedded sandbox: deploy from the training notice's button,
follow it on one card, list, delete; only the person who asked answers a question."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.azure import azure_clients
from skills.sample import read_sample
from tests.channel import Activity, ChannelFake, Conversation, buttons, card_text
from tests.harness import bot_settings, client_settings, running_bot

MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


async def trained_model(bot_url: str, tmp_path: Path) -> tuple[str, str]:
    """(job id, fine-tuned model) of a job trained on the sample data with the official SDK."""
    settings = client_settings(tmp_path / "client")
    async with (
        azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as azure,
        asyncio.timeout(60),
    ):
        client = azure.openai
        files = []
        for name in ("training_set.jsonl", "validation_set.jsonl"):
            content = (name, read_sample(name))
            uploaded = await client.files.create(file=content, purpose="fine-tune")
            files.append(uploaded.id)
        for file_id in files:
            while (await client.files.retrieve(file_id)).status != "processed":
                await _pause()
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=files[0], validation_file=files[1], suffix="teacher"
        )
        while (job := await client.fine_tuning.jobs.retrieve(job.id)).status != "succeeded":
            assert job.status in ("validating_files", "queued", "running"), job.error
            await _pause()
        assert job.fine_tuned_model
        return job.id, job.fine_tuned_model


async def _pause() -> None:
    await asyncio.sleep(0.05)


def updated(card_id: str, words: str) -> Callable[[Activity], bool]:
    """An in-place update of message `card_id` whose text contains `words`."""
    return lambda a: a["_op"] == "update" and a["id"] == card_id and words in card_text(a)


async def deploy_and_wait(chat: Conversation, command: str | dict[str, Any]) -> Activity:
    """Run `deploy` (text or button data), confirm, and wait until the card says deployed."""
    if isinstance(command, str):
        confirm = await chat.say(command)
    else:
        confirm = await chat.say("", value=command)
    assert "Deploy " in card_text(confirm), card_text(confirm)
    await chat.press(confirm, "Deploy")
    return await chat.reply(updated(confirm["id"], "is deployed"), seconds=20)


async def test_deploy_from_the_training_notice_button_to_delete(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation()

    # the training notice's "Deploy" button: the cost is stated before anything is created
    confirm = await chat.say("", value={"verb": "deploy", "model": model, "job": job})
    text = card_text(confirm)
    assert "Deploy gpt-4o-mini-teacher?" in text
    assert model in text and "$1.70 per hour" in text and "estimate" in text
    assert "billed whether the model is used or not" in text

    # one card, updated in place, until it succeeds
    await chat.press(confirm, "Deploy")
    done = await chat.reply(updated(confirm["id"], "is deployed"), seconds=20)
    assert "Succeeded" in card_text(done)
    assert not [a for a in chat.replies() if a["_op"] == "post" and a is not confirm]

    # pressing "Deploy" again on the same card does not deploy twice
    await chat.press(confirm, "Deploy")
    assert "already answered" in (await chat.reply())["text"]

    # listed, with its idle days
    listing = card_text(await chat.say("deployments"))
    assert "gpt-4o-mini-teacher" in listing and model in listing
    assert "days left of 15" in listing and "Succeeded" in listing

    # "Chat with it" starts a session
    await chat.press(done, "Chat with it")
    started = await chat.reply()
    assert "Chatting with gpt-4o-mini-teacher" in card_text(started)

    # delete asks first, then says when it is gone
    ask = await chat.say("delete gpt-4o-mini-teacher")
    assert "Delete gpt-4o-mini-teacher?" in card_text(ask)
    await chat.press(ask, "Delete")
    await chat.reply(updated(ask["id"], "gpt-4o-mini-teacher is deleted"))
    listing = card_text(await chat.say("deployments"))
    assert "gpt-4o-mini-teacher" not in listing and "There are no deployments" in listing


async def test_deploy_by_job_id_with_options_and_cancel(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation()
    confirm = await chat.say(f"deploy {job} name=tutor sku=developer")
    text = card_text(confirm)
    assert "Deploy tutor?" in text and model in text
    assert "no hourly hosting fee" in text and "24 hours" in text
    await chat.press(confirm, "Cancel")
    await chat.reply(updated(confirm["id"], "cancelled"))
    assert "There are no deployments" in card_text(await chat.say("deployments"))


async def test_deploy_refuses_bad_input_in_plain_words(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    reply = await chat.say("deploy")
    assert reply["text"].startswith("Tell me what to deploy")
    reply = await chat.say("deploy ftjob-0123456789abcdef0123456789abcdef")
    assert reply["text"] == (
        "There is no fine-tuning job `ftjob-0123456789abcdef0123456789abcdef` on this resource."
    )
    reply = await chat.say(f"deploy {MODEL}.ft-0123 name=bad/name")
    assert "is not a valid deployment name" in reply["text"]
    reply = await chat.say(f"deploy {MODEL} sku=premium")
    assert reply["text"] == "Unknown sku `premium`; use standard, globalstandard or developer."
    reply = await chat.say("delete nothing-here")
    assert reply["text"] == "There is no deployment `nothing-here`; `deployments` lists them."


async def test_deploy_a_checkpoint(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    settings = client_settings(tmp_path / "client")
    async with azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as azure:
        checkpoints = (await azure.openai.fine_tuning.jobs.checkpoints.list(job)).data
    first = min(checkpoints, key=lambda c: c.step_number)
    chat = conversation()
    done = await deploy_and_wait(chat, f"deploy {first.id}")
    text = card_text(done)
    assert f"gpt-4o-mini-teacher-step{first.step_number}" in text
    assert f"{model}:ckpt-step-{first.step_number}" in text


async def test_a_restart_mid_deployment_then_a_delete_that_takes_its_time(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with running_bot(bot_settings(data, sandbox_speedup=3000.0)) as url:
        job, model = await trained_model(url, tmp_path)
    # 20 sandbox seconds of creation last 4 s at this speed: restart the bot in the middle
    async with running_bot(bot_settings(data, sandbox_speedup=5.0)) as url:
        chat = Conversation(url, channel, session)
        confirm = await chat.say("", value={"verb": "deploy", "model": model, "job": job})
        await chat.press(confirm, "Deploy")
        await chat.reply(updated(confirm["id"], "Deploying gpt-4o-mini-teacher"))
    async with running_bot(bot_settings(data, sandbox_speedup=5.0)) as url:
        chat.bot_url = url
        done = await chat.reply(updated(confirm["id"], "is deployed"), seconds=20)
        assert "Succeeded" in card_text(done)
        # Azure deletes as a long-running operation: 20 sandbox seconds, 4 s here
        ask = await chat.say("delete gpt-4o-mini-teacher")
        await chat.press(ask, "Delete")
        await chat.reply(updated(ask["id"], "Deleting gpt-4o-mini-teacher"))
        again = await chat.say(f"deploy {job}")
        assert "`gpt-4o-mini-teacher` is being deleted" in again["text"]
        listing = await chat.say("deployments")
        assert "Deleting" in card_text(listing) and "Delete" not in buttons(listing)
        await chat.reply(updated(ask["id"], "gpt-4o-mini-teacher is deleted"), seconds=20)
        assert "There are no deployments" in card_text(await chat.say("deployments"))


async def test_a_refused_card_update_loses_no_deployment(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_url: str, tmp_path: Path
) -> None:
    """The channel refuses the update that turns the confirmation into the first progress: the
    deployment was recorded before it, is followed anyway, and the card catches up; teardown
    knows it (before, the record was written only after that update, and was lost with it)."""
    job, _ = await trained_model(bot_url, tmp_path)
    chat = conversation()
    confirm = await chat.say(f"deploy {job}")
    channel.failures = [(403, {})]
    await chat.press(confirm, "Deploy")
    await chat.reply(updated(confirm["id"], "is deployed"), seconds=20)
    assert not channel.failures  # the refusal was spent on the first progress
    assert [a for a in chat.replies() if a["_op"] == "post"] == [confirm]
    listed = card_text(await chat.say("teardown"))
    assert "gpt-4o-mini-teacher (gpt-4o-mini-2024-07-18.ft-" in listed, listed


async def test_a_fast_press_updates_the_pressed_card(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_url: str, tmp_path: Path
) -> None:
    """The channel has not yet confirmed the cost card to the bot when the user presses Deploy
    on it: the card pressed (replyToId) is the one that follows the deployment, not a new one."""
    job, _ = await trained_model(bot_url, tmp_path)
    chat = conversation()
    release = channel.hold(lambda a: "Deploy " in card_text(a) and a["_op"] == "post")
    post = asyncio.create_task(chat.post(chat.activity(text=f"deploy {job}")))
    confirm = await chat.reply(lambda a: "Deploy " in card_text(a))
    await chat.press(confirm, "Deploy")  # answered while the cost card's send is held
    assert not post.done()
    release.set()
    await chat.reply(updated(confirm["id"], "is deployed"), seconds=20)
    await post
    assert [a for a in chat.replies() if a["_op"] == "post"] == [confirm]


async def test_only_the_person_who_asked_confirms_a_deployment_or_a_deletion(
    conversation: Callable[..., Conversation],
) -> None:
    alice = conversation(conversation_type="groupChat", user_id="alice")
    bob = Conversation(alice.bot_url, alice.channel, alice.session, user_id="bob")
    bob.id = alice.id
    ask = await alice.say("deploy gpt-4o-mini-2024-07-18 name=base")
    for button in ("Deploy", "Cancel"):
        await bob.press(ask, button)
        reply = await bob.reply()
        assert reply["text"] == (
            "Only the person who asked can answer that question; say `deploy` to ask your own."
        )
    await alice.press(ask, "Deploy")
    await alice.reply(lambda a: a["id"] == ask["id"] and "is deployed" in card_text(a), 30)
    ask = await alice.say("delete base")
    await bob.press(ask, "Delete")
    assert (await bob.reply())["text"].startswith("Only the person who asked")
    assert "base" in card_text(await alice.say("deployments"))


async def test_two_cards_for_one_name_deploy_it_once(
    conversation: Callable[..., Conversation],
) -> None:
    """Two `deploy` cards for one name, both pressed: the first deploys; the second, whose name
    went to the first since it was asked, is dropped with the sentence why (its record would
    take the first one's over: that card would stop being followed, its audit entry never end)."""
    chat = conversation()
    first = await chat.say("deploy gpt-4o-mini-2024-07-18 name=base")
    second = await chat.say("deploy gpt-4o-mini-2024-07-18 name=base")
    await chat.press(first, "Deploy")
    await chat.press(second, "Deploy")
    refused = card_text(await chat.reply())
    assert "`base` already serves this model (" in refused, refused
    await chat.reply(updated(first["id"], "is deployed"), seconds=20)
    await chat.press(second, "Deploy")
    assert "has expired or was cancelled" in card_text(await chat.reply())
    audit = card_text(await chat.say("audit"))
    deployed = [row for row in audit.splitlines() if row.startswith("deploy ")]
    assert len(deployed) == 1 and deployed[0].endswith(" · done"), audit
