"""`teardown`: delete what the bot created on the current resource, the lab's last step.

`ask` lists what exists of it, from the bot's records and its intents, checked against what
Azure lists now (so something made during a failure is found, and something gone is not listed):
deployments it created, and any deployment of a model it trained (Azure refuses to delete a job
whose model is deployed); the fine-tuning jobs it launched (with their models), a job a launch
created without hearing back included (found by its training file); the files it uploaded, every
copy (found by their names, which carry a hash of their content); and the account itself when the
bot provisioned it. Once confirmed (the answer, the run's record and its audit entry are one
write), a `TeardownRecord` runs in the background (tracked, owned, resumed after a restart), one
at a time per resource: it stops the resource's launches still going, adds what appeared since
the question, then deletes in Azure's dependency order: deployments (and waits until they are
gone), then jobs (cancelled first when still running; deleting a job deletes its model), then
files, then the account (Azure keeps it soft-deleted for 48 hours: `purge`). A failure is
written on its item with Azure's reason and the run goes on. It never deletes the resource group.
At the end it deletes the bot's own copies for that resource (chat sessions, stored datasets, the
records of its work, with the questions that started it) except the records of what it could
not delete: the next `teardown` lists those again and retries them. The audit trail stays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import openai
from azure.core.exceptions import AzureError

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError, unexpected
from infra.i18n import N_, _, later
from skills.audit import Actor, AuditEntry, AuditOutcome
from skills.azure_errors import openai_error
from skills.chat import ChatSession
from skills.confirmations import lifetime_hours
from skills.context import Context
from skills.datasets import ValidatedSet
from skills.deployment import arm as deployments
from skills.deployment.arm import DeploymentInfo
from skills.deployment.records import DeleteRequest, DeploymentRecord, DeployRequest
from skills.notify import try_show
from skills.provisioning import arm
from skills.provisioning.records import TeardownItem, TeardownRecord, TeardownRequest
from skills.provisioning.views import TeardownPlan, TeardownProgress
from skills.records import resource_segment
from skills.resources import ResourceRecord, Resources
from skills.training import jobs
from skills.training.records import JobRecord, LaunchRecord, TrainingRequest, WatchEntry

POLL_SECONDS = 5.0
MIN_POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 3600.0
"""Real seconds after which a deletion still not done is written down as failed."""
ORDER = ("deployment", "job", "file", "account")
"""Azure's dependency order: a job whose model is deployed cannot be deleted, nor an account
that holds anything."""
STOPPED = N_("Stopped by teardown.")
"""A launch's end when teardown stops it."""


def owner_item(resource: Resource) -> str:
    """The ownership item of tearing down a resource: one teardown at a time per resource."""
    return f"teardown/{resource_segment(resource)}"


class Teardown:
    """Deleting what the bot created on a resource."""

    def __init__(self, ctx: Context, resources: Resources) -> None:
        self.ctx = ctx
        self.resources = resources

    def _poll(self) -> float:
        wait = self.ctx.clock.real_seconds(POLL_SECONDS)
        return max(MIN_POLL_SECONDS, min(POLL_SECONDS, wait))

    # -- what there is ---------------------------------------------------------------------

    async def _launches(self, resource: Resource) -> list[LaunchRecord]:
        return [r for r in await self.ctx.records.all(LaunchRecord) if r.resource == resource]

    async def _jobs(self, resource: Resource) -> list[JobRecord]:
        return [r for r in await self.ctx.records.all(JobRecord) if r.resource == resource]

    async def inventory(self, resource: Resource) -> list[TeardownItem]:
        """What the bot created on `resource` and Azure shows now, in the order it is deleted."""
        launches, known_jobs = await self._launches(resource), await self._jobs(resource)
        client = self.ctx.azure.openai(resource)
        try:
            on_azure = {job.id: job for job in await jobs.list_all_jobs(client)}
            listed = await jobs.list_files(client)
        except openai.APIError as error:
            raise openai_error(error, _("job list")) from error
        names = {up: own for launch in launches for up, own in launch.upload_names().items()}
        recorded = {f for launch in launches for f in _file_ids(launch)}
        files = [f for f in listed if f.filename in names or f.id in recorded]
        ours = {job.job for job in known_jobs} | {launch.job for launch in launches if launch.job}
        for launch in launches:  # a create whose answer never came: found by its training file
            if not launch.job and launch.training_file:
                ours |= {j.id for j in on_azure.values() if j.training_file == launch.training_file}
        items = await self._deployments(resource, [on_azure[j] for j in ours if j in on_azure])
        for job_id in sorted(ours):
            if job_id in on_azure:
                label = _("{job} and its fine-tuned model", job=job_id)
                items.append(TeardownItem(kind="job", id=job_id, label=label))
        for file in files:
            label = _("{file} ({name})", file=file.id, name=names.get(file.filename, file.filename))
            items.append(TeardownItem(kind="file", id=file.id, label=label))
        known = await self.resources.known(resource)
        if known is not None and known.provisioned and not known.deleted:
            items.append(
                TeardownItem(
                    kind="account",
                    id=resource.account,
                    label=_(
                        "{account} (group {group}, which stays)",
                        account=resource.account,
                        group=resource.resource_group,
                    ),
                )
            )
        return items

    async def _deployments(
        self, resource: Resource, trained: Sequence[openai.types.fine_tuning.FineTuningJob]
    ) -> list[TeardownItem]:
        """The deployments the bot made, and every deployment of a model it trained."""
        records = await self.ctx.records.all(DeploymentRecord, DeploymentRecord.under(resource))
        made = {r.name.lower() for r in records if r.conversation and r.state != "deleted"}
        models = {job.fine_tuned_model for job in trained if job.fine_tuned_model}
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        found = await deployments.list_deployments(cognitive, resource, self.ctx.clock.observe)
        items = []
        for info in found:
            if info.name.lower() in made or _base_model(info) in models:
                label = _("{name} ({model})", name=info.name, model=info.model)
                items.append(TeardownItem(kind="deployment", id=info.name, label=label))
        return items

    # -- the question ----------------------------------------------------------------------

    async def _running(self, resource: Resource, besides: str = "") -> TeardownRecord | None:
        """The teardown of `resource` under way, if any (other than `besides`)."""
        for record in await self.ctx.records.all(TeardownRecord):
            if record.resource == resource and not record.finished and record.token != besides:
                return record
        return None

    def _under_way(self, resource: Resource) -> UserError:
        return UserError(
            "A teardown of `{account}` is under way; its card shows how it goes.",
            account=resource.account,
        )

    async def ask(self, resource: Resource, conversation: str, actor: Actor) -> TeardownPlan:
        """List it all and store the question."""
        self.resources.require_resource_manager()
        if await self._running(resource) is not None:
            raise self._under_way(resource)
        items = await self.inventory(resource)
        if not items:
            raise UserError(
                "I created nothing on `{account}` that is still there: there is nothing to tear "
                "down.",
                account=resource.account,
            )
        request = await self.ctx.confirmations.ask(
            TeardownRequest,
            conversation,
            actor.id,
            user_name=actor.name,
            resource=resource,
            items=items,
        )
        return TeardownPlan(
            resource.account,
            resource.resource_group,
            tuple(items),
            request.token,
            lifetime_hours(),
        )

    async def keep(self, token: str, conversation: str, user: str) -> TeardownRequest:
        """Delete nothing after all."""
        return await self.ctx.confirmations.answer(
            TeardownRequest.at(token), "cancelled", conversation, N_("teardown"), user
        )

    async def start(self, token: str, conversation: str, actor: Actor, card: str) -> TeardownRecord:
        """Answer the destructive button once and tear down in the background, followed on the
        card pressed (`card`, else the one that asked): the answer, the run's record and its
        audit entry are one write, then the card shows the list, then the run starts. While
        another teardown of the resource runs, the question is dropped with the sentence why."""
        question = await self.ctx.records.get(TeardownRequest.at(token))
        if question is not None and question.state == "pending":
            if await self._running(question.resource, besides=token) is not None:
                await self.keep(token, conversation, actor.id)
                raise self._under_way(question.resource)
        request = await self.ctx.confirmations.confirm(
            TeardownRequest.at(token), conversation, N_("teardown"), actor, card, self._run_of
        )
        record, _entry = self._run_of(request)
        if record.card:  # a card never posted is posted by the run, the work's owner
            record = await self._show(record)
        self._spawn(record)
        return record

    def _run_of(self, request: TeardownRequest) -> tuple[TeardownRecord, AuditEntry]:
        """The run a confirmed question starts, and its audit entry, in the asker's language:
        made from the answered question alone."""
        resource = request.resource
        actor = Actor(request.user, request.by_name or request.user_name)
        entry = self.ctx.audit.entry(  # names only: the audit's reader may read another language
            actor, "teardown", resource.account, resource, at=request.answered_at, ref=request.token
        )
        record = TeardownRecord(
            token=request.token,
            conversation=request.conversation,
            user=request.user,
            user_name=actor.name,
            resource=resource,
            items=request.items,
            audit=entry.id,
            card=request.card,
            started_at=request.answered_at,
            language=request.language,
        )
        return record, entry

    def view(self, record: TeardownRecord) -> TeardownProgress:
        """How the teardown stands."""
        return TeardownProgress(
            record.resource.account, tuple(record.items), record.finished, record.local_done
        )

    async def resume(self) -> None:
        """Carry on the teardowns a restart (or a lost instance) interrupted, and start those
        whose answer was written without their run (a crash between the two, on Blob)."""
        await self.ctx.confirmations.record_missing(TeardownRequest, self._run_of)
        for record in await self.ctx.records.all(TeardownRecord):
            if not record.finished and not self.ctx.owners.owns(owner_item(record.resource)):
                self._spawn(record)

    def _spawn(self, record: TeardownRecord) -> None:
        self.ctx.tasks.spawn(self._owned(record.token), f"teardown {record.resource.account}")

    # -- the run -----------------------------------------------------------------------------

    async def _owned(self, token: str) -> None:
        record = await self._get(token)
        item = owner_item(record.resource)
        if not await self.ctx.owners.claim(item):
            return  # another teardown of the resource runs: this one follows it (`resume`)
        try:
            await self._run(token)
        finally:
            await self.ctx.owners.release(item)
        if await self._running(record.resource) is not None:
            await self.resume()  # one that came while this one ran

    async def _get(self, token: str) -> TeardownRecord:
        record = await self.ctx.records.get(TeardownRecord.at(token))
        assert record is not None
        return record

    async def _change(
        self, token: str, apply: Callable[[TeardownRecord], TeardownRecord]
    ) -> TeardownRecord:
        def change(found: TeardownRecord | None) -> TeardownRecord | None:
            return apply(found) if found is not None else None

        return await self.ctx.records.update(TeardownRecord.at(token), change) or await self._get(
            token
        )

    async def _mark(self, token: str, item: TeardownItem, state: str, reason: str = "") -> None:
        def apply(found: TeardownRecord) -> TeardownRecord:
            items = [
                i.model_copy(update={"state": state, "reason": reason})
                if (i.kind, i.id) == (item.kind, item.id)
                else i
                for i in found.items
            ]
            return found.model_copy(update={"items": items})

        await self._show(await self._change(token, apply))

    async def _show(self, record: TeardownRecord) -> TeardownRecord:
        """Show how it stands on the record's card, in the language of who asked (posted when
        it has none, its id kept); a card that could not be shown never stops the run."""
        with i18n.use(record.language):
            card = await try_show(
                self.ctx.notify, record.conversation, record.card, self.view(record)
            )
        if card == record.card:
            return record
        return await self._change(record.token, lambda r: r.model_copy(update={"card": card}))

    async def _run(self, token: str) -> None:
        record = await self._get(token)
        if record.finished:
            return
        with i18n.use(record.language):  # the card speaks the language of who asked
            await self._stop_work(record.resource)
            record = await self._add_new(record)
            if not record.card:
                await self._show(record)
            await self._items(token)

    async def _stop_work(self, resource: Resource) -> None:
        """Work still going on the resource makes nothing more once teardown has listed what
        there is: launches stop at their next step, and a deployment not yet requested is
        deleted instead (its follower sends the DELETE should its PUT have gone out)."""
        for launch in await self._launches(resource):
            if launch.finished:
                continue

            def stop(found: LaunchRecord | None) -> LaunchRecord | None:
                if found is None or found.finished:
                    return None
                return found.model_copy(update={"stage": "failed", "error": _(STOPPED)})

            await self.ctx.records.update(launch.key(), stop)
        for record in await self.ctx.records.all(
            DeploymentRecord, DeploymentRecord.under(resource)
        ):
            if record.state == "requested":

                def delete(found: DeploymentRecord | None) -> DeploymentRecord | None:
                    if found is None or found.state != "requested":
                        return None
                    return found.model_copy(update={"state": "deleting"})

                await self.ctx.records.update(record.key(), delete)

    async def _add_new(self, record: TeardownRecord) -> TeardownRecord:
        """Add what appeared since the question (a launch that went on, a request whose answer
        was lost) to the run, at the place of its kind."""
        try:
            found = await self.inventory(record.resource)
        except UserError:
            return record  # Azure cannot list now: the run deletes what it was asked to
        known = {(i.kind, i.id.lower()) for i in record.items}
        new = [i for i in found if (i.kind, i.id.lower()) not in known]
        if not new:
            return record

        def add(current: TeardownRecord) -> TeardownRecord:
            items = [*current.items, *new]
            items.sort(key=lambda i: ORDER.index(i.kind))
            return current.model_copy(update={"items": items})

        return await self._change(record.token, add)

    async def _items(self, token: str) -> None:
        for kind in ORDER:
            record = await self._get(token)
            pending = [
                i for i in record.items if i.kind == kind and i.state in ("pending", "deleting")
            ]
            if not pending:
                continue
            await asyncio.gather(*(self._one(token, record.resource, i) for i in pending))
        record = await self._get(token)
        if not record.local_done:
            await self._forget_local(record)
            record = record.model_copy(update={"local_done": True})
        failed = [i for i in record.items if i.state == "failed"]
        record = record.model_copy(update={"finished": True})
        await self.ctx.records.put(record)
        outcome: AuditOutcome = "partly done" if failed else "done"
        deleted, total = len(record.items) - len(failed), len(record.items)
        if failed:
            detail = later(
                "deleted {deleted} of {total}; not deleted: {items}",
                deleted=deleted,
                total=total,
                items=", ".join(i.id for i in failed),
            )
        else:
            detail = later("deleted {deleted} of {total}", deleted=deleted, total=total)
        await self.ctx.audit.end(record.audit, outcome, detail)
        await self._show(record)

    async def _one(self, token: str, resource: Resource, item: TeardownItem) -> None:
        try:
            await self._mark(token, item, "deleting")
            await self._delete(resource, item)
        except UserError as error:
            await self._mark(token, item, "failed", error.message)
            return
        except (openai.APIError, AzureError) as error:
            said = (str(error).splitlines() or [""])[0][:200].replace("`", "'")
            await self._mark(token, item, "failed", _("Azure said: {error}", error=said))
            return
        except Exception as error:
            await self._mark(token, item, "failed", unexpected(f"teardown of {item.id}", error))
            return
        await self._mark(token, item, "done")

    async def _delete(self, resource: Resource, item: TeardownItem) -> None:
        azure = self.ctx.azure
        if item.kind == "deployment":
            await self._delete_deployment(resource, item.id)
        elif item.kind == "job":
            await self._delete_job(resource, item.id)
        elif item.kind == "file":
            try:
                await azure.openai(resource).files.delete(item.id)
            except openai.NotFoundError:
                pass
        else:
            cognitive = azure.cognitive(resource.subscription_id)
            group, name = resource.resource_group, resource.account
            await arm.begin_delete(cognitive, group, name)
            await self._until(lambda: arm.get_account(cognitive, group, name))

    async def _delete_deployment(self, resource: Resource, name: str) -> None:
        """Mark its record as being deleted first (its follower then creates nothing more, and
        carries the deletion on after a restart), then ask Azure and wait until it is gone."""

        def deleting(found: DeploymentRecord | None) -> DeploymentRecord | None:
            if found is None or found.state in ("deleting", "deleted"):
                return None
            return found.model_copy(update={"state": "deleting"})

        await self.ctx.records.update(DeploymentRecord.at(resource, name), deleting)
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        await deployments.begin_delete(cognitive, resource, name)
        await self._until(lambda: deployments.get_deployment(cognitive, resource, name))

    async def _until(self, read: Callable[[], Awaitable[object | None]]) -> None:
        """Wait until `read()` returns None: the thing is gone."""
        begun = time.monotonic()
        while await read() is not None:
            if time.monotonic() - begun > GIVE_UP_SECONDS:
                raise UserError("Azure is still deleting it after an hour; look again later.")
            await asyncio.sleep(self._poll())

    async def _delete_job(self, resource: Resource, job_id: str) -> None:
        """Cancel a job still running, then delete it (its model goes with it)."""
        client = self.ctx.azure.openai(resource)
        try:
            job = await client.fine_tuning.jobs.retrieve(job_id)
        except openai.NotFoundError:
            return
        if job.status in ("pending", "running", "queued", "validating_files", "paused"):
            try:
                await client.fine_tuning.jobs.cancel(job_id)
            except openai.ConflictError:
                pass
            while True:
                job = await client.fine_tuning.jobs.retrieve(job_id)
                if job.status in ("succeeded", "failed", "cancelled"):
                    break
                await asyncio.sleep(self._poll())
        try:
            await self.ctx.azure.delete_job(resource, job_id)
        except openai.NotFoundError:
            return

    async def _forget_local(self, record: TeardownRecord) -> None:
        """The bot's own copies for the resource: chat sessions, stored datasets, the records of
        its work there, except the records of what could not be deleted (the next teardown lists
        it again), and the answered questions that started work there (so nothing is started
        again from them: skills/confirmations.py). The audit trail stays."""
        resource, records = record.resource, self.ctx.records
        kept = {(i.kind, i.id.lower()) for i in record.items if i.state == "failed"}
        sessions = [s.key() for s in await records.all(ChatSession) if s.resource == resource]
        jobs_ = [j for j in await self._jobs(resource) if ("job", j.job.lower()) not in kept]
        deployed = [
            d
            for d in await records.all(DeploymentRecord, DeploymentRecord.under(resource))
            if ("deployment", d.name.lower()) not in kept
        ]
        launches = [
            launch
            for launch in await self._launches(resource)
            if ("job", launch.job.lower()) not in kept
            and not any(("file", f.lower()) in kept for f in _file_ids(launch))
        ]
        forgotten = {launch.token for launch in launches}
        used_elsewhere = {
            d.sha256
            for launch in await records.all(LaunchRecord)
            if launch.token not in forgotten
            for d in (launch.plan.training, launch.plan.validation)
            if d is not None
        }
        datasets = {
            d.sha256
            for launch in launches
            for d in (launch.plan.training, launch.plan.validation)
            if d is not None
        } - used_elsewhere
        validated = [
            v.key()
            for v in await records.all(ValidatedSet)
            if v.training in datasets or v.validation in datasets
        ]
        answered: list[TrainingRequest | DeployRequest | DeleteRequest] = [
            *await records.all(TrainingRequest),
            *await records.all(DeployRequest),
            *await records.all(DeleteRequest),
        ]
        questions = [  # their work is done with: never started again (recovery)
            q.key() for q in answered if q.resource == resource and q.state == "confirmed"
        ]
        await records.delete(
            *sessions,
            *validated,
            *questions,
            *(launch.key() for launch in launches),
            *(job.key() for job in jobs_),
            *(WatchEntry.at(job.job) for job in jobs_),
            *(d.key() for d in deployed),
        )
        for sha in datasets:
            await self.ctx.datasets.remove(sha)
        if any(i.kind == "account" and i.state == "done" for i in record.items):

            def deleted(found: ResourceRecord | None) -> ResourceRecord | None:
                return found.model_copy(update={"deleted": True}) if found else None

            await records.update(ResourceRecord.of(resource), deleted)
            await self.resources.forget(resource)


def _file_ids(launch: LaunchRecord) -> list[str]:
    return [f for f in (launch.training_file, launch.validation_file) if f]


def _base_model(info: DeploymentInfo) -> str:
    """The fine-tuned model a deployment serves (a checkpoint's, without its step)."""
    return info.model.partition(":ckpt-step-")[0]
