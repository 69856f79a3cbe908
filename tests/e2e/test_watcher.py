"""The job watcher's reliability: restarts, faults, failures, cancellation, exactly-once notices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra import i18n
from infra.azure import azure_clients
from infra.records import RecordStore
from skills.training.records import JobRecord, LatestJob
from tests.channel import ChannelFake, Conversation, card_text, verbs
from tests.harness import bot_settings, bot_state, running_bot
from tests.korean import english, texts_of
from tests.training_flow import (
    FAST,
    FILES,
    SAMPLE,
    answered,
    ask,
    facts_of,
    heading_of,
    is_notice,
    job_cards,
    job_id_of,
    notice_job,
    notices,
    train,
    updates_of,
    uploaded_names,
    validate_samples,
    wait_until,
    watch_ended,
)

SLOW = {**FAST, "sandbox_speedup": 2.0}
"""Sandbox time at twice real time: a job waits about 2.5 s in the queue and runs ~20 s."""


async def confirmed(chat: Conversation, text: str = "train") -> dict[str, Any]:
    """Validate the samples, say `train`, confirm; returns the live job card's first post."""
    await validate_samples(chat)
    await chat.press(await train(chat, text), "Confirm training")
    return await chat.reply(lambda a: a["_op"] == "post" and "Fine-tuning" in card_text(a))


LANGUAGES = {
    "en": ("en-US", "Fine-tuning:", "Training succeeded"),
    "ko": ("ko-KR", "미세 조정:", "학습 성공"),
}
"""A user's Teams locale, the job card's heading and the notice's heading in that language."""


async def confirmed_in(chat: Conversation, language: str) -> dict[str, Any]:
    """Validate the samples, `train`, confirm, as a user whose Teams runs in `language` (buttons
    pressed by their verb: their titles are in that language); the live job card's first post."""
    locale, heading, _ = LANGUAGES[language]
    files = []
    for name in FILES:
        url = chat.channel.serve_file(f"{chat.id}-{name}", (SAMPLE / name).read_bytes())
        files.append({"contentType": "application/octet-stream", "contentUrl": url, "name": name})
    await chat.post(chat.activity(text="validate", attachments=files, locale=locale))
    card = await chat.reply(lambda a: "train" in verbs(a), 60)
    for verb in ("train", "train-confirm"):
        await chat.post(chat.activity(value=verbs(card)[verb], replyToId=card["id"], locale=locale))
        if verb == "train":
            card = await chat.reply(lambda a: "train-confirm" in verbs(a), 30)
    return await chat.reply(lambda a: a["_op"] == "post" and heading_of(a).startswith(heading))


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_restart_mid_job_gives_exactly_one_notice(
    language: str, tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """The watch carries the job on after a restart, on the same card, with one notice; a job
    started in Korean is announced in Korean, though the process that carries it on speaks
    English (the notice keeps the language of who started the work)."""
    _, heading, finished = LANGUAGES[language]
    settings = bot_settings(tmp_path / "data", **{**FAST, "sandbox_speedup": 8.0})
    async with running_bot(settings) as url, bot_state(settings.data_dir) as records:
        chat = Conversation(url, channel, session)
        card = await confirmed_in(chat, language)

        async def polled() -> JobRecord | None:  # the watcher has read steps (or the end)
            latest = await records.get(LatestJob.at(chat.id))
            record = latest and await records.get(JobRecord.at(latest.job))
            return record if record and (record.step or record.final) else None

        record = await wait_until(polled, 30)
        assert not record.final, "the job ended before the restart; slow the sandbox down"
        before = len(updates_of(chat, card["id"]))
    assert i18n.current() == "en"
    async with running_bot(settings), bot_state(settings.data_dir) as records:
        latest = await records.get(LatestJob.at(chat.id))
        assert latest is not None
        await watch_ended(records, latest.job)
    async with running_bot(settings):  # and once more after the notice: nothing to resume
        await ask(chat, "jobs")  # up, its start done
    posts = [a for a in chat.replies() if a["_op"] == "post"]
    assert [a for a in posts if heading_of(a).startswith(heading)] == [card]
    [notice] = [a for a in posts if heading_of(a) == finished]
    updates = updates_of(chat, card["id"])
    assert len(updates) > before  # the same card carried on after restart
    if language == "ko":
        for activity in [notice, *updates]:
            assert english(texts_of(activity)) == [], texts_of(activity)


async def test_restart_right_after_the_launch_resumes_the_watch(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    settings = bot_settings(tmp_path / "data", **{**FAST, "sandbox_speedup": 8.0})
    async with running_bot(settings) as url:
        chat = Conversation(url, channel, session)
        card = await confirmed(chat)
        await wait_until(lambda: job_id_of(channel, card["id"]), 30)
    # The sandbox is embedded: it stops with the bot and carries the job on when it is back.
    async with running_bot(settings), bot_state(settings.data_dir) as records:
        await wait_until(lambda: notices(chat), 60)
        await watch_ended(records, notice_job(chat))
    assert len(notices(chat)) == 1


async def test_restart_during_the_file_import_uploads_once_and_creates_one_job(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    settings = bot_settings(tmp_path / "data", **{**FAST, "sandbox_speedup": 1.0})
    async with running_bot(settings) as url:  # the import takes ~4 s here
        chat = Conversation(url, channel, session)
        card = await confirmed(chat)
        await wait_until(
            lambda: any("importing" in card_text(a) for a in updates_of(chat, card["id"])), 30
        )
        assert job_id_of(channel, card["id"]) is None, "the job exists already; slow it down"
    faster = bot_settings(tmp_path / "data", **{**FAST, "port": settings.port})
    async with (
        running_bot(faster),
        bot_state(faster.data_dir) as records,
        azure_clients(faster) as azure,
    ):
        await wait_until(lambda: notices(chat), 60)
        await watch_ended(records, notice_job(chat))
        files = [f async for f in azure.openai.files.list() if f.purpose == "fine-tune"]
        jobs = [j async for j in azure.openai.fine_tuning.jobs.list()]
    assert len(notices(chat)) == 1 and "succeeded" in card_text(notices(chat)[0])
    assert len(job_cards(chat)) == 1
    assert sorted(f.filename for f in files) == uploaded_names()
    assert [j.id for j in jobs] == [job_id_of(channel, card["id"])]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(FAST)


FAULTS = {**FAST, "sandbox_faults": "429=0.2,500=0.15,retry_after=0.1,seed=5"}


@pytest.mark.parametrize("settings_overrides", [FAULTS])
async def test_a_job_under_injected_faults_still_notifies_once(
    conversation: Callable[..., Conversation], bot_records: RecordStore
) -> None:
    chat = conversation()
    card = await confirmed(chat)
    await wait_until(lambda: notices(chat), 90)
    await watch_ended(bot_records, notice_job(chat))
    assert len(notices(chat)) == 1
    assert "Training succeeded" in card_text(notices(chat)[0])
    assert len(updates_of(chat, card["id"])) >= 2


@pytest.mark.parametrize("settings_overrides", [{**FAST, "sandbox_faults": "lost=1"}])
async def test_lost_answers_to_uploads_and_the_create_still_give_one_of_each(
    conversation: Callable[..., Conversation], tmp_path: Path, bot_records: RecordStore
) -> None:
    """Every POST is done by Azure but answered 504: blind retries would upload and create
    again; the bot finds what its lost calls made instead."""
    chat = conversation()
    await confirmed(chat)
    await wait_until(lambda: notices(chat), 60)
    client = bot_settings(tmp_path / "client")
    async with azure_clients(client, sandbox_url=f"{chat.bot_url}/sandbox") as azure:
        files = [f async for f in azure.openai.files.list() if f.purpose == "fine-tune"]
        jobs = [j async for j in azure.openai.fine_tuning.jobs.list()]
    assert sorted(f.filename for f in files) == uploaded_names()
    assert len(jobs) == 1
    await watch_ended(bot_records, jobs[0].id)
    assert len(notices(chat)) == 1 and "succeeded" in card_text(notices(chat)[0])


@pytest.mark.parametrize("settings_overrides", [SLOW])
async def test_a_failed_job_shows_the_service_error(
    conversation: Callable[..., Conversation], channel: ChannelFake, tmp_path: Path
) -> None:
    chat = conversation()
    card = await confirmed(chat)
    job = await wait_until(lambda: job_id_of(channel, card["id"]), 30)
    client = bot_settings(tmp_path / "client")
    async with azure_clients(client, sandbox_url=f"{chat.bot_url}/sandbox") as azure:
        # someone deletes the file on the resource
        found = await azure.openai.fine_tuning.jobs.retrieve(job)
        assert str(found.status) in ("validating_files", "queued")  # v1's words for pending
        await azure.openai.files.delete(found.training_file)
    await wait_until(lambda: notices(chat), 60)
    [notice] = notices(chat)
    text = card_text(notice)
    assert "Training failed" in text
    assert "Azure's message (invalid_file):\nThe training file was deleted." in text
    assert "What to do:" in text
    assert "Deploy" not in [a["title"] for a in notice["attachments"][0]["content"]["actions"]]
    final = updates_of(chat, card["id"])[-1]
    assert "Failed" in card_text(final) and "The training file was deleted." in card_text(final)


@pytest.mark.parametrize("settings_overrides", [SLOW])
async def test_cancel_asks_first_then_the_notice_says_cancelled(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    chat = conversation()
    card = await confirmed(chat)
    job = await wait_until(lambda: job_id_of(channel, card["id"]), 30)
    question = await ask(chat, f"cancel {job}")
    assert "Cancel this fine-tuning job?" in card_text(question)
    await chat.press(question, "Keep it running")
    kept = await chat.reply(answered)
    assert kept["text"] == f"OK, job `{job}` keeps running."
    latest = next(a for a in reversed(channel.sent) if a["id"] == card["id"])
    question = await ask(chat, "", value={"verb": "cancel", "job": job})  # the card's button
    assert facts_of(question)["Job"] == job and "Cancel job" in card_text(latest)
    await chat.press(question, "Cancel the job")
    done = await chat.reply(answered)
    assert done["text"].startswith(f"Cancel requested for job `{job}`")
    await wait_until(lambda: notices(chat), 30)
    assert "Training cancelled" in card_text(notices(chat)[0])
    again = await ask(chat, f"cancel {job}")
    assert again["text"] == f"Job `{job}` has already ended: cancelled."  # said, not Azure's code
    assert len(notices(chat)) == 1


@pytest.mark.parametrize("settings_overrides", [SLOW])
async def test_only_the_person_who_asked_answers_a_cancel_question(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    alice = conversation(conversation_type="groupChat", user_id="alice")
    bob = Conversation(alice.bot_url, alice.channel, alice.session, user_id="bob")
    bob.id = alice.id
    card = await confirmed(alice)
    job = await wait_until(lambda: job_id_of(channel, card["id"]), 30)
    question = await ask(alice, f"cancel {job}")
    for title in ("Cancel the job", "Keep it running"):
        await bob.press(question, title)
        refused = await bob.reply(answered)
        assert refused["text"] == (
            "Only the person who asked can answer that question; say `cancel <job>` to ask "
            "your own."
        )
    await alice.press(question, "Keep it running")
    assert (await alice.reply(answered))["text"] == f"OK, job `{job}` keeps running."
    await alice.press(question, "Cancel the job")  # the same card, already answered
    late = await alice.reply(answered)
    assert (
        late["text"] == "That confirmation has expired or was cancelled; say `cancel <job>` again."
    )
    status = await ask(alice, f"status {job}")
    assert "Cancel" not in facts_of(status).get("Status", "")


async def test_a_notice_that_cannot_be_delivered_is_retried_and_sent_once(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_records: RecordStore
) -> None:
    chat = conversation()
    channel.refuse(is_notice, 403, times=2)  # Teams refuses the notice twice
    await confirmed(chat)
    await wait_until(lambda: notices(chat), 60)
    await watch_ended(bot_records, notice_job(chat))
    assert len(channel.refused) == 2  # two refused sends, then the one that arrived
    assert len(notices(chat)) == 1


async def test_jobs_of_two_conversations_each_notify_their_own(
    conversation: Callable[..., Conversation], bot_records: RecordStore
) -> None:
    chats = [conversation(), conversation(conversation_type="channel", channel_id="msteams")]
    cards = [await confirmed(chat) for chat in chats]  # the second job waits in the queue
    for chat in chats:
        await wait_until(lambda chat=chat: notices(chat), 60)
    await watch_ended(bot_records, *(notice_job(chat) for chat in chats))
    models = set()
    for chat, card in zip(chats, cards, strict=True):
        [notice] = notices(chat)
        models.add(verbs(notice)["deploy"]["model"])
        assert len(updates_of(chat, card["id"])) >= 2
    assert len(models) == 2
