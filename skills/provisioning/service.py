"""`provision`, `resource` and `purge`: the lab's step 1 from chat.

`ask` checks the name and region before any call, reads what is there (an account of that name
in that group is adopted, not re-created; a soft-deleted one is explained with `purge`), and
stores the question. Once confirmed, a `ProvisionRecord` runs in the background (tracked, owned,
resumed after a restart) and keeps each stage: the resource group (created if missing, never
deleted later) -> the account, a long-running operation followed until Azure says Succeeded ->
Cognitive Services OpenAI Contributor for the bot's own identity on it -> a data-plane call that
works (role assignments take minutes on Azure). One card follows it all and ends with the
endpoint; the account then becomes the current resource of the team or conversation.
"""

from __future__ import annotations

import asyncio
import logging
import time

import openai
from azure.core.exceptions import AzureError

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError, unexpected
from infra.i18n import N_, Said, _, later, moment
from skills.audit import UNEXPECTED, Actor, AuditEntry
from skills.confirmations import lifetime_hours
from skills.context import Context
from skills.notify import View, try_show
from skills.provisioning import arm, roles
from skills.provisioning.records import ProvisionRecord, ProvisionRequest, PurgeRequest
from skills.provisioning.regions import (
    check_account,
    check_group,
    check_region,
    region_name,
)
from skills.provisioning.views import (
    Origin,
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    PurgePlan,
    ResourceView,
)
from skills.resources import ResourceRecord, Resources

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
"""Real seconds between two looks at an account being created (Azure: a minute or two)."""
MIN_POLL_SECONDS = 0.05
CARD_SECONDS = 5.0
"""At most one update of the following card per this many seconds (a new state always shows)."""
ROLE_WAIT_SECONDS = 30 * 60.0
"""How long the bot waits for its new role to take effect before it says so and stops."""


def owner_item(token: str) -> str:
    """The ownership item of running a provisioning."""
    return f"provision/{token}"


class Provisioning:
    """Creating or adopting accounts, showing the current one, purging deleted ones."""

    def __init__(self, ctx: Context, resources: Resources) -> None:
        self.ctx = ctx
        self.resources = resources

    def _poll(self) -> float:
        clock = self.ctx.clock
        return max(MIN_POLL_SECONDS, min(POLL_SECONDS, clock.real_seconds(POLL_SECONDS)))

    def _subscription(self) -> str:
        return self.ctx.azure.default.subscription_id

    def _default_group(self) -> str:
        return self.ctx.azure.default.resource_group or "rg-finetune"

    # -- provision: the question -----------------------------------------------------------

    async def ask(
        self, scope: str, conversation: str, actor: Actor, name: str, region: str, group: str
    ) -> ProvisionPlan:
        """Check, look, and store the question; the plan the confirmation card shows."""
        self.resources.require_resource_manager()
        name, location = check_account(name), check_region(region)
        group = check_group(group or self._default_group())
        sub = self._subscription()
        azure = self.ctx.azure
        exists = False
        group_exists = await arm.group_exists(azure.groups(sub), group)
        if group_exists:
            found = await arm.get_account(azure.cognitive(sub), group, name)
            exists = found is not None
        if not exists:
            deleted = await arm.find_deleted(azure.cognitive(sub), name, group)
            if deleted is not None:
                raise UserError(
                    "`{name}` was deleted recently and Azure keeps it for 48 hours (until "
                    "{date}), holding its name: say `purge {name}` to remove it for good, then "
                    "`provision` again.",
                    name=name,
                    date=moment(deleted.purge_date) if deleted.purge_date else _("its purge date"),
                )
        resource = Resource(sub, group, name, azure.endpoint_of(name))
        request = await self.ctx.confirmations.ask(
            ProvisionRequest,
            conversation,
            actor.id,
            scope=scope,
            user_name=actor.name,
            resource=resource,
            location=location,
        )
        return self.plan(request, group_exists=group_exists, exists=exists)

    def plan(
        self, request: ProvisionRequest | ProvisionRecord, *, group_exists: bool, exists: bool
    ) -> ProvisionPlan:
        token = request.token
        return ProvisionPlan(
            account=request.resource.account,
            group=request.resource.resource_group,
            subscription=request.resource.subscription_id,
            location=request.location,
            region=region_name(request.location),
            group_exists=group_exists,
            exists=exists,
            token=token,
            expires_hours=lifetime_hours(),
        )

    async def cancel(self, token: str, conversation: str, user: str) -> ProvisionRequest:
        """Drop a provisioning that was not confirmed."""
        return await self.ctx.confirmations.answer(
            ProvisionRequest.at(token), "cancelled", conversation, N_("provision"), user
        )

    async def start(
        self, token: str, conversation: str, actor: Actor, card: str
    ) -> ProvisionRecord:
        """Answer "Create" once and provision in the background, followed on the card pressed
        (`card`, else the one that asked): the answer, the run's record and its audit entry are
        one write (skills/confirmations.py), then the card shows its first progress, then the
        run starts."""
        request = await self.ctx.confirmations.confirm(
            ProvisionRequest.at(token), conversation, N_("provision"), actor, card, self._run_of
        )
        record, _entry = self._run_of(request)
        if record.card:  # a card never posted is posted by the run, the work's owner
            with i18n.use(record.language):
                record = await self._card(record, self._first_view(record))
        self._spawn(record)
        return record

    def _run_of(self, request: ProvisionRequest) -> tuple[ProvisionRecord, AuditEntry]:
        """The run a confirmed question starts, and its audit entry, in the asker's language:
        made from the answered question alone."""
        resource = request.resource
        # names only, no words, as every target (the group is in the entry's resource): the
        # audit's reader may read another language than the actor
        target = f"{resource.account} ({request.location})"
        actor = Actor(request.user, request.by_name or request.user_name)
        entry = self.ctx.audit.entry(
            actor, "provision", target, resource, at=request.answered_at, ref=request.token
        )
        record = ProvisionRecord(
            token=request.token,
            scope=request.scope,
            conversation=request.conversation,
            user=request.user,
            user_name=actor.name,
            resource=resource,
            location=request.location,
            audit=entry.id,
            card=request.card,
            language=request.language,
        )
        return record, entry

    def _first_view(self, record: ProvisionRecord) -> ProvisionProgress:
        return ProvisionProgress(self.plan(record, group_exists=True, exists=False), "", "", 0)

    def _spawn(self, record: ProvisionRecord) -> None:
        self.ctx.tasks.spawn(self._owned(record.token), f"provision {record.resource.account}")

    async def resume(self) -> None:
        """Carry on the provisionings a restart (or a lost instance) interrupted, and start
        those whose answer was written without their run (a crash between the two, on Blob)."""
        await self.ctx.confirmations.record_missing(ProvisionRequest, self._run_of)
        for record in await self.ctx.records.all(ProvisionRecord):
            if not record.finished and not self.ctx.owners.owns(owner_item(record.token)):
                self._spawn(record)

    # -- provision: the run ----------------------------------------------------------------

    async def _save(self, record: ProvisionRecord, **changes: object) -> ProvisionRecord:
        changed = record.model_copy(update=changes)
        await self.ctx.records.put(changed)
        return changed

    async def _owned(self, token: str) -> None:
        if not await self.ctx.owners.claim(owner_item(token)):
            return
        try:
            record = await self.ctx.records.get(ProvisionRecord.at(token))
            if record is not None and not record.finished:
                await self._run(record)
        finally:
            await self.ctx.owners.release(owner_item(token))

    async def _card(self, record: ProvisionRecord, view: View) -> ProvisionRecord:
        """Show `view` on the record's card in the language of who asked (posted when it has
        none, its id kept); a card that could not be shown never stops the run."""
        with i18n.use(record.language):
            card = await try_show(self.ctx.notify, record.conversation, record.card, view)
        return record if card == record.card else await self._save(record, card=card)

    async def _show(self, record: ProvisionRecord, step: str, state: str) -> ProvisionRecord:
        plan = self.plan(record, group_exists=True, exists=record.adopted)
        elapsed = self.ctx.clock.now() - record.started_at
        return await self._card(
            record, ProvisionProgress(plan, step, arm.state_name(state), elapsed)
        )

    async def _run(self, record: ProvisionRecord) -> None:
        with i18n.use(record.language):  # the cards speak the language of who asked
            if not record.started_at:
                record = await self._save(record, started_at=self.ctx.clock.now())
            if not record.card:
                record = await self._card(record, self._first_view(record))
            await self._stages(record)

    async def _stages(self, record: ProvisionRecord) -> None:
        try:
            if record.stage == "confirmed":
                record = await self._start(record)
            if record.stage == "creating":
                record = await self._wait_created(record)
            if record.stage == "roles":
                record = await self._assign_bot(record)
            if record.stage == "waiting":
                record = await self._wait_data_plane(record)
            if record.stage == "succeeded":
                await self._succeeded(record)
        except UserError as error:
            await self._failed(record, error.message, error.said)
        except Exception as error:
            reason = unexpected(f"provision {record.resource.account}", error)
            await self._failed(record, reason, later(UNEXPECTED))

    async def _start(self, record: ProvisionRecord) -> ProvisionRecord:
        """The group, then the account: adopted when it is there already, else created. The
        stage is saved before the PUT, so a restart never takes a new account for an old one."""
        resource, azure = record.resource, self.ctx.azure
        sub, group = resource.subscription_id, resource.resource_group
        created_group = await arm.ensure_group(azure.groups(sub), group, record.location)
        found = await arm.get_account(azure.cognitive(sub), group, resource.account)
        record = await self._save(
            record,
            stage="creating",
            adopted=found is not None,
            created_group=created_group or record.created_group,
            state=found.state if found else "",
        )
        if found is None:
            record = await self._create(record)
        return record

    async def _create(self, record: ProvisionRecord) -> ProvisionRecord:
        resource = record.resource
        record = await self._show(record, _("Creating the account"), "Creating")
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        group, name = resource.resource_group, resource.account
        try:
            await arm.begin_create(cognitive, group, name, record.location)
        except UserError:
            if await arm.get_account(cognitive, group, name) is None:
                raise
            # the PUT went through though its answer says otherwise: follow what Azure made
        return record

    async def _wait_created(self, record: ProvisionRecord) -> ProvisionRecord:
        resource, azure = record.resource, self.ctx.azure
        cognitive = azure.cognitive(resource.subscription_id)
        shown, shown_at = "", 0.0
        while True:
            try:
                found = await arm.get_account(cognitive, resource.resource_group, resource.account)
            except (UserError, AzureError) as error:
                log.warning("provisioning %s: %s", resource.account, error)
                await asyncio.sleep(self._poll())
                continue
            if found is None:
                if record.adopted:
                    raise UserError(
                        "Azure no longer shows account `{name}`; nothing is left to follow.",
                        name=resource.account,
                    )
                record = await self._create(record)  # a restart came before the PUT: send it now
                continue
            if found.ready:
                endpoint = found.endpoint or resource.endpoint
                changed = Resource(
                    resource.subscription_id, resource.resource_group, found.name, endpoint
                )
                return await self._save(
                    record,
                    stage="roles",
                    state=found.state,
                    resource=changed,
                    location=found.location or record.location,
                )
            if found.failed:
                raise UserError(
                    "Azure could not create account `{name}` (it says {state}).",
                    name=resource.account,
                    state=found.state,
                )
            if found.state != shown or time.monotonic() - shown_at >= 60:
                record = await self._show(record, _("Creating the account"), found.state)
                shown, shown_at = found.state, time.monotonic()
            await asyncio.sleep(self._poll())

    async def _assign_bot(self, record: ProvisionRecord) -> ProvisionRecord:
        principal = self.ctx.settings.bot_principal
        if principal:
            record = await self._show(record, _("Giving the bot its role"), "Succeeded")
            client = self.ctx.azure.authorization(record.resource.subscription_id)
            contributor = next(r for r in roles.LAB_ROLES if r.guid == roles.OPENAI_CONTRIBUTOR)
            await roles.assign(
                client, record.resource, principal, "ServicePrincipal", (contributor,)
            )
        return await self._save(record, stage="waiting")

    async def _wait_data_plane(self, record: ProvisionRecord) -> ProvisionRecord:
        """Until a data-plane call works with the bot's identity (roles take minutes)."""
        client = self.ctx.azure.openai(record.resource)
        begun, shown = time.monotonic(), False
        while True:
            try:
                await client.models.list()
                return await self._save(record, stage="succeeded")
            except openai.APIStatusError as error:
                if error.status_code not in (401, 403, 404):
                    raise
            except openai.APIConnectionError:
                pass
            if not shown:
                record = await self._show(
                    record,
                    _("Waiting for the bot's role to take effect (Azure takes a few minutes)"),
                    "Succeeded",
                )
                shown = True
            if time.monotonic() - begun > ROLE_WAIT_SECONDS:
                raise UserError(
                    "Account `{name}` is ready, but the bot still cannot use it after 30 "
                    "minutes: check that FTBOT_BOT_PRINCIPAL_ID is the bot's identity and that "
                    "it holds Cognitive Services OpenAI Contributor there (`roles bot`).",
                    name=record.resource.account,
                )
            await asyncio.sleep(self._poll())

    async def _succeeded(self, record: ProvisionRecord) -> None:
        resource = record.resource
        known = ResourceRecord(
            resource=resource,
            location=record.location,
            sku=arm.SKU,
            provisioned=not record.adopted,
            by=record.user,
            by_name=record.user_name,
            at=time.time(),
        )
        previous = await self.resources.known(resource)
        if previous is not None and previous.provisioned and not previous.deleted:
            known = known.model_copy(
                update={
                    "provisioned": True,
                    "by": previous.by,
                    "by_name": previous.by_name,
                    "at": previous.at,
                }
            )
        await self.ctx.records.put(known)
        await self.resources.choose(record.scope, resource)
        detail = (
            later("adopted (it existed already); endpoint {endpoint}", endpoint=resource.endpoint)
            if record.adopted
            else later("created; endpoint {endpoint}", endpoint=resource.endpoint)
        )
        await self.ctx.audit.end(record.audit, "done", detail)
        record = await self._save(record, stage="succeeded")
        note = (
            ""
            if self.ctx.settings.bot_principal
            else _(
                "FTBOT_BOT_PRINCIPAL_ID is not set, so the bot assigned itself no role: it reaches "
                "this account with the identity DefaultAzureCredential finds."
            )
        )
        plan = self.plan(record, group_exists=True, exists=record.adopted)
        elapsed = self.ctx.clock.now() - record.started_at
        await self._card(
            record, ProvisionSucceeded(plan, resource.endpoint, elapsed, record.adopted, note)
        )

    async def _failed(self, record: ProvisionRecord, reason: str, detail: Said) -> None:
        if await self._left_behind(record):
            reason += " " + _(
                "Account `{name}` exists on Azure all the same: `provision name={name}` takes "
                "it up again, and `teardown` then deletes it.",
                name=record.resource.account,
            )
        record = await self._save(record, stage="failed", error=reason)
        await self.ctx.audit.end(record.audit, "failed", detail)
        plan = self.plan(record, group_exists=True, exists=record.adopted)
        await self._card(record, ProvisionFailed(plan, reason))

    async def _left_behind(self, record: ProvisionRecord) -> bool:
        """A run that created its account and failed after: the account is recorded as the
        bot's (so `teardown` deletes it once it is taken up again). True when there is one."""
        if record.adopted or record.stage not in ("creating", "roles", "waiting"):
            return False
        resource = record.resource
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        try:
            found = await arm.get_account(cognitive, resource.resource_group, resource.account)
        except UserError:
            return False
        if found is None:
            return False
        known = ResourceRecord(
            resource=resource,
            location=record.location,
            sku=arm.SKU,
            provisioned=True,
            by=record.user,
            by_name=record.user_name,
            at=time.time(),
        )
        await self.ctx.records.create(known)
        return True

    # -- resource ----------------------------------------------------------------------------

    async def describe(self, scope: str) -> ResourceView:
        """The current resource: where it is, how the bot reaches it, who made it when."""
        resource = await self.resources.current(scope)
        known = await self.resources.known(resource)
        auth = (
            _("key (AZURE_OPENAI_API_KEY)")
            if self.ctx.azure.key_auth(resource)
            else _("Entra ID (the bot's own identity)")
        )
        location, sku, state = (known.location, known.sku, "") if known else ("", "", "")
        if self.ctx.settings.resource_manager and resource.account:
            cognitive = self.ctx.azure.cognitive(resource.subscription_id)
            found = await arm.get_account(cognitive, resource.resource_group, resource.account)
            if found is None:
                state = _("not found on Azure")
            else:
                location, sku, state = found.location, found.sku, arm.state_name(found.state)
        origin = None
        if known is not None:
            origin = Origin(not known.provisioned, known.by_name or known.by, known.at)
        unset = _("(not set)")
        return ResourceView(
            subscription=resource.subscription_id or unset,
            group=resource.resource_group or unset,
            account=resource.account or unset,
            location=location or _("unknown"),
            sku=sku or _("unknown"),
            endpoint=resource.endpoint or _("(none yet)"),
            auth=auth,
            origin=origin,
            state=state,
        )

    # -- purge -------------------------------------------------------------------------------

    async def ask_purge(self, conversation: str, actor: Actor, name: str) -> PurgePlan:
        """Find the soft-deleted account and store the question."""
        self.resources.require_resource_manager()
        name = check_account(name)
        sub = self._subscription()
        deleted = await arm.find_deleted(self.ctx.azure.cognitive(sub), name)
        if deleted is None:
            raise UserError(
                "There is no deleted account `{name}` to purge in this subscription (Azure "
                "purges deleted accounts by itself after 48 hours).",
                name=name,
            )
        resource = Resource(sub, deleted.group, deleted.name, "")
        request = await self.ctx.confirmations.ask(
            PurgeRequest,
            conversation,
            actor.id,
            user_name=actor.name,
            resource=resource,
            location=deleted.location,
        )
        return PurgePlan(
            deleted.name,
            deleted.group,
            deleted.location,
            deleted.purge_date,
            request.token,
            lifetime_hours(),
        )

    async def purge(self, token: str, conversation: str, actor: Actor) -> PurgeRequest:
        """Purge the confirmed account for good."""
        request = await self.ctx.confirmations.answer(
            PurgeRequest.at(token), "confirmed", conversation, N_("purge"), actor.id
        )
        resource = request.resource
        entry = await self.ctx.audit.begin(actor, "purge", resource.account, resource)
        deleted = arm.DeletedAccount(
            resource.account, resource.resource_group, request.location, ""
        )
        try:
            await arm.purge(self.ctx.azure.cognitive(resource.subscription_id), deleted)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        await self.ctx.audit.end(entry.id, "done", later("purged: the name and subdomain are free"))
        return request

    async def keep_deleted(self, token: str, conversation: str, user: str) -> PurgeRequest:
        """Do not purge after all."""
        return await self.ctx.confirmations.answer(
            PurgeRequest.at(token), "cancelled", conversation, N_("purge"), user
        )
