"""Fine-tuning jobs: the queue (one running job per account) and the training run itself.

A job goes pending -> running -> succeeded | failed | cancelled with Azure's events (and may be
paused and resumed: a pause keeps a deployable checkpoint of the step reached). Training is real
(see `lm.py`): each step evaluates a batch with the current model, then learns it; loss and
accuracy are measured. A DPO job trains preference pairs: its loss is the DPO loss,
-log sigmoid(beta * margin), measured on the model against its starting point as reference before
each step. A job whose model is a fine-tuned model (continuous fine-tuning) starts from that
model's weights, kept when it finished. All progress is stored, so a restart resumes a job at its
last step (the model is rebuilt by replaying the steps taken, which is deterministic).

Azure's safety checks (Microsoft Learn, "Safety evaluation for fine-tuning"): the training data is
screened before training starts (the content filter's phrases, `content_filter.py`), and a job
whose data is flagged fails with the categories and is not billed; after training the model is
evaluated, and a job the `undeployable=<suffix>` fault names fails there, its model not deployable.
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
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from sandbox.base_model import BaseModel
from sandbox.base_model import load as load_base
from sandbox.billing import charge_training
from sandbox.catalog import BASE_MODELS, STANDARD
from sandbox.content_filter import training_flags
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
from sandbox.service import Backoff, Sandbox
from sandbox.store import Doc

log = logging.getLogger(__name__)

QUEUE_SECONDS = {STANDARD: 5.0, "GlobalStandard": 3.0, "Developer": 12.0}
"""Sandbox seconds a new job waits in the queue, by training type: Global training uses capacity
beyond the region ("faster queue times"), Developer training spare capacity ("may take longer")."""
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
    start: dict[str, Any] | None = None
    """The weights the run starts from (a fine-tuned model's `state()`), else the base's."""
    model: NGramModel = field(init=False)
    orders: list[list[int]] = field(init=False)

    def initial(self) -> NGramModel:
        """The model before the first step."""
        if self.start is None:
            return NGramModel(self.base)
        return NGramModel.restore(self.base, self.start)

    def __post_init__(self) -> None:
        self.model = self.initial()
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
    """A DPO run: preference pairs, the starting model as reference, the same schedule as
    `Trainee`."""

    beta: float = 0.1
    reference: NGramModel = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reference = self.initial()
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


def save_model_source(sandbox: Sandbox, source: Path, target: Path, method: str) -> None:
    """Keep what a fine-tuned model learned from, for chat (runs off the event loop; a failed
    write leaves no file)."""
    if method == "dpo":
        text = chat_copy(source.read_text(encoding="utf-8", errors="replace"))
        sandbox.write_file(target, text.encode("utf-8"))
    else:
        sandbox.write_file(target, source)


def kept_files(sandbox: Sandbox, job: Doc) -> list[Path]:
    """What a job keeps in the models folder: for its fine-tuned model, what it learned from (for
    chat) and its weights; for a continued job, the weights and the conversations of the model it
    started from (copied when it was created, so the parent may be deleted meanwhile)."""
    folder, found = sandbox.models_dir, []
    model = job.get("_model_id")
    if model:
        found += [folder / f"{model}.jsonl", folder / f"{model}.state.json"]
    if job.get("_start"):
        found += [folder / str(job["_start"]), folder / str(job["_start_memory"])]
    return found


def start_files(sandbox: Sandbox, job_id: str, parent: str) -> dict[str, str]:
    """Copy what a continued job starts from (its parent's weights and conversations) beside it;
    the job's fields that name the copies."""
    folder = sandbox.models_dir
    names = {"_start": f"{job_id}.start.json", "_start_memory": f"{job_id}.start.jsonl"}
    shutil.copyfile(folder / f"{parent}.state.json", folder / names["_start"])
    with (folder / names["_start_memory"]).open("wb") as memory:
        for source in (folder / f"{parent}.jsonl", *_memory_of(sandbox, parent)):
            if source.exists():
                memory.write(source.read_bytes().rstrip(b"\n") + b"\n")
    return names


def _memory_of(sandbox: Sandbox, model: str) -> list[Path]:
    """The conversations a continued model inherited (its `_start_memory`)."""
    doc = sandbox.store.get("model", model)
    inherited = doc.get("_start_memory") if doc else None
    return [sandbox.models_dir / str(inherited)] if inherited else []


def save_state(model: NGramModel, target: Path) -> None:
    """Keep a fine-tuned model's weights (runs off the event loop)."""
    target.write_text(json.dumps(model.state()), encoding="utf-8")


def read_state(path: Path) -> dict[str, Any]:
    """Weights kept by `save_state`."""
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def base_of(job: Doc) -> str:
    """The base model a job trains (its `model`, unless that is a fine-tuned model it continues)."""
    return str(job.get("_base") or job["model"])


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
        self._backoff: dict[str, Backoff] = {}
        self._retry_at: dict[str, float] = {}
        """A job whose run failed (not the job: the sandbox, say its disk) waits till then."""

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
        """Start jobs when they are due; runs for the sandbox's lifetime (backing off while the
        store fails)."""
        backoff = Backoff("the sandbox's job scheduler")
        while True:
            try:
                self.schedule()
            except Exception as error:  # the store cannot be read now (a full disk, ...)
                await asyncio.sleep(backoff.failed(error))
                continue
            backoff.succeeded()
            await self.sandbox.wait_awake(0.1)
            self.sandbox.wake.clear()

    def _due(self, job_id: str) -> bool:
        return time.monotonic() >= self._retry_at.get(job_id, 0.0)

    def schedule(self) -> None:
        """Resume running jobs and start the oldest due pending job of each idle account."""
        store, now = self.sandbox.store, self.sandbox.clock.now()
        busy = {store.parent_of("job", j) for j in self._running}
        for job_id, job in store.items("job"):
            if job["status"] == "running" and job_id not in self._running:
                busy.add(store.parent_of("job", job_id))
                if self._due(job_id):
                    self._start(job_id)
        for job_id, job in store.items("job"):
            account = store.parent_of("job", job_id)
            if job["status"] != "pending" or account in busy or job_id in self._running:
                continue
            if not self._due(job_id):
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
        """Run a job from wherever it stopped to its end. A failure that is not the job's (the
        sandbox's disk is full, ...) leaves it where it was, to be tried again after a pause that
        doubles while it lasts (`Backoff`)."""
        try:
            await self._run(job_id)
        except Exception as error:
            backoff = self._backoff.setdefault(job_id, Backoff(f"job {job_id}"))
            self._retry_at[job_id] = time.monotonic() + backoff.failed(error)
            return
        if job_id in self._backoff:
            self._backoff.pop(job_id).succeeded()
        self._retry_at.pop(job_id, None)

    async def _run(self, job_id: str) -> None:
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
            base = BASE_MODELS.get(base_of(job))
            context = base.context if base else 65_536
            path = file_path(sandbox, file_id)
            problem = await asyncio.to_thread(check_for_job, path, method_of(job), context)
            if problem is not None:
                raise JobFailed(
                    "invalid_file", f"The {param.replace('_', ' ')} is invalid: {problem}", param
                )
        flagged = await asyncio.to_thread(training_flags, file_path(sandbox, job["training_file"]))
        if flagged:  # Azure's data evaluation, before training starts (not billed)
            raise JobFailed(
                "invalid_training_file",
                f"The provided training data failed RAI checks for harm types: "
                f"[{', '.join(flagged)}]. Please fix the data and try again.",
                "training_file",
            )
        hp = job["hyperparameters"]
        start = None
        if job.get("_start"):
            start = await asyncio.to_thread(read_state, sandbox.models_dir / str(job["_start"]))
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
            trainee = PreferenceTrainee(pairs, held, *plan, start=start, beta=beta)
        else:
            train = await asyncio.to_thread(read_examples, sandbox, job["training_file"])
            valid = await asyncio.to_thread(read_examples, sandbox, job.get("validation_file"))
            trainee = Trainee(train, valid, *plan, start=start)
        done = int(job.get("_step", 0))
        if done:
            await asyncio.to_thread(trainee.replay, done)
        if "_model_id" not in job:
            job["_model_id"] = model_id(base_of(job), job.get("suffix"))
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

    def pause(self, job_id: str) -> Doc:
        """Stop a running job at the last step it took, keeping a deployable checkpoint of that
        step (Microsoft Learn, "Pause and resume": a paused job gets a deployable checkpoint);
        the job, paused, is returned."""
        self.cancel(job_id)
        job = self._job(job_id)
        step = int(job.get("_step", 0))
        events = self.sandbox.store.docs("event", job_id)
        metrics = [e["data"] for e in events if e["type"] == "metrics"]
        kept = {c["step_number"] for c in self.sandbox.store.docs("checkpoint", job_id)}
        if metrics and step not in kept:
            self._checkpoint(job_id, job, step, metrics[-1])
        job.update(status="paused", estimated_finish=None)
        self._save(job_id, job)
        self.event(job_id, "Job paused.")
        return job

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
        if "_results_file" not in job:  # one id, so a retried write leaves no second file
            job["_results_file"] = new_id("file")
            self._save(job_id, job)
        result_id = str(job["_results_file"])
        await asyncio.to_thread(sandbox.write_file, file_path(sandbox, result_id), content)
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
        if self.sandbox.config.faults.undeployable_for(job.get("suffix")):
            job = self._job(job_id)
            job["result_files"] = [result_id]
            self._save(job_id, job)
            raise JobFailed(
                "model_evaluation_failed",  # Azure publishes the message, not a code
                "This model is unable to be deployed. Model evaluation identified that this fine "
                "tuned model scores above acceptable thresholds for [Violence, Self Harm]. Please "
                "review your training data set and resubmit the job.",
            )
        fine_tuned = str(job["_model_id"])
        await asyncio.to_thread(
            save_model_source,
            sandbox,
            file_path(sandbox, job["training_file"]),
            sandbox.models_dir / f"{fine_tuned}.jsonl",
            method_of(job),
        )
        await asyncio.to_thread(
            save_state, trainee.model, sandbox.models_dir / f"{fine_tuned}.state.json"
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
                "_base": base_of(job),
                "_start": job.get("_start"),
                "_start_memory": job.get("_start_memory"),
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
