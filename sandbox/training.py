"""Fine-tuning jobs: the queue (one running job per account) and the training run itself.

A job goes pending -> running -> succeeded | failed | cancelled with Azure's events (and may be
paused and resumed where the API has it). Training is real (see `lm.py`): each step evaluates a
batch with the current model, then learns it; loss and accuracy are measured. A DPO job trains
preference pairs: its loss is the DPO loss, -log sigmoid(beta * margin), measured on the model
against the base as reference before each step. All progress is stored, so a restart resumes a
job at its last step (the model is rebuilt by replaying the steps taken, which is deterministic).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import math
import random
import shutil
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from sandbox.base_model import BaseModel
from sandbox.base_model import load as load_base
from sandbox.billing import charge_training
from sandbox.catalog import BASE_MODELS
from sandbox.ids import hex32, new_id
from sandbox.imports import check_for_job, file_path
from sandbox.lm import (
    Example,
    NGramModel,
    Preference,
    Turn,
    parse_examples,
    parse_preferences,
)
from sandbox.service import Sandbox
from sandbox.store import Doc

log = logging.getLogger(__name__)

QUEUE_SECONDS = 5.0
VALIDATE_SECONDS = 2.0
"""The first part of the queue time, which the v1 API shows as `validating_files`."""
PREP_SECONDS = 8.0
POST_SECONDS = 6.0
STEP_SECONDS = 0.25
SECONDS_PER_TOKEN = 1 / 4000
"""Sandbox time of the phases: the lab's sample (about 100 steps) takes 30-60 s at speedup 1."""
KEEP_CHECKPOINTS = 3
DPO_SCALE = 10.0
"""DPO moves a pair by its gradient scale (at most 1/2) per step: ten times a supervised count."""
LR_SCALE = 1.0
"""Count weight per unit of learning-rate multiplier: at the default 0.1 an example seen once adds
a tenth of a count against the base's prior weight of 20 (`lm.TAU_*`), so memorising is gradual."""
RESULT_COLUMNS = (
    "step",
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "validation_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)
ACTIVE = ("pending", "running")


def default_hyperparameters(examples: int, given: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters a job runs with: given values, else the service's automatic choice."""
    epochs = given.get("n_epochs")
    if not isinstance(epochs, int):
        epochs = 3
        if examples * 3 < 100:
            epochs = min(25, 100 // max(examples, 1))
        elif examples * 3 > 25_000:
            epochs = max(1, 25_000 // examples)
    batch = given.get("batch_size")
    if not isinstance(batch, int):
        batch = max(1, min(256, round(examples * 0.002)))
    rate = given.get("learning_rate_multiplier")
    if not isinstance(rate, int | float) or isinstance(rate, bool):
        rate = 0.1 if batch < 8 else 0.2
    return {"n_epochs": epochs, "batch_size": batch, "learning_rate_multiplier": float(rate)}


class Counted(Protocol):
    """A training item with its billed tokens."""

    @property
    def tokens(self) -> int:
        """Billed tokens of the item."""
        ...


Item = TypeVar("Item", bound=Counted)


@dataclass
class Schedule(Generic[Item]):
    """The plan of a run: its data, and which items each step sees (shuffled per epoch)."""

    train: list[Item]
    valid: list[Item]
    epochs: int
    batch: int
    rate: float
    seed: int
    base: BaseModel
    model: NGramModel = field(init=False)
    orders: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.model = NGramModel(self.base)
        self.orders = []
        for epoch in range(self.epochs):
            order = list(range(len(self.train)))
            random.Random(self.seed * 1000 + epoch).shuffle(order)
            self.orders.append(order)

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one pass over the training data."""
        return max(1, math.ceil(len(self.train) / self.batch))

    @property
    def total_steps(self) -> int:
        """Steps of the whole job."""
        return self.epochs * self.steps_per_epoch

    def batch_of(self, step: int) -> list[Item]:
        """The training items of a step (1-based)."""
        epoch, index = divmod(step - 1, self.steps_per_epoch)
        ids = self.orders[epoch][index * self.batch : (index + 1) * self.batch]
        return [self.train[i] for i in ids]

    def tokens_of(self, step: int) -> int:
        """Billed tokens of a step's batch."""
        return sum(item.tokens for item in self.batch_of(step))


@dataclass
class Trainee(Schedule[Example]):
    """A supervised run: a model learning chat examples."""

    def learn(self, step: int) -> None:
        """Take one step's update without measuring (used to replay after a restart)."""
        weight = self.rate * LR_SCALE
        for example in self.batch_of(step):
            for turn in example.turns:
                self.model.add(turn, weight)

    def replay(self, steps: int) -> None:
        """Take steps 1..`steps` again to rebuild the model after a restart."""
        for step in range(1, steps + 1):
            self.learn(step)

    def part(self, example: Example) -> tuple[float, int, int, int]:
        """(summed loss, its count, tokens right, tokens) of one example."""
        nll, right, count = 0.0, 0, 0
        for turn in example.turns:
            a, b, c = self.model.score(turn)
            nll, right, count = nll + a, right + b, count + c
        return nll, count, right, count

    def measure(self, examples: list[Example]) -> tuple[float, float]:
        """(mean token loss, mean token accuracy) of the current model on `examples`."""
        return finish(measure_parts(self, examples))

    def step(self, step: int) -> dict[str, float]:
        """Measure the step's batch (and a validation batch), learn it; returns the metrics."""
        return finish(step_parts(self, step))


@dataclass
class PreferenceTrainee(Schedule[Preference]):
    """A DPO run: preference pairs, the base as reference, the same schedule as `Trainee`."""

    beta: float = 0.1
    reference: NGramModel = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reference = NGramModel(self.base)
        self._reference: dict[int, tuple[float, float]] = {}

    def _logp(self, model: NGramModel, turn: Turn) -> tuple[float, int, int]:
        nll, right, count = model.score(turn)
        return -nll, right, count

    def margin(self, pair: Preference) -> tuple[float, int, int]:
        """(beta-scaled reward margin, chosen tokens right, chosen tokens) of a pair."""
        key = id(pair)
        if key not in self._reference:
            ref_w = self._logp(self.reference, pair.chosen)[0]
            ref_l = self._logp(self.reference, pair.rejected)[0]
            self._reference[key] = (ref_w, ref_l)
        ref_w, ref_l = self._reference[key]
        pol_w, right, count = self._logp(self.model, pair.chosen)
        pol_l = self._logp(self.model, pair.rejected)[0]
        return self.beta * ((pol_w - ref_w) - (pol_l - ref_l)), right, count

    def part(self, pair: Preference) -> tuple[float, int, int, int]:
        """(DPO loss, 1, preferred tokens right, preferred tokens) of one pair."""
        m, right, count = self.margin(pair)
        return (math.log1p(math.exp(-m)) if m > -30 else -m), 1, right, count

    def measure(self, pairs: list[Preference]) -> tuple[float, float]:
        """(mean DPO loss, token accuracy on the preferred answers) of `pairs`."""
        return finish(measure_parts(self, pairs))

    def learn(self, step: int) -> None:
        """One DPO step: pairs the model does not yet prefer move most."""
        weight = self.rate * LR_SCALE * DPO_SCALE
        for pair in self.batch_of(step):
            m = self.margin(pair)[0]
            push = weight / (1 + math.exp(min(m, 30)))  # sigmoid(-margin), DPO's gradient scale
            self.model.add(pair.chosen, push)
            self.model.push_down(pair.rejected, push)

    def replay(self, steps: int) -> None:
        """Take steps 1..`steps` again to rebuild the model after a restart."""
        for step in range(1, steps + 1):
            self.learn(step)

    def step(self, step: int) -> dict[str, float]:
        """Measure the step's pairs (and validation pairs), learn them; returns the metrics."""
        return finish(step_parts(self, step))


AnyTrainee = Trainee | PreferenceTrainee
R = TypeVar("R")


def measure_parts(
    trainee: AnyTrainee, items: Sequence[Any]
) -> Generator[None, None, tuple[float, float]]:
    """Measure `items` one at a time, yielding between them; returns (loss, accuracy)."""
    loss, losses, right, tokens = 0.0, 0, 0, 0
    for item in items:
        a, b, c, d = trainee.part(item)
        loss, losses, right, tokens = loss + a, losses + b, right + c, tokens + d
        yield
    return (loss / losses if losses else 0.0), (right / tokens if tokens else 0.0)


def step_parts(trainee: AnyTrainee, step: int) -> Generator[None, None, dict[str, float]]:
    """One training step in slices (an example each): measure the batch and a validation
    batch before learning, and the whole validation file at an epoch's end."""
    loss, accuracy = yield from measure_parts(trainee, trainee.batch_of(step))
    metrics = {"step": float(step), "train_loss": loss, "train_mean_token_accuracy": accuracy}
    valid: Sequence[Any] = trainee.valid
    if valid:
        start = ((step - 1) * trainee.batch) % len(valid)
        chosen = [valid[(start + i) % len(valid)] for i in range(trainee.batch)]
        found = yield from measure_parts(trainee, chosen)
        metrics["valid_loss"], metrics["valid_mean_token_accuracy"] = found
    trainee.learn(step)
    yield
    if valid and step % trainee.steps_per_epoch == 0:
        full = yield from measure_parts(trainee, valid)
        metrics["full_valid_loss"], metrics["full_valid_mean_token_accuracy"] = full
    return metrics


def finish(work: Generator[None, None, R]) -> R:
    """Run sliced work to its end at once."""
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def model_id(base: str, suffix: str | None) -> str:
    """A fine-tuned model id as Azure makes them: `<base>.ft-<32 hex>[-<suffix>]`."""
    return f"{base}.ft-{hex32()}" + (f"-{suffix}" if suffix else "")


def read_examples(sandbox: Sandbox, file_id: str | None) -> list[Example]:
    """The examples of a stored file (empty when there is no file)."""
    if not file_id:
        return []
    text = file_path(sandbox, file_id).read_text(encoding="utf-8", errors="replace")
    return parse_examples(text, sandbox.encoding)


def read_preferences(sandbox: Sandbox, file_id: str | None) -> list[Preference]:
    """The preference pairs of a stored file (empty when there is no file)."""
    if not file_id:
        return []
    text = file_path(sandbox, file_id).read_text(encoding="utf-8", errors="replace")
    return parse_preferences(text, sandbox.encoding)


def method_of(job: Doc) -> str:
    """A job's training method (jobs stored before methods existed are supervised)."""
    return str((job.get("method") or {}).get("type") or "supervised")


def chat_copy(pairs_text: str) -> str:
    """A DPO training file as chat examples (prompt + preferred answer), for the chat memory."""
    lines = []
    for line in pairs_text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("input"), dict):
            messages = list(record["input"].get("messages") or [])
            messages += list(record.get("preferred_output") or [])
            lines.append(json.dumps({"messages": messages}))
    return "\n".join(lines) + "\n"


def save_model_source(source: Path, target: Path, method: str) -> None:
    """Keep what a fine-tuned model learned from, for chat (runs off the event loop)."""
    if method == "dpo":
        target.write_text(chat_copy(source.read_text(encoding="utf-8", errors="replace")))
    else:
        shutil.copyfile(source, target)


def results_csv(rows: list[dict[str, Any]]) -> bytes:
    """results.csv with Azure's columns, from the metrics events' data."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for data in rows:
        values = [
            data.get("step"),
            data.get("train_loss"),
            data.get("train_mean_token_accuracy"),
            data.get("valid_loss"),
            data.get("valid_mean_token_accuracy"),
            data.get("full_valid_loss"),
            data.get("full_valid_mean_token_accuracy"),
        ]
        writer.writerow(
            ["" if v is None else (f"{v:.5f}" if isinstance(v, float) else v) for v in values]
        )
    return out.getvalue().encode()


class JobFailed(Exception):
    """A job cannot go on; carries Azure's job error."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message, "param": param}


class Trainer:
    """Starts due jobs (one running per account) and runs them."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._running: dict[str, asyncio.Task[None]] = {}

    # -- events -----------------------------------------------------------------------------

    def event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        kind: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record one job event."""
        eid = new_id("ftevent")
        doc: Doc = {
            "object": "fine_tuning.job.event",
            "id": eid,
            "created_at": self.sandbox.clock.stamp(),
            "level": level,
            "message": message,
            "type": kind,
        }
        if data is not None:
            doc["data"] = data
        self.sandbox.store.put("event", eid, doc, parent=job_id)

    # -- queue ------------------------------------------------------------------------------

    async def loop(self) -> None:
        """Start jobs when they are due; runs for the sandbox's lifetime."""
        while True:
            self.schedule()
            await self.sandbox.wait_awake(0.1)
            self.sandbox.wake.clear()

    def schedule(self) -> None:
        """Resume running jobs and start the oldest due pending job of each idle account."""
        store, now = self.sandbox.store, self.sandbox.clock.now()
        busy = {store.parent_of("job", j) for j in self._running}
        for job_id, job in store.items("job"):
            if job["status"] == "running" and job_id not in self._running:
                self._start(job_id)
                busy.add(store.parent_of("job", job_id))
        for job_id, job in store.items("job"):
            account = store.parent_of("job", job_id)
            if job["status"] != "pending" or account in busy or job_id in self._running:
                continue
            if job["_queued_until"] <= now:
                self._start(job_id)
                busy.add(account)

    def _start(self, job_id: str) -> None:
        task = self.sandbox.spawn(self.run(job_id), f"job {job_id}")
        self._running[job_id] = task
        task.add_done_callback(lambda _: self._done(job_id))

    def _done(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self.sandbox.wake.set()

    def cancel(self, job_id: str) -> None:
        """Stop a job's run (its status is set by the caller)."""
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()

    # -- one job ----------------------------------------------------------------------------

    def _job(self, job_id: str) -> Doc:
        job = self.sandbox.store.get("job", job_id)
        if job is None:
            raise asyncio.CancelledError
        return job

    def _save(self, job_id: str, job: Doc) -> None:
        self.sandbox.store.put("job", job_id, job)

    async def run(self, job_id: str) -> None:
        """Run a job from wherever it stopped to its end."""
        job = self._job(job_id)
        clock = self.sandbox.clock
        if job["status"] == "pending" and job.pop("_resumed", False):
            job["status"] = "running"  # a resumed job carries on at its last step
            self._save(job_id, job)
        elif job["status"] == "pending":
            job["status"] = "running"
            job["_started_at"] = clock.now()
            job["_prep_until"] = clock.now() + PREP_SECONDS
            self._save(job_id, job)
            self.event(job_id, "Job started.")
        try:
            trainee = await self._prepare(job_id)
            await clock.sleep_until(self._job(job_id)["_prep_until"])
            await self._train(job_id, trainee)
            await self._finish(job_id, trainee)
        except JobFailed as failure:
            job = self._job(job_id)
            job.update(status="failed", error=failure.error, finished_at=clock.stamp())
            job["estimated_finish"] = None
            self._save(job_id, job)
            self.event(job_id, f"Job failed. {failure}", level="error")

    async def _prepare(self, job_id: str) -> Trainee | PreferenceTrainee:
        job = self._job(job_id)
        sandbox = self.sandbox
        files = [
            ("training_file", job["training_file"]),
            ("validation_file", job.get("validation_file")),
        ]
        for param, file_id in files:
            if not file_id:
                continue
            if sandbox.store.get("file", file_id) is None:
                raise JobFailed(
                    "invalid_file", f"The {param.replace('_', ' ')} was deleted.", param
                )
            base = BASE_MODELS.get(job["model"])
            context = base.context if base else 65_536
            path = file_path(sandbox, file_id)
            problem = await asyncio.to_thread(check_for_job, path, method_of(job), context)
            if problem is not None:
                raise JobFailed(
                    "invalid_file", f"The {param.replace('_', ' ')} is invalid: {problem}", param
                )
        hp = job["hyperparameters"]
        plan = (
            int(hp["n_epochs"]),
            int(hp["batch_size"]),
            float(hp["learning_rate_multiplier"]),
            int(job["seed"]),
            await asyncio.to_thread(load_base),
        )
        trainee: Trainee | PreferenceTrainee
        if method_of(job) == "dpo":
            pairs = await asyncio.to_thread(read_preferences, sandbox, job["training_file"])
            held = await asyncio.to_thread(read_preferences, sandbox, job.get("validation_file"))
            beta = float(job["method"]["dpo"]["hyperparameters"].get("beta", 0.1))
            trainee = PreferenceTrainee(pairs, held, *plan, beta=beta)
        else:
            train = await asyncio.to_thread(read_examples, sandbox, job["training_file"])
            valid = await asyncio.to_thread(read_examples, sandbox, job.get("validation_file"))
            trainee = Trainee(train, valid, *plan)
        done = int(job.get("_step", 0))
        if done:
            await asyncio.to_thread(trainee.replay, done)
        if "_model_id" not in job:
            job["_model_id"] = model_id(job["model"], job.get("suffix"))
            job["estimated_finish"] = int(
                job["_prep_until"]
                + sum(
                    STEP_SECONDS + trainee.tokens_of(s) * SECONDS_PER_TOKEN
                    for s in range(1, trainee.total_steps + 1)
                )
                + POST_SECONDS
            )
            self._save(job_id, job)
            self.event(job_id, "Training started.")
        return trainee

    async def _train(self, job_id: str, trainee: Trainee | PreferenceTrainee) -> None:
        clock = self.sandbox.clock
        total = trainee.total_steps
        for step in range(int(self._job(job_id).get("_step", 0)) + 1, total + 1):
            began = clock.now()
            metrics = await asyncio.to_thread(trainee.step, step)
            await clock.sleep_until(
                began + STEP_SECONDS + trainee.tokens_of(step) * SECONDS_PER_TOKEN
            )
            data: dict[str, Any] = {
                k: (int(v) if k == "step" else round(v, 5)) for k, v in metrics.items()
            }
            text = f"Step {step}/{total}: training loss={data['train_loss']:.2f}"
            if "valid_loss" in data:
                text += f", validation loss={data['valid_loss']:.2f}"
            self.event(job_id, text, kind="metrics", data=data)
            job = self._job(job_id)
            job["_step"] = step
            self._save(job_id, job)
            if step % trainee.steps_per_epoch == 0:
                self._checkpoint(job_id, job, step, data)

    def _checkpoint(self, job_id: str, job: Doc, step: int, data: dict[str, Any]) -> None:
        store = self.sandbox.store
        cid = new_id("ftchkpt")
        doc: Doc = {
            "object": "fine_tuning.job.checkpoint",
            "id": cid,
            "created_at": self.sandbox.clock.stamp(),
            "fine_tuned_model_checkpoint": f"{job['_model_id']}:ckpt-step-{step}",
            "fine_tuning_job_id": job_id,
            "step_number": step,
            "metrics": {k: v for k, v in data.items()},
        }
        store.put("checkpoint", cid, doc, parent=job_id)
        kept = store.docs("checkpoint", job_id)
        for old in kept[:-KEEP_CHECKPOINTS]:
            store.delete("checkpoint", old["id"])
        self.event(job_id, f"Checkpoint created at step {step}.")

    async def _finish(self, job_id: str, trainee: Trainee | PreferenceTrainee) -> None:
        sandbox, store, clock = self.sandbox, self.sandbox.store, self.sandbox.clock
        job = self._job(job_id)
        if "_post_until" not in job:
            job["_post_until"] = clock.now() + POST_SECONDS
            self._save(job_id, job)
            self.event(job_id, "Postprocessing started.")
        await clock.sleep_until(job["_post_until"])
        account = store.parent_of("job", job_id)
        rows = [e["data"] for e in store.docs("event", job_id) if e["type"] == "metrics"]
        content = results_csv(rows)
        result_id = new_id("file")
        file_path(sandbox, result_id).write_bytes(content)
        store.put(
            "file",
            result_id,
            {
                "object": "file",
                "id": result_id,
                "bytes": len(content),
                "created_at": clock.stamp(),
                "filename": "results.csv",
                "purpose": "fine-tune-results",
                "status": "processed",
            },
            parent=account,
        )
        self.event(job_id, f"Completed results file: {result_id}")
        fine_tuned = str(job["_model_id"])
        await asyncio.to_thread(
            save_model_source,
            file_path(sandbox, job["training_file"]),
            sandbox.models_dir / f"{fine_tuned}.jsonl",
            method_of(job),
        )
        store.put(
            "model",
            fine_tuned,
            {
                "object": "model",
                "id": fine_tuned,
                "created_at": clock.stamp(),
                "status": "succeeded",
                "model": job["model"],
                "fine_tune": job_id,
                "capabilities": {
                    "fine_tune": True,
                    "inference": True,
                    "completion": False,
                    "chat_completion": True,
                    "embeddings": False,
                },
                "lifecycle_status": "generally-available",
                "deprecation": {"inference": clock.stamp() + 365 * 86_400},
                "_rate": trainee.rate,
                "_epochs": trainee.epochs,
                "_steps_per_epoch": trainee.steps_per_epoch,
            },
            parent=account,
        )
        self.event(job_id, "Model Evaluation Passed.")
        hours = (clock.now() - float(job["_started_at"])) / 3600
        self.event(job_id, f"Training hours billed: {hours:.3f}")
        job = self._job(job_id)
        job.update(
            status="succeeded",
            fine_tuned_model=fine_tuned,
            finished_at=clock.stamp(),
            result_files=[result_id],
            trained_tokens=sum(e.tokens for e in trainee.train) * trainee.epochs,
            estimated_finish=None,
        )
        self._save(job_id, job)
        owner = sandbox.account_by_subdomain(account)
        if owner is not None:
            charge_training(sandbox, str(owner["id"]), str(job["model"]), job["trained_tokens"])
        self.event(job_id, "Job succeeded.")


TRAINER = web.AppKey("sandbox_trainer", Trainer)
"""Where the sandbox app keeps its `Trainer`."""
