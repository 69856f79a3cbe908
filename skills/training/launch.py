"""The launch: from a confirmed plan to a watched job, restart-safe.

A `LaunchRecord` keeps each stage: `confirmed` -> (the pre-flight checks again: the model offered,
room in the job queue) -> files uploaded (their ids kept) -> `creating`
-> `created` (with the job) or `failed`. Every create is recorded as intended before its request:
the record, made before the first upload, names the files (an upload's name carries a hash of
its content: `jobs.upload_name`), and `creating` is saved before the job's create. A restart (or
another instance) resumes a launch from its stage and finds what a lost request made: an upload
by its name, a job by its training file; so nothing is made twice, and teardown finds it all.
A launch that teardown stopped (its record `failed`) stops at its next step.
The launch's first step posts its card (the job card to be) through `Notify` and keeps its id on
the record; the card is updated on the way. A card that could not be posted never stops the
launch: the next step posts it.
A launch has one owner at a time (`infra.ownership`), checked before each stage; an owner that
loses it stops, and the launches nobody owns (a dead instance's) are resumed from their stage.
The files are read from the dataset store, which fetches them when another instance kept them.
"""

from __future__ import annotations

import logging
import time

from infra import i18n
from infra.errors import UserError, unexpected
from infra.ownership import NotOwned, require
from skills.context import Context
from skills.notify import try_show
from skills.training import jobs, preflight
from skills.training.records import JobRecord, LatestJob, LaunchRecord, WatchEntry
from skills.training.views import JobView, job_view
from skills.training.watch import JobWatcher

log = logging.getLogger(__name__)


def owner_item(token: str) -> str:
    """The ownership item of running a launch."""
    return f"launch/{token}"


class Stopped(Exception):
    """The launch was stopped meanwhile (teardown): nothing more is done for it."""


class Launcher:
    """Runs launches in the background and resumes them after a restart."""

    def __init__(self, ctx: Context, watcher: JobWatcher) -> None:
        self.ctx = ctx
        self.watcher = watcher

    def start(self, token: str) -> None:
        """Run the launch `token` in a tracked task."""
        self.ctx.tasks.spawn(self._run(token), f"launch {token}")

    async def resume(self) -> None:
        """Carry on the launches a restart (or a dead instance) interrupted."""
        for record in await self.ctx.records.all(LaunchRecord):
            if not record.finished and not self.ctx.owners.owns(owner_item(record.token)):
                self.start(record.token)

    async def _run(self, token: str) -> None:
        item = owner_item(token)
        if not await self.ctx.owners.claim(item):
            return
        try:
            record = await self.ctx.records.get(LaunchRecord.at_token(token))
            with i18n.use(record.language if record is not None else i18n.current()):
                try:
                    await self._launch(token)
                except Stopped:
                    log.info("launch %s was stopped", token)
                    await self._stopped(token)
        except NotOwned:
            log.warning("launch %s is no longer ours; its new owner carries it on", token)
        finally:
            await self.ctx.owners.release(item)

    async def _card(self, record: LaunchRecord, view: JobView) -> LaunchRecord:
        """Show `view` on the launch's card (posted first when it has none, its id kept)."""
        card = await try_show(self.ctx.notify, record.conversation, record.card, view)
        return record if card == record.card else await self._save(record, card=card)

    async def _save(self, record: LaunchRecord, **changes: object) -> LaunchRecord:
        """Store a step of the launch, unless it was stopped meanwhile (`Stopped`)."""
        require(self.ctx.owners, owner_item(record.token))

        changed = record.model_copy(update=changes)
        stopped = False

        def apply(found: LaunchRecord | None) -> LaunchRecord | None:
            nonlocal stopped
            stopped = found is None or found.finished
            return None if stopped else changed

        await self.ctx.records.update(record.key(), apply)
        if stopped:
            raise Stopped(record.token)
        return changed

    async def _stopped(self, token: str) -> None:
        """Show a stopped launch's end on its card."""
        record = await self.ctx.records.get(LaunchRecord.at_token(token))
        if record is not None and record.stage == "failed" and not record.job:
            plan = record.plan
            view = JobView("failed", plan.model, plan.files, error=record.error)
            await try_show(self.ctx.notify, record.conversation, record.card, view)

    async def _launch(self, token: str) -> None:
        record = await self.ctx.records.get(LaunchRecord.at_token(token))
        if record is None or record.finished:
            return
        plan, settings = record.plan, self.ctx.settings
        client = self.ctx.azure.openai(record.resource)
        item = owner_item(token)
        if not record.card:
            record = await self._card(record, JobView("uploading", plan.model, plan.files))
        try:
            if not record.training_file:  # nothing uploaded yet: is there room for the job?
                await preflight.before_upload(client, plan.model)
                stored = await self.ctx.datasets.get(plan.training.sha256)
                uploaded_id = await jobs.upload(client, plan.training, stored.path)
                record = await self._save(record, training_file=uploaded_id)
            if plan.validation and not record.validation_file:
                stored = await self.ctx.datasets.get(plan.validation.sha256)
                uploaded_id = await jobs.upload(client, plan.validation, stored.path)
                record = await self._save(record, validation_file=uploaded_id)
            record = await self._card(record, JobView("importing", plan.model, plan.files))
            uploaded = [(record.training_file, plan.training.name)]
            if plan.validation:
                uploaded.append((record.validation_file, plan.validation.name))
            for file_id, name in uploaded:
                await jobs.wait_processed(
                    client,
                    file_id,
                    name,
                    interval=min(2.0, settings.training_poll_running_seconds),
                    limit=settings.training_import_timeout_seconds,
                    check=lambda: require(self.ctx.owners, item),
                )
            job = None
            if record.stage == "creating":  # a restart during the create: did it happen?
                job = await jobs.find_job_on_file(client, record.training_file)
            if job is None:
                record = await self._save(record, stage="creating")
                job = await jobs.create_job(
                    client, plan, record.training_file, record.validation_file or None
                )
        except (NotOwned, Stopped):
            raise
        except UserError as error:
            await self._failed(record, error.message)
            return
        except Exception as error:
            await self._failed(record, unexpected(f"launch {token}", error))
            return
        job_record = JobRecord(
            job=job.id,
            resource=record.resource,
            conversation=record.conversation,
            user=record.user,
            card=record.card,
            model=job.model,
            files=plan.files,
            examples=plan.training.examples,
            method=plan.method,
            training_type=plan.training_type,
            lineage=plan.lineage,
            launched_at=record.at,
            status=job.status,
            card_at=time.time(),
            language=record.language,  # the launch shows the new job on the card right away
        )
        record = record.model_copy(update={"stage": "created", "job": job.id})
        require(self.ctx.owners, item)
        await self.ctx.records.put(
            job_record,
            WatchEntry(job=job.id, since=time.time()),
            LatestJob(conversation=record.conversation, job=job.id),
            record,
        )
        if record.card:  # else the watcher posts the job's card on its next update
            await self._card(record, job_view(job_record, job))
        await self.watcher.watch(job.id)

    async def _failed(self, record: LaunchRecord, message: str) -> None:
        record = await self._save(record, stage="failed", error=message)
        plan = record.plan
        await self._card(record, JobView("failed", plan.model, plan.files, error=message))
