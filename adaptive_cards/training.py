"""Training cards: the confirmation, the live job card, the final notice, job lists and events,
and the files and models a resource keeps (list, delete)."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, quoted, submit, text
from infra.i18n import N_, _, duration, n_, number, percent, price, size
from skills.training.housekeeping import FileList
from skills.training.jobs import Checkpoint, Event, JobState
from skills.training.plan import Plan, training_label
from skills.training.records import CleanupRequest
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
    "paused": N_("Paused"),
    "resuming": N_("Resuming"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
}
STATUS_COLORS = {"succeeded": "Good", "failed": "Attention", "cancelled": "Warning"}
CHART_POINTS = 60


def status_label(status: str) -> str:
    """A readable job status, in the current language (one Azure added later as its own word,
    as code: it is Azure's, not ours)."""
    if status in STATUS_LABELS:
        return _(STATUS_LABELS[status])
    return echo(status)


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


RESIDENCY = {
    "global": N_(
        "Global training may run outside the resource's region: the data and the model's "
        "weights are copied to where it trains (no data residency)."
    ),
    "developer": N_(
        "Developer training runs on Azure's spare capacity: it may wait longer, or pause and "
        "resume on its own (nothing is billed while it is paused); like Global training, it may "
        "run outside the resource's region (no data residency)."
    ),
}
"""What a training type means for where the data goes (Microsoft Learn, "Customize a model with
fine-tuning", "Training type", and "Fine-tuning cost management")."""
DPO_LINE = N_(
    "DPO (direct preference optimization) teaches the model to prefer each example's preferred "
    "answer over its non-preferred one."
)


def method_label(method: str, beta: float | None = None) -> str:
    """A training method in words (DPO with its beta when it was chosen)."""
    if method != "dpo":
        return _("Supervised")
    return _("DPO, beta {beta}", beta=number(beta)) if beta is not None else "DPO"


def lineage_text(models: Sequence[str]) -> str:
    """Models from the base to the newest, as one line."""
    return " → ".join(models)


def _type_prices(plan: Plan) -> str:
    """The estimate with each training type the model offers, with what Global and Developer
    training save on Standard (a small run's cents alone hide it)."""
    standard = plan.type_prices.get("standard")
    shown = []
    for kind, value in plan.type_prices.items():
        said = _price(value)
        if standard and kind != "standard":
            saving = percent(1 - value / standard, 0)
            said = _("{price}, {saving} less than Standard training", price=said, saving=saving)
        shown.append(f"{training_label(kind)}: {said}")
    return "; ".join(shown)


def confirmation_card(plan: Plan, token: str, expires_hours: int) -> Card:
    """What a run will cost before anything is spent, with Confirm and Cancel."""
    if plan.epochs is not None:
        epochs = number(plan.epochs)
    else:
        epochs = _("{count} (automatic)", count=number(plan.estimated_epochs))
    validation = plan.validation
    pairs = [(_("Base model"), plan.model)]
    if plan.parent:
        pairs.append((_("Continues from"), plan.parent))
    if len(plan.lineage) > 2:
        pairs.append((_("Lineage"), lineage_text(plan.lineage)))
    pairs += [
        (_("Method"), method_label(plan.method, plan.beta)),
        (_("Training type"), training_label(plan.training_type)),
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
    notes: list[Element] = []
    if plan.method == "dpo":
        notes.append(text(_(DPO_LINE)))
    if len(plan.type_prices) > 1:
        notes.append(text(_("Price by training type: {prices}.", prices=_type_prices(plan))))
    if plan.training_type in RESIDENCY:
        notes.append(text(_(RESIDENCY[plan.training_type])))
    if plan.hosting_full:
        notes.append(
            text(
                _(
                    "This resource already hosts 5 fine-tuned deployments, the most Azure "
                    "allows: delete one before you deploy the model this run makes."
                ),
                color="Warning",
            )
        )
    return card(
        [
            heading(_("Start fine-tuning?")),
            facts(pairs),
            *notes,
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
        (_("Base model"), view.lineage[0] if view.lineage else view.model),
    ]
    if view.lineage:
        pairs.append((_("Continues from"), view.lineage[-1]))
    if view.method != "supervised":
        pairs.append((_("Method"), method_label(view.method)))
    if view.training_type != "standard":
        pairs.append((_("Training type"), training_label(view.training_type)))
    pairs.append((_("Files"), _files(view.files)))
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
    if view.status == "paused":
        body.append(text(paused_sentence(view)))
    if view.notice_coming:
        body.append(text(_("The result comes as a new message when the job ends."), isSubtle=True))
    actions = []
    if view.job_id and view.status == "running":
        actions.append(submit(_("Pause"), verbs.PAUSE, {"job": view.job_id}))
    if view.job_id and view.status == "paused":
        actions.append(submit(_("Resume"), verbs.RESUME, {"job": view.job_id}))
        if view.checkpoint:
            data = {"model": view.checkpoint, "job": view.job_id}
            actions.append(submit(_("Deploy the checkpoint"), verbs.DEPLOY, data))
    if view.job_id and view.status not in STATUS_COLORS:
        actions.append(submit(_("Cancel job"), verbs.CANCEL, {"job": view.job_id}))
    return card(body, actions)


def paused_sentence(view: JobView) -> str:
    """What pausing costs and keeps (Microsoft Learn, "Pause and resume": a paused job keeps a
    deployable checkpoint; "Fine-tuning cost management": nothing is billed while a job is paused,
    and a cancelled job is billed for the work done)."""
    kept = (
        _("a checkpoint of step {step}", step=number(view.step))
        if view.step is not None
        else _("a checkpoint of its last step")
    )
    return _(
        "Paused: nothing trains and nothing more is billed while it is paused. Azure keeps the "
        "job and {kept}, which you can deploy. Resume carries on from there; Cancel ends the "
        "job, and the steps already run stay billed.",
        kept=kept,
    )


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
        (_("Base model"), view.lineage[0] if view.lineage else job.model),
    ]
    if view.lineage:
        pairs.append((_("Continues from"), view.lineage[-1]))
    if job.method != "supervised":
        pairs.append((_("Method"), method_label(job.method, job.beta)))
    if view.training_type != "standard":
        pairs.append((_("Training type"), training_label(view.training_type)))
    pairs.append((_("Files"), _files(view.files)))
    if job.fine_tuned_model:
        pairs.append((_("Fine-tuned model"), job.fine_tuned_model))
    if view.lineage and job.fine_tuned_model:
        pairs.append((_("Lineage"), lineage_text([*view.lineage, job.fine_tuned_model])))
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
            quoted(reason, color="Attention") if reason else text(_("Azure gave no reason."))
        )
        if view.safety is not None:
            body += safety_lines(view)
        elif view.advice:
            body.append(text(_("What to do: {advice}", advice=view.advice)))
    if view.train_curve or view.valid_curve:
        body.append(loss_chart(view.train_curve, view.valid_curve))
    if view.checkpoints:
        body.append(text(_("Checkpoints (each can be deployed)"), weight="Bolder"))
        body.append(
            facts((_("Step {step}", step=number(c.step)), _checkpoint(c)) for c in view.checkpoints)
        )
    actions = []
    if view.deployable and job.fine_tuned_model:
        actions.append(
            submit(_("Deploy"), verbs.DEPLOY, {"model": job.fine_tuned_model, "job": job.id})
        )
        actions.append(submit(_("Evaluate"), verbs.EVALUATE, {"job": job.id}))
    actions.append(submit(_("Show events"), verbs.EVENTS, {"job": job.id}))
    return card(body, actions)


def safety_lines(view: FinalView) -> list[Element]:
    """A failed safety check in plain words: what Azure found, what to change, and that it
    bills nothing (Microsoft Learn, "Safety evaluation for fine-tuning")."""
    check = view.safety
    assert check is not None
    categories = check.labels()
    if check.stage == "data":
        found = _(
            "Azure's safety check of the training data flagged content in these categories: "
            "{categories}. The job stopped before training.",
            categories=categories,
        )
        change = _(
            "What to change: remove or rewrite the examples with such content, validate the "
            "file again, then train again."
        )
        billed = _(
            "Nothing was billed: Azure does not charge for a job whose data fails its check."
        )
    else:
        found = _(
            "Azure's safety evaluation of the trained model found it produces content above the "
            "acceptable level in these categories: {categories}. The model cannot be deployed.",
            categories=categories,
        )
        change = _(
            "What to change: look in the training data for examples that teach such content, "
            "remove them, then train again."
        )
        billed = _(
            "Nothing was billed: Azure does not charge for a training whose model fails its "
            "safety evaluation."
        )
    return [text(found, weight="Bolder"), text(change), text(billed, isSubtle=True)]


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
        quoted(
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


def files_card(listing: FileList) -> Card:
    """The files the bot uploaded to the resource: name, size, age, the jobs that use them."""
    body: list[Element] = [heading(_("Files I uploaded to {account}", account=listing.account))]
    if not listing.rows:
        body.append(text(_("I uploaded no file to this resource that is still there.")))
    for row in listing.rows:
        used = (
            _("used by {jobs}", jobs=", ".join(f"`{job}`" for job in row.jobs))
            if row.jobs
            else _("used by no recent job")
        )
        line = _(
            "{name} (`{id}`): {size}, uploaded {age} ago, {used}",
            name=echo(row.name),
            id=row.id,
            size=size(row.bytes),
            age=duration(row.age),
            used=used,
        )
        body.append(text(line, spacing="Small"))
    if listing.rows:
        body.append(text(_("`delete file <id>` deletes one."), isSubtle=True))
    return card(body)


def cleanup_confirm_card(request: CleanupRequest, expires_hours: int) -> Card:
    """Ask before deleting a file or a fine-tuned model (a destructive confirmation)."""
    data = {"request": request.token}
    if request.what == "file":
        title = _("Delete this file?")
        pairs = [(_("File"), request.target), (_("Name"), echo(request.label))]
        effect = _("Azure deletes the file for good; a new job would need it uploaded again.")
    else:
        title = _("Delete this fine-tuned model?")
        pairs = [(_("Job"), request.target), (_("Fine-tuned model"), request.label)]
        effect = _(
            "Azure deletes the job with its fine-tuned model, its checkpoints and its results "
            "for good; the training cannot be deployed again."
        )
    note = n_(
        "This cannot be undone. Only you can answer this question, for {count} hour.",
        "This cannot be undone. Only you can answer this question, for {count} hours.",
        expires_hours,
    )
    return card(
        [heading(title), facts(pairs), text(effect), text(note, isSubtle=True)],
        [
            submit(_("Delete"), verbs.CLEANUP_CONFIRM, data),
            submit(_("Keep it"), verbs.CLEANUP_KEEP, data),
        ],
    )


def cleanup_done_card(request: CleanupRequest, deleted: bool) -> Card:
    """The deletion question once answered: deleted, or kept."""
    name = request.label if request.what == "model" else request.target
    if deleted:
        return card([heading(_("{name} is deleted for good", name=name))])
    return card([heading(_("Kept {name}: nothing was deleted", name=name))])
