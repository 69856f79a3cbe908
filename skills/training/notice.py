"""What the "training complete" notice says: the result, the last metrics, the curves (from
results.csv when Azure has it, else the events the watcher collected), the checkpoints, the
lineage of a continued model, and a failed safety check in plain words."""

from __future__ import annotations

import logging

import openai
from openai import AsyncOpenAI

from skills.training import jobs
from skills.training.jobs import Checkpoint, JobState, Metric, Series
from skills.training.records import JobRecord
from skills.training.safety import safety_check
from skills.training.views import FinalView

log = logging.getLogger(__name__)


async def final_view(client: AsyncOpenAI, record: JobRecord, job: JobState) -> FinalView:
    """The notice of a job that has ended."""
    metrics: list[Metric] = []
    checkpoints: list[Checkpoint] = []
    try:
        metrics = await jobs.results(client, job)
    except openai.APIError:
        log.warning("results of job %s unavailable; using the events", job.id, exc_info=True)
    if job.status == "succeeded":
        try:
            checkpoints = await jobs.checkpoints(client, job.id)
        except openai.APIError:
            log.warning("checkpoints of job %s unavailable", job.id, exc_info=True)
    series = Series.of(metrics) if metrics else record.series
    last = metrics[-1] if metrics else None
    if last is None and record.step:
        last = Metric(step=record.step, train_loss=record.train_loss, valid_loss=record.valid_loss)
    elapsed = None
    if record.launched_at is not None and record.ended_at is not None:
        elapsed = record.ended_at - record.launched_at
    safety = safety_check(job)
    return FinalView(
        job=job,
        files=record.files,
        last=last,
        train_curve=series.train,
        valid_curve=series.valid,
        checkpoints=checkpoints,
        elapsed=elapsed,
        advice=jobs.failure_advice(job.error_code) if job.status == "failed" else None,
        safety=safety,
        training_type=record.training_type,
        lineage=tuple(record.lineage),
    )
