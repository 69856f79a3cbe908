"""Training from chat: plan a run and ask to confirm it, launch it, follow and stop jobs.

Starting is idempotent: `plan` stores a `TrainingRequest` under a fresh token; confirming answers
it once (skills/confirmations.py), so a double click, a redelivered or a second confirm starts
nothing more than "already started". The launch and the job watch run in the background
(skills/training/launch.py and watch.py) and survive restarts.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI

from infra.azure import Resource
from infra.errors import UserError
from infra.ownership import every_retry
from infra.text import echo
from skills.audit import Actor, AuditEntry
from skills.context import Context
from skills.datasets import ValidatedSet, kept_report
from skills.training import jobs
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

    async def _home(self, resource: Resource, job_id: str) -> Resource:
        """The resource a job lives on: its record's, else `resource`."""
        record = await self.ctx.records.get(JobRecord.at(job_id))
        return record.resource if record is not None else resource

    async def _where(self, resource: Resource, job_id: str) -> AsyncOpenAI:
        """The client of the resource a job lives on."""
        return self.ctx.azure.openai(await self._home(resource, job_id))

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
        model = str(options.get("model") or validated_model or self.ctx.settings.default_model)
        check_choice(model, options.get("epochs"))
        settings = self.ctx.settings
        plan = make_plan(
            await self._checked(training, model),
            await self._checked(validation, model) if validation else None,
            model,
            options,
            settings.training_prices,
        )
        return await self.ctx.confirmations.ask(
            TrainingRequest, conversation, user, plan=plan, resource=resource
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
                TrainingRequest.at(token), conversation, "train", actor, "", self._launch_of
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
        price = f" (estimated ${plan.price:,.2f})" if plan.price is not None else ""
        entry = self.ctx.audit.entry(
            Actor(request.user, request.by_name),
            "train",
            f"{plan.model} on {plan.files}{price}",
            request.resource,
            "done",
            "confirmed; the launch runs in the background",
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
            TrainingRequest.at(token), "cancelled", conversation, "train", user
        )

    # -- following jobs ------------------------------------------------------------------------

    async def status(self, resource: Resource, conversation: str, job_id: str | None) -> JobView:
        """A job's card as of now (the conversation's latest job by default)."""
        if job_id is None:
            latest = await self.ctx.records.get(LatestJob.at(conversation))
            if latest is None:
                raise UserError(
                    "No training was started in this conversation yet; say `status <job>` "
                    "for another job, or `jobs` for the list."
                )
            job_id = latest.job
        record = await self.ctx.records.get(JobRecord.at(job_id))
        resource = record.resource if record is not None else resource
        job = await jobs.get_job(self.ctx.azure.openai(resource), job_id)
        if record is None:
            files = job.training_file + (f" + {job.validation_file}" if job.validation_file else "")
            record = JobRecord(
                job=job.id, resource=resource, conversation="", model=job.model, files=files
            )
        return job_view(record, job)

    async def recent_jobs(self, resource: Resource, limit: int = 10) -> list[JobState]:
        """The most recent jobs of the resource."""
        return await jobs.list_jobs(self.ctx.azure.openai(resource), limit=limit)

    async def events(self, resource: Resource, job_id: str, count: int) -> list[Event]:
        """A job's latest events."""
        return await jobs.recent_events(await self._where(resource, job_id), job_id, count)

    async def ask_cancel(
        self, resource: Resource, job_id: str, conversation: str, user: str
    ) -> tuple[JobState, CancelRequest]:
        """Store the question before cancelling a job that still runs (UserError when it has
        ended); only `user`, in `conversation`, can answer it."""
        resource = await self._home(resource, job_id)
        job = await jobs.get_job(self.ctx.azure.openai(resource), job_id)
        if job.final:
            raise UserError(
                "Job `{job}` has already ended: {status}.", job=job_id, status=echo(job.status)
            )
        request = await self.ctx.confirmations.ask(
            CancelRequest, conversation, user, resource=resource, job=job.id
        )
        return job, request

    async def keep(self, token: str, conversation: str, user: str) -> CancelRequest:
        """Answer "Keep it running"."""
        return await self.ctx.confirmations.answer(
            CancelRequest.at(token), "cancelled", conversation, "cancel <job>", user
        )

    async def cancel(self, token: str, conversation: str, actor: Actor) -> JobState:
        """Answer "Cancel the job" once and ask Azure to cancel it; the watcher announces the
        end."""
        request = await self.ctx.confirmations.answer(
            CancelRequest.at(token), "confirmed", conversation, "cancel <job>", actor.id
        )
        job_id, resource = request.job, request.resource
        client = self.ctx.azure.openai(resource)
        entry = await self.ctx.audit.begin(actor, "cancel", job_id, resource)
        try:
            job = await jobs.cancel_job(client, job_id)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.message)
            raise
        await self.ctx.audit.end(entry.id, "done", f"Azure says {job.status}")
        self.watcher.poke(job.id)
        return job
