"""Training cards: the confirmation, the live job card, the final notice, job lists and events,
and the files and models a resource keeps (list, delete)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import (
    HEADING,
    Card,
    Element,
    card,
    facts,
    heading,
    quoted,
    sentence,
    show_card,
    submit,
    text,
    their_words,
    titled,
)
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
ENDED = ("succeeded", "failed", "cancelled")
CHART_POINTS = 24


def status_label(status: str) -> str:
    """A readable job status, in the current language (one Azure added later as Azure's word)."""
    if status in STATUS_LABELS:
        return _(STATUS_LABELS[status])
    return status


def _loss(value: float | None) -> str:
    return "–" if value is None else number(value, 4)


def _accuracy(value: float | None) -> str:
    return "–" if value is None else percent(value, 1)


def _price(value: float | None) -> str:
    if value is None:
        return _("no price known for this model")
    return _("about {price} (estimate)", price=price(value))


def _examples(name: str, count: int) -> str:
    return n_("{name} ({count} example)", "{name} ({count} examples)", count, name=name)


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


def _type_prices(plan: Plan) -> list[tuple[str, str]]:
    """The estimate with each training type the model offers, with what Global and Developer
    training save on Standard (a small run's cents alone hide it): (training type, price)."""
    if len(plan.type_prices) < 2:
        return []
    standard = plan.type_prices.get("standard")
    shown = []
    for kind, value in plan.type_prices.items():
        said = _price(value)
        if standard and kind != "standard":
            saving = percent(1 - value / standard, 0)
            said = _("{price}, {saving} less than Standard training", price=said, saving=saving)
        shown.append((_("Price, {type}", type=training_label(kind)), said))
    return shown


def confirmation_card(plan: Plan, token: str, expires_hours: int) -> Card:
    """What a run will cost before anything is spent, with Confirm and Cancel; the settings a
    reader rarely checks behind "Show details"."""
    if plan.epochs is not None:
        epochs = number(plan.epochs)
    else:
        epochs = _("{count} (automatic)", count=number(plan.estimated_epochs))
    validation = plan.validation
    pairs: list[tuple[str, str | Element]] = [(_("Base model"), quoted(plan.model))]
    if plan.parent:
        pairs.append((_("Continues from"), quoted(plan.parent)))
    if plan.method != "supervised":
        pairs.append((_("Method"), method_label(plan.method, plan.beta)))
    if plan.training_type != "standard":
        pairs.append((_("Training type"), training_label(plan.training_type)))
    pairs += [
        (_("Training file"), quoted(_examples(plan.training.name, plan.training.examples))),
        (
            _("Validation file"),
            quoted(_examples(validation.name, validation.examples)) if validation else _("none"),
        ),
        (_("Epochs"), epochs),
        (_("Training price"), _price(plan.price)),
    ]
    notes: list[Element] = []
    if plan.hosting_full:
        notes.append(
            text(
                "⚠️ "
                + _(
                    "This resource already hosts 5 fine-tuned deployments, the most Azure "
                    "allows: delete one before you deploy the model this run makes."
                ),
                weight="Bolder",
            )
        )
    if plan.training_type in RESIDENCY:
        notes.append(text(_(RESIDENCY[plan.training_type])))
    body = [
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
    ]
    return card(
        body,
        [
            submit(_("Confirm training"), verbs.TRAIN_CONFIRM, {"token": token}, style="positive"),
            show_card(_("Show details"), _plan_details(plan)),
            submit(_("Cancel"), verbs.TRAIN_ABORT, {"token": token}),
        ],
    )


def _plan_details(plan: Plan) -> list[Element]:
    """The settings of a run most readers leave as they are, and the price by training type."""
    pairs: list[tuple[str, str | Element]] = []
    if len(plan.lineage) > 2:
        pairs.append((_("Lineage"), quoted(lineage_text(plan.lineage))))
    if plan.method == "supervised":
        pairs.append((_("Method"), method_label(plan.method)))
    if plan.training_type == "standard":
        pairs.append((_("Training type"), training_label(plan.training_type)))
    if plan.batch_size is not None:
        pairs.append((_("Batch size"), number(plan.batch_size)))
    if plan.learning_rate_multiplier is not None:
        pairs.append((_("Learning rate multiplier"), number(plan.learning_rate_multiplier)))
    if plan.suffix:
        pairs.append((_("Suffix"), quoted(plan.suffix)))
    if plan.seed is not None:
        pairs.append((_("Seed"), str(plan.seed)))
    pairs.append((_("Billed tokens"), _("{count} (estimate)", count=number(plan.billed_tokens))))
    pairs += _type_prices(plan)
    body: list[Element] = [facts(pairs)]
    if plan.method == "dpo":
        body.append(text(_(DPO_LINE), isSubtle=True))
    return body


def notice_card(title: str, body: str | Element) -> Card:
    """A short card that replaces a confirmation once it is answered (`body`: the bot's
    sentence, or a `sentence(...)` with names in it)."""
    return card([heading(title), text(body) if isinstance(body, str) else body])


def job_card(view: JobView) -> Card:
    """The one job card, updated in place as the job goes on."""
    head = heading(_("Fine-tuning: {status}", status=status_label(view.status)))
    pairs: list[tuple[str, str | Element]] = [
        (_("Job"), quoted(view.job_id) if view.job_id else _("not created yet")),
        (_("Base model"), quoted(view.lineage[0] if view.lineage else view.model)),
    ]
    if view.lineage:
        pairs.append((_("Continues from"), quoted(view.lineage[-1])))
    if view.method != "supervised":
        pairs.append((_("Method"), method_label(view.method)))
    if view.training_type != "standard":
        pairs.append((_("Training type"), training_label(view.training_type)))
    pairs.append((_("Files"), quoted(view.files)))
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
        pairs.append((_("Model"), quoted(view.fine_tuned_model)))
    body: list[Element] = [head, facts(pairs)]
    if view.error:
        body += [text(_("Azure's message:")), quoted(view.error)]
    if view.status == "paused":
        body.append(text(paused_sentence(view)))
    if view.notice_coming:
        body.append(text(_("The result comes as a new message when the job ends."), isSubtle=True))
    actions = []
    if view.job_id and view.status == "running":
        actions.append(submit(_("Pause"), verbs.PAUSE, {"job": view.job_id}))
    if view.job_id and view.status == "paused":
        actions.append(submit(_("Resume"), verbs.RESUME, {"job": view.job_id}, style="positive"))
        if view.checkpoint:
            data = {"model": view.checkpoint, "job": view.job_id}
            actions.append(submit(_("Deploy the checkpoint"), verbs.DEPLOY, data))
    if view.job_id and view.status not in ENDED:
        cancel = submit(_("Cancel job"), verbs.CANCEL, {"job": view.job_id}, style="destructive")
        actions.append(cancel)
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
    """The losses as a Teams line chart (Microsoft Learn, "Charts in Adaptive Cards"), with the
    same curves as a PNG for its fallback: Teams clients that cannot draw Chart.* elements (Teams
    for iOS: microsoft/AdaptiveCards#9120) show the image instead, and no client shows both. The
    PNG rides as a data: URL, within Teams' message size limit (bot/limits.py)."""
    data = []
    for legend, points in ((_("Training loss"), train), (_("Validation loss"), valid)):
        if points:
            values = [{"x": int(x), "y": round(y, 3)} for x, y in _thin(points, CHART_POINTS)]
            data.append({"legend": legend, "values": values})
    from adaptive_cards.charts import loss_chart_png  # matplotlib: only when a chart is drawn

    png = loss_chart_png([list(p) for p in train], [list(p) for p in valid], _("Loss by step"))
    image = {
        "type": "Image",
        "url": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "altText": _("Training and validation loss by step"),
        "size": "Stretch",
    }
    return {
        "type": "Chart.Line",
        "title": _("Loss by step"),
        "xAxisTitle": _("step"),
        "yAxisTitle": _("loss"),
        "data": data,
        "fallback": image,
    }


FINAL_TITLES = {
    "succeeded": N_("Training succeeded"),
    "failed": N_("Training failed"),
    "cancelled": N_("Training cancelled"),
}


def final_card(view: FinalView) -> Card:
    """The proactive notice when a job ends: what happened, the model, the time and the final
    loss, the chart, and the next steps; the rest (settings, accuracies, checkpoints, each with
    its Deploy button) behind "Show details"."""
    job = view.job
    if job.status in FINAL_TITLES:
        title = _(FINAL_TITLES[job.status])
    else:
        title = _("Training ended: {status}", status=status_label(job.status))
    pairs: list[tuple[str, str | Element]] = [(_("Job"), quoted(job.id))]
    if not job.fine_tuned_model:
        pairs.append((_("Base model"), quoted(view.lineage[0] if view.lineage else job.model)))
    if view.elapsed is not None:
        pairs.append((_("Duration"), duration(view.elapsed)))
    last = view.last
    if last is not None:
        pairs.append((_("Training loss"), _loss(last.train_loss)))
        if last.valid_loss is not None:
            pairs.append((_("Validation loss"), _loss(last.valid_loss)))
    body: list[Element] = [heading(title)]
    if job.fine_tuned_model:  # on a line of its own: ~60 characters squeeze a fact's title
        body.append(sentence(N_("New model: {model}"), words={"model": job.fine_tuned_model}))
    body.append(facts(pairs))
    if job.status == "failed":
        body += _failure(view)
    if view.train_curve or view.valid_curve:
        body.append(loss_chart(view.train_curve, view.valid_curve))
    actions = []
    if view.deployable and job.fine_tuned_model:
        deploy = {"model": job.fine_tuned_model, "job": job.id}
        actions.append(submit(_("Deploy"), verbs.DEPLOY, deploy, style="positive"))
        actions.append(submit(_("Evaluate"), verbs.EVALUATE, {"job": job.id}))
    actions.append(show_card(_("Show details"), _details(view)))
    actions.append(submit(_("Show events"), verbs.EVENTS, {"job": job.id}))
    return card(body, actions)


def _failure(view: FinalView) -> list[Element]:
    """What went wrong in words (Azure's message as Azure's words) and what to do next."""
    job = view.job
    reason = job.error_message
    if not reason:
        said: list[Element] = [text(_("Azure gave no reason."))]
    elif job.error_code:
        said = [
            sentence(N_("Azure's message ({code}):"), words={"code": job.error_code}),
            quoted(reason),
        ]
    else:
        said = [text(_("Azure's message:")), quoted(reason)]
    if view.safety is not None:
        return [*safety_lines(view), *said]
    if view.advice:
        said.append(text(_("What to do: {advice}", advice=view.advice)))
    return said


def _details(view: FinalView) -> list[Element]:
    """What the notice keeps behind "Show details": the settings, the metrics, the checkpoints."""
    job = view.job
    pairs: list[tuple[str, str | Element]] = []
    if job.fine_tuned_model:
        pairs.append((_("Base model"), quoted(view.lineage[0] if view.lineage else job.model)))
    if view.lineage:
        pairs.append((_("Continues from"), quoted(view.lineage[-1])))
    if view.lineage and job.fine_tuned_model:
        pairs.append((_("Lineage"), quoted(lineage_text([*view.lineage, job.fine_tuned_model]))))
    if job.method != "supervised":
        pairs.append((_("Method"), method_label(job.method, job.beta)))
    if view.training_type != "standard":
        pairs.append((_("Training type"), training_label(view.training_type)))
    pairs.append((_("Files"), quoted(view.files)))
    if job.trained_tokens is not None:
        pairs.append((_("Trained tokens"), number(job.trained_tokens)))
    if isinstance(job.hyperparameters.get("n_epochs"), int):
        pairs.append((_("Epochs"), number(job.hyperparameters["n_epochs"])))
    last = view.last
    if last is not None:
        pairs.append((_("Final step"), number(last.step)))
        pairs.append((_("Training accuracy"), _accuracy(last.train_accuracy)))
        if last.valid_loss is not None:
            pairs.append((_("Validation accuracy"), _accuracy(last.valid_accuracy)))
        if last.full_valid_loss is not None:
            pairs.append((_("Full validation loss"), _loss(last.full_valid_loss)))
            pairs.append((_("Full validation accuracy"), _accuracy(last.full_valid_accuracy)))
    body: list[Element] = [facts(pairs)]
    if view.checkpoints:
        body += _checkpoints(view)
    return body


def _checkpoints(view: FinalView) -> list[Element]:
    """The checkpoints Azure keeps, each with its loss and a button that deploys it."""
    shown = [(_("Step {step}", step=number(c.step)), _checkpoint_loss(c)) for c in view.checkpoints]
    buttons = [
        submit(
            _("Deploy step {step}", step=number(c.step)),
            verbs.DEPLOY,
            {"model": c.model, "job": view.job.id},
        )
        for c in view.checkpoints
    ]
    return [
        text(_("Checkpoints"), weight="Bolder", separator=True, spacing="Medium"),
        text(
            _("Each checkpoint is a model of its own, which you can deploy instead of the last."),
            isSubtle=True,
            spacing="None",
        ),
        facts(shown),
        {"type": "ActionSet", "actions": buttons},
    ]


def _checkpoint_loss(checkpoint: Checkpoint) -> str:
    metric = checkpoint.metric
    if metric is None or metric.train_loss is None:
        return _("no loss reported")
    return _("training loss {loss}", loss=_loss(metric.train_loss))


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


def jobs_card(jobs: Sequence[JobState]) -> Card:
    """Recent jobs of the resource: id, status, base and fine-tuned model."""
    if not jobs:
        return card(
            [heading(_("Fine-tuning jobs")), text(_("There are no jobs on this resource yet."))]
        )
    lines = []
    for job in jobs:
        if job.fine_tuned_model:
            line = sentence(
                N_("{job} · {status} · {model} → {tuned}"),
                words={"job": job.id, "model": job.model, "tuned": job.fine_tuned_model},
                status=status_label(job.status),
            )
        else:
            line = sentence(
                N_("{job} · {status} · {model}"),
                words={"job": job.id, "model": job.model},
                status=status_label(job.status),
            )
        lines.append({**line, "spacing": "Small"})
    return card([heading(_("Fine-tuning jobs (newest first)")), *lines])


def events_card(job_id: str, events: Sequence[Event]) -> Card:
    """A job's latest events, oldest first (their messages are Azure's words, as they are)."""
    title = titled(N_("Latest events of {job}"), {"job": job_id})
    if not events:
        return card([title, text(_("No events yet."))])
    lines = [
        {
            "type": "RichTextBlock",
            "spacing": "Small",
            "inlines": [
                *their_words(event.level, weight="Bolder"),
                {"type": "TextRun", "text": " "},
                *their_words(event.message),
            ],
        }
        for event in events
    ]
    return card([title, *lines])


def cancel_confirmation_card(job: JobState, token: str, expires_hours: int) -> Card:
    """Ask before cancelling a running job."""
    return card(
        [
            heading(_("Cancel this fine-tuning job?")),
            facts(
                [
                    (_("Job"), quoted(job.id)),
                    (_("Status"), status_label(job.status)),
                    (_("Base model"), quoted(job.model)),
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
            submit(
                _("Cancel the job"), verbs.CANCEL_CONFIRM, {"token": token}, style="destructive"
            ),
            submit(_("Keep it running"), verbs.CANCEL_KEEP, {"token": token}),
        ],
    )


def files_card(listing: FileList) -> Card:
    """The files the bot uploaded to the resource: name, size, age, the jobs that use them."""
    title = sentence(
        N_("Files I uploaded to {account}"), words={"account": listing.account}, style=HEADING
    )
    body: list[Element] = [title]
    if not listing.rows:
        body.append(text(_("I uploaded no file to this resource that is still there.")))
    for row in listing.rows:
        bytes_, age = size(row.bytes), duration(row.age)
        if row.jobs:
            line = sentence(
                N_("{name} ({id}): {size}, uploaded {age} ago, used by {jobs}"),
                words={"name": row.name, "id": row.id, "jobs": list(row.jobs)},
                size=bytes_,
                age=age,
            )
        else:
            line = sentence(
                N_("{name} ({id}): {size}, uploaded {age} ago, used by no recent job"),
                words={"name": row.name, "id": row.id},
                size=bytes_,
                age=age,
            )
        body.append({**line, "spacing": "Small"})
    if listing.rows:
        body.append(text(_("**delete file** with a file's id deletes it."), isSubtle=True))
    return card(body)


def cleanup_confirm_card(request: CleanupRequest, expires_hours: int) -> Card:
    """Ask before deleting a file or a fine-tuned model (a destructive confirmation)."""
    data = {"request": request.token}
    if request.what == "file":
        title = _("Delete this file?")
        pairs: list[tuple[str, str | Element]] = [
            (_("File"), quoted(request.target)),
            (_("Name"), quoted(request.label)),
        ]
        effect = _("Azure deletes the file for good; a new job would need it uploaded again.")
    else:
        title = _("Delete this fine-tuned model?")
        pairs = [
            (_("Job"), quoted(request.target)),
            (_("Model"), quoted(request.label)),
        ]
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
            submit(_("Delete"), verbs.CLEANUP_CONFIRM, data, style="destructive"),
            submit(_("Keep it"), verbs.CLEANUP_KEEP, data),
        ],
    )


def cleanup_done_card(request: CleanupRequest, deleted: bool) -> Card:
    """The deletion question once answered: deleted, or kept."""
    name = request.label if request.what == "model" else request.target
    if deleted:
        return card(
            [sentence(N_("{name} is deleted for good"), words={"name": name}, style=HEADING)]
        )
    return card(
        [sentence(N_("Nothing was deleted: {name} is kept"), words={"name": name}, style=HEADING)]
    )
