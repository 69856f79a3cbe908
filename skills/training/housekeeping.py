"""Housekeeping of a resource's training artifacts: `files`, `delete file <id>` and
`delete model <job>`.

`files` lists what the bot uploaded to the current resource and is still there, with the jobs
that train on each file. A deletion is a destructive question (`CleanupRequest`, answered once,
by who asked) and is written to the audit trail. A fine-tuned model is deleted by deleting the
job that made it (Microsoft Learn: a model goes with its job; the v1 API has no such operation,
`infra.azure.Azure.delete_job`), and never while it is deployed. A file that a job still trains
on stays until the job ends. `teardown` remains the all-at-once clean-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import openai

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import _
from infra.text import echo
from skills.audit import Actor
from skills.azure_errors import openai_error
from skills.context import Context
from skills.deployment import arm as hosting
from skills.training import jobs
from skills.training.records import CleanupRequest, LaunchRecord


@dataclass(frozen=True)
class FileRow:
    """One uploaded file: its id and name, size, how long ago it was uploaded (seconds on the
    service's clock), the jobs that train on it."""

    id: str
    name: str
    bytes: int
    age: float
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class FileList:
    """The `files` answer."""

    account: str
    rows: tuple[FileRow, ...]


class Housekeeping:
    """Files and fine-tuned models of a resource, listed and deleted one at a time."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _uploads(self, resource: Resource) -> dict[str, str]:
        """The files the bot uploaded to `resource`: id -> the file's own name (an upload's name
        on Azure carries a hash of its content: `jobs.upload_name`)."""
        found: dict[str, str] = {}
        for launch in await self.ctx.records.all(LaunchRecord):
            if launch.resource == resource:
                plan = launch.plan
                for file_id, dataset in (
                    (launch.training_file, plan.training),
                    (launch.validation_file, plan.validation),
                ):
                    if file_id and dataset is not None:
                        found[file_id] = dataset.name
        return found

    async def _users(self, resource: Resource) -> dict[str, list[jobs.JobState]]:
        """The recent jobs by the file ids they train on."""
        used: dict[str, list[jobs.JobState]] = {}
        for job in await jobs.list_jobs(self.ctx.azure.openai(resource), limit=100):
            for file_id in (job.training_file, job.validation_file):
                if file_id:
                    used.setdefault(file_id, []).append(job)
        return used

    async def files(self, resource: Resource) -> FileList:
        """What the bot uploaded to `resource` and is still there, newest first."""
        client = self.ctx.azure.openai(resource)
        mine = await self._uploads(resource)
        try:
            listed = [f async for f in client.files.list(purpose="fine-tune") if f.id in mine]
        except openai.APIError as error:
            raise openai_error(error, _("file list")) from error
        used = await self._users(resource) if listed else {}
        now = self.ctx.clock.now()
        rows = [
            FileRow(
                id=f.id,
                name=mine[f.id],
                bytes=int(f.bytes or 0),
                age=max(0.0, now - int(f.created_at or now)),
                jobs=tuple(j.id for j in used.get(f.id, [])),
            )
            for f in sorted(listed, key=lambda f: f.created_at, reverse=True)
        ]
        return FileList(resource.account, tuple(rows))

    async def ask_delete_file(
        self, resource: Resource, conversation: str, user: str, file_id: str
    ) -> CleanupRequest:
        """Store the question before deleting a file (refused while a job still trains on it)."""
        client = self.ctx.azure.openai(resource)
        try:
            found = await jobs.call(lambda: client.files.retrieve(file_id))
        except openai.APIError as error:
            raise openai_error(error, _("file `{file}`", file=file_id)) from error
        active = [j for j in (await self._users(resource)).get(file_id, []) if not j.final]
        if active:
            raise UserError(
                "Job `{job}` still trains on `{file}`; delete the file once the job has ended "
                "(or cancel the job).",
                job=active[0].id,
                file=file_id,
            )
        return await self.ctx.confirmations.ask(
            CleanupRequest,
            conversation,
            user,
            resource=resource,
            what="file",
            target=found.id,
            label=found.filename,
        )

    async def ask_delete_model(
        self, resource: Resource, conversation: str, user: str, job_id: str
    ) -> CleanupRequest:
        """Store the question before deleting a job's fine-tuned model (refused while the job
        runs or the model is deployed)."""
        job = await jobs.get_job(self.ctx.azure.openai(resource), job_id)
        if not job.final:
            raise UserError(
                "Job `{job}` has not ended ({status}): cancel it first (`cancel {job}`), then "
                "delete its model.",
                job=job_id,
                status=echo(job.status),
            )
        if not job.fine_tuned_model:
            raise UserError(
                "Job `{job}` made no model ({status}); `files` and `delete file <id>` clean up "
                "what it uploaded.",
                job=job_id,
                status=echo(job.status),
            )
        await self._refuse_deployed(resource, job.fine_tuned_model)
        return await self.ctx.confirmations.ask(
            CleanupRequest,
            conversation,
            user,
            resource=resource,
            what="model",
            target=job.id,
            label=job.fine_tuned_model,
        )

    async def _refuse_deployed(self, resource: Resource, model: str) -> None:
        """UserError naming the deployments that serve `model` or one of its checkpoints (Azure
        refuses to delete a deployed model too: this says it first, when Resource Manager can)."""
        if not (self.ctx.settings.resource_manager and resource.subscription_id):
            return
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        found = await hosting.list_deployments(cognitive, resource)
        serving = [d.name for d in found if d.model.partition(":ckpt-step-")[0] == model]
        if serving:
            raise UserError(
                "{model} is deployed ({names}): delete those deployments first "
                "(`delete <deployment>`), then its model.",
                model=echo(model),
                names=", ".join(f"`{name}`" for name in serving),
            )

    async def delete(self, token: str, conversation: str, actor: Actor) -> CleanupRequest:
        """Answer "Delete" once and delete the file or the model, audited."""
        request = await self._answer(token, conversation, actor.id, "confirmed")
        resource = request.resource
        # names only (the audit card says them in any language): the file's or model's name, id
        target = f"{request.label} ({request.target})" if request.label else request.target
        entry = await self.ctx.audit.begin(actor, "delete", target, resource)
        try:
            if request.what == "file":
                await self._delete_file(resource, request.target)
            else:
                await self._refuse_deployed(resource, request.label)
                await self._delete_model(resource, request.target)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        await self.ctx.audit.end(entry.id, "done")
        return request

    async def keep(self, token: str, conversation: str, user: str) -> CleanupRequest:
        """Answer "Keep it"."""
        return await self._answer(token, conversation, user, "cancelled")

    async def _answer(
        self,
        token: str,
        conversation: str,
        user: str,
        state: Literal["confirmed", "cancelled"],
    ) -> CleanupRequest:
        """Answer the question once, by who asked (the sentence why not names the command)."""
        found = await self.ctx.records.get(CleanupRequest.at(token))
        again = f"delete {found.what} {found.target}" if found is not None else "delete"
        return await self.ctx.confirmations.answer(
            CleanupRequest.at(token), state, conversation, again, user
        )

    async def _delete_file(self, resource: Resource, file_id: str) -> None:
        client = jobs.once(self.ctx.azure.openai(resource))
        try:
            await client.files.delete(file_id)
        except openai.NotFoundError:
            return  # gone already: what was asked is done
        except openai.APIError as error:
            raise openai_error(error, _("file `{file}`", file=file_id)) from error

    async def _delete_model(self, resource: Resource, job_id: str) -> None:
        try:
            await self.ctx.azure.delete_job(resource, job_id)
        except openai.NotFoundError:
            return
        except openai.APIError as error:
            raise openai_error(error, _("job `{job}`", job=job_id)) from error
