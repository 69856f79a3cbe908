"""Fine-tuning jobs on Azure OpenAI: upload, create, read, follow and stop them (lab step 7).

Plain async functions over the official `openai` SDK client (`AsyncOpenAI`, built in
`infra/azure.py` and passed in) that return small result objects. Calls that are safe to repeat
are retried on throttling and server errors with `infra.retry` (honouring Retry-After). An upload
or a job creation is never blindly repeated, neither by us nor by the SDK's own retries (`once`):
after an unclear failure the file list or the job list is searched for what the lost call made
first.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import openai
from openai import AsyncOpenAI
from openai.types import FileObject
from pydantic import BaseModel

from infra.errors import AzureAnswerError, UserError
from infra.i18n import N_, Said, _, duration, later
from infra.retry import retry, transient
from infra.text import echo
from skills.azure_errors import openai_error
from skills.training.plan import Dataset, Plan

T = TypeVar("T")

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
RUNNING_STATUSES = frozenset({"running"})
"""Everything else (pending, queued, validating_files, notRunning, ...) is waiting."""
STATUS_WORDS = {
    "validating_files": N_("validating its files"),
    "queued": N_("queued"),
    "pending": N_("pending"),
    "running": N_("running"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "succeeded": N_("succeeded"),
}
"""A fine-tuning job's status, as a sentence says it (the cards' labels: adaptive_cards)."""
MAX_CHART_POINTS = 200
_STEP_TEXT = re.compile(r"\bStep (\d+)\s*/\s*(\d+)", re.IGNORECASE)


# -- calls -----------------------------------------------------------------------------------


async def call(work: Callable[[], Awaitable[T]], *, attempts: int = 5, cap: float = 30.0) -> T:
    """Await an idempotent Azure call, retrying transient failures with backoff."""
    return await retry(work, attempts=attempts, cap=cap)


def once(client: AsyncOpenAI) -> AsyncOpenAI:
    """The client without the SDK's own retries, for a call that creates something."""
    return client.with_options(max_retries=0)


def maybe_done(error: openai.APIError) -> bool:
    """A failure after which a create may have happened all the same (its answer got lost)."""
    return transient(error) and not isinstance(error, openai.RateLimitError)


# -- what Azure says ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    """A fine-tuning job as Azure reports it."""

    id: str
    status: str
    model: str
    fine_tuned_model: str | None
    created_at: int
    finished_at: int | None
    trained_tokens: int | None
    training_file: str
    validation_file: str | None
    result_files: list[str]
    hyperparameters: dict[str, Any]
    error_code: str | None = None
    error_message: str | None = None
    estimated_finish: int | None = None
    method: str = "supervised"
    beta: float | None = None
    """DPO's beta, as the job runs it."""

    @property
    def final(self) -> bool:
        """True once the job has ended."""
        return self.status in FINAL_STATUSES

    @property
    def running(self) -> bool:
        """True while the job trains."""
        return self.status in RUNNING_STATUSES


def status_words(status: str) -> str:
    """A job's status in a sentence, in the current language (one Azure added later as its own
    word, as code)."""
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else echo(status)


def status_said(status: str) -> Said:
    """What Azure says of a job's status, kept for the audit trail's reader."""
    if status in STATUS_WORDS:
        return later(
            "Azure says the job is {status}.", status=STATUS_WORDS[status], translated=("status",)
        )
    return later("Azure says the job is {status}.", status=echo(status))


def job_state(job: Any) -> JobState:
    """A `JobState` from the SDK's `FineTuningJob`; an answer without a field the v1 spec
    requires and the bot reads is Azure's bad input (AzureAnswerError), not a crash."""
    present = getattr(job, "model_fields_set", None)
    if present is not None:
        for required in ("id", "status", "model", "created_at", "training_file"):
            if required not in present:
                raise AzureAnswerError(N_("the fine-tuning job"), required)
    error = getattr(job, "error", None)
    hyper = getattr(job, "hyperparameters", None)
    hyperparameters = hyper.model_dump(exclude_none=True) if hyper is not None else {}
    code = getattr(error, "code", None) if error is not None else None
    message = getattr(error, "message", None) if error is not None else None
    method = getattr(getattr(job, "method", None), "type", None)
    dpo = getattr(getattr(job, "method", None), "dpo", None)
    beta = getattr(getattr(dpo, "hyperparameters", None), "beta", None)
    return JobState(
        id=str(job.id),
        status=str(job.status),
        model=str(job.model),
        fine_tuned_model=job.fine_tuned_model or None,
        created_at=int(job.created_at or 0),
        finished_at=int(job.finished_at) if job.finished_at else None,
        trained_tokens=int(job.trained_tokens) if job.trained_tokens is not None else None,
        training_file=str(job.training_file),
        validation_file=job.validation_file or None,
        result_files=list(job.result_files or []),
        hyperparameters=hyperparameters,
        error_code=str(code) if code else None,
        error_message=str(message) if message else None,
        estimated_finish=int(job.estimated_finish) if job.estimated_finish else None,
        method=str(method or "supervised"),
        beta=_number(beta),
    )


@dataclass(frozen=True)
class Metric:
    """One training step's measurements (a metrics event or a results.csv row)."""

    step: int
    train_loss: float | None = None
    train_accuracy: float | None = None
    valid_loss: float | None = None
    valid_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_accuracy: float | None = None


def _number(value: object) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def metric_from(data: dict[str, Any]) -> Metric | None:
    """A `Metric` from metrics data (event data, checkpoint metrics or a CSV row)."""
    step = _number(data.get("step"))
    if step is None:
        return None
    return Metric(
        step=int(step),
        train_loss=_number(data.get("train_loss")),
        train_accuracy=_number(data.get("train_mean_token_accuracy")),
        valid_loss=_number(data.get("valid_loss")),
        valid_accuracy=_number(
            data.get("valid_mean_token_accuracy", data.get("validation_mean_token_accuracy"))
        ),
        full_valid_loss=_number(data.get("full_valid_loss")),
        full_valid_accuracy=_number(data.get("full_valid_mean_token_accuracy")),
    )


@dataclass(frozen=True)
class Event:
    """One job event (a message or a metrics report)."""

    id: str
    created_at: int
    level: str
    message: str
    type: str
    data: dict[str, Any] | None = None

    @property
    def metric(self) -> Metric | None:
        """The measurements of a metrics event."""
        if self.type != "metrics" or not isinstance(self.data, dict):
            return None
        return metric_from(self.data)

    @property
    def total_steps(self) -> int | None:
        """N of a "Step n/N: ..." message, when the service writes one."""
        found = _STEP_TEXT.search(self.message)
        return int(found.group(2)) if found else None


def event_of(item: Any) -> Event:
    """An `Event` from the SDK's `FineTuningJobEvent`."""
    data = getattr(item, "data", None)
    return Event(
        id=str(item.id),
        created_at=int(item.created_at or 0),
        level=str(item.level or "info"),
        message=str(item.message or ""),
        type=str(getattr(item, "type", None) or "message"),
        data=dict(data) if isinstance(data, dict) else None,
    )


@dataclass(frozen=True)
class Checkpoint:
    """A saved model of one epoch, deployable like the final model."""

    id: str
    model: str
    step: int
    metric: Metric | None


class Series(BaseModel):
    """Loss curves as [step, loss] points, thinned to at most `MAX_CHART_POINTS` each."""

    train: list[list[float]] = []
    valid: list[list[float]] = []

    def add(self, metric: Metric) -> None:
        """Append one step's losses, halving the density when the curve grows too long."""
        for points, value in ((self.train, metric.train_loss), (self.valid, metric.valid_loss)):
            if value is None or (points and points[-1][0] >= metric.step):
                continue
            points.append([float(metric.step), value])
            if len(points) > MAX_CHART_POINTS:
                del points[1:-1:2]

    @classmethod
    def of(cls, metrics: Iterable[Metric]) -> Series:
        """The curves of a whole run."""
        series = cls()
        for metric in metrics:
            series.add(metric)
        return series


# -- files and jobs -----------------------------------------------------------------------------


UPLOAD_HASH_DIGITS = 16
"""Hex digits of the content's SHA-256 that an upload's name carries."""
FAILED_IMPORTS = frozenset({"error", "failed", "deleted"})


def upload_name(dataset: Dataset) -> str:
    """The name a dataset is uploaded under: its own, with a hash of its content before the
    extension (`training_set.3f2a9c1b4d5e6f70.jsonl`). The bot finds by it an upload it made
    before (a restart, another instance, an answer lost on the way) instead of making another,
    and teardown finds every copy."""
    stem, dot, extension = dataset.name.rpartition(".")
    if not dot:
        stem, extension = dataset.name, "jsonl"
    return f"{stem}.{dataset.sha256[:UPLOAD_HASH_DIGITS]}.{extension}"


async def list_files(client: AsyncOpenAI) -> list[FileObject]:
    """The resource's fine-tune files, oldest first. The v1 API lists files by `purpose` only
    (`listFiles` in sandbox/specs/.../azure-v1-v1-generated.json): callers match names here."""
    files = await call(lambda: _list_files(client))
    return sorted(files, key=lambda f: (f.created_at, f.id))


async def find_uploads(client: AsyncOpenAI, names: Collection[str]) -> list[FileObject]:
    """The resource's fine-tune files named one of `names`, oldest first."""
    return [f for f in await list_files(client) if f.filename in names]


async def list_all_jobs(client: AsyncOpenAI) -> list[openai.types.fine_tuning.FineTuningJob]:
    """Every fine-tuning job of the resource (all pages)."""

    async def listed() -> list[openai.types.fine_tuning.FineTuningJob]:
        return [job async for job in client.fine_tuning.jobs.list(limit=100)]

    return await call(listed)


async def upload(client: AsyncOpenAI, dataset: Dataset, path: Path) -> str:
    """Upload a dataset (its bytes in the local file `path`) for fine-tuning once; returns the
    Azure file id. An upload made before (found by `upload_name`, the same size, not a failed
    import) is taken instead of a new one. The file is streamed from disk, never read into
    memory whole."""
    name = upload_name(dataset)
    size = (await asyncio.to_thread(path.stat)).st_size

    async def made() -> str | None:
        """The upload of this content made before, if any."""
        for found in await find_uploads(client, {name}):
            if found.bytes == size and str(found.status) not in FAILED_IMPORTS:
                return str(found.id)
        return None

    async def attempt() -> str:
        if (before := await made()) is not None:
            return before
        # opened and closed here, not in a thread: a turn cancelled while a thread opened it
        # would leave the file open (a cancelled await discards the thread's result)
        with path.open("rb") as source:
            try:
                created = await once(client).files.create(file=(name, source), purpose="fine-tune")
                return str(created.id)
            except openai.APIError as error:
                if maybe_done(error) and (before := await made()) is not None:
                    return before  # the upload went through; its answer got lost
                raise

    try:
        return await call(attempt)
    except openai.APIError as error:
        raise openai_error(error, _("file upload for {name}", name=echo(dataset.name))) from error


async def _list_files(client: AsyncOpenAI) -> list[FileObject]:
    return [f async for f in client.files.list(purpose="fine-tune")]


async def wait_processed(
    client: AsyncOpenAI,
    file_id: str,
    name: str,
    *,
    interval: float,
    limit: float,
    check: Callable[[], None] | None = None,
) -> None:
    """Wait until Azure has imported the file; its import error is shown with Azure's reason.
    `check` runs before every look (it raises to stop waiting: the work changed hands)."""
    deadline = time.monotonic() + limit
    while True:
        if check is not None:
            check()
        try:
            found = await call(lambda: client.files.retrieve(file_id))
        except openai.APIError as error:
            what = _("file `{file}` ({name})", file=file_id, name=echo(name))
            raise openai_error(error, what) from error
        status = str(found.status)
        if status == "processed":
            return
        if status in ("error", "failed", "deleted"):
            details = getattr(found, "status_details", None)
            reason = echo(details) if details else _("no reason given")
            raise UserError(
                "Azure could not import {name}: {reason}", name=echo(name), reason=reason
            )
        if time.monotonic() > deadline:
            raise UserError(
                "Azure is still importing {name} after {time}; try `train` again later.",
                name=echo(name),
                time=duration(limit),
            )
        await asyncio.sleep(interval)


async def find_job_on_file(client: AsyncOpenAI, training_file: str) -> JobState | None:
    """The job trained on an uploaded file, if one was created (recovery after a failure)."""
    page = await call(lambda: client.fine_tuning.jobs.list(limit=50))
    for job in page.data:
        if job.training_file == training_file:
            return job_state(job)
    return None


async def create_job(
    client: AsyncOpenAI, plan: Plan, training_file: str, validation_file: str | None
) -> JobState:
    """Create the fine-tuning job once: an unclear failure is checked against the job list.

    The v1 body: the model trained (a base model, or the fine-tuned model a run continues), the
    `method` with its hyperparameters, and Azure's `trainingType` (an extension of the OpenAI
    body, sent as extra body: Microsoft Learn, "Customize a model with fine-tuning", "Training
    type"; sandbox/specs/errata.json)."""
    options: dict[str, Any] = {
        "model": plan.trained_model,
        "training_file": training_file,
        "method": plan.method_body(),
        "extra_body": {"trainingType": plan.training_type_name},
    }
    if validation_file:
        options["validation_file"] = validation_file
    if plan.suffix:
        options["suffix"] = plan.suffix
    if plan.seed is not None:
        options["seed"] = plan.seed

    async def attempt() -> JobState:
        try:
            return job_state(await once(client).fine_tuning.jobs.create(**options))
        except openai.APIError as error:
            if maybe_done(error):
                existing = await find_job_on_file(client, training_file)
                if existing is not None:
                    return existing  # the create went through; its answer got lost
            raise

    try:
        return await call(attempt)
    except openai.APIError as error:
        raise openai_error(error, _("such base model or file")) from error


async def get_job(client: AsyncOpenAI, job_id: str) -> JobState:
    """The job's current state (UserError when there is no such job)."""
    try:
        return job_state(await call(lambda: client.fine_tuning.jobs.retrieve(job_id)))
    except openai.APIError as error:
        raise openai_error(error, _("job `{job}`", job=job_id)) from error


async def list_jobs(client: AsyncOpenAI, limit: int = 10) -> list[JobState]:
    """The most recent jobs of the resource."""
    try:
        page = await call(lambda: client.fine_tuning.jobs.list(limit=limit))
    except openai.APIError as error:
        raise openai_error(error, _("job list")) from error
    if "data" not in page.model_fields_set:
        raise AzureAnswerError(N_("the job list"), "data")
    jobs = [job_state(job) for job in page.data]
    return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]


async def cancel_job(client: AsyncOpenAI, job_id: str) -> JobState:
    """Ask Azure to cancel a job; an ended job is refused with its status."""
    job = await get_job(client, job_id)
    if job.final:
        raise UserError(
            "Job `{job}` has already ended: {status}.", job=job_id, status=status_words(job.status)
        )
    try:
        return job_state(await call(lambda: client.fine_tuning.jobs.cancel(job_id)))
    except openai.APIError as error:
        raise openai_error(error, _("job `{job}` to cancel", job=job_id)) from error


async def _change(
    client: AsyncOpenAI,
    job_id: str,
    act: Callable[[], Awaitable[Any]],
    done: Callable[[JobState], bool],
    what: str,
) -> JobState:
    """Ask Azure to pause or resume a job; a repeat whose first answer got lost (409, the job
    is `done` already) is the job as it is."""
    try:
        return job_state(await call(act))
    except openai.ConflictError as error:
        job = await get_job(client, job_id)
        if done(job):
            return job
        raise openai_error(error, what) from error
    except openai.APIError as error:
        raise openai_error(error, what) from error


def check_pausable(job: JobState) -> None:
    """One sentence when a job cannot be paused: Azure pauses a running job that has trained a
    step (Microsoft Learn, "Pause and resume")."""
    if job.final:
        raise UserError(
            "Job `{job}` has already ended ({status}): there is nothing to pause.",
            job=job.id,
            status=echo(job.status),
        )
    if job.status == "paused":
        raise UserError("Job `{job}` is already paused; `resume {job}` carries it on.", job=job.id)
    if not job.running:
        raise UserError(
            "Job `{job}` is {status}: Azure pauses a job once it has trained a step; try again "
            "when its card says it is training.",
            job=job.id,
            status=echo(job.status),
        )


def check_resumable(job: JobState) -> None:
    """One sentence when a job cannot be resumed: only a paused job is."""
    if job.status != "paused":
        raise UserError(
            "Job `{job}` is not paused ({status}): only a paused job can be resumed.",
            job=job.id,
            status=echo(job.status),
        )


async def pause_job(client: AsyncOpenAI, job_id: str) -> JobState:
    """Ask Azure to pause a job (it keeps a deployable checkpoint of the step reached)."""
    return await _change(
        client,
        job_id,
        lambda: client.fine_tuning.jobs.pause(job_id),
        lambda job: job.status == "paused",
        _("job `{job}` to pause", job=job_id),
    )


async def resume_job(client: AsyncOpenAI, job_id: str) -> JobState:
    """Ask Azure to resume a paused job (it queues again and carries on from its last step)."""
    return await _change(
        client,
        job_id,
        lambda: client.fine_tuning.jobs.resume(job_id),
        lambda job: job.status != "paused" and not job.final,
        _("job `{job}` to resume", job=job_id),
    )


def _chronological(events: list[Event]) -> list[Event]:
    """Events oldest first, whichever order the service listed them in."""
    if len(events) > 1 and events[0].created_at > events[-1].created_at:
        return list(reversed(events))
    return events


async def new_events(
    client: AsyncOpenAI,
    job_id: str,
    after: str | None,
    *,
    limit: int = 100,
    attempts: int = 5,
) -> list[Event]:
    """The job's events after event `after` (all when None), oldest first."""
    found: list[Event] = []
    cursor = after
    for _page in range(50):  # at most 5,000 events per poll; the rest come next time

        def page_call(position: str | None = cursor) -> Awaitable[Any]:
            if position is None:
                return client.fine_tuning.jobs.list_events(job_id, limit=limit)
            return client.fine_tuning.jobs.list_events(job_id, after=position, limit=limit)

        page = await call(page_call, attempts=attempts)
        batch = _chronological([event_of(item) for item in page.data])
        found.extend(batch)
        if not batch or not page.has_more:
            break
        cursor = batch[-1].id
    seen: set[str] = {after} if after else set()
    unique = []
    for event in found:
        if event.id not in seen:
            seen.add(event.id)
            unique.append(event)
    return unique


async def poll(client: AsyncOpenAI, job_id: str, after: str | None) -> tuple[JobState, list[Event]]:
    """One look at a watched job: its state and its events after `after` (two tries each)."""
    job = job_state(await call(lambda: client.fine_tuning.jobs.retrieve(job_id), attempts=2))
    return job, await new_events(client, job_id, after, attempts=2)


async def recent_events(client: AsyncOpenAI, job_id: str, count: int) -> list[Event]:
    """The last `count` events of a job, oldest first."""
    try:
        events = await new_events(client, job_id, None)
    except openai.APIError as error:
        raise openai_error(error, _("job `{job}`", job=job_id)) from error
    return events[-count:]


async def checkpoints(client: AsyncOpenAI, job_id: str) -> list[Checkpoint]:
    """The job's kept checkpoints, by step."""
    page = await call(lambda: client.fine_tuning.jobs.checkpoints.list(job_id, limit=10))
    found = []
    for item in page.data:
        metrics = item.metrics.model_dump(exclude_none=True) if item.metrics else {}
        metrics.setdefault("step", item.step_number)
        found.append(
            Checkpoint(
                id=str(item.id),
                model=str(item.fine_tuned_model_checkpoint),
                step=int(item.step_number),
                metric=metric_from(metrics),
            )
        )
    return sorted(found, key=lambda c: c.step)


def parse_results(text: str) -> list[Metric]:
    """The rows of a results.csv file (Azure's columns)."""
    rows = csv.DictReader(io.StringIO(text))
    return [metric for row in rows if (metric := metric_from(dict(row))) is not None]


async def results(client: AsyncOpenAI, job: JobState) -> list[Metric]:
    """The per-step metrics from the job's results.csv (empty when there is none)."""
    if not job.result_files:
        return []
    file_id = job.result_files[0]
    content = await call(lambda: client.files.content(file_id))
    return parse_results(content.text)


# -- progress ------------------------------------------------------------------------------------


def total_steps(hyperparameters: dict[str, Any], examples: int) -> int | None:
    """Steps of a job from its resolved epochs and batch size (None while they are 'auto')."""
    epochs = hyperparameters.get("n_epochs")
    batch = hyperparameters.get("batch_size")
    if not isinstance(epochs, int) or not isinstance(batch, int) or batch < 1 or examples < 1:
        return None
    return epochs * math.ceil(examples / batch)


def time_left(step: int, total: int | None, running_for: float) -> float | None:
    """Seconds left at the pace so far (None until there is a pace to go by)."""
    if total is None or step < 1 or running_for <= 0 or step > total:
        return None
    return running_for / step * (total - step)


FAILURE_ADVICE = {
    "invalid_file": N_(
        "Fix the file (**validate** shows what is wrong), then start training again."
    ),
    "invalid_training_file": N_(
        "Fix the file (**validate** shows what is wrong), then train again."
    ),
    "invalid_validation_file": N_("Fix the validation file, then start training again."),
    "quota_exceeded": N_("The resource's fine-tuning quota is used up; cancel a job or wait."),
    "invalid_model": N_("Choose a base model this region can fine-tune (**train model=...**)."),
}
DEFAULT_ADVICE = N_(
    "Check Azure's message above, then start again with **train**; if it persists, tell your admin."
)


def failure_advice(code: str | None) -> str:
    """What to do about a failed job (in the current language)."""
    return _(FAILURE_ADVICE.get(code or "", DEFAULT_ADVICE))
