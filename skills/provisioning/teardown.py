"""`teardown`: delete what the bot created on the current resource, the lab's last step.

`ask` lists it from the bot's own records: deployments it created, fine-tuning jobs it launched
(with their models), files it uploaded, and the account itself when the bot provisioned it. Once
confirmed, a `TeardownRecord` runs in the background (tracked, owned, resumed after a restart)
in a safe order: deployments (and waits until they are gone), then jobs (cancelled first when
still running; deleting a job deletes its model) and files, then the account (Azure keeps it
soft-deleted for 48 hours: `purge`). A failure is written on its item and the run goes on. It
never deletes the resource group. At the end it deletes the bot's own copies for that resource
(chat sessions, stored datasets, records of its work) and keeps the audit trail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import openai
from azure.core.exceptions import AzureError

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError, unexpected
from infra.i18n import N_, _, later
from skills.audit import Actor, AuditOutcome
from skills.chat import ChatSession
from skills.confirmations import lifetime_hours
from skills.context import Context
from skills.datasets import ValidatedSet
from skills.deployment import arm as deployments
from skills.deployment.records import DeploymentRecord
from skills.notify import try_show
from skills.provisioning import arm
from skills.provisioning.records import TeardownItem, TeardownRecord, TeardownRequest
from skills.provisioning.views import TeardownPlan, TeardownProgress
from skills.resources import ResourceRecord, Resources
from skills.training.records import JobRecord, LaunchRecord, WatchEntry

POLL_SECONDS = 5.0
MIN_POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 3600.0
"""Real seconds after which a deletion still not done is written down as failed."""


def owner_item(token: str) -> str:
    """The ownership item of running a teardown."""
    return f"teardown/{token}"


class Teardown:
    """Deleting what the bot created on a resource."""

    def __init__(self, ctx: Context, resources: Resources) -> None:
        self.ctx = ctx
        self.resources = resources

    def _poll(self) -> float:
        wait = self.ctx.clock.real_seconds(POLL_SECONDS)
        return max(MIN_POLL_SECONDS, min(POLL_SECONDS, wait))

    # -- the question ----------------------------------------------------------------------

    async def _launches(self, resource: Resource) -> list[LaunchRecord]:
        return [r for r in await self.ctx.records.all(LaunchRecord) if r.resource == resource]

    async def _jobs(self, resource: Resource) -> list[JobRecord]:
        return [r for r in await self.ctx.records.all(JobRecord) if r.resource == resource]

    async def inventory(self, resource: Resource) -> list[TeardownItem]:
        """What the bot created on `resource`, in the order it is deleted."""
        items: list[TeardownItem] = []
        for record in await self.ctx.records.all(
            DeploymentRecord, DeploymentRecord.under(resource)
        ):
            if record.conversation and record.state != "deleted":
                items.append(
                    TeardownItem(
                        kind="deployment",
                        id=record.name,
                        label=_("{name} ({model})", name=record.name, model=record.model),
                    )
                )
        for job in await self._jobs(resource):
            items.append(
                TeardownItem(
                    kind="job", id=job.job, label=_("{job} and its fine-tuned model", job=job.job)
                )
            )
        for launch in await self._launches(resource):
            for file_id, dataset in (
                (launch.training_file, launch.plan.training),
                (launch.validation_file, launch.plan.validation),
            ):
                if file_id and dataset is not None:
                    label = _("{file} ({name})", file=file_id, name=dataset.name)
                    items.append(TeardownItem(kind="file", id=file_id, label=label))
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

    async def ask(self, resource: Resource, conversation: str, actor: Actor) -> TeardownPlan:
        """List it all and store the question."""
        self.resources.require_resource_manager()
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
        card pressed (`card`, else the one that asked): the run is recorded first (with its
        audit entry), then the card shows the list, then the run starts."""
        request = await self.ctx.confirmations.answer(
            TeardownRequest.at(token), "confirmed", conversation, N_("teardown"), actor.id
        )
        with i18n.use(request.language):  # the audit and the card speak the asker's language
            return await self._begin(request, conversation, actor, card)

    async def _begin(
        self, request: TeardownRequest, conversation: str, actor: Actor, card: str
    ) -> TeardownRecord:
        resource = request.resource
        entry = self.ctx.audit.entry(actor, "teardown", resource.account, resource)
        record = TeardownRecord(
            token=request.token,
            conversation=conversation,
            user=actor.id,
            user_name=actor.name,
            resource=resource,
            items=request.items,
            audit=entry.id,
            card=card or request.card,
            started_at=time.time(),
            language=request.language,
        )
        await self.ctx.records.put(record, entry)  # the audit entry is part of the action
        record = await self._show(record)
        self.ctx.tasks.spawn(self._owned(record.token), f"teardown {record.resource.account}")
        return record

    def view(self, record: TeardownRecord) -> TeardownProgress:
        """How the teardown stands."""
        return TeardownProgress(
            record.resource.account, tuple(record.items), record.finished, record.local_done
        )

    async def resume(self) -> None:
        """Carry on the teardowns a restart (or a lost instance) interrupted."""
        for record in await self.ctx.records.all(TeardownRecord):
            if not record.finished and not self.ctx.owners.owns(owner_item(record.token)):
                self.ctx.tasks.spawn(self._owned(record.token), f"teardown {record.token}")

    # -- the run -----------------------------------------------------------------------------

    async def _owned(self, token: str) -> None:
        if not await self.ctx.owners.claim(owner_item(token)):
            return
        try:
            await self._run(token)
        finally:
            await self.ctx.owners.release(owner_item(token))

    async def _get(self, token: str) -> TeardownRecord:
        record = await self.ctx.records.get(TeardownRecord.at(token))
        assert record is not None
        return record

    async def _mark(self, token: str, item: TeardownItem, state: str, reason: str = "") -> None:
        def apply(found: TeardownRecord | None) -> TeardownRecord | None:
            if found is None:
                return None
            items = [
                i.model_copy(update={"state": state, "reason": reason})
                if (i.kind, i.id) == (item.kind, item.id)
                else i
                for i in found.items
            ]
            return found.model_copy(update={"items": items})

        changed = await self.ctx.records.update(TeardownRecord.at(token), apply)
        if changed is not None:
            await self._show(changed)

    async def _show(self, record: TeardownRecord) -> TeardownRecord:
        """Show how it stands on the record's card, in the language of who asked (posted when
        it has none, its id kept); a card that could not be shown never stops the run."""
        with i18n.use(record.language):
            card = await try_show(
                self.ctx.notify, record.conversation, record.card, self.view(record)
            )
        if card == record.card:
            return record

        def with_card(found: TeardownRecord | None) -> TeardownRecord | None:
            return found.model_copy(update={"card": card}) if found is not None else None

        return await self.ctx.records.update(record.key(), with_card) or record

    async def _run(self, token: str) -> None:
        record = await self._get(token)
        if record.finished:
            return
        with i18n.use(record.language):  # the card speaks the language of who asked
            await self._items(token)

    async def _items(self, token: str) -> None:
        for kind in ("deployment", "job", "file", "account"):
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
            cognitive = azure.cognitive(resource.subscription_id)
            await deployments.begin_delete(cognitive, resource, item.id)
            await self._until(lambda: deployments.get_deployment(cognitive, resource, item.id))
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
        if job.status in ("pending", "running", "queued", "validating_files"):
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
        its work there. The audit trail stays."""
        resource, records = record.resource, self.ctx.records
        sessions = [s.key() for s in await records.all(ChatSession) if s.resource == resource]
        launches = await self._launches(resource)
        jobs = await self._jobs(resource)
        deployed = await records.all(DeploymentRecord, DeploymentRecord.under(resource))
        used_elsewhere = {
            d.sha256
            for launch in await records.all(LaunchRecord)
            if launch.resource != resource
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
        await records.delete(
            *sessions,
            *validated,
            *(launch.key() for launch in launches),
            *(job.key() for job in jobs),
            *(WatchEntry.at(job.job) for job in jobs),
            *(d.key() for d in deployed),
        )
        for sha in datasets:
            await self.ctx.datasets.remove(sha)
        if any(i.kind == "account" and i.state == "done" for i in record.items):

            def deleted(found: ResourceRecord | None) -> ResourceRecord | None:
                return found.model_copy(update={"deleted": True}) if found else None

            await records.update(ResourceRecord.of(resource), deleted)
            await self.resources.forget(resource)
