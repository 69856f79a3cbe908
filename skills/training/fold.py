"""The job fold: what one poll of a job (its state and its new events) changes in the bot's record.

Pure: record in, record out. The record turns `dirty` when what its card shows (status, step)
changed, so the watcher knows a card update is due.
"""

from __future__ import annotations

from skills.training.jobs import Event, JobState, total_steps
from skills.training.records import JobRecord


def fold(record: JobRecord, job: JobState, events: list[Event], now: float) -> JobRecord:
    """The record after the job's current state and its events since `record.last_event`."""
    before = (record.status, record.step)
    changes: dict[str, object] = {"status": job.status}
    if job.running and not record.running_since:
        changes["running_since"] = now
    if job.final and record.ended_at is None:
        changes["ended_at"] = now
    step, total = record.step, record.total
    train_loss, valid_loss = record.train_loss, record.valid_loss
    series = record.series.model_copy(deep=True)
    for event in events:
        if event.total_steps:
            total = event.total_steps
        metric = event.metric
        if metric is None:
            continue
        if metric.step >= (step or 0):
            step = metric.step
            train_loss = metric.train_loss if metric.train_loss is not None else train_loss
            valid_loss = metric.valid_loss if metric.valid_loss is not None else valid_loss
        series.add(metric)
    if not total:
        total = total_steps(job.hyperparameters, record.examples)
    changes.update(
        step=step,
        total=total,
        train_loss=train_loss,
        valid_loss=valid_loss,
        series=series,
        last_event=events[-1].id if events else record.last_event,
    )
    if (job.status, step) != before:
        changes["dirty"] = True
    return record.model_copy(update=changes)
