"""Training cards: the confirmation, the live job card, the final notice, job lists and events."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, quote, submit, text
from infra.i18n import N_, _, duration, n_, number, percent, price
from skills.training.jobs import Checkpoint, Event, JobState
from skills.training.plan import Plan
from skills.training.views import FinalView, JobView

STATUS_LABELS = {
    "uploading": N_("Uploading files"),
    "importing": N_("Azure is importing the files"),
    "validating_files": N_("Azure is checking the files"),
    "pending": N_("Queued"),
    "queued": N_("Queued"),
    "notRunning": N_("Queued"),
    "running": N_("Training"),
    "pausing": N_("Pausing"),
    "paused": N_("Paused (resume it on Azure)"),
    "resuming": N_("Resuming"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
}
STATUS_COLORS = {"succeeded": "Good", "failed": "Attention", "cancelled": "Warning"}
CHART_POINTS = 60


def status_label(status: str) -> str:
    """A readable job status, in the current language (an unknown one as Azure spells it)."""
    if status in STATUS_LABELS:
        return _(STATUS_LABELS[status])
    return status.replace("_", " ").capitalize()


def _loss(value: float | None) -> str:
    return "–" if value is None else number(value, 4)


def _accuracy(value: float | None) -> str:
    return "–" if value is None else percent(value, 1)


def _price(value: float | None) -> str:
    if value is None:
        return _("no price known for this model")
    return _("about {price} (estimate)", price=price(value))


def echo(value: str) -> str:
    """A name as one code span (someone else's word: a file, a suffix, an error code)."""
    return "`" + " ".join(value.split()).replace("`", "'") + "`"


def _files(files: str) -> str:
    """The files' names (`a.jsonl + b.jsonl`) as code spans: they are the user's names."""
    return " + ".join(echo(name) for name in files.split(" + "))


def _examples(name: str, count: int) -> str:
    return n_("{name} ({count} example)", "{name} ({count} examples)", count, name=echo(name))


def confirmation_card(plan: Plan, token: str, expires_hours: int) -> Card:
    """What a run will cost before anything is spent, with Confirm and Cancel."""
    if plan.epochs is not None:
        epochs = number(plan.epochs)
    else:
        epochs = _("{count} (automatic)", count=number(plan.estimated_epochs))
    validation = plan.validation
    pairs = [
        (_("Base model"), plan.model),
        (_("Training file"), _examples(plan.training.name, plan.training.examples)),
        (
            _("Validation file"),
            _examples(validation.name, validation.examples) if validation else _("none"),
        ),
        (_("Epochs"), epochs),
    ]
    if plan.batch_size is not None:
        pairs.append((_("Batch size"), number(plan.batch_size)))
    if plan.learning_rate_multiplier is not None:
        pairs.append((_("Learning rate multiplier"), number(plan.learning_rate_multiplier)))
    if plan.suffix:
        pairs.append((_("Suffix"), echo(plan.suffix)))
    if plan.seed is not None:
        pairs.append((_("Seed"), str(plan.seed)))
    pairs += [
        (_("Billed tokens"), _("{count} (estimate)", count=number(plan.billed_tokens))),
        (_("Training price"), _price(plan.price)),
    ]
    return card(
        [
            heading(_("Start fine-tuning?")),
            facts(pairs),
            text(
                n_(
                    "Nothing is uploaded or spent until you confirm. This question can be "
                    "answered for {count} hour.",
                    "Nothing is uploaded or spent until you confirm. This question can be "
                    "answered for {count} hours.",
                    expires_hours,
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Confirm training"), verbs.TRAIN_CONFIRM, {"token": token}),
            submit(_("Cancel"), verbs.TRAIN_ABORT, {"token": token}),
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
    head = heading(_("Fine-tuning: {status}", status=status_label(view.status)))
    if view.status in STATUS_COLORS:
        head["color"] = STATUS_COLORS[view.status]
    pairs = [
        (_("Job"), view.job_id or _("not created yet")),
        (_("Base model"), view.model),
        (_("Files"), _files(view.files)),
    ]
    if view.step is not None:
        step = number(view.step)
        if view.total_steps:
            step = _("{step} of {total}", step=step, total=number(view.total_steps))
        pairs.append((_("Step"), step))
    if view.train_loss is not None:
        pairs.append((_("Training loss"), _loss(view.train_loss)))
    if view.valid_loss is not None:
        pairs.append((_("Validation loss"), _loss(view.valid_loss)))
    if view.elapsed is not None:
        pairs.append((_("Elapsed"), duration(view.elapsed)))
    if view.left is not None:
        pairs.append((_("Time left"), _("about {time}", time=duration(view.left))))
    if view.fine_tuned_model:
        pairs.append((_("Fine-tuned model"), view.fine_tuned_model))
    body: list[Element] = [head, facts(pairs)]
    if view.error:
        body.append(text(view.error, color="Attention"))
    if view.notice_coming:
        body.append(text(_("The result comes as a new message when the job ends."), isSubtle=True))
    actions = []
    if view.job_id and view.status not in STATUS_COLORS:
        actions.append(submit(_("Cancel job"), verbs.CANCEL, {"job": view.job_id}))
    return card(body, actions)


def _thin(points: Sequence[Sequence[float]], limit: int) -> list[Sequence[float]]:
    if len(points) <= limit:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def loss_chart(train: Sequence[Sequence[float]], valid: Sequence[Sequence[float]]) -> Element:
    """A Teams line chart of the losses; other hosts show the fallback sentence."""
    data = []
    for legend, points in ((_("Training loss"), train), (_("Validation loss"), valid)):
        if points:
            values = [{"x": int(x), "y": round(y, 4)} for x, y in _thin(points, CHART_POINTS)]
            data.append({"legend": legend, "values": values})
    return {
        "type": "Chart.Line",
        "title": _("Loss by step"),
        "xAxisTitle": _("step"),
        "yAxisTitle": _("loss"),
        "data": data,
        "fallback": text(_("Loss curves: see the image with this message."), isSubtle=True),
    }


FINAL_TITLES = {
    "succeeded": N_("Training complete: succeeded"),
    "failed": N_("Training failed"),
    "cancelled": N_("Training cancelled"),
}


def final_card(view: FinalView) -> Card:
    """The proactive notice when a job ends: result, metrics, curves, checkpoints, next steps."""
    job = view.job
    if job.status in FINAL_TITLES:
        title = _(FINAL_TITLES[job.status])
    else:
        title = _("Training ended: {status}", status=status_label(job.status))
    head = heading(title)
    head["color"] = STATUS_COLORS.get(job.status, "Default")
    pairs = [
        (_("Job"), job.id),
        (_("Status"), status_label(job.status)),
        (_("Base model"), job.model),
        (_("Files"), _files(view.files)),
    ]
    if job.fine_tuned_model:
        pairs.append((_("Fine-tuned model"), job.fine_tuned_model))
    if job.trained_tokens is not None:
        pairs.append((_("Trained tokens"), number(job.trained_tokens)))
    if isinstance(job.hyperparameters.get("n_epochs"), int):
        pairs.append((_("Epochs"), number(job.hyperparameters["n_epochs"])))
    if view.elapsed is not None:
        pairs.append((_("Duration"), duration(view.elapsed)))
    last = view.last
    if last is not None:
        pairs.append((_("Final step"), number(last.step)))
        pairs.append((_("Training loss"), _loss(last.train_loss)))
        pairs.append((_("Training accuracy"), _accuracy(last.train_accuracy)))
        if last.valid_loss is not None:
            pairs.append((_("Validation loss"), _loss(last.valid_loss)))
            pairs.append((_("Validation accuracy"), _accuracy(last.valid_accuracy)))
        if last.full_valid_loss is not None:
            pairs.append((_("Full validation loss"), _loss(last.full_valid_loss)))
            pairs.append((_("Full validation accuracy"), _accuracy(last.full_valid_accuracy)))
    body: list[Element] = [head, facts(pairs)]
    if job.status == "failed":
        if job.error_code:
            says = _("Azure says ({code}):", code=echo(job.error_code))
        else:
            says = _("Azure says:")
        body.append(text(says, color="Attention"))
        reason = job.error_message
        body.append(
            quote(reason, color="Attention") if reason else text(_("Azure gave no reason."))
        )
        if view.advice:
            body.append(text(_("What to do: {advice}", advice=view.advice)))
    if view.train_curve or view.valid_curve:
        body.append(loss_chart(view.train_curve, view.valid_curve))
    if view.checkpoints:
        body.append(text(_("Checkpoints (each can be deployed)"), weight="Bolder"))
        body.append(
            facts((_("Step {step}", step=number(c.step)), _checkpoint(c)) for c in view.checkpoints)
        )
    actions = []
    if job.status == "succeeded" and job.fine_tuned_model:
        actions.append(
            submit(_("Deploy"), verbs.DEPLOY, {"model": job.fine_tuned_model, "job": job.id})
        )
        actions.append(submit(_("Evaluate"), verbs.EVALUATE, {"job": job.id}))
    actions.append(submit(_("Show events"), verbs.EVENTS, {"job": job.id}))
    return card(body, actions)


def _checkpoint(checkpoint: Checkpoint) -> str:
    metric = checkpoint.metric
    if metric is None or metric.train_loss is None:
        return checkpoint.model
    return _("{model} · loss {loss}", model=checkpoint.model, loss=_loss(metric.train_loss))


def jobs_card(jobs: Sequence[JobState]) -> Card:
    """Recent jobs of the resource: id, status, base and fine-tuned model."""
    if not jobs:
        return card(
            [heading(_("Fine-tuning jobs")), text(_("There are no jobs on this resource yet."))]
        )
    rows = [
        (
            job.id,
            f"{status_label(job.status)} · {job.model}"
            + (f" → {job.fine_tuned_model}" if job.fine_tuned_model else ""),
        )
        for job in jobs
    ]
    return card([heading(_("Fine-tuning jobs (newest first)")), facts(rows)])


def events_card(job_id: str, events: Sequence[Event]) -> Card:
    """A job's latest events, oldest first (their messages are Azure's words, quoted)."""
    if not events:
        return card([heading(_("Events of {job}", job=job_id)), text(_("No events yet."))])
    lines = [
        quote(
            f"**{event.level}** {event.message}",
            spacing="None",
            color="Attention" if event.level == "error" else "Default",
        )
        for event in events
    ]
    title = n_(
        "Events of {job} (last {count})", "Events of {job} (last {count})", len(events), job=job_id
    )
    return card([heading(title), *lines])


def cancel_confirmation_card(job: JobState, token: str, expires_hours: int) -> Card:
    """Ask before cancelling a running job."""
    return card(
        [
            heading(_("Cancel this fine-tuning job?")),
            facts(
                [
                    (_("Job"), job.id),
                    (_("Status"), status_label(job.status)),
                    (_("Base model"), job.model),
                ]
            ),
            text(
                n_(
                    "Training stops; the steps already run may still be billed. Only you can "
                    "answer this question, for {count} hour.",
                    "Training stops; the steps already run may still be billed. Only you can "
                    "answer this question, for {count} hours.",
                    expires_hours,
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Cancel the job"), verbs.CANCEL_CONFIRM, {"token": token}),
            submit(_("Keep it running"), verbs.CANCEL_KEEP, {"token": token}),
        ],
    )
