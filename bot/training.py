"""Training from chat: `train` (with a confirmation card), `status`, `jobs`, `events`, `cancel`.

Launching is idempotent on its own: `train` stores a pending plan under a fresh token; "Confirm
training" claims `training/launch/{token}` with `storage.create`, so a double click, a redelivered
or a second confirm activity finds the claim taken and starts nothing. The launch (upload, import,
create) runs in a tracked background task that records each stage, so a restart resumes it without
uploading twice or creating a second job (after an unclear create it looks for the job on its file).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncAzureOpenAI

from adaptive_cards.training import (
    JobView,
    cancel_confirmation_card,
    confirmation_card,
    events_card,
    job_card,
    jobs_card,
    notice_card,
)
from bot.arguments import key_values
from bot.router import failure_sentence
from bot.services import Services
from bot.turn import Turn, card_activity
from bot.watcher import job_key, job_view, latest_key, new_record, watch_key
from infra.errors import UserError
from infra.storage import JsonObject
from skills import training
from skills.training import Dataset, Plan, plan_from_json
from skills.validation import ValidationReport, estimated_price, validate_file

log = logging.getLogger(__name__)

PENDING = "training/pending/"
LAUNCH = "training/launch/"
TRAIN_OPTIONS = {"model", "epochs", "batch", "lr", "suffix", "seed"}
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_EVENTS = 10
MAX_EVENTS = 50


def pending_key(token: str) -> str:
    """Storage key of a plan waiting for confirmation."""
    return PENDING + token


def launch_key(token: str) -> str:
    """Storage key of a confirmed launch (claimed once)."""
    return LAUNCH + token


def openai_client(services: Services) -> AsyncAzureOpenAI:
    """The Azure OpenAI data-plane client (built once in app.py through infra/azure.py)."""
    return services.watcher.client()


# -- argument parsers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainArgs:
    """`train` options, and the files a validation card's button names."""

    options: dict[str, Any]
    datasets: tuple[str, ...] | None = None


def parse_train(text: str, data: Mapping[str, Any]) -> TrainArgs:
    """`train [model=..] [epochs=N] [batch=N] [lr=X] [suffix=S] [seed=N]`, or the card's files."""
    words, options = key_values(text, TRAIN_OPTIONS)
    if words:
        raise UserError(
            f"`train` takes options such as `epochs=3`, not `{' '.join(words)}`; "
            "it trains on the files you last validated here."
        )
    datasets = data.get("datasets")
    chosen: tuple[str, ...] | None = None
    if datasets is not None:
        if (
            not isinstance(datasets, list)
            or not 1 <= len(datasets) <= 2
            or not all(isinstance(d, str) and SHA256.match(d) for d in datasets)
        ):
            raise UserError("That button does not name the validated files; say `validate` again.")
        chosen = tuple(datasets)
    return TrainArgs(training.check_options(options), chosen)


def parse_token(text: str, data: Mapping[str, Any]) -> str:
    """The confirmation token a card button carries."""
    token = data.get("token")
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
        raise UserError("That button no longer works; say `train` again.")
    return token


def _job_id(value: str, usage: str) -> str:
    if not value:
        raise UserError(f"Which job? Say `{usage}`; `jobs` lists them.")
    if not JOB_ID.match(value):
        raise UserError(f"`{value}` is not a job id (they look like `ftjob-...`).")
    return value


def parse_optional_job(text: str, data: Mapping[str, Any]) -> str | None:
    """`status [job]`."""
    value = text or str(data.get("job") or "")
    if len(value.split()) > 1:
        raise UserError(f"Expected one job id, got `{value}`.")
    return _job_id(value, "status <job>") if value else None


def parse_job(text: str, data: Mapping[str, Any]) -> str:
    """`cancel <job>` (or a button's `job`)."""
    value = text or str(data.get("job") or "")
    if len(value.split()) > 1:
        raise UserError(f"Expected one job id, got `{value}`.")
    return _job_id(value, "cancel <job>")


@dataclass(frozen=True)
class EventsArgs:
    """`events <job> [N]`."""

    job: str
    count: int


def parse_events(text: str, data: Mapping[str, Any]) -> EventsArgs:
    """`events <job> [N]` (or a button's `job`)."""
    words = text.split() or [str(data.get("job") or "")]
    if len(words) > 2:
        raise UserError("Say `events <job> [N]`.")
    count = DEFAULT_EVENTS
    if len(words) == 2:
        if not words[1].isdigit() or not 1 <= int(words[1]) <= MAX_EVENTS:
            raise UserError(f"N must be a whole number from 1 to {MAX_EVENTS}.")
        count = int(words[1])
    return EventsArgs(_job_id(words[0], "events <job> [N]"), count)


# -- train and its confirmation -----------------------------------------------------------------


def _verdict(report: ValidationReport) -> str:
    """Why a file cannot be trained on, in one sentence."""
    reasons = [error.message.rstrip(".") for error in report.file_errors]
    if report.invalid_examples:
        codes = ", ".join(sorted(report.error_counts))
        reasons.append(f"{report.invalid_examples} invalid example(s) ({codes})")
    if report.over_limit:
        reasons.append(f"{len(report.over_limit)} example(s) over the {report.token_limit} tokens")
    return "; ".join(reasons) or "it did not pass validation"


async def _dataset(services: Services, sha256: str) -> tuple[Dataset, Path]:
    stored = await asyncio.to_thread(services.datasets.get, sha256)
    return Dataset(sha256=sha256, path=str(stored.path), name=stored.name, examples=0), Path(
        stored.path
    )


async def _checked(
    services: Services, sha256: str, model: str, epochs: int | None
) -> tuple[Dataset, ValidationReport]:
    dataset, path = await _dataset(services, sha256)
    report = await asyncio.to_thread(
        validate_file, path, model=model, epochs=epochs, name=dataset.name
    )
    if not report.ok:
        raise UserError(f"{dataset.name} is not valid for training: {_verdict(report)}.")
    shown = Dataset(dataset.sha256, dataset.path, dataset.name, report.valid_examples)
    return shown, report


async def train(turn: Turn, args: TrainArgs) -> None:
    """Check the validated files again and ask for confirmation with the cost."""
    services = turn.services
    validated = (await services.storage.read([f"validated/{turn.conversation_id}"])).get(
        f"validated/{turn.conversation_id}"
    )
    if args.datasets is not None:
        hashes: list[str | None] = [args.datasets[0], (args.datasets[1:] or [None])[0]]
    elif validated is not None:
        hashes = [validated.get("training"), validated.get("validation")]
    else:
        raise UserError(
            "Validate your files first: attach training_set.jsonl (and validation_set.jsonl) "
            "and say `validate`. `sample` gives you a pair to try."
        )
    if not hashes[0]:
        raise UserError("Validate your training file first: attach it and say `validate`.")
    options = args.options
    same = validated is not None and validated.get("training") == hashes[0]
    validated_model = validated.get("model") if validated is not None and same else None
    model = str(options.get("model") or validated_model or services.settings.default_model)
    epochs = options.get("epochs")
    training_set, report = await _checked(services, str(hashes[0]), model, epochs)
    validation_set = None
    if hashes[1]:
        validation_set, _ = await _checked(services, str(hashes[1]), model, epochs)
    plan = Plan(
        model=model,
        training=training_set,
        validation=validation_set,
        epochs=epochs,
        batch_size=options.get("batch"),
        learning_rate_multiplier=options.get("lr"),
        suffix=options.get("suffix"),
        seed=options.get("seed"),
        estimated_epochs=report.billing.epochs,
        billed_tokens=report.billing.billed_tokens,
        price=estimated_price(report, services.settings.training_prices),
    )
    token = uuid.uuid4().hex
    item = {
        "conversation": turn.conversation_id,
        "user": turn.user_id,
        "plan": plan.to_json(),
        "at": time.time(),
    }
    await services.storage.write({pending_key(token): item})
    await turn.send_card(confirmation_card(plan, token), f"Start fine-tuning {model}?")


async def _answer_card(turn: Turn, content: dict[str, Any]) -> None:
    """Replace the card whose button was pressed (when the channel says which it was)."""
    card_id = turn.activity.reply_to_id
    if card_id:
        try:
            await turn.update_card(str(card_id), content)
        except Exception:
            log.info("could not update the pressed card %s", card_id, exc_info=True)


async def confirm(turn: Turn, token: str) -> None:
    """Start the confirmed run: once per confirmation, whatever arrives twice."""
    services = turn.services
    launched = (await services.storage.read([launch_key(token)])).get(launch_key(token))
    if launched is not None:
        await _already(turn, token)
        return
    pending = (await services.storage.read([pending_key(token)])).get(pending_key(token))
    if pending is None:
        raise UserError("That confirmation has expired or was cancelled; say `train` again.")
    if pending["conversation"] != turn.conversation_id:
        raise UserError("That confirmation belongs to another conversation.")
    plan = plan_from_json(pending["plan"])
    claim = {
        "conversation": turn.conversation_id,
        "user": turn.user_id,
        "plan": pending["plan"],
        "stage": "confirmed",
        "card": None,
        "at": time.time(),
    }
    if not await services.storage.create(launch_key(token), claim):
        await _already(turn, token)  # a second confirm lost the race for the claim
        return
    await services.storage.delete([pending_key(token)])
    await _answer_card(
        turn, notice_card("Training confirmed", f"Starting fine-tuning of {plan.model}.")
    )
    view = JobView(status="uploading", model=plan.model, files=_files(plan))
    card_id = await turn.send_card(job_card(view), "Fine-tuning: uploading files")
    await _save_launch(services, token, {**claim, "card": card_id})
    services.tasks.spawn(launch(services, token), f"launch {token}")


async def _already(turn: Turn, token: str) -> None:
    found = (await turn.services.storage.read([launch_key(token)])).get(launch_key(token)) or {}
    job = found.get("job")
    where = f" as job `{job}`" if job else ""
    await turn.send_text(f"This training was already started{where}; `status` shows how it goes.")


async def abort(turn: Turn, token: str) -> None:
    """Drop a plan before anything was spent."""
    storage = turn.services.storage
    if (await storage.read([launch_key(token)])).get(launch_key(token)) is not None:
        await _already(turn, token)
        return
    await storage.delete([pending_key(token)])
    await _answer_card(turn, notice_card("Training cancelled", "Nothing was uploaded or spent."))
    await turn.send_text("OK, I dropped that training plan; nothing was spent.")


def _files(plan: Plan) -> str:
    names = [plan.training.name] + ([plan.validation.name] if plan.validation else [])
    return " + ".join(names)


# -- the launch (background) ---------------------------------------------------------------------


async def _save_launch(services: Services, token: str, record: JsonObject) -> None:
    await services.storage.write(
        {launch_key(token): {k: v for k, v in record.items() if k != "e_tag"}}
    )


async def _launch_card(services: Services, record: JsonObject, view: JobView) -> None:
    card_id = record.get("card")
    if not card_id:
        return
    activity = card_activity(job_card(view), f"Fine-tuning: {view.status}")
    try:
        await services.notifier.update(str(record["conversation"]), str(card_id), activity)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("could not update the launch card", exc_info=True)


async def launch(services: Services, token: str) -> None:
    """Upload, wait for the import, create the job, hand it to the watcher; each stage recorded."""
    record = (await services.storage.read([launch_key(token)])).get(launch_key(token))
    if record is None or record.get("stage") in ("created", "failed"):
        return
    plan = plan_from_json(record["plan"])
    files = _files(plan)
    client = openai_client(services)
    settings = services.settings
    try:
        if not record.get("training_file"):
            record["training_file"] = await training.upload(client, plan.training)
            await _save_launch(services, token, record)
        if plan.validation and not record.get("validation_file"):
            record["validation_file"] = await training.upload(client, plan.validation)
            await _save_launch(services, token, record)
        await _launch_card(services, record, JobView("importing", plan.model, files))
        uploaded = [(record["training_file"], plan.training.name)]
        if plan.validation:
            uploaded.append((record["validation_file"], plan.validation.name))
        for file_id, name in uploaded:
            await training.wait_processed(
                client,
                file_id,
                name,
                interval=min(2.0, settings.training_poll_running_seconds),
                limit=settings.training_import_timeout_seconds,
            )
        job = None
        if record.get("stage") == "creating":  # a restart during the create: did it happen?
            job = await training.find_job_on_file(client, record["training_file"])
        if job is None:
            record["stage"] = "creating"
            await _save_launch(services, token, record)
            job = await training.create_job(
                client, plan, record["training_file"], record.get("validation_file")
            )
    except UserError as error:
        await _launch_failed(services, token, record, plan, error.message)
        return
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("launch %s failed [ref %s]", token, reference)
        await _launch_failed(services, token, record, plan, failure_sentence(reference))
        return
    conversation = str(record["conversation"])
    job_record = new_record(
        job,
        conversation=conversation,
        card=str(record.get("card") or ""),
        files=files,
        examples=plan.training.examples,
        launched_at=float(record["at"]),
    )
    record.update(stage="created", job=job.id)
    await services.storage.write(
        {
            job_key(job.id): job_record,
            watch_key(job.id): {"since": time.time()},
            latest_key(conversation): {"job": job.id},
            launch_key(token): {k: v for k, v in record.items() if k != "e_tag"},
        }
    )
    await _launch_card(services, record, job_view(job_record, job))
    await services.watcher.watch(job.id)


async def _launch_failed(
    services: Services, token: str, record: JsonObject, plan: Plan, message: str
) -> None:
    record.update(stage="failed", error=message)
    await _save_launch(services, token, record)
    view = JobView("failed", plan.model, _files(plan), error=message)
    await _launch_card(services, record, view)


async def resume_launches(services: Services) -> None:
    """On start: carry on launches a restart interrupted (they never upload or create twice)."""
    for key in await services.storage.keys(LAUNCH):
        found = (await services.storage.read([key])).get(key)
        if found is not None and found.get("stage") not in ("created", "failed"):
            token = key.removeprefix(LAUNCH)
            services.tasks.spawn(launch(services, token), f"launch {token}")


# -- following jobs -----------------------------------------------------------------------------


async def status(turn: Turn, job_id: str | None) -> None:
    """The job's card as of now (the latest job of this conversation by default)."""
    storage = turn.services.storage
    if job_id is None:
        latest = (await storage.read([latest_key(turn.conversation_id)])).get(
            latest_key(turn.conversation_id)
        )
        if latest is None:
            raise UserError(
                "No training was started in this conversation yet; say `status <job>` "
                "for another job, or `jobs` for the list."
            )
        job_id = str(latest["job"])
    job = await training.get_job(openai_client(turn.services), job_id)
    record = (await storage.read([job_key(job_id)])).get(job_key(job_id)) or {
        "job": job.id,
        "model": job.model,
        "files": job.training_file + (f" + {job.validation_file}" if job.validation_file else ""),
    }
    await turn.send_card(job_card(job_view(record, job)), f"Job {job.id}: {job.status}")


async def jobs(turn: Turn, _: None) -> None:
    """Recent jobs of the resource."""
    found = await training.list_jobs(openai_client(turn.services), limit=10)
    await turn.send_card(jobs_card(found), f"{len(found)} fine-tuning job(s)")


async def events(turn: Turn, args: EventsArgs) -> None:
    """The job's latest events."""
    found = await training.recent_events(openai_client(turn.services), args.job, args.count)
    await turn.send_card(events_card(args.job, found), f"Events of {args.job}")


async def cancel(turn: Turn, job_id: str) -> None:
    """Ask before cancelling a job."""
    job = await training.get_job(openai_client(turn.services), job_id)
    if job.final:
        raise UserError(f"Job `{job_id}` has already ended: {job.status}.")
    await turn.send_card(cancel_confirmation_card(job), f"Cancel job {job_id}?")


async def cancel_confirmed(turn: Turn, job_id: str) -> None:
    """Cancel the job; the watcher announces the end."""
    job = await training.cancel_job(openai_client(turn.services), job_id)
    await _answer_card(turn, notice_card("Cancelling", f"Job {job.id} is being cancelled."))
    await turn.send_text(
        f"Cancel requested for job `{job.id}`; "
        "I'll post the final notice when Azure has stopped it."
    )
    await turn.services.watcher.poke(job.id)


async def cancel_kept(turn: Turn, job_id: str) -> None:
    """Leave the job running."""
    await _answer_card(turn, notice_card("Still running", f"Job {job_id} keeps training."))
    await turn.send_text(f"OK, job `{job_id}` keeps running.")
