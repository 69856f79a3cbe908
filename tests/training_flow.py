"""Helpers for the training tests: a user validating the sample files and pressing buttons."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.records import RecordStore
from skills.records import Claim
from skills.training.records import WatchEntry, notice_claim
from tests.channel import (
    Activity,
    ChannelFake,
    Conversation,
    buttons,
    card_of,
    card_text,
    fact_rows,
    facts_of,
)

SAMPLE = Path(__file__).resolve().parents[1] / "skills" / "sample_data"
FILES = ("training_set.jsonl", "validation_set.jsonl")
FAST = {
    "sandbox_speedup": 20.0,
    "training_poll_running_seconds": 0.1,
    "training_poll_queued_seconds": 0.2,
    "training_card_seconds": 0.2,
    "training_updates_per_second": 50.0,
}


def uploaded_names() -> list[str]:
    """The names the sample files are uploaded under: each its own, with the first 16 hex
    digits of its content's SHA-256 before the extension (skills/training/jobs.upload_name)."""
    names = []
    for name in FILES:
        digest = hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest()[:16]
        names.append(name.replace(".jsonl", f".{digest}.jsonl"))
    return sorted(names)


async def validate_samples(chat: Conversation) -> None:
    """Attach the sample training and validation files and say `validate`."""
    attachments = []
    for name in FILES:
        url = chat.channel.serve_file(f"{chat.id}-{name}", (SAMPLE / name).read_bytes())
        attachments.append(
            {"contentType": "application/octet-stream", "contentUrl": url, "name": name}
        )
    report = await chat.checked("validate", seconds=60, attachments=attachments)
    assert "Start training" in buttons(report), card_text(report)


async def ask(chat: Conversation, text: str, **fields: Any) -> Activity:
    """Say something and return the bot's answer (a new message, not a live card's update)."""
    response = await chat.post(chat.activity(text=text, **fields))
    assert response.status in (200, 201), response.status
    return await chat.reply(lambda a: a["_op"] == "post" and not is_notice(a))


def answered(activity: Activity) -> bool:
    """A new text message (an answer), not a card update."""
    return activity["_op"] == "post" and bool(activity.get("text")) and not is_notice(activity)


async def train(chat: Conversation, text: str = "train") -> Activity:
    """Say `train ...` and return the confirmation card."""
    reply = await ask(chat, text)
    assert "Start fine-tuning?" in card_text(reply), card_text(reply)
    return reply


def heading_of(activity: Activity) -> str:
    """The first text of the activity's card ('' when it has no card)."""
    try:
        body = card_of(activity).get("body") or []
    except AssertionError:
        return ""
    return str(body[0].get("text", "")) if body else ""


def is_job_card(activity: Activity) -> bool:
    """A live job card (posted or updated)."""
    return heading_of(activity).startswith("Fine-tuning:")


def is_notice(activity: Activity) -> bool:
    """The final "training complete" notice."""
    return activity["_op"] == "post" and heading_of(activity).startswith("Training ")


def job_cards(chat: Conversation) -> list[Activity]:
    """Job card posts in the conversation."""
    return [a for a in chat.replies() if a["_op"] == "post" and is_job_card(a)]


def updates_of(chat: Conversation, activity_id: str) -> list[Activity]:
    """In-place updates of one message."""
    return [a for a in chat.replies() if a["_op"] == "update" and a["id"] == activity_id]


def notices(chat: Conversation) -> list[Activity]:
    """Final notices in the conversation."""
    return [a for a in chat.replies() if is_notice(a)]


async def wait_until(check: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Poll `check()` (a function or a coroutine function) until it is truthy; returns that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {check}")
        await asyncio.sleep(0.05)


async def watch_ended(records: RecordStore, *jobs: str, seconds: float = 60.0) -> None:
    """Wait until the bot's job watcher is done with `jobs`: each notice claimed `done` and each
    job off the watch list, which the watcher does last, after the final card update and the
    notice (skills/training/watch.py). From then on nothing more is sent for them, by this
    process or by one started later on the same state: what a "nothing more arrives" check needs.
    """

    async def ended() -> bool:
        for job in jobs:
            claim = await records.get(Claim.at_path(notice_claim(job)))
            if claim is None or claim.state != "done":
                return False
            if await records.get(WatchEntry.at(job)) is not None:
                return False
        return True

    await wait_until(ended, seconds)


def notice_job(chat: Conversation) -> str:
    """The job id of the (first) training notice in `chat`."""
    return facts_of(notices(chat)[0])["Job"]


def job_id_of(channel: ChannelFake, card_id: str) -> str | None:
    """The job id the live card shows once the job exists."""
    for activity in reversed(channel.sent):
        if activity["id"] == card_id:
            job = facts_of(activity).get("Job", "")
            if job.startswith("ftjob-"):
                return job
    return None


def details_of(activity: Activity) -> dict[str, str]:
    """The fact rows behind the card's "Show details" button (an Action.ShowCard)."""
    [shown] = [
        a["card"] for a in card_of(activity).get("actions") or [] if a["title"] == "Show details"
    ]
    return fact_rows(shown)


def shown_facts_of(activity: Activity) -> dict[str, str]:
    """The fact rows a reader sees before opening anything (not those behind a ShowCard)."""
    return fact_rows(card_of(activity)["body"])
