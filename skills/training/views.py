"""What training shows: the live job card and the final notice, as data (bot/render.py draws
them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from skills.notify import View
from skills.training.jobs import FINAL_STATUSES, Checkpoint, JobState, Metric, time_left
from skills.training.records import JobRecord
from skills.training.safety import SafetyCheck


@dataclass(frozen=True)
class JobView(View):
    """The live job card."""

    status: str
    model: str
    files: str
    job_id: str | None = None
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    elapsed: float | None = None
    left: float | None = None
    fine_tuned_model: str | None = None
    error: str | None = None
    """Azure's message on a failed job, as Azure wrote it (the card quotes it)."""
    notice_coming: bool = False
    """The job is under way: the result comes as a new message when it ends."""
    method: str = "supervised"
    training_type: str = "standard"
    lineage: tuple[str, ...] = ()
    """What a continued job trains from (base first, parent last); empty from a base model."""
    checkpoint: str | None = None
    """The checkpoint a paused job keeps (deployable)."""


@dataclass(frozen=True)
class FinalView(View):
    """The "training complete" notice."""

    job: JobState
    files: str
    last: Metric | None
    train_curve: list[list[float]] = field(default_factory=list)
    valid_curve: list[list[float]] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    elapsed: float | None = None
    advice: str | None = None
    safety: SafetyCheck | None = None
    """The safety check the job failed: Azure bills nothing for it, and no model is deployed."""
    training_type: str = "standard"
    lineage: tuple[str, ...] = ()

    @property
    def deployable(self) -> bool:
        """The job left a model that can be deployed."""
        return self.job.status == "succeeded" and bool(self.job.fine_tuned_model)


def job_view(record: JobRecord, job: JobState | None = None, now: float | None = None) -> JobView:
    """The live card's content from the record (and the job, when just read)."""
    now = time.time() if now is None else now
    status = job.status if job else record.status
    ended = status in FINAL_STATUSES
    left = None
    if not ended and record.step is not None and record.running_since is not None:
        left = time_left(record.step, record.total, now - record.running_since)
    elapsed = None
    if record.launched_at is not None:
        elapsed = (record.ended_at if record.ended_at is not None else now) - record.launched_at
    error = None
    if job is not None and job.status == "failed":
        error = job.error_message or None
    return JobView(
        status=status,
        model=record.model,
        files=record.files,
        job_id=record.job or None,
        step=record.step,
        total_steps=record.total,
        train_loss=record.train_loss,
        valid_loss=record.valid_loss,
        elapsed=elapsed,
        left=left,
        fine_tuned_model=job.fine_tuned_model if job else None,
        error=error,
        notice_coming=not ended,
        method=job.method if job else record.method,
        training_type=record.training_type,
        lineage=tuple(record.lineage),
        checkpoint=record.checkpoint or None,
    )
