"""Training cards: the confirmation, the live job card, the final notice, job lists and events."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, submit, text
from infra.i18n import duration
from skills.training.jobs import Event, JobState
from skills.training.plan import Plan
from skills.training.views import FinalView, JobView

STATUS_LABELS = {
    "uploading": "Uploading files",
    "importing": "Azure is importing the files",
    "validating_files": "Azure is checking the files",
    "pending": "Queued",
    "queued": "Queued",
    "notRunning": "Queued",
    "running": "Training",
    "pausing": "Pausing",
    "paused": "Paused (resume it on Azure)",
    "resuming": "Resuming",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
STATUS_COLORS = {"succeeded": "Good", "failed": "Attention", "cancelled": "Warning"}
CHART_POINTS = 60


def status_label(status: str) -> str:
    """A readable job status."""
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def _loss(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _accuracy(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _price(value: float | None) -> str:
    return "no price known for this model" if value is None else f"about ${value:,.2f} (estimate)"


def confirmation_card(plan: Plan, token: str, expires_hours: int) -> Card:
    """What a run will cost before anything is spent, with Confirm and Cancel."""
    epochs = str(plan.epochs) if plan.epochs is not None else f"{plan.estimated_epochs} (automatic)"
    pairs = [
        ("Base model", plan.model),
        ("Training file", f"{plan.training.name} ({plan.training.examples} examples)"),
        (
            "Validation file",
            f"{plan.validation.name} ({plan.validation.examples} examples)"
            if plan.validation
            else "none",
        ),
        ("Epochs", epochs),
    ]
    if plan.batch_size is not None:
        pairs.append(("Batch size", str(plan.batch_size)))
    if plan.learning_rate_multiplier is not None:
        pairs.append(("Learning rate multiplier", f"{plan.learning_rate_multiplier:g}"))
    if plan.suffix:
        pairs.append(("Suffix", plan.suffix))
    if plan.seed is not None:
        pairs.append(("Seed", str(plan.seed)))
    pairs += [
        ("Billed tokens", f"{plan.billed_tokens:,} (estimate)"),
        ("Training price", _price(plan.price)),
    ]
    return card(
        [
            heading("Start fine-tuning?"),
            facts(pairs),
            text(
                "Nothing is uploaded or spent until you confirm. This question can be answered "
                f"for {expires_hours} hours.",
                isSubtle=True,
            ),
        ],
        [
            submit("Confirm training", verbs.TRAIN_CONFIRM, {"token": token}),
            submit("Cancel", verbs.TRAIN_ABORT, {"token": token}),
        ],
    )


def notice_card(title: str, body: str, *, color: str | None = None) -> Card:
    """A short card that replaces a confirmation once it is answered."""
    head = heading(title)
    if color:
        head["color"] = color
    return card([head, text(body)])


def job_card(view: JobView) -> Card:
    """The one job card, updated in place as the job goes on."""
    head = heading(f"Fine-tuning: {status_label(view.status)}")
    if view.status in STATUS_COLORS:
        head["color"] = STATUS_COLORS[view.status]
    pairs = [("Job", view.job_id or "not created yet"), ("Base model", view.model)]
    pairs.append(("Files", view.files))
    if view.step is not None:
        of = f" of {view.total_steps}" if view.total_steps else ""
        pairs.append(("Step", f"{view.step}{of}"))
    if view.train_loss is not None:
        pairs.append(("Training loss", _loss(view.train_loss)))
    if view.valid_loss is not None:
        pairs.append(("Validation loss", _loss(view.valid_loss)))
    if view.elapsed is not None:
        pairs.append(("Elapsed", duration(view.elapsed)))
    if view.left is not None:
        pairs.append(("Time left", f"about {duration(view.left)}"))
    if view.fine_tuned_model:
        pairs.append(("Fine-tuned model", view.fine_tuned_model))
    body: list[Element] = [head, facts(pairs)]
    if view.error:
        body.append(text(view.error, color="Attention"))
    if view.notice_coming:
        body.append(text("The result comes as a new message when the job ends.", isSubtle=True))
    actions = []
    if view.job_id and view.status not in STATUS_COLORS:
        actions.append(submit("Cancel job", verbs.CANCEL, {"job": view.job_id}))
    return card(body, actions)


def _thin(points: Sequence[Sequence[float]], limit: int) -> list[Sequence[float]]:
    if len(points) <= limit:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def loss_chart(train: Sequence[Sequence[float]], valid: Sequence[Sequence[float]]) -> Element:
    """A Teams line chart of the losses; other hosts show the fallback sentence."""
    data = []
    for legend, points in (("Training loss", train), ("Validation loss", valid)):
        if points:
            values = [{"x": int(x), "y": round(y, 4)} for x, y in _thin(points, CHART_POINTS)]
            data.append({"legend": legend, "values": values})
    return {
        "type": "Chart.Line",
        "title": "Loss by step",
        "xAxisTitle": "step",
        "yAxisTitle": "loss",
        "data": data,
        "fallback": text("Loss curves: see the image with this message.", isSubtle=True),
    }


def final_card(view: FinalView) -> Card:
    """The proactive notice when a job ends: result, metrics, curves, checkpoints, next steps."""
    job = view.job
    titles = {
        "succeeded": "Training complete: succeeded",
        "failed": "Training failed",
        "cancelled": "Training cancelled",
    }
    head = heading(titles.get(job.status, f"Training ended: {job.status}"))
    head["color"] = STATUS_COLORS.get(job.status, "Default")
    pairs = [("Job", job.id), ("Status", job.status), ("Base model", job.model)]
    pairs.append(("Files", view.files))
    if job.fine_tuned_model:
        pairs.append(("Fine-tuned model", job.fine_tuned_model))
    if job.trained_tokens is not None:
        pairs.append(("Trained tokens", f"{job.trained_tokens:,}"))
    if isinstance(job.hyperparameters.get("n_epochs"), int):
        pairs.append(("Epochs", str(job.hyperparameters["n_epochs"])))
    if view.elapsed is not None:
        pairs.append(("Duration", duration(view.elapsed)))
    last = view.last
    if last is not None:
        pairs.append(("Final step", str(last.step)))
        pairs.append(("Training loss", _loss(last.train_loss)))
        pairs.append(("Training accuracy", _accuracy(last.train_accuracy)))
        if last.valid_loss is not None:
            pairs.append(("Validation loss", _loss(last.valid_loss)))
            pairs.append(("Validation accuracy", _accuracy(last.valid_accuracy)))
        if last.full_valid_loss is not None:
            pairs.append(("Full validation loss", _loss(last.full_valid_loss)))
            pairs.append(("Full validation accuracy", _accuracy(last.full_valid_accuracy)))
    body: list[Element] = [head, facts(pairs)]
    if job.status == "failed":
        reason = job.error_message or "Azure gave no reason."
        code = f" ({job.error_code})" if job.error_code else ""
        body.append(text(f"Azure says{code}: {reason}", color="Attention"))
        if view.advice:
            body.append(text(f"What to do: {view.advice}"))
    if view.train_curve or view.valid_curve:
        body.append(loss_chart(view.train_curve, view.valid_curve))
    if view.checkpoints:
        body.append(text("Checkpoints (each can be deployed)", weight="Bolder"))
        body.append(
            facts(
                (
                    f"Step {c.step}",
                    c.model
                    + (
                        f" · loss {_loss(c.metric.train_loss)}"
                        if c.metric and c.metric.train_loss is not None
                        else ""
                    ),
                )
                for c in view.checkpoints
            )
        )
    actions = []
    if job.status == "succeeded" and job.fine_tuned_model:
        actions.append(
            submit("Deploy", verbs.DEPLOY, {"model": job.fine_tuned_model, "job": job.id})
        )
    actions.append(submit("Show events", verbs.EVENTS, {"job": job.id}))
    return card(body, actions)


def jobs_card(jobs: Sequence[JobState]) -> Card:
    """Recent jobs of the resource: id, status, base and fine-tuned model."""
    if not jobs:
        return card([heading("Fine-tuning jobs"), text("There are no jobs on this resource yet.")])
    rows = [
        (
            job.id,
            f"{status_label(job.status)} · {job.model}"
            + (f" → {job.fine_tuned_model}" if job.fine_tuned_model else ""),
        )
        for job in jobs
    ]
    return card([heading("Fine-tuning jobs (newest first)"), facts(rows)])


def events_card(job_id: str, events: Sequence[Event]) -> Card:
    """A job's latest events, oldest first."""
    if not events:
        return card([heading(f"Events of {job_id}"), text("No events yet.")])
    lines = [
        text(
            f"**{event.level}** {event.message}",
            spacing="None",
            color="Attention" if event.level == "error" else "Default",
        )
        for event in events
    ]
    return card([heading(f"Events of {job_id} (last {len(events)})"), *lines])


def cancel_confirmation_card(job: JobState, token: str, expires_hours: int) -> Card:
    """Ask before cancelling a running job."""
    return card(
        [
            heading("Cancel this fine-tuning job?"),
            facts(
                [("Job", job.id), ("Status", status_label(job.status)), ("Base model", job.model)]
            ),
            text(
                "Training stops; the steps already run may still be billed. Only you can answer "
                f"this question, for {expires_hours} hours.",
                isSubtle=True,
            ),
        ],
        [
            submit("Cancel the job", verbs.CANCEL_CONFIRM, {"token": token}),
            submit("Keep it running", verbs.CANCEL_KEEP, {"token": token}),
        ],
    )
