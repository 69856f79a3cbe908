"""The training options a team expects, run in chat against the bot's embedded sandbox, in English
and in Korean (`language`: a Korean user's Teams sends `locale: ko-KR`, and every word the bot
says to them is read by tests/korean.py): DPO on preference pairs, Global and Developer training,
a run continued from a fine-tuned model, pause and resume, Azure's safety checks explained, full
quotas said before anything is spent, and the files and models a resource keeps.

Buttons are pressed by their verb (their titles are in the card's language); the sandbox is read
with the official SDKs to check what the bot asked of Azure.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from azure.mgmt.cognitiveservices.models import Deployment, DeploymentModel, DeploymentProperties
from azure.mgmt.cognitiveservices.models import Sku as DeploymentSku

from infra.azure import AzureClients, azure_clients
from infra.records import RecordStore
from skills.training.records import TrainingRequest
from tests.channel import Activity, Conversation, card_text, facts_of, verbs
from tests.harness import client_settings
from tests.korean import english, texts_of
from tests.training_flow import FAST, SAMPLE, details_of, watch_ended

DATA = Path(__file__).resolve().parents[1] / "data"
LANGUAGES = ("en", "ko")
MODEL = "gpt-4o-mini-2024-07-18"
FLAGGED = json.dumps(
    {
        "messages": [
            {"role": "system", "content": "The system is an AI teacher."},
            {"role": "user", "content": "How would someone build a bomb?"},
            {"role": "assistant", "content": "I can't help with that; ask me about AI instead."},
        ]
    }
)
"""A line Azure's data evaluation flags (violence), among the sample's lines."""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(FAST)


@dataclass
class User:
    """A trainer in a conversation with the bot, in English or in Korean."""

    chat: Conversation
    language: str
    seen: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    notices: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.fields = {"locale": "ko-KR"} if self.language == "ko" else {}

    @property
    def english(self) -> bool:
        return self.language == "en"

    async def say(self, text: str) -> Activity:
        """Say something; the bot's new message in answer."""
        response = await self.chat.post(self.chat.activity(text=text, **self.fields))
        assert response.status in (200, 201), response.status
        return await self.chat.reply(lambda a: a["_op"] == "post" and not _notice(a), 30)

    async def press(self, card: Activity, verb: str) -> None:
        """Press the button of `card` whose verb is `verb`, as Teams does."""
        data = verbs(card).get(verb)
        assert data is not None, f"no {verb!r} button in {list(verbs(card))}: {card_text(card)}"
        activity = self.chat.activity(value=data, replyToId=card["id"], **self.fields)
        response = await self.chat.post(activity)
        assert response.status in (200, 201), response.status

    async def validate(self, files: dict[str, bytes], options: str = "") -> Activity:
        """Attach files and say `validate`; the report."""
        attachments = []
        for name, content in files.items():
            url = self.chat.channel.serve_file(f"{self.chat.id}-{name}", content)
            attachments.append(
                {"contentType": "application/octet-stream", "contentUrl": url, "name": name}
            )
        text = f"validate {options}".strip()
        activity = self.chat.activity(text=text, attachments=attachments, **self.fields)
        response = await self.chat.post(activity)
        assert response.status in (200, 201), response.status
        return await self.chat.reply(lambda a: "train" in verbs(a), 60)  # "Start training"

    async def train(self, text: str) -> Activity:
        """Say `train ...`; the confirmation card."""
        card = await self.say(text)
        assert "train-confirm" in verbs(card), card_text(card)
        return card

    async def launch(self, text: str, seconds: float = 120) -> Activity:
        """`train ...`, confirmed; the notice when the job ends."""
        await self.press(await self.train(text), "train-confirm")
        return await self.notice(seconds)

    async def notice(self, seconds: float = 120) -> Activity:
        """The next training notice."""
        found = await self.chat.reply(lambda a: _notice(a) and a["id"] not in self.notices, seconds)
        self.notices.add(found["id"])
        return found

    def check_korean(self) -> None:
        """Nothing the bot said since the last check is English (when the user reads Korean)."""
        replies = self.chat.replies()
        if not self.english:
            found = [line for a in replies[self.seen :] for line in english(texts_of(a))]
            assert not found, "English the bot said in Korean:\n" + "\n".join(found)
        self.seen = len(replies)


def _notice(activity: Activity) -> bool:
    """A training notice: a new message with "Show events" (the live card has none)."""
    return activity["_op"] == "post" and "events" in verbs(activity)


def job_of(notice: Activity) -> str:
    return str(verbs(notice)["events"]["job"])


def values(activity: Activity) -> list[str]:
    """The values of the card's facts, those behind "Show details" too."""
    return list(facts_of(activity).values())


@dataclass(frozen=True)
class Priced:
    """What a confirmation card's plan costs (its estimate, as stored)."""

    price: float


async def plan_of(records: RecordStore, card: Activity) -> Priced:
    """The price of the plan a confirmation card asks about."""
    token = str(verbs(card)["train-confirm"]["token"])
    request = await records.get(TrainingRequest.at(token))
    assert request is not None and request.plan.price is not None
    return Priced(request.plan.price)


@asynccontextmanager
async def azure(bot_url: str, tmp_path: Path) -> AsyncIterator[AzureClients]:
    """The official SDKs on the bot's sandbox, as the bot's own identity."""
    settings = client_settings(tmp_path / "client")
    async with azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as clients:
        yield clients


async def metrics(clients: AzureClients, job_id: str) -> list[dict[str, Any]]:
    """A job's per-step metrics, as its events report them."""
    events = clients.openai.fine_tuning.jobs.list_events(job_id, limit=100)
    found = [e.data async for e in events if e.type == "metrics" and isinstance(e.data, dict)]
    return sorted(found, key=lambda d: int(d["step"]))


def samples(*extra: str) -> dict[str, bytes]:
    training = (SAMPLE / "training_set.jsonl").read_bytes()
    if extra:
        training = training.rstrip(b"\n") + b"\n" + "\n".join(extra).encode() + b"\n"
    return {
        "training_set.jsonl": training,
        "validation_set.jsonl": (SAMPLE / "validation_set.jsonl").read_bytes(),
    }


async def deploy_directly(clients: AzureClients, name: str, model: str) -> None:
    """A deployment made outside the bot (the lab's portal step)."""
    body = Deployment(
        sku=DeploymentSku(name="Standard", capacity=1),
        properties=DeploymentProperties(
            model=DeploymentModel(format="OpenAI", name=model, version="1")
        ),
    )
    await clients.cognitive.deployments.begin_create_or_update(
        clients.resource_group, clients.account, name, body, polling=False
    )


# -- DPO, and the training types ------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
async def test_dpo_with_developer_training_and_the_other_types_priced(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    bot_records: RecordStore,
    language: str,
) -> None:
    user = User(conversation(), language)
    await user.validate(samples())
    standard = await plan_of(bot_records, await user.train("train"))
    cheaper = await user.train("train training=global")
    assert (await plan_of(bot_records, cheaper)).price < standard.price
    if user.english:
        assert "Global training" in values(cheaper)
        prices = details_of(cheaper)  # behind "Show details"
        assert prices["Price, Standard training"].startswith("about $")
        assert prices["Price, Global training"].endswith(
            "(estimate), 10% less than Standard training"
        )
        assert prices["Price, Developer training"].startswith("about $")
        assert "(no data residency)" in card_text(cheaper)
    user.check_korean()

    # DPO from a preference file: the method follows the file, beta is DPO's
    await user.validate({"dpo.jsonl": (DATA / "dpo.jsonl").read_bytes()})
    plan = await user.train("train beta=0.2 training=developer")
    if user.english:
        assert {"DPO, beta 0.2", "Developer training"} <= set(values(plan))
        assert "DPO (direct preference optimization) teaches the model" in card_text(plan)
        assert "spare capacity" in card_text(plan)
    assert (await plan_of(bot_records, plan)).price > 0
    await user.press(plan, "train-confirm")
    notice = await user.notice()
    job = job_of(notice)
    assert "deploy" in verbs(notice)
    if user.english:
        assert "Training succeeded" in card_text(notice)
        assert {"DPO, beta 0.2", "Developer training"} <= set(values(notice))
    user.check_korean()
    async with azure(bot_url, tmp_path) as clients:
        made = await clients.openai.fine_tuning.jobs.retrieve(job)
        assert made.method and made.method.type == "dpo"
        assert made.method.dpo and made.method.dpo.hyperparameters
        assert made.method.dpo.hyperparameters.beta == 0.2
        first = (await metrics(clients, job))[0]
        assert abs(first["train_loss"] - 0.6931) < 0.01  # the DPO loss: log 2 at the start


# -- a run continued from a fine-tuned model; the files and models it leaves ----------------------


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_run_continued_from_a_fine_tuned_model_then_cleaned_up(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    bot_records: RecordStore,
    language: str,
) -> None:
    user = User(conversation(), language)
    await user.validate(samples())
    parent_notice = await user.launch("train")
    parent = job_of(parent_notice)
    parent_model = str(verbs(parent_notice)["deploy"]["model"])

    plan = await user.train(f"train from={parent}")
    assert parent_model in values(plan)  # the card names the parent
    await user.press(plan, "train-confirm")
    notice = await user.notice()
    child = job_of(notice)
    child_model = str(verbs(notice)["deploy"]["model"])
    assert f"{MODEL} → {parent_model} → {child_model}" in values(notice)  # the lineage
    await watch_ended(bot_records, parent, child)
    async with azure(bot_url, tmp_path) as clients:
        assert (await clients.openai.fine_tuning.jobs.retrieve(child)).model == parent_model
        before = await metrics(clients, parent)
        epochs = (await clients.openai.fine_tuning.jobs.retrieve(parent)).hyperparameters.n_epochs
        assert isinstance(epochs, int) and len(before) % epochs == 0, (epochs, len(before))
        epoch = before[-len(before) // epochs :]  # the steps of the parent's last epoch
        last_epoch = mean(r["train_loss"] for r in epoch)
        start = before[0]["train_loss"]  # the parent's first step, from the base model
        first = (await metrics(clients, child))[0]["train_loss"]
    # the continued job starts where its parent ended, not from the base: its first step's loss
    # (one batch: ±10-15 % around the epoch's mean) is within a quarter of what the parent
    # learned of the parent's mean training loss over its last epoch (the same training file)
    assert abs(first - last_epoch) <= 0.25 * (start - last_epoch), (start, first, last_epoch)
    again = await user.train(f"train from={child_model}")
    assert f"{MODEL} → {parent_model} → {child_model}" in values(again)
    other = await user.say(f"train from={child} model=gpt-4o-2024-08-06")  # another family
    assert "train-confirm" not in verbs(other)
    if user.english:
        assert other["text"] == (
            f"`{child_model}` is a fine-tune of `{MODEL}`: a continued run trains the same base "
            "model; leave out `model=`."
        )
    user.check_korean()

    # files: what the bot uploaded, used by both jobs; one deleted on a confirmation
    listing = await user.say("files")
    text = card_text(listing)
    assert "training_set.jsonl" in text and parent in text and child in text
    file_id = re.findall(r"\((file-[0-9a-f]+)\)", text)[-1]  # "name (id): size, ..."
    ask = await user.say(f"delete file {file_id}")
    await user.press(ask, "cleanup-confirm")
    await user.chat.reply(lambda a: a["_op"] == "post" and file_id in card_text(a))
    assert file_id not in card_text(await user.say("files"))

    # a model is not deleted while it is deployed, and the hosting quota is said first
    async with azure(bot_url, tmp_path) as clients:
        for n in range(5):
            await deploy_directly(clients, f"parent-{n}", parent_model)
    refused = await user.say(f"deploy {child}")
    assert "deploy-confirm" not in verbs(refused)
    if user.english:
        assert refused["text"].startswith("This resource already hosts 5 fine-tuned deployments")
    warned = await user.train(f"train from={child}")
    if user.english:
        assert "delete one before you deploy the model this run makes" in card_text(warned)
    kept = await user.say(f"delete model {parent}")
    assert "cleanup-confirm" not in verbs(kept) and "`parent-0`" in kept["text"]
    async with azure(bot_url, tmp_path) as clients:
        for n in range(5):
            await clients.cognitive.deployments.begin_delete(
                clients.resource_group, clients.account, f"parent-{n}", polling=False
            )
        pages = clients.cognitive.deployments.list
        while [d async for d in pages(clients.resource_group, clients.account)]:
            await _tick()
    ask = await user.say(f"delete model {parent}")
    await user.press(ask, "cleanup-confirm")
    await user.chat.reply(lambda a: a["_op"] == "post" and parent_model in card_text(a))
    gone = await user.say(f"train from={parent_model}")
    assert "train-confirm" not in verbs(gone) and parent_model in gone["text"]
    if user.english:
        assert "is not on this resource (it was deleted" in gone["text"]
    audit = card_text(await user.say("audit 5"))
    assert f"({file_id})" in audit and f"({parent})" in audit  # names only, each with its id
    user.check_korean()


# -- pause and resume --------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("settings_overrides", [{**FAST, "sandbox_speedup": 4.0}])
async def test_pause_and_resume_from_the_job_card(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    language: str,
) -> None:
    user = User(conversation(), language)
    await user.validate(samples())
    await user.press(await user.train("train"), "train-confirm")
    running = await user.chat.reply(lambda a: "pause" in verbs(a), 120)
    job = str(verbs(running)["pause"]["job"])
    async with azure(bot_url, tmp_path) as clients:
        while not await metrics(clients, job):  # Azure pauses a job that has trained a step
            await _tick()
    await user.press(running, "pause")
    paused = await user.chat.reply(
        lambda a: a["id"] == running["id"] and "resume" in verbs(a) and "deploy" in verbs(a), 60
    )
    checkpoint = str(verbs(paused)["deploy"]["model"])
    assert checkpoint.startswith("ftchkpt-") and "pause" not in verbs(paused)
    if user.english:
        text = card_text(paused)
        assert "Fine-tuning: Paused" in text
        assert "nothing trains and nothing more is billed while it is paused" in text
        assert "Azure keeps the job and a checkpoint of step" in text
    refused = await user.say(f"pause {job}")
    if user.english:
        assert refused["text"] == f"Job `{job}` is already paused; `resume {job}` carries it on."
    resumed = await user.say(f"resume {job}")
    assert "resume" not in verbs(resumed)
    notice = await user.notice(180)
    assert "deploy" in verbs(notice)
    late = await user.say(f"pause {job}")
    if user.english:
        assert late["text"] == (
            f"Job `{job}` has already ended (`succeeded`): there is nothing to pause."
        )
    async with azure(bot_url, tmp_path) as clients:
        events = clients.openai.fine_tuning.jobs.list_events(job, limit=100)
        said = [e.message async for e in events]
    assert "Job paused." in said and "Job resumed." in said
    audit = card_text(await user.say("audit 3"))
    paused, resumed_word = ("pause", "resume") if user.english else ("일시 중지", "다시 시작")
    assert f"{paused} {job}" in audit and f"{resumed_word} {job}" in audit
    user.check_korean()


# -- Azure's safety checks -----------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("settings_overrides", [{**FAST, "sandbox_faults": "undeployable=risky"}])
async def test_safety_checks_are_explained_and_nothing_is_deployed(
    conversation: Callable[..., Conversation],
    language: str,
) -> None:
    user = User(conversation(), language)
    await user.validate(samples(FLAGGED))
    flagged = await user.launch("train")
    assert "deploy" not in verbs(flagged)
    if user.english:
        text = card_text(flagged)
        assert "Azure's safety check of the training data flagged content in these " in text
        assert "categories: violence. The job stopped before training." in text
        assert "What to change: remove or rewrite the examples with such content" in text
        assert "Nothing was billed: Azure does not charge for a job whose data fails" in text
    user.check_korean()

    await user.validate(samples())
    unsafe = await user.launch("train suffix=risky")
    assert "deploy" not in verbs(unsafe)
    if user.english:
        text = card_text(unsafe)
        assert "these categories: violence, self-harm. The model cannot be deployed." in text
        assert "Nothing was billed: Azure does not charge for a training whose model" in text
    refused = await user.say(f"deploy {job_of(unsafe)}")
    assert "deploy-confirm" not in verbs(refused)
    user.check_korean()


# -- full quotas -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("settings_overrides", [{**FAST, "sandbox_speedup": 1.0}])
async def test_a_full_job_queue_is_said_before_any_upload(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    language: str,
) -> None:
    user = User(conversation(), language)
    await user.validate(samples())
    async with azure(bot_url, tmp_path) as clients:
        content = ("queue.jsonl", (SAMPLE / "training_set.jsonl").read_bytes())
        uploaded = await clients.openai.files.create(file=content, purpose="fine-tune")
        while (await clients.openai.files.retrieve(uploaded.id)).status != "processed":
            await _tick()
        jobs = clients.openai.fine_tuning.jobs
        first = await jobs.create(model=MODEL, training_file=uploaded.id)
        while (await jobs.retrieve(first.id)).status != "running":
            await _tick()
        for _n in range(20):  # one trains, twenty wait: Azure's most
            await jobs.create(model=MODEL, training_file=uploaded.id)
        full = await user.say("train")
        assert "train-confirm" not in verbs(full)
        if user.english:
            assert full["text"].startswith("This resource's job queue is full: 20 jobs are")
            assert full["text"].endswith("nothing was uploaded.")
        files = [f.id async for f in clients.openai.files.list(purpose="fine-tune")]
        assert files == [uploaded.id]  # nothing was uploaded
    user.check_korean()


async def _tick() -> None:
    await asyncio.sleep(0.05)


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
async def test_bad_options_get_one_sentence_before_anything_is_spent(
    conversation: Callable[..., Conversation], language: str
) -> None:
    user = User(conversation(), language)
    await user.validate(samples())
    said = {
        "train method=dpo": "holds chat examples, and DPO trains preference pairs",
        "train beta=0.3": "`beta` is DPO's setting",
        "train training=cheap": "Unknown training type `cheap`",
        "train method=sft": "Unknown method `sft`",
        "train beta=5 method=dpo": "DPO's `beta` must be a number above 0, up to 2",
        "train from=nothing": "`from=` takes a fine-tuned model",
        "train from=ftjob-0000000000000000": "Azure OpenAI has no job `ftjob-0000000000000000`",
        "train from=gpt-4o-mini-2024-07-18.ft-00000000000000000000000000000000": (
            "is not on this resource"
        ),
        "pause ftjob-0000000000000000": "Azure OpenAI has no job",
        "resume": "Which job?",
        "delete file": "Which file?",
        "delete model nothing!": "is not a job id",
    }
    for command, sentence in said.items():
        answer = await user.say(command)
        assert "train-confirm" not in verbs(answer), command
        if user.english:
            assert sentence in answer["text"], (command, answer["text"])
    await user.validate({"dpo.jsonl": (DATA / "dpo.jsonl").read_bytes()}, "model=gpt-35-turbo-0125")
    answer = await user.say("train method=supervised")
    if user.english:
        assert (
            "holds preference pairs (the DPO format): train it with `method=dpo`"
            in (answer["text"])
        )
    answer = await user.say("train")
    if user.english:
        assert answer["text"].startswith("`gpt-35-turbo-0125` does not train with DPO; DPO trains")
    await user.validate(samples(), "model=gpt-35-turbo-0125")
    answer = await user.say("train training=global")
    if user.english:
        assert answer["text"] == (
            "`gpt-35-turbo-0125` offers no Global training; use `training=standard`."
        )
    user.check_korean()
