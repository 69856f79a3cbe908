"""Training from chat: plan a run and ask to confirm it, launch it, follow, pause, resume and stop
jobs; the files and models they leave (skills/training/housekeeping.py).

Starting is idempotent: `plan` stores a `TrainingRequest` under a fresh token; confirming answers
it once (skills/confirmations.py), so a double click, a redelivered or a second confirm starts
nothing more than "already started". The launch and the job watch run in the background
(skills/training/launch.py and watch.py) and survive restarts.
"""

from __future__ import annotations

from typing import Any

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, _, later
from infra.ownership import every_retry
from infra.text import echo
from skills.audit import Actor, AuditEntry
from skills.context import Context
from skills.datasets import ValidatedSet, kept_report
from skills.training import jobs, preflight
from skills.training.housekeeping import Housekeeping
from skills.training.jobs import Event, JobState
from skills.training.launch import Launcher
from skills.training.plan import Checked, make_plan
from skills.training.records import (
    CancelRequest,
    JobRecord,
    LatestJob,
    LaunchRecord,
    TrainingRequest,
)
from skills.training.views import JobView, job_view
from skills.training.watch import JobWatcher
from skills.validation import check_choice


class Training:
    """Fine-tuning jobs, from the plan to the notice."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.watcher = JobWatcher(ctx)
        self.launcher = Launcher(ctx, self.watcher)
        self.housekeeping = Housekeeping(ctx)

    async def start(self) -> None:
        """Resume watching and launching after a start (and keep picking up the launches that
        nobody owns, with several instances)."""
        await self.watcher.start()
        await self._adopt()
        self.ctx.tasks.spawn(
            every_retry(self.ctx.owners, self._adopt, "launches"), "launch adopter"
        )

    async def stop(self) -> None:
        """Stop watching (the state stays for the next start)."""
        await self.watcher.stop()

    async def job_resource(self, caller: Resource, conversation: str, job_id: str) -> Resource:
        """The resource on which the caller may reach job `job_id`: the one rule of every
        command that names a job (`status`, `events`, `cancel`, and whatever acts on a job).

        The caller works on its team's (or conversation's) current resource, `caller`; a job
        there is theirs, and so is a job launched from this very conversation, on whichever
        resource it runs. A job the bot launched for someone else, on another resource, is
        answered as Azure answers a job that does not exist, so that nothing tells a team what
        another team runs, as `jobs` and `deploy` see only the caller's resource."""
        record = await self.ctx.records.get(JobRecord.at(job_id))
        if record is None or record.resource == caller:
            return caller
        if record.conversation == conversation:
            return record.resource
        raise UserError("Azure OpenAI has no {what}.", what=_("job `{job}`", job=job_id))

    # -- plan and confirm ------------------------------------------------------------------------

    async def plan(
        self,
        resource: Resource,
        conversation: str,
        user: str,
        options: dict[str, Any],
        datasets: tuple[str, ...] | None,
    ) -> TrainingRequest:
        """Read the files' stored reports and store the plan until it is confirmed."""
        validated = await self.ctx.records.get(ValidatedSet.at_conversation(conversation))
        if datasets is not None:
            training, validation = datasets[0], (datasets[1] if len(datasets) > 1 else None)
        elif validated is not None:
            training, validation = validated.training, validated.validation
        else:
            raise UserError(
                "Validate your files first: attach `training_set.jsonl` (and "
                "`validation_set.jsonl`) and say `validate`. `sample` gives you a pair to try."
            )
        same = validated is not None and validated.training == training
        validated_model = validated.model if validated is not None and same else None
        client = self.ctx.azure.openai(resource)
        parent = None
        if "from" in options:
            parent = await preflight.parent_of(self.ctx, client, options["from"])
            if options.get("model") and options["model"] != parent.base:
                raise UserError(
                    "{parent} is a fine-tune of {base}: a continued run trains the same base "
                    "model; leave out `model=`.",
                    parent=echo(parent.model),
                    base=echo(parent.base),
                )
        chosen = parent.base if parent else options.get("model") or validated_model
        model = str(chosen or self.ctx.settings.default_model)
        check_choice(model, options.get("epochs"))
        plan = make_plan(
            await self._checked(training, model),
            await self._checked(validation, model) if validation else None,
            model,
            options,
            self.ctx.settings.training_prices,
            region=await preflight.region_of(self.ctx, resource),
            lineage=parent.lineage if parent else (),
        )
        await preflight.before_upload(client, model)
        full = await preflight.hosting_full(self.ctx, resource)
        return await self.ctx.confirmations.ask(
            TrainingRequest,
            conversation,
            user,
            plan=plan.model_copy(update={"hosting_full": full}),
            resource=resource,
        )

    async def _checked(self, sha256: str, model: str) -> Checked:
        """A kept file and its stored report for `model` (never validated again here)."""
        stored = await self.ctx.datasets.get(sha256)
        return stored, await kept_report(self.ctx, stored, model)

    async def _already(self, token: str) -> UserError:
        launch = await self.ctx.records.get(LaunchRecord.at_token(token))
        if launch is not None and launch.job:
            return UserError(
                "This training was already started as job `{job}`; `status` shows how it goes.",
                job=launch.job,
            )
        return UserError("This training was already started; `status` shows how it goes.")

    async def launch(self, token: str, conversation: str, actor: Actor) -> LaunchRecord:
        """Answer "Confirm training" once and launch it: the answer, the launch and its audit
        entry are one write (skills/confirmations.py), then the launch runs in the background,
        where its first step posts the job card (skills/training/launch.py)."""
        if await self.ctx.records.get(LaunchRecord.at_token(token)) is not None:
            raise await self._already(token)
        try:
            request = await self.ctx.confirmations.confirm(
                TrainingRequest.at(token), conversation, N_("train"), actor, "", self._launch_of
            )
        except UserError:
            if await self.ctx.records.get(LaunchRecord.at_token(token)) is not None:
                raise await self._already(token) from None
            raise
        launch, _entry = self._launch_of(request)
        self.launcher.start(token)
        return launch

    def _launch_of(self, request: TrainingRequest) -> tuple[LaunchRecord, AuditEntry]:
        """The launch a confirmed plan starts, and its audit entry: made from the answered
        question alone, so the same each time (a recovery makes what the answer wrote)."""
        plan = request.plan
        if plan.price is None:
            detail = later(
                "Confirmed for {files}; the launch runs in the background.", files=plan.files
            )
        else:
            detail = later(
                "Confirmed for {files}, about {price}; the launch runs in the background.",
                files=plan.files,
                price=plan.price,
                prices=("price",),
            )
        entry = self.ctx.audit.entry(
            Actor(request.user, request.by_name),
            "train",
            plan.model,
            request.resource,
            "done",
            detail,
            at=request.answered_at,
            ref=request.token,
        )
        launch = LaunchRecord(
            token=request.token,
            conversation=request.conversation,
            user=request.user,
            plan=plan,
            resource=request.resource,
            at=request.answered_at,
            language=request.language,
        )
        return launch, entry

    async def recover(self) -> None:
        """Record the launch of every confirmed plan that has none (a crash came between the
        answer and its records, on Blob Storage); `Launcher.resume` then runs it."""
        await self.ctx.confirmations.record_missing(TrainingRequest, self._launch_of)

    async def _adopt(self) -> None:
        """Launches nobody runs: those a dead instance left, and those never recorded."""
        await self.recover()
        await self.launcher.resume()

    async def abort(self, token: str, conversation: str, user: str) -> None:
        """Drop a plan before anything was spent."""
        if await self.ctx.records.get(LaunchRecord.at_token(token)) is not None:
            raise await self._already(token)
        await self.ctx.confirmations.answer(
            TrainingRequest.at(token), "cancelled", conversation, N_("train"), user
        )

    # -- following jobs ------------------------------------------------------------------------

    async def status(self, resource: Resource, conversation: str, job_id: str | None) -> JobView:
        """A job's card as of now (the conversation's latest job by default); `resource` is the
        caller's (see `job_resource`)."""
        if job_id is None:
            latest = await self.ctx.records.get(LatestJob.at(conversation))
            if latest is None:
                raise UserError(
                    "No training was started in this conversation yet; say `status <job>` "
                    "for another job, or `jobs` for the list."
                )
            job_id = latest.job
        resource = await self.job_resource(resource, conversation, job_id)
        record = await self.ctx.records.get(JobRecord.at(job_id))
        job = await jobs.get_job(self.ctx.azure.openai(resource), job_id)
        return self._view(record, resource, job)

    @staticmethod
    def _view(record: JobRecord | None, resource: Resource, job: JobState) -> JobView:
        """A job's card: from the bot's record, or from what Azure says of a job it did not
        launch."""
        if record is None:
            files = job.training_file + (f" + {job.validation_file}" if job.validation_file else "")
            record = JobRecord(
                job=job.id, resource=resource, conversation="", model=job.model, files=files
            )
        return job_view(record, job)

    async def recent_jobs(self, resource: Resource, limit: int = 10) -> list[JobState]:
        """The most recent jobs of the resource."""
        return await jobs.list_jobs(self.ctx.azure.openai(resource), limit=limit)

    async def events(
        self, resource: Resource, conversation: str, job_id: str, count: int
    ) -> list[Event]:
        """A job's latest events (`resource`: the caller's, see `job_resource`)."""
        home = await self.job_resource(resource, conversation, job_id)
        return await jobs.recent_events(self.ctx.azure.openai(home), job_id, count)

    async def _change(
        self, resource: Resource, conversation: str, job_id: str, actor: Actor, action: str
    ) -> tuple[JobView, str]:
        """Pause or resume a job (`resource`: the caller's, see `job_resource`): checked,
        audited, then the watcher looks at it at once so its card says so. Returns the view and
        the job card's id ('' when the bot posted none)."""
        resource = await self.job_resource(resource, conversation, job_id)
        client = self.ctx.azure.openai(resource)
        job = await jobs.get_job(client, job_id)
        check, change = (
            (jobs.check_pausable, jobs.pause_job)
            if action == "pause"
            else (jobs.check_resumable, jobs.resume_job)
        )
        check(job)
        entry = await self.ctx.audit.begin(actor, action, job_id, resource)
        try:
            job = await change(client, job_id)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        await self.ctx.audit.end(entry.id, "done", jobs.status_said(job.status))
        self.watcher.poke(job.id)
        record = await self.ctx.records.get(JobRecord.at(job_id))
        return self._view(record, resource, job), record.card if record is not None else ""

    async def pause(
        self, resource: Resource, conversation: str, job_id: str, actor: Actor
    ) -> tuple[JobView, str]:
        """Pause a training job: Azure keeps a deployable checkpoint of the step it reached and
        bills nothing while it is paused."""
        return await self._change(resource, conversation, job_id, actor, "pause")

    async def resume(
        self, resource: Resource, conversation: str, job_id: str, actor: Actor
    ) -> tuple[JobView, str]:
        """Resume a paused job from the step it reached."""
        return await self._change(resource, conversation, job_id, actor, "resume")

    async def ask_cancel(
        self, resource: Resource, job_id: str, conversation: str, user: str
    ) -> tuple[JobState, CancelRequest]:
        """Store the question before cancelling a job that still runs (UserError when it has
        ended); only `user`, in `conversation`, can answer it. `resource` is the caller's (see
        `job_resource`)."""
        resource = await self.job_resource(resource, conversation, job_id)
        job = await jobs.get_job(self.ctx.azure.openai(resource), job_id)
        if job.final:
            raise UserError(
                "Job `{job}` has already ended: {status}.",
                job=job_id,
                status=jobs.status_words(job.status),
            )
        request = await self.ctx.confirmations.ask(
            CancelRequest, conversation, user, resource=resource, job=job.id
        )
        return job, request

    async def keep(self, token: str, conversation: str, user: str) -> CancelRequest:
        """Answer "Keep it running"."""
        return await self.ctx.confirmations.answer(
            CancelRequest.at(token), "cancelled", conversation, N_("cancel <job>"), user
        )

    async def cancel(self, token: str, conversation: str, actor: Actor) -> JobState:
        """Answer "Cancel the job" once and ask Azure to cancel it; the watcher announces the
        end."""
        request = await self.ctx.confirmations.answer(
            CancelRequest.at(token), "confirmed", conversation, N_("cancel <job>"), actor.id
        )
        job_id, resource = request.job, request.resource
        client = self.ctx.azure.openai(resource)
        entry = await self.ctx.audit.begin(actor, "cancel", job_id, resource)
        try:
            job = await jobs.cancel_job(client, job_id)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        await self.ctx.audit.end(entry.id, "done", jobs.status_said(job.status))
        self.watcher.poke(job.id)
        return job
