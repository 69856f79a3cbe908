"""Training from chat: `train` (with a confirmation card), `status`, `jobs`, `events`, `cancel`,
`pause`, `resume`, and the housekeeping of files and models (`files`, `delete file|model`).

Parsers for the command table, and handlers that call skills/training/service.py and answer with
cards from adaptive_cards/training.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards.common import Card, sentence
from adaptive_cards.spend import approval_card, budget_line
from adaptive_cards.training import (
    cancel_confirmation_card,
    cleanup_confirm_card,
    cleanup_done_card,
    confirmation_card,
    events_card,
    files_card,
    job_card,
    jobs_card,
    notice_card,
    status_label,
)
from bot.arguments import key_values
from bot.turn import Role, Turn
from infra.errors import UserError
from infra.i18n import N_, _, n_
from infra.records import Key
from infra.text import echo
from skills.confirmations import lifetime_hours
from skills.training.plan import check_options
from skills.training.records import CancelRequest, CleanupRequest, TrainingRequest
from skills.training.views import JobView

log = logging.getLogger(__name__)

TRAIN_OPTIONS = {
    "model",
    "epochs",
    "batch",
    "lr",
    "suffix",
    "seed",
    "method",
    "beta",
    "training",
    "from",
}
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TOKEN = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_EVENTS = 10
MAX_EVENTS = 50


# -- argument parsers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainArgs:
    """`train` options, and the files a validation card's button names."""

    options: dict[str, Any]
    datasets: tuple[str, ...] | None = None


def parse_train(text: str, data: Mapping[str, Any]) -> TrainArgs:
    """`train [model=..] [method=supervised|dpo] [beta=X] [training=standard|global|developer]
    [from=<model or job>] [epochs=N] [batch=N] [lr=X] [suffix=S] [seed=N]`, or the card's
    files."""
    words, options = key_values(text, TRAIN_OPTIONS)
    if words:
        raise UserError(
            "`train` takes options such as `epochs=3`, not {words}; it trains on the files you "
            "last validated here.",
            words=echo(" ".join(words)),
        )
    datasets = data.get("datasets")
    chosen: tuple[str, ...] | None = None
    if datasets is not None:
        if (
            not isinstance(datasets, list)
            or not 1 <= len(datasets) <= 2
            or not all(isinstance(d, str) and SHA256.match(d) for d in datasets)
        ):
            raise UserError("That button does not name the validated files; say `validate` again.")
        chosen = tuple(datasets)
    return TrainArgs(check_options(options), chosen)


def parse_token(text: str, data: Mapping[str, Any]) -> str:
    """The confirmation token a card button carries."""
    token = data.get("token")
    if not isinstance(token, str) or not TOKEN.match(token):
        raise UserError("That button no longer works; say `train` again.")
    return token


def _job_id(value: str, usage: str) -> str:
    """A job id; `usage` is the command's usage line, a message id (said in the reader's
    language, so in Korean with the Korean command word)."""
    if not value:
        raise UserError(
            "Which job? Say `{usage}`; `jobs` lists them.", usage=usage, translated=("usage",)
        )
    if not JOB_ID.match(value):
        raise UserError("{value} is not a job id (they look like `ftjob-...`).", value=echo(value))
    return value


def _one_job(text: str, data: Mapping[str, Any]) -> str:
    value = text or str(data.get("job") or "")
    if len(value.split()) > 1:
        raise UserError("Expected one job id, got {value}.", value=echo(value))
    return value


def parse_optional_job(text: str, data: Mapping[str, Any]) -> str | None:
    """`status [job]`."""
    value = _one_job(text, data)
    return _job_id(value, N_("status [job]")) if value else None


def parse_job(text: str, data: Mapping[str, Any]) -> str:
    """`cancel <job>` (or a button's `job`)."""
    return _job_id(_one_job(text, data), N_("cancel <job>"))


def parse_pause(text: str, data: Mapping[str, Any]) -> str:
    """`pause <job>` (or the job card's button)."""
    return _job_id(_one_job(text, data), "pause <job>")


def parse_resume(text: str, data: Mapping[str, Any]) -> str:
    """`resume <job>` (or the job card's button)."""
    return _job_id(_one_job(text, data), "resume <job>")


def file_id(value: str) -> str:
    """A file id as Azure makes them (`file-...`), for `delete file <id>`."""
    if not value:
        raise UserError("Which file? Say `delete file <id>`; `files` lists them.")
    if not JOB_ID.match(value):
        raise UserError("{value} is not a file id (they look like `file-...`).", value=echo(value))
    return value


def job_of_model(value: str) -> str:
    """The job whose model `delete model <job>` deletes."""
    return _job_id(value, "delete model <job>")


@dataclass(frozen=True)
class EventsArgs:
    """`events <job> [N]`."""

    job: str
    count: int


def parse_events(text: str, data: Mapping[str, Any]) -> EventsArgs:
    """`events <job> [N]` (or a button's `job`)."""
    words = text.split() or [str(data.get("job") or "")]
    if len(words) > 2:
        raise UserError("Say `events <job> [N]`.")
    count = DEFAULT_EVENTS
    if len(words) == 2:
        if not (words[1].isascii() and words[1].isdigit()) or not 1 <= int(words[1]) <= MAX_EVENTS:
            raise UserError("`N` must be a whole number from 1 to {max}.", max=MAX_EVENTS)
        count = int(words[1])
    return EventsArgs(_job_id(words[0], N_("events <job> [N]")), count)


# -- train and its confirmation -------------------------------------------------------------------


async def _answer_on(turn: Turn, question: Key[Any], content: Card) -> None:
    """Replace the card the question was asked on (skills/confirmations.py `card_of`)."""
    card = await turn.question_card(question)
    if card:
        try:
            await turn.show(content, card_id=card)
        except Exception:  # the card may be gone; the answer that follows says it all
            log.info("could not update the card %s", card, exc_info=True)


async def train(turn: Turn, args: TrainArgs) -> None:
    """Check the validated files again and ask for confirmation with the cost."""
    request = await turn.services.training.plan(
        await turn.resource(), turn.conversation_id, turn.user_id, args.options, args.datasets
    )
    content = confirmation_card(request.plan, request.token, lifetime_hours())
    if await turn.services.spend.budget(turn.scope) is not None:
        check = await turn.services.spend.check(request.resource, turn.scope, request.plan.price)
        content["body"].append(budget_line(check))
    card = await turn.show(content, _("Start fine-tuning {model}?", model=request.plan.model))
    await turn.services.confirmations.shown(request.key(), card)


async def confirm(turn: Turn, token: str) -> None:
    """Launch the confirmed run (once per confirmation, whatever arrives twice); its job card
    follows it."""
    admin = turn.role >= Role.ADMIN
    waiting = await turn.services.spend.gate(token, turn.scope, turn.actor, admin=admin)
    if waiting is not None:  # over the team's budget: an admin answers on this card
        await turn.show(
            approval_card(waiting), _("Waiting for an admin's approval"), card_id=turn.pressed_card
        )
        return
    launch = await turn.services.training.launch(token, turn.conversation_id, turn.actor)
    await _answer_on(
        turn,
        TrainingRequest.at(token),
        notice_card(
            _("Training confirmed"),
            sentence(N_("Starting fine-tuning of {model}."), words={"model": launch.plan.model}),
        ),
    )


async def abort(turn: Turn, token: str) -> None:
    """Drop a plan before anything was spent."""
    await turn.services.training.abort(token, turn.conversation_id, turn.user_id)
    await _answer_on(
        turn,
        TrainingRequest.at(token),
        notice_card(_("Training cancelled"), _("Nothing was uploaded or spent.")),
    )
    await turn.send_text(_("OK, I dropped that training plan; nothing was spent."))


# -- following jobs -------------------------------------------------------------------------------


async def status(turn: Turn, job_id: str | None) -> None:
    """The job's card as of now (the latest job of this conversation by default)."""
    view = await turn.services.training.status(await turn.resource(), turn.conversation_id, job_id)
    summary = _("Job {job}: {status}", job=view.job_id, status=status_label(view.status))
    await turn.show(job_card(view), summary)


async def jobs(turn: Turn, _: None) -> None:
    """Recent jobs of the resource."""
    found = await turn.services.training.recent_jobs(await turn.resource())
    summary = n_("{count} fine-tuning job", "{count} fine-tuning jobs", len(found))
    await turn.show(jobs_card(found), summary)


async def events(turn: Turn, args: EventsArgs) -> None:
    """The job's latest events."""
    found = await turn.services.training.events(
        await turn.resource(), turn.conversation_id, args.job, args.count
    )
    await turn.show(events_card(args.job, found), _("Events of {job}", job=args.job))


async def cancel(turn: Turn, job_id: str) -> None:
    """Ask before cancelling a job (only the person who asks can answer)."""
    job, request = await turn.services.training.ask_cancel(
        await turn.resource(), job_id, turn.conversation_id, turn.user_id
    )
    content = cancel_confirmation_card(job, request.token, lifetime_hours())
    card = await turn.show(content, _("Cancel job {job}?", job=job_id))
    await turn.services.confirmations.shown(request.key(), card)


async def cancel_confirmed(turn: Turn, token: str) -> None:
    """Cancel the job; the watcher announces the end."""
    job = await turn.services.training.cancel(token, turn.conversation_id, turn.actor)
    await _answer_on(
        turn,
        CancelRequest.at(token),
        notice_card(
            _("Cancelling"), sentence(N_("Job {job} is being cancelled."), words={"job": job.id})
        ),
    )
    await turn.send_text(
        _(
            "Cancel requested for job `{job}`; I'll post the final notice when Azure has "
            "stopped it.",
            job=job.id,
        )
    )


async def cancel_kept(turn: Turn, token: str) -> None:
    """Leave the job running."""
    request = await turn.services.training.keep(token, turn.conversation_id, turn.user_id)
    await _answer_on(
        turn,
        request.key(),
        notice_card(
            _("Still running"),
            sentence(N_("Job {job} keeps training."), words={"job": request.job}),
        ),
    )
    await turn.send_text(_("OK, job `{job}` keeps running.", job=request.job))


# -- pause and resume ---------------------------------------------------------------------------


async def _show_job(turn: Turn, view: JobView, card: str) -> None:
    """A job's card after a change: in place of the job's own card (`card`) when its button was
    pressed, else as a new message (a press can claim any card: only the job's is replaced)."""
    await turn.show(view, card_id=card if card and turn.pressed_card == card else "")


async def pause(turn: Turn, job_id: str) -> None:
    """Pause a training job (its card says what pausing costs and keeps)."""
    view, card = await turn.services.training.pause(
        await turn.resource(), turn.conversation_id, job_id, turn.actor
    )
    await _show_job(turn, view, card)


async def resume(turn: Turn, job_id: str) -> None:
    """Resume a paused job from the step it reached."""
    view, card = await turn.services.training.resume(
        await turn.resource(), turn.conversation_id, job_id, turn.actor
    )
    await _show_job(turn, view, card)


# -- files and models -----------------------------------------------------------------------------


async def files(turn: Turn, _none: None) -> None:
    """What the bot uploaded to the current resource."""
    listing = await turn.services.training.housekeeping.files(await turn.resource())
    summary = n_("{count} file", "{count} files", len(listing.rows))
    await turn.show(files_card(listing), summary)


async def delete_file(turn: Turn, file: str) -> None:
    """Ask before deleting a file."""
    request = await turn.services.training.housekeeping.ask_delete_file(
        await turn.resource(), turn.conversation_id, turn.user_id, file_id(file)
    )
    content = cleanup_confirm_card(request, lifetime_hours())
    card = await turn.show(content, _("Delete {name}?", name=request.target))
    await turn.services.confirmations.shown(request.key(), card)


async def delete_model(turn: Turn, job: str) -> None:
    """Ask before deleting a job's fine-tuned model (the job goes with it)."""
    request = await turn.services.training.housekeeping.ask_delete_model(
        await turn.resource(), turn.conversation_id, turn.user_id, job_of_model(job)
    )
    content = cleanup_confirm_card(request, lifetime_hours())
    card = await turn.show(content, _("Delete {name}?", name=request.label))
    await turn.services.confirmations.shown(request.key(), card)


async def cleanup_confirmed(turn: Turn, token: str) -> None:
    """Delete the file or the model; the card pressed says so."""
    request = await turn.services.training.housekeeping.delete(
        token, turn.conversation_id, turn.actor
    )
    await _answer_on(turn, CleanupRequest.at(token), cleanup_done_card(request, deleted=True))
    name = request.label if request.what == "model" else request.target
    await turn.send_text(_("{name} is deleted for good", name=name))


async def cleanup_kept(turn: Turn, token: str) -> None:
    """Delete nothing."""
    request = await turn.services.training.housekeeping.keep(
        token, turn.conversation_id, turn.user_id
    )
    await _answer_on(turn, CleanupRequest.at(token), cleanup_done_card(request, deleted=False))
