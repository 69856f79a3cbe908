"""Training from chat, driven like a user in the Emulator, against the bot's embedded sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from infra.records import RecordStore
from tests.channel import ChannelFake, Conversation, button, buttons, card_of, card_text
from tests.training_flow import (
    FAST,
    answered,
    ask,
    details_of,
    facts_of,
    job_cards,
    notice_job,
    notices,
    shown_facts_of,
    train,
    updates_of,
    validate_samples,
    wait_until,
    watch_ended,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(FAST)


async def test_confirm_gives_one_live_card_then_one_notice(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_records: RecordStore
) -> None:
    chat = conversation()
    await validate_samples(chat)
    confirmation = await train(chat)
    shown = facts_of(confirmation)
    assert shown["Base model"] == "gpt-4o-mini-2024-07-18"
    assert shown["Training file"].startswith("training_set.jsonl (")
    assert shown["Validation file"].startswith("validation_set.jsonl (")
    assert "$" in shown["Training price"]
    assert "(estimate)" in details_of(confirmation)["Billed tokens"]

    await chat.press(confirmation, "Confirm training")
    card = await chat.reply(lambda a: a["_op"] == "post" and "Fine-tuning" in card_text(a))
    await wait_until(lambda: notices(chat), 60)
    await watch_ended(bot_records, notice_job(chat))  # nothing more comes for the job

    assert len(job_cards(chat)) == 1
    assert len(updates_of(chat, card["id"])) >= 2
    # The confirmation card was replaced in place, not answered with a new card.
    assert "Training confirmed" in card_text(updates_of(chat, confirmation["id"])[-1])
    [notice] = notices(chat)
    text = card_text(notice)
    assert "Training succeeded" in text and text.lower().count("succeeded") == 1  # said once
    facts = shown_facts_of(notice)
    assert len(facts) <= 5, facts  # the rest is behind "Show details"
    job = facts["Job"]
    model = button(notice, "Deploy")["model"]
    assert model.startswith("gpt-4o-mini-2024-07-18.ft-") and f"New model: {model}" in text
    assert button(notice, "Deploy") == {
        "verb": "deploy",
        "model": model,
        "job": job,
        "language": "en",
    }
    [main] = [a for a in card_of(notice)["actions"] if a.get("style") == "positive"]
    assert main["title"] == "Deploy"  # the card's one main action
    assert float(facts["Training loss"]) > 0
    assert int(details_of(notice)["Trained tokens"].replace(",", "")) > 0
    # one chart: a Chart.Line with the PNG as its fallback, no image attached beside it
    body = card_of(notice)["body"]
    chart = next(e for e in body if e["type"] == "Chart.Line")
    assert len(chart["data"][0]["values"]) > 2
    assert chart["fallback"]["url"].startswith("data:image/png;base64,")
    assert [a["contentType"] for a in notice["attachments"]] == [
        "application/vnd.microsoft.card.adaptive"
    ]
    # a Deploy button per checkpoint, which the deploy command takes as it is
    steps = {t: d for t, d in buttons(notice).items() if t.startswith("Deploy step ")}
    assert steps and all(d["verb"] == "deploy" and d["job"] == job for d in steps.values())
    checkpoint = next(iter(steps.values()))["model"]
    assert checkpoint.startswith(f"{model}:ckpt-step-"), checkpoint
    question = await ask(chat, "", value=next(iter(steps.values())))
    assert checkpoint in card_text(question) and "Deploy" in buttons(question), card_text(question)
    assert button(notice, "Show events") == {"verb": "events", "job": job, "language": "en"}
    # The live card ends on the final state, with the same id.
    final_card = updates_of(chat, card["id"])[-1]
    assert "Succeeded" in card_text(final_card) and model in card_text(final_card)

    status = await ask(chat, "status")
    assert "Fine-tuning: Succeeded" in card_text(status) and job in card_text(status)
    events = await ask(chat, "", value=button(notice, "Show events"))
    assert "Job succeeded." in card_text(events)
    listed = await ask(chat, "jobs")
    assert job in card_text(listed) and "Succeeded" in card_text(listed)
    last_two = await ask(chat, f"events {job} 2")
    assert [line.split()[0] for line in card_text(last_two).splitlines()[-2:]] == ["info"] * 2


async def test_a_repeated_or_second_confirm_creates_one_job(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_records: RecordStore
) -> None:
    chat = conversation()
    await validate_samples(chat)
    confirmation = await train(chat)
    first = chat.activity(value=button(confirmation, "Confirm training"))
    second = chat.activity(value=button(confirmation, "Confirm training"))
    # A double click (two activities) at once, then Teams redelivering the first (same id).
    await asyncio.gather(chat.post(first), chat.post(second))
    await chat.post(first)
    await wait_until(lambda: [a for a in chat.replies() if "already started" in card_text(a)])
    await wait_until(lambda: notices(chat), 60)
    await watch_ended(bot_records, notice_job(chat))  # the turns above have answered too
    assert len(job_cards(chat)) == 1
    assert len(notices(chat)) == 1
    assert len([a for a in chat.replies() if "already started" in card_text(a)]) == 1
    listed = await ask(chat, "jobs")
    assert card_text(listed).count("ftjob-") == 1


async def test_a_refused_job_card_is_posted_by_the_launchs_next_step(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    """The channel refuses the job card's first post: the launch was recorded before it and runs
    anyway, and its next step posts the card, which follows the job to the end."""
    chat = conversation()
    await validate_samples(chat)
    confirmation = await train(chat)
    channel.failures = [(403, {})]
    # no replyToId: nothing replaces the confirmation, so the job card's post is the first call
    await chat.post(chat.activity(value=button(confirmation, "Confirm training")))
    await wait_until(lambda: notices(chat), 60)
    assert not channel.failures  # the refusal was spent on the job card
    [card] = job_cards(chat)
    assert "Succeeded" in card_text(updates_of(chat, card["id"])[-1])
    assert "Training succeeded" in card_text(notices(chat)[0])


async def test_cancel_in_the_confirmation_spends_nothing(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    await validate_samples(chat)
    confirmation = await train(chat, "train epochs=2 suffix=teacher")
    assert facts_of(confirmation)["Epochs"] == "2"
    assert details_of(confirmation)["Suffix"] == "teacher"
    await chat.press(confirmation, "Cancel")
    reply = await chat.reply(answered)
    assert reply["text"].startswith("OK, I dropped that training plan")
    await chat.press(confirmation, "Confirm training")
    late = await chat.reply(answered)
    assert "expired or was cancelled" in late["text"]
    listed = await ask(chat, "jobs")
    assert "no jobs" in card_text(listed)


async def test_bad_options_get_one_sentence(conversation: Callable[..., Conversation]) -> None:
    chat = conversation()
    assert (await ask(chat, "train epochs=many"))["text"] == (
        "Epochs must be a whole number from 1 to 50."
    )
    assert (await ask(chat, "train colour=blue"))["text"].startswith("Unknown option `colour`")
    assert (await ask(chat, "train"))["text"].startswith("Validate your files first")
    assert (await ask(chat, "status"))["text"].startswith("No training was started")
    assert (await ask(chat, "cancel"))["text"].startswith("Which job?")
    reply = await ask(chat, "status ftjob-00000000000000000000000000000000")
    assert reply["text"] == "Azure OpenAI has no job `ftjob-00000000000000000000000000000000`."


@pytest.mark.parametrize(
    "settings_overrides", [{**FAST, "admins": ["admin-1"], "trainers": ["trainer-1"]}]
)
async def test_training_commands_need_the_trainer_role(
    conversation: Callable[..., Conversation],
) -> None:
    reply = await ask(conversation(user_id="someone"), "train")
    assert reply["text"] == "`train` needs the trainer role; ask your admin to add you."
    reply = await ask(conversation(user_id="someone"), "jobs")
    assert reply["text"] == "`jobs` needs the trainer role; ask your admin to add you."
    assert "no jobs" in card_text(await ask(conversation(user_id="trainer-1"), "jobs"))
